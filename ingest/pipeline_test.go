package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"irm/bench/auditgen"
	"irm/event"
	"irm/store"
)

// rig is a drop directory and a real Badger store in a temp dir.
type rig struct {
	t    *testing.T
	drop string
	db   *store.DB
	in   *Ingester
}

func newRig(t *testing.T, mod func(*Options)) *rig {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "data"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	opt := Options{DropDir: filepath.Join(dir, "drop"), BatchSize: 500}
	if mod != nil {
		mod(&opt)
	}
	in, err := New(db, opt)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, drop: opt.DropDir, db: db, in: in}
}

func (r *rig) once() Summary {
	r.t.Helper()
	sum, err := r.in.Once(context.Background())
	if err != nil {
		r.t.Fatalf("Once: %v", err)
	}
	return sum
}

// drop writes a file into a feed directory the way an exporter should: under a dot-name,
// then renamed into place.
func (r *rig) drop_(feed, name string, data []byte) {
	r.t.Helper()
	tmp := filepath.Join(r.drop, feed, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(r.drop, feed, name)); err != nil {
		r.t.Fatal(err)
	}
}

// auditLines returns records [from, to) of run as JSON lines.
func auditLines(run string, from, to int) []byte {
	var b []byte
	for i := from; i < to; i++ {
		b = auditgen.Append(b, run, i)
		b = append(b, '\n')
	}
	return b
}

// ids returns every stored event ID with how often it was seen in a full time scan.
func (r *rig) ids() map[string]int {
	r.t.Helper()
	m := map[string]int{}
	err := r.db.Events(store.Query{}, func(ev *event.Event) error {
		m[ev.ID]++
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *rig) list(feed, sub string) []string {
	r.t.Helper()
	ents, err := os.ReadDir(filepath.Join(r.drop, feed, sub))
	if err != nil {
		r.t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

func TestNewCreatesLayout(t *testing.T) {
	r := newRig(t, nil)
	for _, f := range event.Feeds {
		for _, d := range []string{"", ProcessedDir, FailedDir, ClaimedDir} {
			if fi, err := os.Stat(filepath.Join(r.drop, f, d)); err != nil || !fi.IsDir() {
				t.Errorf("%s/%s not created: %v", f, d, err)
			}
		}
	}
}

func TestOnceIngestsFilesAndRetiresThem(t *testing.T) {
	r := newRig(t, nil)
	r.drop_("audit", "a.json", auditLines("once", 0, 1200))
	r.drop_("audit", "b.json", auditLines("once", 1200, 2000))
	var mu sync.Mutex
	var notified int
	r.in.OnCommit(func(added []event.Event) {
		mu.Lock()
		notified += len(added)
		mu.Unlock()
	})
	sum := r.once()
	if sum.Files != 2 || sum.Records != 2000 || sum.Added != 2000 || sum.Duplicates != 0 || sum.Rejected != 0 || sum.FailedFiles != 0 {
		t.Fatalf("summary: %+v", sum)
	}
	if notified != 2000 {
		t.Errorf("OnCommit saw %d events, want 2000", notified)
	}
	ids := r.ids()
	if len(ids) != 2000 {
		t.Fatalf("stored %d events, want 2000", len(ids))
	}
	for i := 0; i < 2000; i++ {
		if ids[auditgen.ID("once", i)] != 1 {
			t.Fatalf("record %d stored %d times", i, ids[auditgen.ID("once", i)])
		}
	}
	if got := r.list("audit", ""); len(got) != 0 {
		t.Errorf("files left in the drop dir: %v", got)
	}
	if got := r.list("audit", ClaimedDir); len(got) != 0 {
		t.Errorf("files left claimed: %v", got)
	}
	if got, want := r.list("audit", ProcessedDir), []string{"a.json", "b.json"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("processed = %v, want %v", got, want)
	}
	recs, err := r.db.LedgerList("audit", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("ledger has %d files, want 2", len(recs))
	}
	for _, rec := range recs {
		if rec.Finished.IsZero() || rec.Failed != "" || rec.Digest == "" || rec.Size == 0 {
			t.Errorf("ledger record incomplete: %+v", rec)
		}
		want := map[string]int{"a.json": 1200, "b.json": 800}[rec.Name]
		if rec.Records != want || rec.Added != want {
			t.Errorf("%s: ledger records %d added %d, want %d", rec.Name, rec.Records, rec.Added, want)
		}
	}
}

// Must-show (c): the same file twice, or the same records in another file, adds nothing.
func TestDuplicatesAddNothing(t *testing.T) {
	r := newRig(t, nil)
	data := auditLines("dup", 0, 300)
	r.drop_("audit", "first.json", data)
	if sum := r.once(); sum.Added != 300 {
		t.Fatalf("first: %+v", sum)
	}

	// The same file again, under its own name and under another.
	r.drop_("audit", "first.json", data)
	r.drop_("audit", "copy.json", data)
	sum := r.once()
	if sum.Added != 0 || sum.DuplicateFiles != 2 || sum.Files != 2 || sum.Records != 0 {
		t.Fatalf("same file again: %+v", sum)
	}

	// The same records in a different file: reordered, as a JSON array, with one new one.
	var arr bytes.Buffer
	arr.WriteString("[\n")
	for i := 299; i >= 0; i-- {
		arr.Write(auditgen.Append(nil, "dup", i))
		arr.WriteString(",\n")
	}
	arr.Write(auditgen.Append(nil, "dup", 300))
	arr.WriteString("\n]\n")
	r.drop_("audit", "reexport.json", arr.Bytes())
	sum = r.once()
	if sum.Records != 301 || sum.Added != 1 || sum.Duplicates != 300 || sum.DuplicateFiles != 0 {
		t.Fatalf("same records in another file: %+v", sum)
	}
	if n := len(r.ids()); n != 301 {
		t.Fatalf("stored %d events, want 301", n)
	}
	// Same-named files do not overwrite each other in processed/.
	got := r.list("audit", ProcessedDir)
	want := []string{"copy.json", "first-1.json", "first.json", "reexport.json"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("processed = %v, want %v", got, want)
	}
}

// Must-show (d): a malformed file yields its good records plus an error report that
// names each bad line and why.
func TestMalformedFileReportsEachBadLine(t *testing.T) {
	r := newRig(t, nil)
	lines := []string{
		string(auditgen.Append(nil, "bad", 0)), // line 1 good
		`{"Id":"x1","CreationTime":"2026-03-02T08:00:00","RecordType":6,"Operation":"FileDownloaded","Workload":"SharePoint","UserId":"a@contoso.com"`, // 2: truncated JSON
		string(auditgen.Append(nil, "bad", 2)), // 3 good
		`{"Id":"x3","CreationTime":"yesterday","RecordType":6,"Operation":"FileDownloaded","Workload":"SharePoint","UserId":"a@contoso.com","ObjectId":"https://x/y.docx"}`, // 4: bad date
		`{"Id":"x4","CreationTime":"2026-03-02T08:00:00","RecordType":6,"Operation":"FileDownloaded","Workload":"SharePoint","ObjectId":"https://x/y.docx"}`,                // 5: no user
		string(auditgen.Append(nil, "bad", 5)), // 6 good
		"",                                     // 7 blank: not a record
		`not json at all`,                      // 8
		string(auditgen.Append(nil, "bad", 8)), // 9 good
	}
	r.drop_("audit", "mixed.json", []byte(strings.Join(lines, "\n")+"\n"))
	sum := r.once()
	if sum.Files != 1 || sum.FailedFiles != 0 || sum.Added != 4 || sum.Rejected != 4 {
		t.Fatalf("summary: %+v", sum)
	}
	ids := r.ids()
	for _, i := range []int{0, 2, 5, 8} {
		if ids[auditgen.ID("bad", i)] != 1 {
			t.Errorf("good record %d not stored once", i)
		}
	}
	report, err := os.ReadFile(filepath.Join(r.drop, "audit", ProcessedDir, "mixed.json.errors.txt"))
	if err != nil {
		t.Fatalf("no error report: %v", err)
	}
	got := strings.Split(strings.TrimSpace(string(report)), "\n")
	if len(got) != 4 {
		t.Fatalf("report has %d lines, want 4:\n%s", len(got), report)
	}
	for i, want := range []string{"line 2 ", "line 4 ", "line 5 ", "line 8 "} {
		if !strings.HasPrefix(got[i], want) || len(got[i]) < len(want)+12 {
			t.Errorf("report line %d = %q, want it to start %q and say why", i+1, got[i], want)
		}
	}
	if !strings.Contains(strings.ToLower(got[1]), "creationtime") {
		t.Errorf("bad date not attributed to CreationTime: %q", got[1])
	}
	recs, _ := r.db.LedgerList("audit", 0)
	if len(recs) != 1 || recs[0].Rejected != 4 || len(recs[0].Errors) != 4 || recs[0].Added != 4 {
		t.Errorf("ledger: %+v", recs)
	}
}

func TestUnreadableFileGoesToFailed(t *testing.T) {
	r := newRig(t, nil)
	r.drop_("audit", "garbage.bin", []byte("\x00\x01\x02\x03binary\xff\xfe\x00"))
	r.drop_("dlp", "empty.json", nil)
	sum := r.once()
	if sum.FailedFiles != 2 || sum.Files != 0 || sum.Added != 0 {
		t.Fatalf("summary: %+v", sum)
	}
	for _, c := range []struct{ feed, name string }{{"audit", "garbage.bin"}, {"dlp", "empty.json"}} {
		got := r.list(c.feed, FailedDir)
		if fmt.Sprint(got) != fmt.Sprint([]string{c.name, c.name + ".error.txt"}) {
			t.Errorf("%s failed/ = %v", c.feed, got)
		}
		why, _ := os.ReadFile(filepath.Join(r.drop, c.feed, FailedDir, c.name+".error.txt"))
		if !strings.Contains(string(why), c.name) || len(why) < 20 {
			t.Errorf("%s error report: %q", c.name, why)
		}
	}
	recs, _ := r.db.LedgerList("audit", 0)
	if len(recs) != 1 || recs[0].Failed == "" || recs[0].Finished.IsZero() {
		t.Errorf("ledger: %+v", recs)
	}
	// A failed file dropped again is tried again (the parser may have been fixed), and
	// fails again on its own name.
	r.drop_("audit", "garbage.bin", []byte("\x00\x01\x02\x03binary\xff\xfe\x00"))
	if sum := r.once(); sum.FailedFiles != 1 {
		t.Fatalf("second drop: %+v", sum)
	}
	if got := r.list("audit", FailedDir); len(got) != 4 {
		t.Errorf("failed/ = %v", got)
	}
}

func TestIgnoresPartialFiles(t *testing.T) {
	r := newRig(t, nil)
	data := auditLines("tmp", 0, 10)
	for _, name := range []string{".hidden.json", "export.json.tmp", "export.TMP"} {
		if err := os.WriteFile(filepath.Join(r.drop, "audit", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := r.once()
	if sum.Files != 0 || sum.Added != 0 {
		t.Fatalf("ingested a file in progress: %+v", sum)
	}
	if got := r.list("audit", ""); len(got) != 3 {
		t.Errorf("files in progress were moved: %v", got)
	}
}

// A file written in place (not by the drop protocol) is taken only once it has stopped
// changing for Settle.
func TestSettleWaitsForQuietFile(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Settle = 300 * time.Millisecond })
	path := filepath.Join(r.drop, "audit", "inplace.json")
	if err := os.WriteFile(path, auditLines("settle", 0, 5), 0o644); err != nil {
		t.Fatal(err)
	}
	ready, wait, err := r.in.scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(ready) != 0 || wait <= 0 {
		t.Fatalf("fresh file treated as ready: %v wait %v", ready, wait)
	}
	// Once waits for it rather than leaving it behind.
	if sum := r.once(); sum.Added != 5 {
		t.Fatalf("summary: %+v", sum)
	}
}

// A crash mid-file leaves it claimed with part of its records stored; the next run
// finishes it, adding only the missing records.
func TestResumesClaimedFile(t *testing.T) {
	r := newRig(t, nil)
	data := auditLines("resume", 0, 1000)
	claimed := filepath.Join(r.drop, "audit", ClaimedDir, "cut.json")
	if err := os.WriteFile(claimed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Store the first 400 records as the crashed run would have.
	var first []event.Event
	_, err := Parse("audit", bytes.NewReader(auditLines("resume", 0, 400)), ParseOptions{}, func(ev *event.Event) error {
		e := *ev
		e.Raw = append([]byte(nil), ev.Raw...)
		first = append(first, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.CommitEvents(first); err != nil {
		t.Fatal(err)
	}
	digest, size, _ := digestFile(claimed)
	if err := r.db.LedgerPut(store.FileRecord{Digest: digest, Feed: "audit", Name: "cut.json", Size: size, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	sum := r.once()
	if sum.Added != 600 || sum.Duplicates != 400 || sum.Files != 1 {
		t.Fatalf("summary: %+v", sum)
	}
	if n := len(r.ids()); n != 1000 {
		t.Fatalf("stored %d, want 1000", n)
	}
	if got := r.list("audit", ProcessedDir); fmt.Sprint(got) != "[cut.json]" {
		t.Errorf("processed = %v", got)
	}
	// A crash after the ledger was finished but before the move: the file is recognised
	// and moved without being parsed again.
	if err := os.WriteFile(filepath.Join(r.drop, "audit", ClaimedDir, "late.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum = r.once()
	if sum.DuplicateFiles != 1 || sum.Records != 0 {
		t.Fatalf("finished-but-not-moved: %+v", sum)
	}
}

func TestRetireOldProcessedFiles(t *testing.T) {
	r := newRig(t, func(o *Options) { o.KeepProcessedDays = 2 })
	proc := filepath.Join(r.drop, "audit", ProcessedDir)
	old := time.Now().Add(-72 * time.Hour)
	for _, n := range []string{"old.json", "old.json.errors.txt"} {
		p := filepath.Join(proc, n)
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, old, old)
	}
	os.WriteFile(filepath.Join(proc, "recent.json"), []byte("x"), 0o644)
	// A file whose own mtime is old (copied with cp -p) counts from when it was processed.
	r.drop_("audit", "ancient.json", auditLines("retire", 0, 3))
	os.Chtimes(filepath.Join(r.drop, "audit", "ancient.json"), old, old)
	r.once()
	if got := r.list("audit", ProcessedDir); fmt.Sprint(got) != "[ancient.json recent.json]" {
		t.Errorf("processed after retiring = %v", got)
	}
}

func TestDropDirLock(t *testing.T) {
	r := newRig(t, nil)
	release, err := lockDrop(r.drop)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.in.Once(context.Background()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second ingester on the same drop dir: %v", err)
	}
	release()
	r.once()
}

func TestFreeName(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.json", "a-1.json", "b"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	// An orphaned report (crash between report and move) does not block its file's name.
	os.WriteFile(filepath.Join(dir, "c.json.errors.txt"), nil, 0o644)
	for name, want := range map[string]string{"a.json": "a-2.json", "b": "b-1", "c.json": "c.json", "new.csv": "new.csv"} {
		got, err := freeName(dir, name)
		if err != nil || filepath.Base(got) != want {
			t.Errorf("freeName(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
}

// Once the stop grace has passed, a cancelled context stops at a batch boundary and
// leaves the file claimed, to be finished by the next run.
func TestCancelAfterGraceLeavesFileClaimed(t *testing.T) {
	r := newRig(t, func(o *Options) { o.BatchSize = 100; o.StopGrace = time.Nanosecond })
	r.drop_("audit", "big.json", auditLines("cancel", 0, 2000))
	ctx, cancel := context.WithCancel(context.Background())
	r.in.OnCommit(func([]event.Event) { cancel() })
	if _, err := r.in.Once(ctx); err == nil {
		t.Fatal("Once returned no error after cancel")
	}
	if got := r.list("audit", ClaimedDir); fmt.Sprint(got) != "[big.json]" {
		t.Fatalf("claimed = %v", got)
	}
	r.in.subs = nil
	sum := r.once()
	if sum.Files != 1 || len(r.ids()) != 2000 {
		t.Fatalf("resume: %+v, %d stored", sum, len(r.ids()))
	}
}

// Within the stop grace, a cancelled context finishes the file in hand and takes no
// other: a graceful stop leaves nothing half ingested.
func TestCancelFinishesFileInHand(t *testing.T) {
	r := newRig(t, func(o *Options) { o.BatchSize = 100 })
	r.drop_("audit", "big.json", auditLines("cancel", 0, 2000))
	r.drop_("audit", "next.json", auditLines("cancel", 2000, 2100))
	later := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(r.drop, "audit", "next.json"), later, later)
	ctx, cancel := context.WithCancel(context.Background())
	r.in.OnCommit(func([]event.Event) { cancel() })
	if _, err := r.in.Once(ctx); err == nil {
		t.Fatal("Once returned no error after cancel")
	}
	if got := r.list("audit", ClaimedDir); len(got) != 0 {
		t.Fatalf("claimed after a stop within the grace: %v", got)
	}
	if got := r.list("audit", ProcessedDir); fmt.Sprint(got) != "[big.json]" {
		t.Fatalf("processed = %v, want the file in hand only", got)
	}
	if got := r.list("audit", ""); fmt.Sprint(got) != "[next.json]" {
		t.Fatalf("waiting = %v: the next file must not be taken after the stop", got)
	}
	if n := len(r.ids()); n != 2000 {
		t.Fatalf("%d stored, want the 2000 of the file in hand", n)
	}
}
