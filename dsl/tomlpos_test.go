package dsl

import (
	"io/fs"
	"strings"
	"testing"

	"irm/rules"
)

func TestDecodeStringOffsets(t *testing.T) {
	cases := []struct {
		text  string
		value string
	}{
		{`'abc'`, "abc"},
		{`"a\"b\\c"`, `a"b\c`},
		{`"x\u00e9y"`, "xéy"},
		{"'''\nab\ncd'''", "ab\ncd"},
		{"\"\"\"\nab \\\n   cd\"\"\"", "ab cd"},
		{`'''a''''`, "a'"},
	}
	for _, c := range cases {
		offs, end := decodeString(c.text, 0)
		if len(offs) != len(c.value)+1 {
			t.Errorf("%q: %d offsets for a %d-byte value", c.text, len(offs), len(c.value))
			continue
		}
		if end != len(c.text) {
			t.Errorf("%q: end %d, want %d", c.text, end, len(c.text))
		}
		// Every plain (unescaped) character maps to itself in the file.
		for i := 0; i < len(c.value); i++ {
			if c.text[offs[i]] != c.value[i] && c.text[offs[i]] != '\\' {
				t.Errorf("%q: value byte %d (%q) maps to file byte %q", c.text, i, c.value[i], c.text[offs[i]])
			}
		}
	}
}

func TestIndexTOMLBlocks(t *testing.T) {
	text := "# c\n[[indicator]]\nid = \"a\" # x\nwhen = '''\n[[not a header]]\nx = 1\n'''\nfeeds = [\n  \"audit\", # y\n]\n\n  [[template.trigger]]\n  id = 'b'\n"
	ix := indexTOML(text)
	if len(ix.blocks) != 3 || ix.blocks[1].header != "indicator" || ix.blocks[2].header != "template.trigger" {
		t.Fatalf("blocks: %+v", ix.blocks)
	}
	b := ix.blocks[1]
	if got := b.order; strings.Join(got, ",") != "id,when,feeds" {
		t.Errorf("keys %v", got)
	}
	if k := b.keys["feeds"]; k.line != 8 || k.col != 1 {
		t.Errorf("feeds at %d:%d", k.line, k.col)
	}
	if k := ix.blocks[2].keys["id"]; k.line != 13 || k.col != 3 {
		t.Errorf("trigger id at %d:%d", k.line, k.col)
	}
}

// FuzzIndexTOML: the scanner never panics and never reports a key outside the text,
// whatever the input (it sees user files before the TOML decoder has judged them).
func FuzzIndexTOML(f *testing.F) {
	names, _ := fs.Glob(rules.FS, "*.toml")
	for _, n := range names {
		b, _ := fs.ReadFile(rules.FS, n)
		f.Add(string(b))
	}
	f.Add("a = \"\\u12")
	f.Add("[[x]]\nk = '''\n")
	f.Fuzz(func(t *testing.T, text string) {
		ix := indexTOML(text)
		for _, b := range ix.blocks {
			for _, k := range b.keys {
				if k.valueOff > len(text) || k.line < 1 || k.line > len(ix.lines) {
					t.Fatalf("key outside the text: %+v", k)
				}
				decodeString(text, k.valueOff)
			}
		}
	})
}
