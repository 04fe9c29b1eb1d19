package dsl

import (
	"strings"
	"unicode/utf8"
)

// The TOML decoder does not expose where keys and values are, but errors must point
// into the file (file:line:col), including inside a CEL expression held in a string.
// This is a small scanner that knows just enough TOML to find table headers, keys and
// the byte offset where each value starts, and to map a decoded string back to the
// file offsets of its characters.

// keyPos is where a key and its value are in the file.
type keyPos struct {
	line, col int // of the key, 1-based
	valueOff  int // byte offset of the first byte of the value
}

// block is one table: the root (header ""), [name] or [[name]].
type block struct {
	header string
	array  bool
	line   int
	keys   map[string]keyPos
	order  []string
}

type tomlIndex struct {
	text   string
	lines  []int // byte offset of the start of each line
	blocks []*block
}

func indexTOML(text string) *tomlIndex {
	ix := &tomlIndex{text: text, lines: []int{0}}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			ix.lines = append(ix.lines, i+1)
		}
	}
	cur := &block{keys: map[string]keyPos{}, line: 1}
	ix.blocks = append(ix.blocks, cur)
	i := 0
	for i < len(text) {
		// At the start of a logical line: skip blanks.
		for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n') {
			i++
		}
		if i >= len(text) {
			break
		}
		switch c := text[i]; {
		case c == '#':
			i = skipLine(text, i)
		case c == '[':
			arr := strings.HasPrefix(text[i:], "[[")
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				end = len(text) - i
			}
			h := text[i : i+end]
			if k := strings.IndexByte(h, '#'); k >= 0 {
				h = h[:k]
			}
			name := strings.TrimSpace(strings.Trim(strings.TrimSpace(h), "[]"))
			name = strings.Join(strings.Fields(strings.ReplaceAll(name, " ", "")), "")
			line, _ := ix.pos(i)
			cur = &block{header: name, array: arr, line: line, keys: map[string]keyPos{}}
			ix.blocks = append(ix.blocks, cur)
			i += end
		default:
			// key = value
			eq := i
			for eq < len(text) && text[eq] != '=' && text[eq] != '\n' {
				if text[eq] == '"' || text[eq] == '\'' {
					q := text[eq]
					eq++
					for eq < len(text) && text[eq] != q && text[eq] != '\n' {
						eq++
					}
				}
				eq++
			}
			if eq >= len(text) || text[eq] != '=' {
				i = skipLine(text, i)
				continue
			}
			key := strings.TrimSpace(text[i:eq])
			key = strings.Trim(key, `"'`)
			line, col := ix.pos(i)
			v := eq + 1
			for v < len(text) && (text[v] == ' ' || text[v] == '\t') {
				v++
			}
			if _, dup := cur.keys[key]; !dup {
				cur.order = append(cur.order, key)
			}
			cur.keys[key] = keyPos{line: line, col: col, valueOff: v}
			i = skipValue(text, v)
		}
	}
	return ix
}

func skipLine(text string, i int) int {
	for i < len(text) && text[i] != '\n' {
		i++
	}
	return i
}

// skipValue returns the offset just after the value starting at i.
func skipValue(text string, i int) int {
	depth := 0
	for i < len(text) {
		c := text[i]
		switch {
		case strings.HasPrefix(text[i:], `"""`) || strings.HasPrefix(text[i:], `'''`):
			_, end := decodeString(text, i)
			i = end
			if depth == 0 {
				return i
			}
			continue
		case c == '"' || c == '\'':
			_, end := decodeString(text, i)
			i = end
			if depth == 0 {
				return i
			}
			continue
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth <= 0 {
				return i + 1
			}
		case c == '#':
			i = skipLine(text, i)
			continue
		case c == '\n' && depth == 0:
			return i
		}
		i++
	}
	return i
}

// decodeString decodes the TOML string starting at off and returns, for every byte of
// the decoded value, the file offset it came from (plus one entry for the end), and
// the offset just after the closing quote. A value that is not a string gives nil.
func decodeString(text string, off int) (offs []int, end int) {
	if off >= len(text) {
		return nil, off
	}
	var delim string
	switch {
	case strings.HasPrefix(text[off:], `"""`):
		delim = `"""`
	case strings.HasPrefix(text[off:], `'''`):
		delim = `'''`
	case text[off] == '"':
		delim = `"`
	case text[off] == '\'':
		delim = `'`
	default:
		return nil, off
	}
	literal := delim[0] == '\''
	multi := len(delim) == 3
	i := off + len(delim)
	if multi {
		// A newline right after the opening delimiter is trimmed.
		if strings.HasPrefix(text[i:], "\r\n") {
			i += 2
		} else if i < len(text) && text[i] == '\n' {
			i++
		}
	}
	for i < len(text) {
		if strings.HasPrefix(text[i:], delim) {
			// Multi-line strings may end with up to two extra quotes that belong to the value.
			if multi {
				for strings.HasPrefix(text[i+1:], delim) {
					offs = append(offs, i)
					i++
				}
			}
			offs = append(offs, i)
			return offs, i + len(delim)
		}
		c := text[i]
		if !multi && c == '\n' {
			break
		}
		if !literal && c == '\\' && i+1 < len(text) {
			n := text[i+1]
			switch n {
			case 'u', 'U':
				w := 4
				if n == 'U' {
					w = 8
				}
				// The escape decodes to one rune of 1-4 bytes; all map to the escape.
				r := rune(0)
				for k := 0; k < w && i+2+k < len(text); k++ {
					r = r*16 + rune(hexVal(text[i+2+k]))
				}
				for range utf8.RuneLen(r) {
					offs = append(offs, i)
				}
				i += 2 + w
			case '\n', ' ', '\t', '\r':
				if multi {
					// Line-ending backslash: skip all whitespace up to the next non-blank.
					j := i + 1
					for j < len(text) && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n') {
						j++
					}
					i = j
					continue
				}
				offs = append(offs, i)
				i += 2
			default:
				offs = append(offs, i)
				i += 2
			}
			continue
		}
		offs = append(offs, i)
		i++
	}
	offs = append(offs, i)
	return offs, i
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return 0
}

// pos converts a byte offset to a 1-based line and column (column counted in runes).
func (ix *tomlIndex) pos(off int) (line, col int) {
	lo, hi := 0, len(ix.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if ix.lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	start := ix.lines[lo]
	if off > len(ix.text) {
		off = len(ix.text)
	}
	return lo + 1, utf8.RuneCountInString(ix.text[start:off]) + 1
}

// nth returns the n-th (0-based) block with the given header, or nil.
func (ix *tomlIndex) nth(header string, n int) *block {
	for _, b := range ix.blocks {
		if b.header == header {
			if n == 0 {
				return b
			}
			n--
		}
	}
	return nil
}

// children returns the blocks with header child that follow parent and precede the next
// block with parent's header (the [[template.trigger]] tables of one [[template]]).
func (ix *tomlIndex) children(parent *block, child string) []*block {
	var out []*block
	in := false
	for _, b := range ix.blocks {
		if b == parent {
			in = true
			continue
		}
		if !in {
			continue
		}
		if b.header == parent.header {
			break
		}
		if b.header == child {
			out = append(out, b)
		}
	}
	return out
}

// keyOf returns the position of key in the block (a nil block has none).
func (b *block) keyOf(key string) (keyPos, bool) {
	if b == nil {
		return keyPos{}, false
	}
	kp, ok := b.keys[key]
	return kp, ok
}

// subTable returns the block holding the keys of parent's table-valued key: an inline
// table (key = { a = 1, b = "x" }) read into a block of its own, dotted keys of parent
// (key.a = 1), or else a [header.key] table that follows parent. Nil when there is none.
func (ix *tomlIndex) subTable(parent *block, key string) *block {
	if parent == nil {
		return nil
	}
	if kp, ok := parent.keys[key]; ok {
		return ix.inlineTable(kp, parent.header+"."+key)
	}
	var dotted *block
	for _, k := range parent.order {
		if sub, ok := strings.CutPrefix(k, key+"."); ok {
			if dotted == nil {
				dotted = &block{header: parent.header + "." + key, line: parent.keys[k].line, keys: map[string]keyPos{}}
			}
			dotted.keys[sub] = parent.keys[k]
			dotted.order = append(dotted.order, sub)
		}
	}
	if dotted != nil {
		return dotted
	}
	if kids := ix.children(parent, parent.header+"."+key); len(kids) > 0 {
		return kids[0]
	}
	return nil
}

// inlineTable reads the keys of the inline table whose value starts at kp.valueOff
// (nil when the value is not an inline table).
func (ix *tomlIndex) inlineTable(kp keyPos, header string) *block {
	t := ix.text
	i := kp.valueOff
	if i >= len(t) || t[i] != '{' {
		return nil
	}
	b := &block{header: header, line: kp.line, keys: map[string]keyPos{}}
	for i++; i < len(t); {
		for i < len(t) && strings.IndexByte(" \t\r\n,", t[i]) >= 0 {
			i++
		}
		if i >= len(t) || t[i] == '}' {
			break
		}
		if t[i] == '#' {
			i = skipLine(t, i)
			continue
		}
		ks := i
		for i < len(t) && t[i] != '=' && t[i] != '}' && t[i] != '\n' {
			if t[i] == '"' || t[i] == '\'' {
				_, i = decodeString(t, i)
				continue
			}
			i++
		}
		if i >= len(t) || t[i] != '=' {
			break
		}
		key := strings.Trim(strings.TrimSpace(t[ks:i]), `"'`)
		line, col := ix.pos(ks)
		v := i + 1
		for v < len(t) && (t[v] == ' ' || t[v] == '\t') {
			v++
		}
		if _, dup := b.keys[key]; !dup {
			b.order = append(b.order, key)
		}
		b.keys[key] = keyPos{line: line, col: col, valueOff: v}
		i = skipInlineValue(t, v)
	}
	return b
}

// skipInlineValue returns the offset just after a value inside an inline table, where
// a bare value (number, bool, date) ends at "," or "}".
func skipInlineValue(t string, i int) int {
	if i >= len(t) {
		return i
	}
	switch t[i] {
	case '"', '\'':
		_, end := decodeString(t, i)
		return end
	case '[', '{':
		return skipValue(t, i)
	}
	for i < len(t) && t[i] != ',' && t[i] != '}' && t[i] != '\n' {
		i++
	}
	return i
}
