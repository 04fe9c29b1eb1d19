package store

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// The audit log is an append-only chain: aud/<seq 8 bytes BE> -> AuditEntry JSON. Each
// entry's Hash is an HMAC-SHA256, keyed with the installation's audit key (auditkey.go,
// kept outside the database), of its content and Prev, the previous entry's Hash, so
// changing, removing, reordering or re-chaining entries is detected by whoever holds the
// key, and cannot be redone without it. m/audit-head holds the newest entry's seq and
// hash with their own HMAC (entries cut off the end are detected), and
// m/audit-checkpoint the signed seq and hash of the last entry removed by retention, from
// which verification starts after pruning.
const (
	prefixAudit        = "aud/"
	keyAuditHead       = "m/audit-head"
	keyAuditCheckpoint = "m/audit-checkpoint"
)

// Field length limits applied to every entry, so that no caller can make one entry
// unbounded. Before and After are structured data chosen by the code, not by requests.
const (
	maxAuditActor    = 256
	maxAuditActivity = 256
	maxAuditTarget   = 1024
	maxAuditDetails  = 16 << 10
)

// AuditCategories are the audit log's categories, in the order the UI's filter offers
// them: backup covers backups and restores, audit the log's own upkeep (pruning).
var AuditCategories = []string{"policies", "settings", "rules", "alerts", "cases", "notices", "users", "signin", "export", "backup", "audit"}

// AuditEntry is one recorded state change.
//
// Category: policies|settings|rules|alerts|cases|notices|users|signin|export|backup|audit.
// Hash is the hex HMAC-SHA256, keyed with the installation's audit key, of the entry's
// canonical JSON: json.Marshal of the entry with Hash empty (Prev included), with Time in
// UTC and Before/After compacted.
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

// AuditHead names one point of the chain: an entry's seq and hash. The newest one is
// what gets anchored outside the appliance (log, syslog) and checked with
// `irm audit verify -head`.
type AuditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// String is the form the anchors print: "seq=N hash=H".
func (h AuditHead) String() string { return fmt.Sprintf("seq=%d hash=%s", h.Seq, h.Hash) }

// signedHead is m/audit-head: the head with an HMAC over seq and hash.
type signedHead struct {
	AuditHead
	MAC string `json:"mac"`
}

// AuditCheckpoint is m/audit-checkpoint: the last entry removed by retention, signed so
// that it cannot be forged without the key. Verification starts after it.
type AuditCheckpoint struct {
	AuditHead
	Time   time.Time `json:"time"`   // when the entries were pruned
	Before time.Time `json:"before"` // entries older than this were removed
	MAC    string    `json:"mac"`
}

func (db *DB) mac(parts ...[]byte) string {
	m := hmac.New(sha256.New, db.auditKey)
	for _, p := range parts {
		m.Write(p)
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// auditHash returns the chain hash of e (e.Hash is ignored).
func (db *DB) auditHash(e AuditEntry) (string, error) {
	e.Hash = ""
	b, err := json.Marshal(&e)
	if err != nil {
		return "", err
	}
	return db.mac([]byte("irm-audit-entry"), b), nil
}

func (db *DB) headMAC(h AuditHead) string {
	return db.mac([]byte("irm-audit-head"), []byte(strconv.FormatUint(h.Seq, 10)), []byte(h.Hash))
}

func (db *DB) checkpointMAC(c AuditCheckpoint) string {
	return db.mac([]byte("irm-audit-checkpoint"), []byte(strconv.FormatUint(c.Seq, 10)), []byte(c.Hash),
		[]byte(c.Time.UTC().Format(time.RFC3339Nano)), []byte(c.Before.UTC().Format(time.RFC3339Nano)))
}

func readJSONKey(txn *badger.Txn, key string, v any) (bool, error) {
	item, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

func readAuditHead(txn *badger.Txn) (signedHead, bool, error) {
	var h signedHead
	ok, err := readJSONKey(txn, keyAuditHead, &h)
	return h, ok, err
}

func readCheckpoint(txn *badger.Txn) (*AuditCheckpoint, error) {
	var c AuditCheckpoint
	ok, err := readJSONKey(txn, keyAuditCheckpoint, &c)
	if err != nil || !ok {
		return nil, err
	}
	return &c, nil
}

// tail returns where the next entry links to: the recorded head, or, if the head record
// is missing, the last stored entry (or the checkpoint), so that an append never
// overwrites an existing entry.
func tail(txn *badger.Txn) (AuditHead, error) {
	h, ok, err := readAuditHead(txn)
	if err != nil {
		return AuditHead{}, fmt.Errorf("read head: %w", err)
	}
	if ok {
		return h.AuditHead, nil
	}
	var t AuditHead
	if c, err := readCheckpoint(txn); err != nil {
		return t, err
	} else if c != nil {
		t = c.AuditHead
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixAudit), Reverse: true})
	defer it.Close()
	it.Seek(append([]byte(prefixAudit), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	if it.Valid() {
		var e AuditEntry
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err == nil && e.Seq > t.Seq {
			t = AuditHead{Seq: e.Seq, Hash: e.Hash}
		}
	}
	return t, nil
}

// clip cuts s to at most n bytes on a character boundary, saying how long it was.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes)", len(s))
}

// Audit appends one entry built from plain values: before and after are marshalled to
// JSON (nil = none). It is the one way the engine, the UI and the account helpers write
// the audit log.
func (db *DB) Audit(actor, category, activity, target string, before, after any, details string) (AuditEntry, error) {
	e := AuditEntry{Actor: actor, Category: category, Activity: activity, Target: target, Details: details}
	for _, v := range []struct {
		val any
		dst *json.RawMessage
	}{{before, &e.Before}, {after, &e.After}} {
		if v.val == nil {
			continue
		}
		b, err := json.Marshal(v.val)
		if err != nil {
			return AuditEntry{}, fmt.Errorf("audit %s/%s: %w", category, activity, err)
		}
		*v.dst = b
	}
	return db.AppendAudit(e)
}

// AppendAudit appends e to the audit log, assigning Seq, Time (if zero), Prev and Hash, and
// returns the stored entry once it is synced to disk. Text fields are made valid UTF-8 and
// cut to their limits (actor 256 bytes, activity 256, target 1 KiB, details 16 KiB).
func (db *DB) AppendAudit(e AuditEntry) (AuditEntry, error) {
	if e.Category == "" || e.Activity == "" {
		return AuditEntry{}, fmt.Errorf("append audit: category and activity are required (got %q, %q)", e.Category, e.Activity)
	}
	for _, f := range []struct {
		s *string
		n int
	}{{&e.Actor, maxAuditActor}, {&e.Category, maxAuditActivity}, {&e.Activity, maxAuditActivity}, {&e.Target, maxAuditTarget}, {&e.Details, maxAuditDetails}} {
		*f.s = clip(strings.ToValidUTF8(*f.s, "\uFFFD"), f.n)
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
		*raw = bytes.ToValidUTF8(buf.Bytes(), []byte("\uFFFD"))
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()

	db.auditMu.Lock()
	defer db.auditMu.Unlock()
	err := db.bdb.Update(func(txn *badger.Txn) error {
		head, err := tail(txn)
		if err != nil {
			return err
		}
		e.Seq = head.Seq + 1
		e.Prev = head.Hash
		if e.Hash, err = db.auditHash(e); err != nil {
			return err
		}
		v, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		if err := txn.Set(auditKey(e.Seq), v); err != nil {
			return err
		}
		return db.setHead(txn, AuditHead{Seq: e.Seq, Hash: e.Hash})
	})
	if err != nil {
		return AuditEntry{}, fmt.Errorf("append audit %s/%s: %w", e.Category, e.Activity, err)
	}
	if err := db.Sync(); err != nil {
		return AuditEntry{}, fmt.Errorf("append audit %s/%s: %w", e.Category, e.Activity, err)
	}
	return e, nil
}

func (db *DB) setHead(txn *badger.Txn, h AuditHead) error {
	hv, err := json.Marshal(signedHead{AuditHead: h, MAC: db.headMAC(h)})
	if err != nil {
		return err
	}
	return txn.Set([]byte(keyAuditHead), hv)
}

// AuditHead returns the newest entry's seq and hash (zero for an empty log).
func (db *DB) AuditHead() (AuditHead, error) {
	var h AuditHead
	err := db.bdb.View(func(txn *badger.Txn) error {
		var err error
		h, err = tail(txn)
		return err
	})
	if err != nil {
		return AuditHead{}, fmt.Errorf("audit head: %w", err)
	}
	return h, nil
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
