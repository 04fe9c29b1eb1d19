package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"irm/bench/auditgen"
	"irm/event"
)

// waitFor polls until cond holds. The limit only stops a broken test from hanging; the
// test asserts that the file arrives, not how fast.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Must-show (e): with the periodic rescan an hour away, only fsnotify can bring in a file
// renamed into the drop directory of a running ingester.
func TestRunPicksUpRenamedFileViaFsnotify(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rescan = time.Hour })
	added := make(chan int, 100)
	r.in.OnCommit(func(evs []event.Event) { added <- len(evs) })

	// One file present at start: the start-up scan takes it.
	r.drop_("audit", "before.json", auditLines("watch", 0, 50))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.in.Run(ctx) }()
	waitFor(t, "start-up scan", func() bool { return len(r.list("audit", ProcessedDir)) == 1 })

	// Written elsewhere on the same file system, then renamed in, as the drop protocol says.
	staging := filepath.Join(filepath.Dir(r.drop), "staging")
	os.MkdirAll(staging, 0o755)
	src := filepath.Join(staging, "after.json")
	if err := auditgen.WriteFile(src, "watch", 50, 80, true); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, filepath.Join(r.drop, "audit", "after.json")); err != nil {
		t.Fatal(err)
	}
	// And one written in the drop directory under a temporary name (the other form).
	if err := auditgen.WriteFile(filepath.Join(r.drop, "audit", "third.json"), "watch", 80, 90, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fsnotify pick-up", func() bool { return len(r.list("audit", ProcessedDir)) == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	close(added)
	total := 0
	for n := range added {
		total += n
	}
	if total != 90 || len(r.ids()) != 90 {
		t.Fatalf("added %d events, stored %d; want 90", total, len(r.ids()))
	}
}

// The periodic rescan finds files that fsnotify did not report (here: a file created
// while the watch could not see it, simulated by a drop directory swapped in place).
func TestRunRescanFindsMissedFiles(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rescan = 50 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.in.Run(ctx) }()
	// Replace the watched directory: inotify keeps watching the old inode, so only a
	// rescan can see a file in the new one.
	feedDir := filepath.Join(r.drop, "badging")
	moved := feedDir + ".old"
	if err := os.Rename(feedDir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(feedDir, ClaimedDir), 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(feedDir, ProcessedDir), 0o755)
	os.MkdirAll(filepath.Join(feedDir, FailedDir), 0o755)
	r.drop_("badging", "doors.json", []byte(`[{"UserId":"alice@contoso.com","AssetId":"B1-D3","AssetName":"Building 1 door 3","EventTime":"2026-03-02T07:55:00","AccessStatus":"Success"}]`))
	waitFor(t, "rescan pick-up", func() bool { return len(r.list("badging", ProcessedDir)) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(r.ids()); n != 1 {
		t.Fatalf("stored %d events, want 1", n)
	}
}

// A feed directory removed by hand is recreated, and files dropped into it are ingested.
func TestRunRecreatesRemovedFeedDir(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rescan = 50 * time.Millisecond })
	if err := os.RemoveAll(filepath.Join(r.drop, "defender")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.in.Run(ctx) }()
	waitFor(t, "recreated directory", func() bool {
		_, err := os.Stat(filepath.Join(r.drop, "defender", ClaimedDir))
		return err == nil
	})
	r.drop_("defender", "alerts.jsonl", []byte(`{"AlertId":"da1","Title":"Malware detected","Category":"Malware","Severity":"High","Status":"New","UserPrincipalName":"bob@contoso.com","DeviceName":"LT-BOB","CreatedTime":"2026-03-02T10:00:00Z"}`+"\n"))
	waitFor(t, "ingest into the recreated directory", func() bool { return len(r.list("defender", ProcessedDir)) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(r.ids()); n != 1 {
		t.Fatalf("stored %d events, want 1", n)
	}
}
