package store

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"irm/event"
)

type kv struct {
	val       string
	expiresAt uint64
}

// dump returns every live key of the database with its value and expiry.
func dump(t *testing.T, db *DB) map[string]kv {
	t.Helper()
	out := map[string]kv{}
	err := db.Badger().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().KeyCopy(nil))] = kv{string(v), it.Item().ExpiresAt()}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackupRestore(t *testing.T) {
	// One installation: both databases share the audit key, as a restore on the same
	// appliance does.
	key := filepath.Join(t.TempDir(), "audit.key")
	src := openTest(t, Options{RetentionDays: 90, AuditKeyFile: key})
	var evs []event.Event
	for i := range 1500 {
		evs = append(evs, auditEvent(i, fmt.Sprintf("u%d@contoso.com", i%13), time.Now().Add(-time.Duration(i)*time.Minute)))
	}
	evs = append(evs, hrEvent("hr1", "u1@contoso.com", event.HRResignation, t0, func(h *event.HR) { h.ResignationDate = t0 }))
	if _, err := src.CommitEvents(evs); err != nil {
		t.Fatal(err)
	}
	if err := src.LedgerPut(FileRecord{Digest: "d1", Feed: event.FeedAudit, Name: "x.json", Started: t0, Finished: t0, Records: 1501, Added: 1501}); err != nil {
		t.Fatal(err)
	}
	appendN(t, src, 4)
	// Keys of other packages travel too.
	if err := src.Badger().Update(func(txn *badger.Txn) error { return txn.Set([]byte("pol/p1"), []byte(`{"name":"p1"}`)) }); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if err := src.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	dst := openTest(t, Options{RetentionDays: 90, AuditKeyFile: key})
	if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	want, got := dump(t, src), dump(t, dst)
	if len(want) < 1500*2 {
		t.Fatalf("source has only %d keys", len(want))
	}
	if !maps.Equal(want, got) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("key %q: got %+v, want %+v", k, got[k], v)
				break
			}
		}
		t.Fatalf("restored %d keys, source has %d", len(got), len(want))
	}
	// The restored database works: reads, dedup, counters, audit chain.
	if n := len(collect(t, dst, Query{User: "u3@contoso.com"})); n != len(collect(t, src, Query{User: "u3@contoso.com"})) || n == 0 {
		t.Fatalf("restored user scan: %d", n)
	}
	if added, err := dst.CommitEvents(evs[:10]); err != nil || len(added) != 0 {
		t.Fatalf("re-commit after restore added %d, %v", len(added), err)
	}
	st, err := dst.FeedStats()
	if err != nil || st[event.FeedAudit].Events != 1500 || st[event.FeedHR].Events != 1 || st[event.FeedAudit].Files != 1 {
		t.Fatalf("restored stats %+v %v", st, err)
	}
	if r, err := dst.VerifyAudit(""); r.Checked != 4 || r.Broken || err != nil {
		t.Fatalf("restored audit: %+v %v", r, err)
	}
	if e, err := dst.AppendAudit(AuditEntry{Actor: "ops", Category: "settings", Activity: "restored"}); err != nil || e.Seq != 5 {
		t.Fatalf("append after restore: %+v %v", e, err)
	}

	// Restoring into a database that has data is refused.
	if err := dst.Restore(bytes.NewReader(buf.Bytes())); err == nil {
		t.Fatal("restore into a non-empty database succeeded")
	}
}
