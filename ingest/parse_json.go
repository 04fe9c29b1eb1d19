package ingest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A single-pass reader for the flat JSON records of the feeds. encoding/json first
// validates a record and then decodes it by reflection, which costs several
// microseconds for a typical audit record; this reader validates while it walks the
// top-level members and leaves each value as raw bytes, so that the parsers decode only
// the members they use (nested members go to encoding/json, which is rare and small).
// Validation matches encoding/json's: FuzzJSONValid checks it against json.Valid.

// jsonMaxNesting bounds recursion inside one record, as encoding/json does.
const jsonMaxNesting = jsonMaxDepth

type jsonSyntaxError struct {
	off int
	msg string
}

func (e *jsonSyntaxError) Error() string { return e.msg }

// jsonObject iterates over the members of the JSON object in data.
type jsonObject struct {
	data []byte
	// src, when set, is string(data): string members without escapes are then slices of
	// it instead of allocations of their own (one allocation per record, not per member).
	src   string
	vs    int // the last value is data[vs:i]
	i     int
	count int
	err   *jsonSyntaxError
	done  bool
}

// next returns the next member. The key is the raw key text (without quotes, escapes
// left as they are); val is the member's raw, validated value. ok is false at the end of
// the object or on a syntax error (o.err).
func (o *jsonObject) next() (key, val []byte, ok bool) {
	if o.done || o.err != nil {
		return nil, nil, false
	}
	d := o.data
	i := skipWS(d, o.i)
	if o.count == 0 {
		if i >= len(d) || d[i] != '{' {
			return o.fail(i, "record is not a JSON object")
		}
		i = skipWS(d, i+1)
		if i < len(d) && d[i] == '}' {
			return o.finish(i + 1)
		}
	} else {
		if i >= len(d) {
			return o.fail(i, "unexpected end of JSON input")
		}
		switch d[i] {
		case ',':
			i = skipWS(d, i+1)
		case '}':
			return o.finish(i + 1)
		default:
			return o.fail(i, "invalid character "+quoteChar(d[i])+" after object key:value pair")
		}
	}
	if i >= len(d) {
		return o.fail(i, "unexpected end of JSON input")
	}
	if d[i] != '"' {
		return o.fail(i, "invalid character "+quoteChar(d[i])+" looking for beginning of object key string")
	}
	end, err := scanString(d, i)
	if err != nil {
		o.err = err
		return nil, nil, false
	}
	key = d[i+1 : end-1]
	i = skipWS(d, end)
	if i >= len(d) {
		return o.fail(i, "unexpected end of JSON input")
	}
	if d[i] != ':' {
		return o.fail(i, "invalid character "+quoteChar(d[i])+" after object key")
	}
	i = skipWS(d, i+1)
	end, err = scanValue(d, i, 1)
	if err != nil {
		o.err = err
		return nil, nil, false
	}
	o.vs, o.i = i, end
	o.count++
	return key, d[i:end], true
}

func (o *jsonObject) fail(off int, msg string) ([]byte, []byte, bool) {
	o.err = &jsonSyntaxError{off: off, msg: msg}
	return nil, nil, false
}

// finish checks that only white space follows the object.
func (o *jsonObject) finish(i int) ([]byte, []byte, bool) {
	o.done = true
	o.count++
	if j := skipWS(o.data, i); j < len(o.data) {
		return o.fail(j, "invalid character "+quoteChar(o.data[j])+" after top-level value")
	}
	return nil, nil, false
}

// reject turns the syntax error, if any, into a record rejection.
func (o *jsonObject) reject() *recordReject {
	if o.err == nil {
		return nil
	}
	return &recordReject{reason: "malformed JSON: " + o.err.msg, syntaxOffset: int64(o.err.off)}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(c))
	return "'" + s[1:len(s)-1] + "'"
}

func skipWS(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// strSafe marks the bytes that may appear in a JSON string without ending it or
// needing a check: everything but '"', '\\' and control characters.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString validates the string starting at d[i] == '"' and returns the index after
// its closing quote.
func scanString(d []byte, i int) (int, *jsonSyntaxError) {
	i++
	for {
		i = skipStringBytes(d, i)
		for i < len(d) && strSafe[d[i]] {
			i++
		}
		if i >= len(d) {
			return i, &jsonSyntaxError{off: i, msg: "unexpected end of JSON input"}
		}
		switch c := d[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(d) {
				return i + 1, &jsonSyntaxError{off: i + 1, msg: "unexpected end of JSON input"}
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 0; k < 4; k++ {
					j := i + 2 + k
					if j >= len(d) {
						return j, &jsonSyntaxError{off: j, msg: "unexpected end of JSON input"}
					}
					if !isHexDigit(d[j]) {
						return j, &jsonSyntaxError{off: j, msg: "invalid character " + quoteChar(d[j]) + " in \\u hexadecimal character escape"}
					}
				}
				i += 6
			default:
				return i + 1, &jsonSyntaxError{off: i + 1, msg: "invalid character " + quoteChar(d[i+1]) + " in string escape code"}
			}
		default:
			return i, &jsonSyntaxError{off: i, msg: "invalid character " + quoteChar(c) + " in string literal"}
		}
	}
}

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// swarHasByte reports whether any byte of v equals c (v's bytes are a word of input).
func swarHasByte(v uint64, c byte) bool {
	x := v ^ (swarOnes * uint64(c))
	return (x-swarOnes)&^x&swarHighs != 0
}

// skipStringBytes moves past whole 8-byte words of string contents that hold no '"',
// '\\' or control character; most of a record is string contents.
func skipStringBytes(d []byte, i int) int {
	for i+8 <= len(d) {
		v := binary.LittleEndian.Uint64(d[i:])
		// A byte below 0x20: subtracting 0x20 borrows into its high bit. Bytes >= 0x80
		// are excluded by ^v; they are ordinary string contents.
		if (v-swarOnes*0x20)&^v&swarHighs != 0 || swarHasByte(v, '"') || swarHasByte(v, '\\') {
			return i
		}
		i += 8
	}
	return i
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanValue validates the value starting at d[i] and returns the index after it.
func scanValue(d []byte, i, depth int) (int, *jsonSyntaxError) {
	if i >= len(d) {
		return i, &jsonSyntaxError{off: i, msg: "unexpected end of JSON input"}
	}
	switch c := d[i]; c {
	case '"':
		return scanString(d, i)
	case '{', '[':
		if depth > jsonMaxNesting {
			return i, &jsonSyntaxError{off: i, msg: fmt.Sprintf("exceeded max depth of %d", jsonMaxNesting)}
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(d, i+1)
		if i < len(d) && d[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				if i >= len(d) {
					return i, &jsonSyntaxError{off: i, msg: "unexpected end of JSON input"}
				}
				if d[i] != '"' {
					return i, &jsonSyntaxError{off: i, msg: "invalid character " + quoteChar(d[i]) + " looking for beginning of object key string"}
				}
				end, err := scanString(d, i)
				if err != nil {
					return end, err
				}
				i = skipWS(d, end)
				if i >= len(d) {
					return i, &jsonSyntaxError{off: i, msg: "unexpected end of JSON input"}
				}
				if d[i] != ':' {
					return i, &jsonSyntaxError{off: i, msg: "invalid character " + quoteChar(d[i]) + " after object key"}
				}
				i = skipWS(d, i+1)
			}
			end, err := scanValue(d, i, depth+1)
			if err != nil {
				return end, err
			}
			i = skipWS(d, end)
			if i >= len(d) {
				return i, &jsonSyntaxError{off: i, msg: "unexpected end of JSON input"}
			}
			switch d[i] {
			case ',':
				i = skipWS(d, i+1)
			case closer:
				return i + 1, nil
			default:
				what := "array element"
				if c == '{' {
					what = "object key:value pair"
				}
				return i, &jsonSyntaxError{off: i, msg: "invalid character " + quoteChar(d[i]) + " after " + what}
			}
		}
	case 't':
		return scanLiteral(d, i, "true")
	case 'f':
		return scanLiteral(d, i, "false")
	case 'n':
		return scanLiteral(d, i, "null")
	}
	return scanNumber(d, i)
}

func scanLiteral(d []byte, i int, lit string) (int, *jsonSyntaxError) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(d) {
			return i + k, &jsonSyntaxError{off: i + k, msg: "unexpected end of JSON input"}
		}
		if d[i+k] != lit[k] {
			return i + k, &jsonSyntaxError{off: i + k, msg: "invalid character " + quoteChar(d[i+k]) + " in literal " + lit + " (expecting " + quoteChar(lit[k]) + ")"}
		}
	}
	return i + len(lit), nil
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(d []byte, i int) (int, *jsonSyntaxError) {
	start := i
	bad := func(i int, what string) (int, *jsonSyntaxError) {
		if i >= len(d) {
			return i, &jsonSyntaxError{off: i, msg: "unexpected end of JSON input"}
		}
		return i, &jsonSyntaxError{off: i, msg: "invalid character " + quoteChar(d[i]) + " " + what}
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		if i == start {
			return bad(i, "looking for beginning of value")
		}
		return bad(i, "in numeric literal")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return bad(i, "after decimal point in numeric literal")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return bad(i, "in exponent of numeric literal")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	return i, nil
}

// lowerKey writes the ASCII-lower-cased key into buf, so that members match without
// regard to case (as encoding/json matches them). Keys with escapes are decoded first.
func lowerKey(buf *[64]byte, key []byte) []byte {
	if len(key) > len(buf) {
		return nil
	}
	for i, c := range key {
		if c == '\\' {
			s, ok := unquoteJSON(key)
			if !ok || len(s) > len(buf) {
				return nil
			}
			return lowerKey(buf, []byte(s))
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(key)]
}

// jsonType names the JSON type of a raw value, for messages.
func jsonType(val []byte) string {
	if len(val) == 0 {
		return "nothing"
	}
	switch val[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "list"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// str decodes the string value just returned by next (null is the empty string).
func (o *jsonObject) str(field string, val []byte) (string, *recordReject) {
	if o.src != "" && len(val) >= 2 && val[0] == '"' && plainString(val[1:len(val)-1]) {
		return o.src[o.vs+1 : o.i-1], nil
	}
	return valString(field, val)
}

// plainString reports whether a JSON string's contents need no decoding.
func plainString(s []byte) bool {
	ascii := true
	for _, c := range s {
		if c == '\\' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(s)
}

// valString decodes a string member (null is the empty string).
func valString(field string, val []byte) (string, *recordReject) {
	if len(val) > 0 && val[0] == '"' {
		s, _ := unquoteJSON(val[1 : len(val)-1])
		return s, nil
	}
	if string(val) == "null" {
		return "", nil
	}
	return "", reject(field, "JSON %s where a string was expected", jsonType(val))
}

// valInt decodes a whole number, also from a string (exports differ), or null.
func valInt(field string, val []byte) (int64, *recordReject) {
	s := string(val)
	if len(val) > 0 && val[0] == '"' {
		str, _ := unquoteJSON(val[1 : len(val)-1])
		s = strings.TrimSpace(str)
		if s == "" {
			return 0, nil
		}
	} else if s == "null" {
		return 0, nil
	} else if val[0] == '{' || val[0] == '[' || val[0] == 't' || val[0] == 'f' {
		return 0, reject(field, "JSON %s where a number was expected", jsonType(val))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f < -9e18 || f > 9e18 {
			return 0, reject(field, "not a number: %s", truncate(s, 40))
		}
		n = int64(f)
	}
	return n, nil
}

// valBool decodes true/false, also from strings and 0/1, or null.
func valBool(field string, val []byte) (bool, *recordReject) {
	var b flexBool
	if err := b.UnmarshalJSON(val); err != nil {
		return false, reject(field, "not a boolean: %s", truncate(string(val), 40))
	}
	return bool(b), nil
}

// valNested decodes a nested member with encoding/json.
func valNested(field string, val []byte, v any) *recordReject {
	if string(val) == "null" {
		return nil
	}
	if err := json.Unmarshal(val, v); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			f := field
			if te.Field != "" {
				f += "." + te.Field
			}
			return reject(f, "JSON %s where %s was expected", te.Value, jsonKind(te.Type.Kind().String()))
		}
		if fe, ok := err.(*fieldValueError); ok {
			return reject(field, "%s", fe.reason)
		}
		return reject(field, "%v", err)
	}
	return nil
}

// unquoteJSON decodes the contents of a validated JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func unquoteJSON(s []byte) (string, bool) {
	esc := false
	ascii := true
	for _, c := range s {
		if c == '\\' {
			esc = true
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !esc {
		if !ascii && !utf8.Valid(s) {
			// One U+FFFD per bad byte, as encoding/json does.
			b := make([]byte, 0, len(s)+8)
			for i := 0; i < len(s); {
				r, size := utf8.DecodeRune(s[i:])
				b = utf8.AppendRune(b, r)
				i += size
			}
			return string(b), true
		}
		return string(s), true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				b = append(b, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(s[i:])
			b = utf8.AppendRune(b, r)
			i += size
			continue
		}
		if i+1 >= len(s) {
			return string(b), false
		}
		switch s[i+1] {
		case '"', '\\', '/':
			b = append(b, s[i+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return string(b), false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok2 := hex4(s, i+2); ok2 && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return string(b), false
		}
		i += 2
	}
	return string(b), true
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// readFlatStrings reads a record whose fields of interest are all strings: fields maps
// lower-case member names to where their values go, names to the names for messages.
func readFlatStrings(data []byte, fields map[string]*string, names map[string]string) *recordReject {
	o := jsonObject{data: data, src: string(data)}
	var kb [64]byte
	var first *recordReject
	for {
		key, val, ok := o.next()
		if !ok {
			break
		}
		k := lowerKey(&kb, key)
		dst, known := fields[string(k)]
		if !known {
			continue
		}
		s, rj := o.str(names[string(k)], val)
		if rj != nil {
			if first == nil {
				first = rj
			}
			continue
		}
		*dst = s
	}
	if rj := o.reject(); rj != nil {
		return rj
	}
	return first
}
