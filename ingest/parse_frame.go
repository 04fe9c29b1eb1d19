package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Framing: finding the records of a JSON feed file, one at a time, in constant memory.

const (
	jsonChunk    = 64 << 10
	jsonMaxDepth = 10000
)

// jsonItem is one framed record, or why there is none.
type jsonItem struct {
	data   []byte // the record's bytes; valid until the next call to next
	line   int    // line of the record's first byte
	record int    // 1-based record index
	reject *RecordError
	fatal  *RecordError // parsing cannot continue (array syntax error, truncated file)
}

// jsonReader frames the records of a JSON feed file in constant memory: the elements of
// a top-level array (several arrays one after another are accepted too), or one object
// per line (JSON lines). It checks only the framing: brackets, strings and separators;
// the records themselves are validated when they are decoded.
type jsonReader struct {
	r     io.Reader
	buf   []byte
	pos   int // start of unread data
	end   int // end of buffered data
	eof   bool
	rerr  error
	line  int // line number at buf[pos]
	max   int
	array bool

	inArray bool // between '[' and its ']'
	expect  byte // array: 'v' value or ']' next, ',' comma or ']' next
	records int
	done    bool
	stack   []byte
}

// newJSONReader reads the start of the file and decides whether it is a JSON array or
// JSON lines. It fails on files that are not JSON at all.
func newJSONReader(r io.Reader, max int) (*jsonReader, error) {
	j := &jsonReader{r: r, buf: make([]byte, jsonChunk), line: 1, max: max}
	// Sniff a fixed amount, so that the verdict does not depend on how the reader
	// splits its data.
	for j.end < 4096 && !j.eof && j.rerr == nil {
		if !j.fill() {
			break
		}
	}
	if j.rerr != nil {
		return nil, fmt.Errorf("read: %w", j.rerr)
	}
	if err := sniffText(j.buf[:j.end]); err != nil {
		return nil, err
	}
	if bytes.HasPrefix(j.buf[j.pos:j.end], utf8BOM) {
		j.pos += len(utf8BOM)
	}
	c, ok := j.skipSpace()
	if j.rerr != nil {
		return nil, fmt.Errorf("read: %w", j.rerr)
	}
	if !ok {
		return nil, errors.New("empty file")
	}
	switch c {
	case '[':
		j.array = true
	case '{':
	default:
		return nil, fmt.Errorf("not JSON: line %d starts with %s, expected a JSON array '[' or JSON lines '{'", j.line, quoteByte(c))
	}
	return j, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// sniffText rejects the start of a file that is clearly not UTF-8 text.
func sniffText(head []byte) error {
	switch {
	case len(head) == 0:
		return errors.New("empty file")
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return errors.New("gzip-compressed data: decompress the file before dropping it")
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return errors.New("zip archive: extract the file before dropping it")
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return errors.New("UTF-16 text: save the file as UTF-8")
	}
	n := len(head)
	if n > 4096 {
		n = 4096
	}
	sample := head[:n]
	if i := bytes.IndexByte(sample, 0); i >= 0 {
		return fmt.Errorf("binary data (NUL byte at offset %d)", i)
	}
	// Control characters mark binary data. Invalid UTF-8 alone does not: a Windows-1252
	// export ("Müller") is still text; its odd bytes decode as U+FFFD in the fields and
	// stay as they are in Raw. Only a sample that is mostly invalid is taken for binary.
	ctrl, invalid := 0, 0
	for i := 0; i < len(sample); {
		r, size := utf8.DecodeRune(sample[i:])
		if r == utf8.RuneError && size == 1 && len(sample)-i >= utf8.UTFMax {
			invalid++
		} else if r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != '\f' {
			ctrl++
		}
		i += size
	}
	if ctrl*100 > len(sample) || invalid*10 > len(sample)*3 {
		return errors.New("binary data (not UTF-8 text)")
	}
	return nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// fill reads more data, moving unread bytes to the front and growing the buffer when it
// is full. It reports whether any bytes were added.
func (j *jsonReader) fill() bool {
	if j.eof || j.rerr != nil {
		return false
	}
	if j.pos > 0 && (j.end == len(j.buf) || j.pos == j.end) {
		n := copy(j.buf, j.buf[j.pos:j.end])
		j.end = n
		j.pos = 0
	}
	if j.end == len(j.buf) {
		nb := make([]byte, 2*len(j.buf))
		copy(nb, j.buf[:j.end])
		j.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := j.r.Read(j.buf[j.end:])
		j.end += n
		if err == io.EOF {
			j.eof = true
		} else if err != nil {
			j.rerr = err
		}
		if n > 0 || err != nil {
			return n > 0
		}
	}
	j.rerr = io.ErrNoProgress
	return false
}

// skipSpace moves past white space, counting lines, and returns the next byte.
func (j *jsonReader) skipSpace() (byte, bool) {
	for {
		for j.pos < j.end {
			switch c := j.buf[j.pos]; c {
			case '\n':
				j.line++
			case ' ', '\t', '\r':
			default:
				return c, true
			}
			j.pos++
		}
		if !j.fill() {
			return 0, false
		}
	}
}

// discardTo drops buf[j.pos:i] (counting its lines) so that the buffer does not grow.
func (j *jsonReader) discardTo(i int) {
	j.line += bytes.Count(j.buf[j.pos:i], newline)
	j.pos = i
}

var newline = []byte{'\n'}

// next returns the next record. ok is false at the end of the file; err is a read error.
func (j *jsonReader) next() (it jsonItem, ok bool, err error) {
	if j.done {
		return it, false, nil
	}
	if j.array {
		it, ok = j.nextElement()
	} else {
		it, ok = j.nextLine()
	}
	if j.rerr != nil {
		return it, false, fmt.Errorf("read: %w", j.rerr)
	}
	return it, ok, nil
}

func (j *jsonReader) fatalf(line, record int, format string, args ...any) (jsonItem, bool) {
	j.done = true
	return jsonItem{fatal: &RecordError{Line: line, Record: record, Reason: fmt.Sprintf(format, args...)}}, true
}

// nextLine frames one JSON-lines record. Blank lines are not records.
func (j *jsonReader) nextLine() (jsonItem, bool) {
	if _, ok := j.skipSpace(); !ok {
		j.done = true
		return jsonItem{}, false
	}
	start := j.line
	j.records++
	overlong := func() (jsonItem, bool) {
		return jsonItem{line: start, record: j.records, reject: &RecordError{Line: start, Record: j.records,
			Reason: fmt.Sprintf("line longer than %d bytes; skipped", j.max)}}, true
	}
	scan := j.pos // buf[j.pos:scan] holds no newline
	skipping := false
	for {
		if i := bytes.IndexByte(j.buf[scan:j.end], '\n'); i >= 0 {
			nl := scan + i
			long := skipping || nl-j.pos > j.max
			data := bytes.TrimRight(j.buf[j.pos:nl], " \t\r")
			j.pos = nl + 1
			j.line++
			if long {
				return overlong()
			}
			return j.lineItem(data, start), true
		}
		if j.end-j.pos > j.max {
			// Keep looking for the end of the line without keeping its bytes.
			skipping = true
			j.pos = j.end
		}
		rel := j.end - j.pos
		if !j.fill() {
			if j.rerr != nil {
				return jsonItem{}, false
			}
			j.done = true
			long := skipping || j.end-j.pos > j.max
			data := bytes.TrimRight(j.buf[j.pos:j.end], " \t\r")
			j.pos = j.end
			if long {
				return overlong()
			}
			return j.lineItem(data, start), true
		}
		scan = j.pos + rel
	}
}

func (j *jsonReader) lineItem(data []byte, line int) jsonItem {
	if len(data) == 0 || data[0] != '{' {
		return jsonItem{line: line, record: j.records, reject: &RecordError{Line: line, Record: j.records,
			Reason: fmt.Sprintf("not a JSON object (starts with %s)", quoteByte(firstByte(data)))}}
	}
	return jsonItem{data: data, line: line, record: j.records}
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// nextElement frames one element of a JSON array.
func (j *jsonReader) nextElement() (jsonItem, bool) {
	for {
		c, ok := j.skipSpace()
		if !ok {
			if j.rerr != nil {
				return jsonItem{}, false
			}
			if j.inArray {
				return j.fatalf(j.line, 0, "unexpected end of file inside the JSON array (truncated file?); records after record %d are missing", j.records)
			}
			j.done = true
			return jsonItem{}, false
		}
		if !j.inArray {
			if c != '[' {
				return j.fatalf(j.line, 0, "unexpected %s after the end of the JSON array; the rest of the file was not read", quoteByte(c))
			}
			j.pos++
			j.inArray = true
			j.expect = 'v'
			continue
		}
		switch {
		case c == ']':
			j.pos++
			j.inArray = false
			continue
		case j.expect == ',' && c == ',':
			j.pos++
			j.expect = 'v'
			continue
		case j.expect == ',':
			return j.fatalf(j.line, 0, "malformed JSON: expected ',' or ']' after record %d, found %s; parsing stopped, later records were not read", j.records, quoteByte(c))
		case c == ',':
			return j.fatalf(j.line, 0, "malformed JSON: unexpected ',' (empty record); parsing stopped, later records were not read")
		}
		return j.element()
	}
}

// frameStop marks the bytes that end a run of string contents while framing, and
// frameOuter the bytes that matter between strings.
var (
	frameStop  = [256]bool{'"': true, '\\': true}
	frameOuter = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}
)

// element frames the value starting at j.pos. Only objects are records; any other
// value is framed so that it can be reported and skipped.
func (j *jsonReader) element() (jsonItem, bool) {
	j.records++
	j.expect = ','
	start := j.line
	first := j.buf[j.pos]
	if first == '}' || first == ':' {
		return j.fatalf(start, j.records, "malformed JSON: unexpected %s; parsing stopped, later records were not read", quoteByte(first))
	}
	scalar := first != '{' && first != '['
	j.stack = j.stack[:0]
	inStr, esc := false, false
	skipping := false // the record is over the size limit: frame it, but drop its bytes
	scan := j.pos
	for {
		buf, i, end := j.buf, scan, j.end
		complete := -1
		if scalar {
		scalarLoop:
			for i < end {
				if inStr {
					if esc {
						esc = false
						i++
						continue
					}
					for i < end && !frameStop[buf[i]] {
						i++
					}
					if i == end {
						break
					}
					if buf[i] == '\\' {
						esc = true
						i++
						continue
					}
					complete = i + 1
					break
				}
				switch buf[i] {
				case '"':
					if i == j.pos {
						inStr = true
						i++
						continue
					}
					complete = i
					break scalarLoop
				case ' ', '\t', '\r', '\n', ',', ']', '}', '[', '{':
					complete = i
					break scalarLoop
				}
				i++
			}
		} else {
			if esc && i < end {
				esc = false
				i++
			}
		containerLoop:
			for i < end {
				if inStr {
					// Most of a record is string contents: skip words without '"' or '\\'.
					for i+8 <= end {
						v := binary.LittleEndian.Uint64(buf[i:])
						if swarHasByte(v, '"') || swarHasByte(v, '\\') {
							break
						}
						i += 8
					}
					for i < end && !frameStop[buf[i]] {
						i++
					}
					if i == end {
						break
					}
					if buf[i] == '\\' {
						if i+2 <= end {
							i += 2
							continue
						}
						esc = true
						i = end
						break
					}
					i++
					inStr = false
				}
				for i < end && !frameOuter[buf[i]] {
					i++
				}
				if i == end {
					break
				}
				switch c := buf[i]; c {
				case '"':
					inStr = true
				case '{', '[':
					if len(j.stack) >= jsonMaxDepth {
						return j.fatalf(start, j.records, "nested more than %d levels deep; parsing stopped, later records were not read", jsonMaxDepth)
					}
					j.stack = append(j.stack, c)
				case '}', ']':
					open := byte('{')
					if c == ']' {
						open = '['
					}
					if n := len(j.stack); n == 0 || j.stack[n-1] != open {
						line := j.line + bytes.Count(buf[j.pos:i], newline)
						return j.fatalf(line, j.records, "malformed JSON: unexpected %s; parsing stopped, later records were not read", quoteByte(c))
					}
					j.stack = j.stack[:len(j.stack)-1]
					if len(j.stack) == 0 {
						complete = i + 1
						break containerLoop
					}
				}
				i++
			}
		}
		if complete >= 0 {
			data := j.buf[j.pos:complete]
			j.discardTo(complete)
			switch {
			case skipping || len(data) > j.max:
				return jsonItem{line: start, record: j.records, reject: &RecordError{Line: start, Record: j.records,
					Reason: fmt.Sprintf("record longer than %d bytes; skipped", j.max)}}, true
			case first != '{':
				return jsonItem{line: start, record: j.records, reject: &RecordError{Line: start, Record: j.records,
					Reason: fmt.Sprintf("not a JSON object (starts with %s)", quoteByte(first))}}, true
			}
			return jsonItem{data: data, line: start, record: j.records}, true
		}
		if i-j.pos > j.max {
			skipping = true
			j.discardTo(i)
		}
		rel := i - j.pos
		if !j.fill() {
			if j.rerr != nil {
				return jsonItem{}, false
			}
			return j.fatalf(start, j.records, "unexpected end of file inside this record (truncated file?); it was not read")
		}
		scan = j.pos + rel
	}
}
