package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// enumFlag is a flag with a fixed set of values, matched case-insensitively and stored
// in its canonical spelling ("" = not set).
type enumFlag struct {
	allowed []string
	value   string
}

func (e *enumFlag) String() string { return e.value }

func (e *enumFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	for _, a := range e.allowed {
		if strings.EqualFold(a, s) {
			e.value = a
			return nil
		}
	}
	return fmt.Errorf("not one of %s", strings.Join(e.allowed, ", "))
}

// enum defines an enumerated flag on fs.
func enum(fs *flag.FlagSet, name, def, usage string, allowed ...string) *string {
	e := &enumFlag{allowed: allowed, value: def}
	// The backquoted list is what `irm help` shows as the flag's argument.
	fs.Var(e, name, usage+" (`"+strings.Join(allowed, "|")+"`, any case)")
	return &e.value
}

// validUTF8 replaces bytes that are not UTF-8 with U+FFFD. JSON output goes through it:
// encoding/json copies json.RawMessage (an event's raw record) verbatim, and standard
// JSON parsers refuse invalid UTF-8. Invalid bytes can only sit inside strings there,
// so the result is still the same JSON.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return bytes.ToValidUTF8(b, []byte("\uFFFD"))
}

// utf8Writer applies validUTF8 to each write; a json.Encoder writes one whole value per
// call, so no character is split between writes.
type utf8Writer struct{ w io.Writer }

func (u utf8Writer) Write(p []byte) (int, error) {
	if _, err := u.w.Write(validUTF8(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// oneLine keeps a tabular listing one entry per line whatever the values contain.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", " ").Replace(s)
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
