package store

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"testing"
	"time"

	"irm/event"
)

// waitFilter waits for the filter build in progress, if any, and returns the filter in use.
func waitFilter(db *DB) *idFilter {
	db.commitMu.Lock()
	next := db.nextFilter
	db.commitMu.Unlock()
	if next != nil {
		<-next.built
	}
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	return db.filter
}

func TestHashIDStringMatchesBytes(t *testing.T) {
	for _, id := range []string{"", "a", "5b1c2a9e-0001-4d3f-9c1a-000000000001", "ünï/cødé"} {
		if hashIDString(id) != hashID([]byte(id)) {
			t.Fatalf("hash of %q differs between string and bytes", id)
		}
	}
	if maphash.String(filterSeed, "x") == maphash.String(filterSeed, "y") {
		t.Fatal("seed produces equal hashes")
	}
}

func TestIDFilter(t *testing.T) {
	if f := newIDFilter(0); f.capacity < filterMinIDs || (f.mask+1)%64 != 0 {
		t.Fatalf("capacity %d, bits %d", f.capacity, f.mask+1)
	}
	if f := newIDFilter(3_000_000); f.capacity < 3_000_000 {
		t.Fatalf("capacity %d for 3M IDs", f.capacity)
	}
	f := newIDFilterBits(1 << 20)
	n := int(f.capacity)
	for i := range n {
		f.add(hashIDString(fmt.Sprint("in-", i)))
	}
	for i := range n {
		if !f.mayContain(hashIDString(fmt.Sprint("in-", i))) {
			t.Fatalf("false negative for in-%d", i)
		}
	}
	fp := 0
	const probes = 100_000
	for i := range probes {
		if f.mayContain(hashIDString(fmt.Sprint("out-", i))) {
			fp++
		}
	}
	if rate := float64(fp) / probes; rate > 0.02 {
		t.Fatalf("false-positive rate %.4f at capacity", rate)
	}
	if f.full() {
		t.Fatal("full at capacity")
	}
	f.add(1)
	if !f.full() {
		t.Fatal("not full beyond capacity")
	}
	big := newIDFilter(1 << 40)
	if big.mask+1 != filterMaxBits {
		t.Fatalf("bits %d, want the cap %d", big.mask+1, filterMaxBits)
	}
	big.n.Store(big.capacity + 1)
	if big.full() {
		t.Fatal("a filter at the size cap rebuilds as soon as it is over capacity")
	}
	big.n.Store(2*big.capacity + 1)
	if !big.full() {
		t.Fatal("a filter at the size cap never rebuilds")
	}
}

// TestDedupWithFilter checks deduplication once the filter is in use, across a reopen
// (filter built from the stored IDs), while a rebuild runs concurrently with commits, and
// after a restore.
func TestDedupWithFilter(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if waitFilter(db) == nil {
		t.Fatal("no filter after open")
	}
	batch := func(from, to int) []event.Event {
		var evs []event.Event
		for i := from; i < to; i++ {
			evs = append(evs, auditEvent(i, fmt.Sprintf("u%d@x.com", i%5), t0.Add(time.Duration(i)*time.Second)))
		}
		return evs
	}
	commit := func(db *DB, evs []event.Event) int {
		t.Helper()
		added, err := db.CommitEvents(evs)
		if err != nil {
			t.Fatal(err)
		}
		return len(added)
	}
	if n := commit(db, batch(0, 3000)); n != 3000 {
		t.Fatalf("added %d", n)
	}
	if n := commit(db, batch(2000, 4000)); n != 1000 {
		t.Fatalf("overlapping batch added %d, want 1000", n)
	}

	// A rebuild running while batches commit must end up knowing all of them.
	for round := range 3 {
		db.commitMu.Lock()
		db.startFilterBuild(0)
		db.commitMu.Unlock()
		base := 10_000 * (round + 1)
		for i := 0; i < 4; i++ {
			if n := commit(db, batch(base+i*500, base+(i+1)*500)); n != 500 {
				t.Fatalf("round %d: added %d", round, n)
			}
		}
		waitFilter(db)
		if n := commit(db, batch(base, base+2000)); n != 0 {
			t.Fatalf("round %d: re-commit after rebuild added %d", round, n)
		}
	}

	// Reopen: the new filter comes from the stored IDs.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	f := waitFilter(db)
	if f == nil || f.n.Load() != 4000+3*2000 {
		t.Fatalf("filter after reopen: %+v", f)
	}
	if n := commit(db, batch(0, 4000)); n != 0 {
		t.Fatalf("re-commit after reopen added %d", n)
	}
	var buf bytes.Buffer
	if err := db.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Restore into a fresh database: its filter must learn the restored IDs.
	dst := openTest(t, Options{})
	waitFilter(dst)
	if err := dst.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if n := commit(dst, batch(0, 4000)); n != 0 {
		t.Fatalf("re-commit after restore added %d", n)
	}
	if f := waitFilter(dst); f == nil || f.n.Load() != 4000+3*2000 {
		t.Fatalf("filter after restore: %+v", f)
	}
	if n := commit(dst, batch(0, 4500)); n != 500 {
		t.Fatalf("after restore added %d, want 500", n)
	}
}
