package store

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"irm/event"
)

func TestFileSyncerRotated(t *testing.T) {
	s := &fileSyncer{}
	steps := []struct {
		names     []string
		want      []string
		mem, vlog int
	}{
		// First sync after open: everything but the active files.
		{[]string{"00001.mem", "00002.mem", "000001.vlog", "000002.vlog", "MANIFEST", "000003.sst"},
			[]string{"00001.mem", "000001.vlog"}, 2, 2},
		// No rotation: nothing to do (Badger's Sync covered the active files).
		{[]string{"00002.mem", "000002.vlog", "000003.sst"}, nil, 2, 2},
		// The memtable rotated twice, the value log once; 00003 was flushed and removed already.
		{[]string{"00002.mem", "00004.mem", "000002.vlog", "000003.vlog", "x.mem"},
			[]string{"00002.mem", "000002.vlog"}, 4, 3},
	}
	for i, st := range steps {
		got, mem, vlog := s.rotated(st.names)
		if !slices.Equal(got, st.want) || mem != st.mem || vlog != st.vlog {
			t.Fatalf("step %d: got %v %d %d, want %v %d %d", i, got, mem, vlog, st.want, st.mem, st.vlog)
		}
		s.mem, s.vlg = mem, vlog
	}
}

// TestCommitAcrossMemtableRotation commits more keys than one memtable holds, so Sync has
// rotated-out files to fsync, and checks that everything is there after a reopen.
func TestCommitAcrossMemtableRotation(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100_000 // about 22 MiB of keys and value pointers: more than one 16 MiB memtable
	for i := 0; i < n; i += 5000 {
		evs := make([]event.Event, 0, 5000)
		for j := i; j < i+5000; j++ {
			evs = append(evs, auditEvent(j, fmt.Sprintf("u%d@x.com", j%97), t0.Add(time.Duration(j)*time.Second)))
		}
		if _, err := db.CommitEvents(evs); err != nil {
			t.Fatal(err)
		}
	}
	if db.files.mem < 2 {
		t.Fatalf("no memtable rotation seen (highest .mem id %d)", db.files.mem)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := len(collect(t, db, Query{})); got != n {
		t.Fatalf("%d events after reopen, want %d", got, n)
	}
}

// TestReleaseMapped checks that dropping Badger's mapped pages from the resident set keeps
// every value readable, also through a relative, symlinked data directory.
func TestReleaseMapped(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	db, err := Open("link", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.files.dir != filepath.Join(base, "real") {
		t.Fatalf("dir %q", db.files.dir)
	}
	var evs []event.Event
	for i := range 3000 {
		evs = append(evs, auditEvent(i, "u@x.com", t0.Add(time.Duration(i)*time.Second)))
	}
	if _, err := db.CommitEvents(evs); err != nil {
		t.Fatal(err)
	}
	// CommitEvents released what it wrote; reading maps the value log back in.
	if n := len(collect(t, db, Query{User: "u@x.com"})); n != len(evs) {
		t.Fatalf("read %d events", n)
	}
	before := rssFile(t)
	if err := releaseMapped(db.files.dir); err != nil {
		t.Fatal(err)
	}
	if after := rssFile(t); after >= before {
		t.Errorf("file-backed RSS %d kB before, %d kB after release", before, after)
	}
	got := collect(t, db, Query{User: "u@x.com"})
	if len(got) != len(evs) {
		t.Fatalf("read %d events after release", len(got))
	}
	for i, ev := range got {
		if !reflect.DeepEqual(*ev, evs[i]) {
			t.Fatalf("event %d differs after release", i)
		}
	}
}

func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
