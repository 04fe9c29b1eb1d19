package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The audit log is an append-only hash chain: aud/<seq 8 bytes BE> -> AuditEntry JSON, and
// m/audit-head -> the newest entry's seq and hash (so deleting entries from the end is
// detected too). Each entry's Hash covers its content and Prev, the previous entry's Hash,
// so changing, removing or reordering any entry breaks the chain from that entry on.
const (
	prefixAudit  = "aud/"
	keyAuditHead = "m/audit-head"
)

// AuditEntry is one recorded state change.
//
// Category: policies|settings|rules|alerts|cases|notices|users|signin|export.
// Hash is the hex SHA-256 of the entry's canonical JSON: json.Marshal of the entry with
// Hash empty (Prev included), with Time in UTC and Before/After compacted.
type AuditEntry struct {
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Category string          `json:"category"`
	Activity string          `json:"activity"`
	Target   string          `json:"target,omitempty"`
	Before   json.RawMessage `json:"before,omitempty"`
	After    json.RawMessage `json:"after,omitempty"`
	Details  string          `json:"details,omitempty"`
	Prev     string          `json:"prev"`
	Hash     string          `json:"hash"`
}

// AuditFilter selects audit entries. Zero fields match everything.
type AuditFilter struct {
	Category string    // exact category
	Actor    string    // exact actor (case-insensitive)
	Target   string    // exact target (case-insensitive)
	Since    time.Time // Time >= Since
	Until    time.Time // Time < Until
	Text     string    // case-insensitive substring of actor, activity, target, details, before or after
	Offset   int       // skip this many matching entries (newest first) before the first returned
	Limit    int       // return at most this many; 0 = no limit
}

func auditKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixAudit), seq)
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// auditHash returns the chain hash of e (e.Hash is ignored).
func auditHash(e AuditEntry) (string, error) {
	e.Hash = ""
	b, err := json.Marshal(&e)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func readAuditHead(txn *badger.Txn) (auditHead, error) {
	var h auditHead
	item, err := txn.Get([]byte(keyAuditHead))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	err = item.Value(func(v []byte) error { return json.Unmarshal(v, &h) })
	return h, err
}

// AppendAudit appends e to the audit log, assigning Seq, Time (if zero), Prev and Hash, and
// returns the stored entry once it is synced to disk.
func (db *DB) AppendAudit(e AuditEntry) (AuditEntry, error) {
	if e.Category == "" || e.Activity == "" {
		return AuditEntry{}, fmt.Errorf("append audit: category and activity are required (got %q, %q)", e.Category, e.Activity)
	}
	for _, raw := range []*json.RawMessage{&e.Before, &e.After} {
		if len(*raw) == 0 {
			*raw = nil
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, *raw); err != nil {
			return AuditEntry{}, fmt.Errorf("append audit %s/%s: before/after is not JSON: %w", e.Category, e.Activity, err)
		}
		*raw = buf.Bytes()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()

	db.auditMu.Lock()
	defer db.auditMu.Unlock()
	err := db.bdb.Update(func(txn *badger.Txn) error {
		head, err := readAuditHead(txn)
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		e.Seq = head.Seq + 1
		e.Prev = head.Hash
		if e.Hash, err = auditHash(e); err != nil {
			return err
		}
		v, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		hv, err := json.Marshal(auditHead{Seq: e.Seq, Hash: e.Hash})
		if err != nil {
			return err
		}
		if err := txn.Set(auditKey(e.Seq), v); err != nil {
			return err
		}
		return txn.Set([]byte(keyAuditHead), hv)
	})
	if err != nil {
		return AuditEntry{}, fmt.Errorf("append audit %s/%s: %w", e.Category, e.Activity, err)
	}
	if err := db.Sync(); err != nil {
		return AuditEntry{}, fmt.Errorf("append audit %s/%s: %w", e.Category, e.Activity, err)
	}
	return e, nil
}

func (f *AuditFilter) match(e *AuditEntry) bool {
	if f.Category != "" && e.Category != f.Category {
		return false
	}
	if f.Actor != "" && !strings.EqualFold(e.Actor, f.Actor) {
		return false
	}
	if f.Target != "" && !strings.EqualFold(e.Target, f.Target) {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	if f.Text != "" {
		t := strings.ToLower(f.Text)
		found := false
		for _, s := range []string{e.Actor, e.Activity, e.Target, e.Details, string(e.Before), string(e.After)} {
			if strings.Contains(strings.ToLower(s), t) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// AuditEntries calls fn for the entries matching f, newest first. Return ErrStop to stop.
func (db *DB) AuditEntries(f AuditFilter, fn func(AuditEntry) error) error {
	prefix := []byte(prefixAudit)
	skip, n := f.Offset, 0
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix, Reverse: true})
		defer it.Close()
		// Reverse iteration seeks to the last key <= the seek key.
		for it.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)); it.Valid(); it.Next() {
			var e AuditEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("entry %x: %w", it.Item().Key()[len(prefix):], err)
			}
			if !f.match(&e) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
			n++
			if f.Limit > 0 && n >= f.Limit {
				return nil
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrStop) {
		return fmt.Errorf("audit entries: %w", err)
	}
	return nil
}

// VerifyAudit walks the whole chain. It returns how many entries were checked and the Seq
// of the first entry that fails (0 = the chain is intact): a changed entry, a gap, a
// reordered entry, an entry whose Prev does not match, or entries missing after the last
// one found (then brokenAt is the first missing Seq). err is only for read failures; the
// reason for a break is logged at Warn level.
func (db *DB) VerifyAudit() (checked uint64, brokenAt uint64, err error) {
	prefix := []byte(prefixAudit)
	broken := func(seq uint64, why string, args ...any) {
		brokenAt = seq
		db.log.Warn("audit chain broken", append([]any{"seq", seq, "reason", why}, args...)...)
	}
	err = db.bdb.View(func(txn *badger.Txn) error {
		head, err := readAuditHead(txn)
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
		defer it.Close()
		want, prev := uint64(1), ""
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) != len(prefix)+8 {
				broken(want, "malformed key", "key", fmt.Sprintf("%q", k))
				return nil
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			if seq != want {
				broken(want, "missing entry", "next_found", seq)
				return nil
			}
			var e AuditEntry
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				broken(seq, "undecodable entry", "err", err)
				return nil
			}
			h, err := auditHash(e)
			switch {
			case err != nil:
				broken(seq, "cannot hash entry", "err", err)
			case e.Seq != seq:
				broken(seq, "entry seq differs from its key", "entry_seq", e.Seq)
			case e.Prev != prev:
				broken(seq, "prev does not match the previous entry's hash")
			case h != e.Hash:
				broken(seq, "content does not match its hash")
			}
			if brokenAt != 0 {
				return nil
			}
			checked++
			prev = e.Hash
			want++
		}
		last := want - 1
		switch {
		case head.Seq > last:
			broken(want, "entries missing at the end of the log", "head_seq", head.Seq)
		case head.Seq < last:
			broken(head.Seq+1, "entries after the recorded head", "head_seq", head.Seq)
		case head.Hash != prev:
			broken(last, "last entry does not match the recorded head")
		}
		return nil
	})
	if err != nil {
		return checked, 0, fmt.Errorf("verify audit: %w", err)
	}
	return checked, brokenAt, nil
}
