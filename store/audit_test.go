package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func appendN(t *testing.T, db *DB, n int) []AuditEntry {
	t.Helper()
	var out []AuditEntry
	for i := range n {
		cat := []string{"policies", "settings", "alerts"}[i%3]
		e, err := db.AppendAudit(AuditEntry{
			Time:     t0.Add(time.Duration(i) * time.Minute),
			Actor:    []string{"ann", "ben"}[i%2],
			Category: cat,
			Activity: fmt.Sprintf("update %d", i),
			Target:   fmt.Sprintf("target-%d", i%4),
			Before:   json.RawMessage(`{"threshold": 1}`),
			After:    json.RawMessage(fmt.Sprintf(`{ "threshold": %d, "note": "<b>&" }`, i)),
			Details:  "changed by test",
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func verify(t *testing.T, db *DB) (uint64, uint64) {
	t.Helper()
	r, err := db.VerifyAudit("")
	if err != nil {
		t.Fatal(err)
	}
	if r.Broken != (r.BrokenAt != 0) {
		t.Fatalf("report %+v: Broken and BrokenAt disagree", r)
	}
	return r.Checked, r.BrokenAt
}

func TestAuditChain(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c, b := verify(t, db); c != 0 || b != 0 {
		t.Fatalf("empty log: checked %d broken %d", c, b)
	}
	es := appendN(t, db, 5)
	for i, e := range es {
		if e.Seq != uint64(i+1) || e.Hash == "" || len(e.Hash) != 64 {
			t.Fatalf("entry %d: %+v", i, e)
		}
		if i > 0 && e.Prev != es[i-1].Hash {
			t.Fatalf("entry %d prev %q, want %q", i, e.Prev, es[i-1].Hash)
		}
		if string(e.Before) != `{"threshold":1}` {
			t.Fatalf("before not compacted: %s", e.Before)
		}
	}
	if es[0].Prev != "" {
		t.Fatalf("first prev %q", es[0].Prev)
	}
	// Time defaults to now, in UTC.
	e, err := db.AppendAudit(AuditEntry{Actor: "system", Category: "rules", Activity: "reload"})
	if err != nil || e.Time.IsZero() || e.Time.Location() != time.UTC || e.Seq != 6 {
		t.Fatalf("default time: %+v %v", e, err)
	}
	if _, err := db.AppendAudit(AuditEntry{Category: "x"}); err == nil {
		t.Fatal("entry without activity accepted")
	}
	if _, err := db.AppendAudit(AuditEntry{Category: "x", Activity: "y", After: json.RawMessage("{")}); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	// The chain continues across a reopen.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err = db.AppendAudit(AuditEntry{Actor: "ann", Category: "cases", Activity: "open"})
	if err != nil || e.Seq != 7 {
		t.Fatalf("after reopen: %+v %v", e, err)
	}
	if c, b := verify(t, db); c != 7 || b != 0 {
		t.Fatalf("intact log: checked %d broken %d", c, b)
	}
}

func TestAuditEntriesFilter(t *testing.T) {
	db := openTest(t, Options{})
	appendN(t, db, 12)
	list := func(f AuditFilter) []uint64 {
		var out []uint64
		if err := db.AuditEntries(f, func(e AuditEntry) error { out = append(out, e.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []struct {
		f    AuditFilter
		want []uint64
	}{
		{AuditFilter{}, []uint64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{AuditFilter{Limit: 3}, []uint64{12, 11, 10}},
		{AuditFilter{Offset: 10}, []uint64{2, 1}},
		{AuditFilter{Offset: 2, Limit: 2}, []uint64{10, 9}},
		{AuditFilter{Category: "settings"}, []uint64{11, 8, 5, 2}},
		{AuditFilter{Actor: "BEN", Category: "settings"}, []uint64{8, 2}},
		{AuditFilter{Target: "target-3"}, []uint64{12, 8, 4}},
		{AuditFilter{Since: t0.Add(3 * time.Minute), Until: t0.Add(6 * time.Minute)}, []uint64{6, 5, 4}},
		{AuditFilter{Text: "UPDATE 1"}, []uint64{12, 11, 2}},
		{AuditFilter{Text: `"threshold":7`}, []uint64{8}},
		{AuditFilter{Text: "nothing like this"}, nil},
	}
	for _, c := range cases {
		if got := list(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%+v: got %v, want %v", c.f, got, c.want)
		}
	}
	n := 0
	if err := db.AuditEntries(AuditFilter{}, func(AuditEntry) error { n++; return ErrStop }); err != nil || n != 1 {
		t.Fatalf("ErrStop: %d %v", n, err)
	}
}

// rawSet and rawDelete change the audit log behind the store's back, as someone with
// access to the data directory could.
func rawSet(t *testing.T, db *DB, key, val []byte) {
	t.Helper()
	if err := db.Badger().Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
		t.Fatal(err)
	}
}

func rawGet(t *testing.T, db *DB, key []byte) []byte {
	t.Helper()
	var v []byte
	err := db.Badger().View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rawDelete(t *testing.T, db *DB, key []byte) {
	t.Helper()
	if err := db.Badger().Update(func(txn *badger.Txn) error { return txn.Delete(key) }); err != nil {
		t.Fatal(err)
	}
}

func TestAuditTamperDetected(t *testing.T) {
	t.Run("edit value", func(t *testing.T) {
		db := openTest(t, Options{})
		appendN(t, db, 6)
		v := rawGet(t, db, auditKey(4))
		edited := bytes.Replace(v, []byte(`"actor":"ben"`), []byte(`"actor":"ann"`), 1)
		if bytes.Equal(edited, v) {
			t.Fatalf("test did not change the entry: %s", v)
		}
		rawSet(t, db, auditKey(4), edited)
		if c, b := verify(t, db); b != 4 || c != 3 {
			t.Fatalf("edited entry 4: checked %d broken %d", c, b)
		}
	})
	t.Run("edit and rehash one entry", func(t *testing.T) {
		db := openTest(t, Options{})
		appendN(t, db, 6)
		var e AuditEntry
		if err := json.Unmarshal(rawGet(t, db, auditKey(2)), &e); err != nil {
			t.Fatal(err)
		}
		e.Details = "nothing to see"
		e.Hash, _ = db.auditHash(e)
		v, _ := json.Marshal(e)
		rawSet(t, db, auditKey(2), v)
		// Entry 2 is self-consistent now, but entry 3's Prev no longer matches.
		if _, b := verify(t, db); b != 3 {
			t.Fatalf("rehashed entry 2: broken %d, want 3", b)
		}
	})
	t.Run("delete middle", func(t *testing.T) {
		db := openTest(t, Options{})
		appendN(t, db, 6)
		rawDelete(t, db, auditKey(3))
		if _, b := verify(t, db); b != 3 {
			t.Fatalf("deleted entry 3: broken %d", b)
		}
	})
	t.Run("delete tail", func(t *testing.T) {
		db := openTest(t, Options{})
		appendN(t, db, 6)
		rawDelete(t, db, auditKey(6))
		if _, b := verify(t, db); b != 6 {
			t.Fatalf("deleted entry 6: broken %d", b)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		db := openTest(t, Options{})
		appendN(t, db, 2)
		rawSet(t, db, auditKey(1), []byte("not json"))
		if _, b := verify(t, db); b != 1 {
			t.Fatalf("garbage entry 1: broken %d", b)
		}
		if err := db.AuditEntries(AuditFilter{}, func(AuditEntry) error { return nil }); err == nil {
			t.Fatal("listing a garbage entry gave no error")
		}
	})
}

func TestAuditConcurrentAppend(t *testing.T) {
	db := openTest(t, Options{})
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			var err error
			for i := range 10 {
				if _, err = db.AppendAudit(AuditEntry{Actor: fmt.Sprint(w), Category: "alerts", Activity: fmt.Sprint(i)}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if c, b := verify(t, db); c != 80 || b != 0 {
		t.Fatalf("checked %d broken %d", c, b)
	}
}
