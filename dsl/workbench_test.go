package dsl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"irm/dsl"
	"irm/event"
	"irm/rules"
)

// TestLoadTextMatchesLoad: rule files compiled from memory give what Load gives for the
// same files on disk (diagnostics named as Load names them), in name order whatever the
// order they are passed in.
func TestLoadTextMatchesLoad(t *testing.T) {
	dir := t.TempDir()
	a := []byte(`[[list]]
id = "src_exts"
name = "Source"
items = ["go", "py"]
`)
	b := []byte(`[[indicator]]
id = "src_print"
name = "Printing source"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted" && event.file_ext in lists.src_exts'
`)
	os.WriteFile(filepath.Join(dir, "a.toml"), a, 0o644)
	os.WriteFile(filepath.Join(dir, "b.toml"), b, 0o644)
	opt := dsl.Options{OrgDomains: dsl.TestOrgDomains}
	disk, err := dsl.Load(rules.FS, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := dsl.LoadText(rules.FS, dir, []dsl.File{{Name: "b.toml", Text: b}, {Name: "a.toml", Text: a}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(disk.Files(), mem.Files()) {
		t.Fatalf("files: disk %v, memory %v", disk.Files(), mem.Files())
	}
	if got := mem.Indicator("src_print"); got == nil || got.File != filepath.Join(dir, "b.toml") || got.Line != 2 {
		t.Fatalf("indicator from memory: %+v", got)
	}

	bad := []byte("[[indicator]]\nid = \"x\"\nname = \"X\"\ncategory = \"access\"\nwhen = 'event.size > \"big\"'\n")
	_, err = dsl.LoadText(rules.FS, dir, []dsl.File{{Name: "bad.toml", Text: bad}}, opt)
	var le *dsl.LoadError
	if !errors.As(err, &le) || len(le.Diags) != 1 {
		t.Fatalf("type error from memory: %v", err)
	}
	if d := le.Diags[0]; d.File != filepath.Join(dir, "bad.toml") || d.Line != 5 || d.Col != 20 || !strings.Contains(d.Msg, "no matching overload") {
		t.Fatalf("diag %+v, want %s:5:20 no matching overload", d, filepath.Join(dir, "bad.toml"))
	}
}

// TestOverrides: a user file that reuses a built-in id is listed with both positions.
func TestOverrides(t *testing.T) {
	text := []byte(`[[indicator]]
id = "print_file"
name = "Printing files (ours)"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted"'
thresholds = [50, 100, 200]
`)
	rs, err := dsl.LoadText(rules.FS, "rules.d", []dsl.File{{Name: "print.toml", Text: text}}, dsl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ov := rs.Overrides()
	if len(ov) != 1 {
		t.Fatalf("overrides %+v, want one", ov)
	}
	o := ov[0]
	if o.Kind != "indicator" || o.ID != "print_file" || o.File != filepath.Join("rules.d", "print.toml") || o.Line != 2 ||
		!strings.HasPrefix(o.BuiltinFile, "rules/") || o.BuiltinLine < 1 {
		t.Fatalf("override %+v", o)
	}
	if rs.Indicator("print_file").Builtin {
		t.Fatal("the replacement is marked built-in")
	}
	base, _ := dsl.Load(rules.FS, "", dsl.Options{})
	if len(base.Overrides()) != 0 {
		t.Fatalf("built-ins alone override %v", base.Overrides())
	}
}

// TestMatchIndicatorAgreesWithMatch: matching one indicator (or a few) gives exactly
// what Match says about it, over the testdata feeds and the built-in tests' events.
func TestMatchIndicatorAgreesWithMatch(t *testing.T) {
	rs, err := dsl.Load(rules.FS, "", dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for _, tc := range rs.Tests() {
		evs = append(evs, tc.Events...)
	}
	evs = append(evs, dsl.FeedEvents(t)...)
	lists := dsl.FeedLists
	all := make([]int, len(rs.Indicators()))
	for i := range all {
		all[i] = i
	}
	checked, matched := 0, 0
	for _, ev := range evs {
		in := &dsl.Input{Event: ev, User: &event.Profile{UPN: ev.User}, Lists: lists}
		want := rs.Match(in)
		var got []string
		for _, ind := range rs.Indicators() {
			if rs.MatchIndicator(ind.ID, in) {
				got = append(got, ind.ID)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("event %s %s: MatchIndicator %v, Match %v", ev.Feed, ev.Operation, got, want)
		}
		var among []string
		for _, ix := range rs.MatchAmong(nil, in, all) {
			among = append(among, rs.Indicators()[ix].ID)
		}
		if !slices.Equal(among, want) {
			t.Errorf("event %s %s: MatchAmong %v, Match %v", ev.Feed, ev.Operation, among, want)
		}
		checked++
		matched += len(want)
	}
	if checked < 100 || matched < 50 {
		t.Fatalf("only %d events and %d matches checked", checked, matched)
	}
	if rs.MatchIndicator("no_such_indicator", &dsl.Input{Event: evs[0]}) || rs.MatchIndicator("copy_to_usb", nil) {
		t.Fatal("matched what does not exist")
	}
}

// TestSave: a save that does not compile writes nothing; one that does is written
// atomically, is in force at once, and reaches the OnChange subscribers exactly once,
// with its author, even while the watcher runs; a stale base is refused.
func TestSave(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rules.d") // created by the first save
	r, err := dsl.NewReloader(rules.FS, dir, dsl.Options{OrgDomains: dsl.TestOrgDomains, Debounce: 10 * time.Millisecond, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var changes []dsl.Change
	r.OnChange(func(c dsl.Change) {
		mu.Lock()
		changes = append(changes, c)
		mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	bad := []byte(strings.Replace(customIndicatorText(100), "event.size > 100", `event.size > "big"`, 1))
	_, err = r.Save("print.toml", bad, "eve", "")
	var le *dsl.LoadError
	if !errors.As(err, &le) || le.Diags[0].File != filepath.Join(dir, "print.toml") {
		t.Fatalf("saving a type error: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "print.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file that does not compile was written: %v", err)
	}
	for _, name := range []string{"../x.toml", ".hidden.toml", "x.txt", "a/b.toml", ""} {
		if _, err := r.Save(name, []byte(customIndicatorText(1)), "eve", ""); err == nil {
			t.Errorf("saved as %q", name)
		}
	}

	good := []byte(customIndicatorText(100))
	rs, err := r.Save("print.toml", good, "eve", "")
	if err != nil {
		t.Fatal(err)
	}
	if rs.Indicator("big_print") == nil || r.Current() != rs {
		t.Fatal("the saved indicator is not in force")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "print.toml")); string(b) != string(good) {
		t.Fatalf("file on disk: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	// A stale base: someone else saved since.
	if _, err := r.Save("print.toml", []byte(customIndicatorText(200)), "eve", ""); !errors.Is(err, dsl.ErrFileChanged) {
		t.Fatalf("saving over a file created meanwhile: %v", err)
	}
	if _, err := r.Save("print.toml", []byte(customIndicatorText(200)), "eve", dsl.Digest(bad)); !errors.Is(err, dsl.ErrFileChanged) {
		t.Fatalf("saving with a stale base: %v", err)
	}
	if _, err := r.Save("print.toml", []byte(customIndicatorText(300)), "eve", dsl.Digest(good)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Current().Indicator("big_print").When, "300") {
		t.Fatal("the second save is not in force")
	}
	// Give the watcher time to see the renames (debounce 10 ms, poll 20 ms).
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 {
		t.Fatalf("%d changes reported, want 2 (one per save): %+v", len(changes), changes)
	}
	for i, c := range changes {
		if c.Actor != "eve" || c.Err != nil {
			t.Errorf("change %d: actor %q err %v", i, c.Actor, c.Err)
		}
	}
	if _, had := changes[0].Old["print.toml"]; had || string(changes[0].New["print.toml"]) != string(good) {
		t.Errorf("first change: %+v", changes[0])
	}

	// The tests of the rules in force compile with the test organisation.
	ts, err := r.CurrentForTests()
	if err != nil || ts.Indicator("big_print") == nil {
		t.Fatalf("CurrentForTests: %v", err)
	}
	// A draft sees the directory with the draft in place of the file.
	d, err := r.Draft("print.toml", []byte(customIndicatorText(7)), false)
	if err != nil || !strings.Contains(d.Indicator("big_print").When, "> 7") {
		t.Fatalf("draft: %v", err)
	}
	if _, err := r.Draft("other.toml", []byte(customIndicatorText(7)), false); err == nil || !strings.Contains(err.Error(), "duplicate indicator id") {
		t.Fatalf("a second file with the same id: %v", err)
	}
}

func customIndicatorText(size int) string {
	return strings.Replace(customIndicator, "%d", itoaTest(size), 1)
}

func itoaTest(n int) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
