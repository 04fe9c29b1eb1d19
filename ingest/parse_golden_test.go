package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Golden parser tests in the Caddy style: testdata/parse/<feed>-<name>.txt holds an input
// file, a line of ten dashes, and the expected outcome: one line per event (its JSON
// without raw and without empty fields), "reject: <RecordError>" per rejected record,
// or "error: <message>" when the file fails as a whole. An optional first line
// "# options: {json ParseOptions}" sets the parse options. go test -update rewrites the
// expected part from the parsers' output.

const goldenSep = "----------"

func TestParseGolden(t *testing.T) {
	paths, err := filepath.Glob("../testdata/parse/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := bytes.Cut(raw, []byte("\n"+goldenSep+"\n"))
			if !ok {
				t.Fatalf("no %q line", goldenSep)
			}
			input = append(input, '\n')
			var opt ParseOptions
			if rest, found := bytes.CutPrefix(input, []byte("# options: ")); found {
				line, body, _ := bytes.Cut(rest, []byte("\n"))
				if err := json.Unmarshal(line, &opt); err != nil {
					t.Fatalf("options: %v", err)
				}
				input = body
			}
			feed, _, _ := strings.Cut(filepath.Base(path), "-")
			got := goldenOutput(t, parseAll(feed, bytes.NewReader(input), opt))
			if *update {
				var out bytes.Buffer
				out.Write(raw[:len(raw)-len(want)])
				out.WriteString(got)
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(want) {
				t.Errorf("output differs (go test -update rewrites it)\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func goldenOutput(t *testing.T, p parsed) string {
	var b strings.Builder
	for i := range p.events {
		ev := &p.events[i]
		checkEvent(t, "golden", ev)
		js, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "raw")
		for k, v := range m {
			switch v := v.(type) {
			case nil:
				delete(m, k)
			case string:
				if v == "" {
					delete(m, k)
				}
			case float64:
				if v == 0 {
					delete(m, k)
				}
			case bool:
				if !v {
					delete(m, k)
				}
			case []any:
				if len(v) == 0 {
					delete(m, k)
				}
			}
		}
		js, _ = json.Marshal(m)
		b.Write(js)
		b.WriteByte('\n')
	}
	for _, r := range p.rejects {
		b.WriteString("reject: " + r.Error() + "\n")
	}
	if p.err != nil {
		b.WriteString("error: " + p.err.Error() + "\n")
	}
	return b.String()
}
