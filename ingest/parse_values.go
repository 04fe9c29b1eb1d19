package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Values: lenient JSON value types, times, and the normalization of names and domains.

// jsonKind names what a Go kind expects, with its article, for messages.
func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "a list"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return "a " + k
}

// fieldValueError is returned by the lenient value types below when a value cannot be
// used; encoding/json does not know the field name, so the type records what it can.
type fieldValueError struct{ field, reason string }

func (e *fieldValueError) Error() string { return e.field + ": " + e.reason }

// flexInt accepts a JSON number or a string holding one (exports differ), or null.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*n = 0
			return nil
		}
		b = []byte(s)
	}
	if string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || f < -9e18 || f > 9e18 {
			return &fieldValueError{reason: fmt.Sprintf("not a number: %s", truncate(string(b), 40))}
		}
		v = int64(f)
	}
	*n = flexInt(v)
	return nil
}

// flexBool accepts true/false, "true"/"false" (any case), 1/0, or null.
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		*v = true
	case "false", "0", "no", "", "null":
		*v = false
	default:
		return &fieldValueError{reason: fmt.Sprintf("not a boolean: %s", truncate(string(b), 40))}
	}
	return nil
}

// stringList accepts a JSON list of strings, or one string of addresses separated by
// ';' or ',' (how some exporters flatten lists), or null.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = nil
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
			if part = strings.TrimSpace(part); part != "" {
				*l = append(*l, part)
			}
		}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return &fieldValueError{reason: "not a list of strings"}
	}
	*l = list
	return nil
}

var (
	minEventTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// timeLayouts are the ISO 8601 forms accepted besides the fast path; a time without an
// offset is UTC (the audit log and badging feeds document UTC without a suffix).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseFeedTime parses an ISO 8601 date-time or date into UTC.
func parseFeedTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	t, ok := parseTimeFast(s)
	if !ok {
		var err error
		for _, layout := range timeLayouts {
			if t, err = time.Parse(layout, s); err == nil {
				ok = true
				break
			}
		}
		if !ok {
			return time.Time{}, fmt.Errorf("not an ISO 8601 date or time: %q", truncate(s, 60))
		}
	}
	t = t.UTC()
	if t.Before(minEventTime) || !t.Before(maxEventTime) {
		return time.Time{}, fmt.Errorf("out of range (1970-2199): %q", truncate(s, 60))
	}
	return t, nil
}

// parseTimeFast handles the audit log's own form, 2024-03-01T10:20:30[.fffffff][Z],
// without the cost of time.Parse.
func parseTimeFast(s string) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, mon, day := num(0, 4), num(5, 7), num(8, 10)
	hh, mm, ss := num(11, 13), num(14, 16), num(17, 19)
	if year < 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59 {
		return time.Time{}, false
	}
	rest := s[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := 100000000
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
		}
		if i == 1 || i > 10 {
			return time.Time{}, false
		}
		rest = rest[i:]
	}
	if rest != "" && rest != "Z" {
		return time.Time{}, false
	}
	// time.Date normalizes 31 February into March; insist on a real day.
	if day > daysIn(time.Month(mon), year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(mon), day, hh, mm, ss, nsec, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
}

// lowerTrim lower-cases and trims an identifier (UPN, domain, status).
func lowerTrim(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// baseName returns the last element of a Windows or POSIX path or of a URL path.
func baseName(p string) string {
	p = strings.TrimSpace(p)
	if i := strings.IndexAny(p, "?#"); i >= 0 && strings.Contains(p, "://") {
		p = p[:i]
	}
	p = strings.TrimRight(p, `/\`)
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// fileExt normalizes a given extension, or derives one from the file name: lower-case,
// without the dot.
func fileExt(given, name string) string {
	given = strings.TrimSpace(given)
	if given != "" {
		return strings.ToLower(strings.TrimPrefix(given, "."))
	}
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return ""
	}
	ext := name[i+1:]
	if len(ext) > 16 || strings.ContainsAny(ext, ` /\`) {
		return ""
	}
	return strings.ToLower(ext)
}

// hostOf returns the lower-case host of a URL or bare domain (no scheme, port, path).
func hostOf(u string) string {
	u = strings.TrimSpace(u)
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, '@'); i >= 0 {
		u = u[i+1:]
	}
	if strings.HasPrefix(u, "[") { // IPv6 literal
		if i := strings.IndexByte(u, ']'); i >= 0 {
			return strings.ToLower(u[:i+1])
		}
	}
	if i := strings.LastIndexByte(u, ':'); i >= 0 {
		u = u[:i]
	}
	return strings.ToLower(strings.TrimSuffix(u, "."))
}

// emailDomain returns the lower-case domain of an address. Guest accounts
// (alice_fabrikam.com#EXT#@contoso.onmicrosoft.com) yield their home domain.
func emailDomain(addr string) string {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if i := strings.Index(addr, "#ext#"); i >= 0 {
		local := addr[:i]
		if j := strings.LastIndexByte(local, '_'); j >= 0 && strings.Contains(local[j+1:], ".") {
			return local[j+1:]
		}
	}
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return strings.TrimSuffix(addr[i+1:], ">")
}

// appendUnique appends s unless it is empty or already present.
func appendUnique(list []string, s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return list
	}
	for _, have := range list {
		if have == s {
			return list
		}
	}
	return append(list, s)
}

// contentID derives a stable event ID from normalized fields, for feeds whose records
// carry no ID of their own: the same record, however formatted, gets the same ID.
func contentID(prefix string, fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return prefix + hex.EncodeToString(h.Sum(sum[:0])[:16])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// normalizeToken lower-cases a status/severity word and drops spaces, '-' and '_'
// ("In Progress" -> "inprogress").
func normalizeToken(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case ' ', '-', '_':
			continue
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}
