package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"irm/event"
)

// The fuzz targets seed from every sample, bad and golden file of their feed (go test
// runs the seeds as ordinary tests). Run one with e.g.
//
//	go test ./ingest -run '^$' -fuzz FuzzParseAudit -fuzztime 30s

func addSeeds(f *testing.F, feed string) {
	var paths []string
	for _, pattern := range []string{
		filepath.Join("../testdata/feeds", feed, "*"),
		filepath.Join("../testdata/bad", feed, "*"),
		filepath.Join("../testdata/parse", feed+"-*.txt"),
	} {
		m, _ := filepath.Glob(pattern)
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		f.Fatalf("no seed files for %s", feed)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if strings.HasSuffix(p, ".txt") {
			b, _, _ = bytes.Cut(b, []byte("\n"+goldenSep+"\n"))
			if _, rest, ok := bytes.Cut(b, []byte("\n")); ok && bytes.HasPrefix(b, []byte("# options:")) {
				b = rest
			}
		}
		f.Add(b)
	}
}

// fuzzParse checks what must hold for any input: no panic, no events alongside a file
// error, events that keep the model's invariants, rejections in file order, and the
// same outcome whatever the reader's chunking.
func fuzzParse(t *testing.T, feed string, data []byte) {
	opt := ParseOptions{MaxLineBytes: 4096}
	if feed == event.FeedHR {
		opt.HRColumns = map[string]string{"EmailAddress": "Email"}
	}
	p := parseAll(feed, bytes.NewReader(data), opt)
	if p.err != nil && len(p.events) > 0 {
		t.Fatalf("error %v after %d events", p.err, len(p.events))
	}
	for i := range p.events {
		ev := &p.events[i]
		if ev.ID == "" || ev.User == "" || ev.User != strings.ToLower(ev.User) || ev.Feed != feed || ev.Operation == "" ||
			strings.Contains(ev.User, "/") || len(ev.User) > maxKeyPart || len(ev.ID) > maxKeyPart {
			t.Fatalf("bad event %+v", ev)
		}
		if ev.Time.Location() != time.UTC || ev.Time.Year() < 1970 || ev.Time.Year() >= 2200 {
			t.Fatalf("bad time %v", ev.Time)
		}
		if !json.Valid(ev.Raw) {
			t.Fatalf("raw is not JSON: %q", ev.Raw)
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	}
	last := 0
	for _, r := range p.rejects {
		if r.Record != 0 {
			if r.Record <= last {
				t.Fatalf("rejects out of order: %v", p.rejects)
			}
			last = r.Record
		}
		if r.Reason == "" {
			t.Fatalf("reject without a reason: %+v", r)
		}
	}
	q := parseAll(feed, iotest.HalfReader(bytes.NewReader(data)), opt)
	if !sameParse(p, q) {
		t.Fatalf("chunked read differs:\n%s\n%s", summarize(p), summarize(q))
	}
}

func FuzzParseAudit(f *testing.F) {
	addSeeds(f, event.FeedAudit)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, event.FeedAudit, data) })
}

func FuzzParseHR(f *testing.F) {
	addSeeds(f, event.FeedHR)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, event.FeedHR, data) })
}

func FuzzParseBadging(f *testing.F) {
	addSeeds(f, event.FeedBadging)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, event.FeedBadging, data) })
}

func FuzzParseDLP(f *testing.F) {
	addSeeds(f, event.FeedDLP)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, event.FeedDLP, data) })
}

func FuzzParseDefender(f *testing.F) {
	addSeeds(f, event.FeedDefender)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, event.FeedDefender, data) })
}

// FuzzJSONValid holds the one-pass record reader to encoding/json: the same inputs are
// valid, and string members decode to the same text.
func FuzzJSONValid(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":"x\u00e9\ud83d\ude00\"","b":[1,2.5e3,-0,{"c":null}],"d":true}`,
		`{"a":}`, `{"a":01}`, `{"a":"\x"}`, `{"a":1,}`, `{"a" 1}`, `{"a":[1,]}`, `{"a":"\ud800"}`, `{"a":1} x`,
		"{\"a\":\"tab\there\"}", `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":tru}`, `{"A":"\u0041"}`} {
		f.Add([]byte(s))
	}
	seeds, _ := filepath.Glob("../testdata/feeds/*/*.jsonl")
	for _, p := range seeds {
		b, _ := os.ReadFile(p)
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(bytes.TrimPrefix(bytes.TrimSpace(line), utf8BOM))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimLeft(data, " \t\r\n")
		if len(data) == 0 || data[0] != '{' || bytes.Count(data, []byte("[")) > jsonMaxNesting/2 || bytes.Count(data, []byte("{")) > jsonMaxNesting/2 {
			return
		}
		o := jsonObject{data: data, src: string(data)}
		type member struct {
			key string
			val []byte
			str string
		}
		var members []member
		for {
			key, val, ok := o.next()
			if !ok {
				break
			}
			m := member{key: string(key), val: val}
			if val[0] == '"' {
				s, rj := o.str("x", val)
				if rj != nil {
					t.Fatalf("str: %v", rj.reason)
				}
				m.str = s
			}
			members = append(members, m)
		}
		mine := o.err == nil
		if std := json.Valid(data); mine != std {
			t.Fatalf("valid: mine %v (%v), encoding/json %v, input %q", mine, o.err, std, data)
		}
		if !mine {
			if o.err.off < 0 || o.err.off > len(data) {
				t.Fatalf("error offset %d outside the input", o.err.off)
			}
			return
		}
		for _, m := range members {
			if m.val[0] != '"' {
				continue
			}
			var want string
			if err := json.Unmarshal(m.val, &want); err != nil {
				t.Fatalf("encoding/json cannot decode %q: %v", m.val, err)
			}
			if m.str != want {
				t.Fatalf("string %q: mine %q, encoding/json %q", m.val, m.str, want)
			}
		}
	})
}

// FuzzFrameArray holds the array framer to encoding/json: for any valid JSON array, the
// framed elements are exactly the array's elements, objects as records and anything
// else as rejections.
func FuzzFrameArray(f *testing.F) {
	for _, s := range []string{`[]`, `[{}]`, `[{"a":"}]"},{"b":"\\\""}]`, `[1,"x",null,[{}],{"c":[1,{"d":"{"}]}]`,
		"[\n  {\"a\": \"\\u005c\"},\n  {\"b\": 2}\n]", `[{"a":"` + strings.Repeat("x", 70000) + `"},{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var elems []json.RawMessage
		// Mostly-invalid UTF-8 is refused as binary by design, however valid its JSON.
		if json.Unmarshal(data, &elems) != nil || len(data) > 1<<20 || !utf8.Valid(data) {
			return
		}
		jr, err := newJSONReader(iotest.HalfReader(bytes.NewReader(data)), 1<<20)
		if err != nil {
			t.Fatalf("valid array, reader error %v", err)
		}
		n := 0
		for {
			it, ok, err := jr.next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if it.fatal != nil {
				t.Fatalf("valid array, fatal %v", it.fatal)
			}
			if n >= len(elems) {
				t.Fatalf("more elements framed than the array has")
			}
			want := elems[n]
			if want[0] == '{' {
				if it.reject != nil || !bytes.Equal(it.data, want) {
					t.Fatalf("element %d: framed %q (%v), want %q", n, it.data, it.reject, want)
				}
			} else if it.reject == nil {
				t.Fatalf("element %d: %q framed as a record", n, it.data)
			}
			n++
		}
		if n != len(elems) {
			t.Fatalf("framed %d elements, the array has %d", n, len(elems))
		}
	})
}
