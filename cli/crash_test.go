package cli

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"irm/bench/auditgen"
	"irm/event"
	"irm/store"
)

// Must-show (b): `irm ingest -once` is SIGKILLed at random points over many files and
// restarted until it completes; afterwards every record is stored exactly once, every
// file is in processed/, and the ledger has every file finished.
func TestCrashRecoveryExactlyOnce(t *testing.T) {
	const (
		files   = 40
		perFile = 2000
		overlap = 200 // each file repeats the last 200 records of the one before
		kills   = 12
	)
	e := newTestEnv(t, "")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x1dea))

	auditDir := filepath.Join(e.drop, "audit")
	if err := os.MkdirAll(auditDir, 0o755); err != nil {
		t.Fatal(err)
	}
	stride := perFile - overlap
	for f := 0; f < files; f++ {
		from := f * stride
		name := filepath.Join(auditDir, fmt.Sprintf("audit-%02d.json", f))
		if err := auditgen.WriteFile(name, "crash", from, from+perFile, f%3 == 0); err != nil {
			t.Fatal(err)
		}
	}
	unique := (files-1)*stride + perFile

	// Killed at random points until at least `kills` kills landed and one of them in the
	// middle of a file (a claimed file left behind); then run to completion.
	killed, midFile := 0, 0
	for round := 0; ; round++ {
		if round > 60 {
			t.Fatalf("%d kills, none in the middle of a file: the test proved nothing", killed)
		}
		killing := killed < kills || midFile == 0
		cmd := exec.Command(irmBin, "ingest", "-once", "-q", "-config", e.config)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if killing {
			time.Sleep(time.Duration(30+rng.IntN(700)) * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
			if ents, _ := os.ReadDir(filepath.Join(auditDir, ".claimed")); len(ents) > 0 {
				midFile++
			}
			continue
		}
		if err != nil {
			t.Fatalf("round %d: irm ingest: %v\n%s", round, err, stderr.String())
		}
		if !killing {
			break // ran to completion after the kills
		}
	}
	t.Logf("%d runs killed, %d of them in the middle of a file", killed, midFile)
	if killed < kills || midFile == 0 {
		t.Fatalf("%d runs killed, %d in the middle of a file: the test proved nothing", killed, midFile)
	}

	// Every file is in processed/, none left in the drop or claim directory.
	for sub, want := range map[string]int{"": 0, ".claimed": 0, "processed": files, "failed": 0} {
		ents, err := os.ReadDir(filepath.Join(auditDir, sub))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, en := range ents {
			if en.Type().IsRegular() && !strings.HasSuffix(en.Name(), ".txt") {
				n++
			}
		}
		if n != want {
			t.Errorf("audit/%s holds %d files, want %d", sub, n, want)
		}
	}

	db, err := store.Open(e.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := make(map[string]int, unique)
	err = db.Events(store.Query{}, func(ev *event.Event) error {
		seen[ev.ID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != unique {
		t.Errorf("stored %d distinct events, want %d", len(seen), unique)
	}
	// The store counted each record once: its per-feed counter of added events is what
	// deduplication decides (rewriting a stored key would leave the scan above unchanged).
	stats, err := db.FeedStats()
	if err != nil {
		t.Fatal(err)
	}
	if got := stats["audit"].Events; got != uint64(unique) {
		t.Errorf("the store counted %d audit events added, want the %d unique records", got, unique)
	}
	for i := 0; i < unique; i++ {
		if n := seen[auditgen.ID("crash", i)]; n != 1 {
			t.Fatalf("record %d stored %d times", i, n)
		}
	}
	// The user index agrees with the time index.
	perUser := 0
	for u := 0; u < auditgen.Users; u++ {
		db.Events(store.Query{User: auditgen.User(u)}, func(*event.Event) error { perUser++; return nil })
	}
	if perUser != unique {
		t.Errorf("user scans find %d events, want %d", perUser, unique)
	}

	recs, err := db.LedgerList("audit", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != files {
		t.Fatalf("ledger has %d files, want %d", len(recs), files)
	}
	for _, r := range recs {
		if r.Finished.IsZero() || r.Failed != "" || r.Records != perFile || r.Added+r.Duplicates != perFile {
			t.Errorf("ledger %s: finished %v failed %q records %d added %d dups %d",
				r.Name, r.Finished, r.Failed, r.Records, r.Added, r.Duplicates)
		}
	}
}
