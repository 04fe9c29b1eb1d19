package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// AuditReport is the result of VerifyAudit.
type AuditReport struct {
	Checked    uint64           // entries whose hash and link were checked
	First      uint64           // seq of the first stored entry (after a checkpoint: checkpoint seq + 1)
	Head       AuditHead        // the newest intact entry (or the checkpoint when none is left)
	Checkpoint *AuditCheckpoint // set when retention has pruned the log

	// Broken is set when the chain does not verify: BrokenAt is the first bad seq (0 when
	// the problem is not one entry, such as an anchor that is not in the log) and Reason
	// says why.
	Broken   bool
	BrokenAt uint64
	Reason   string

	// Restores lists the restores recorded in the log; those with Lost set replaced a
	// log whose newest entries are not in the restored one.
	Restores []AuditRestore

	// AnchorSeq is the seq of the entry whose hash is the anchor given to VerifyAudit
	// (0 when none was given or it matched a replaced head or the checkpoint).
	AnchorSeq uint64
}

// Lost reports whether a recorded restore dropped entries.
func (r AuditReport) Lost() bool {
	for _, x := range r.Restores {
		if x.Lost {
			return true
		}
	}
	return false
}

// AuditRestore is the After of a "Restored backup" entry, and what verification made of it.
type AuditRestore struct {
	Source   string     `json:"source"`
	SHA256   string     `json:"sha256,omitempty"`
	Replaced *AuditHead `json:"replaced_head"` // nil: restored into an empty data directory
	Restored AuditHead  `json:"restored_head"`

	At    uint64    `json:"-"` // seq of the restore entry
	Time  time.Time `json:"-"`
	Actor string    `json:"-"`
	Lost  bool      `json:"-"` // the replaced head is not in the restored chain
}

const (
	categoryBackup   = "backup"
	activityRestored = "Restored backup"
)

// VerifyAudit walks the whole chain with the installation's key: every entry's HMAC, its
// link to the previous entry, gaps, order, the signed checkpoint left by pruning and the
// signed head (entries cut off the end, or added after it). anchor, when not empty, is a
// head hash recorded outside the appliance (log, syslog): it must be an entry of the
// chain (or the checkpoint, or a head that a recorded restore replaced). err is only for
// read failures.
func (db *DB) VerifyAudit(anchor string) (AuditReport, error) {
	var r AuditReport
	broken := func(seq uint64, why string, args ...any) {
		r.Broken, r.BrokenAt, r.Reason = true, seq, why
		db.log.Warn("audit chain broken", append([]any{"seq", seq, "reason", why}, args...)...)
	}
	anchorFound := false
	err := db.bdb.View(func(txn *badger.Txn) error {
		head, headOK, err := readAuditHead(txn)
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		cp, err := readCheckpoint(txn)
		if err != nil {
			return fmt.Errorf("read checkpoint: %w", err)
		}
		want, prev := uint64(1), ""
		if cp != nil {
			r.Checkpoint = cp
			if db.checkpointMAC(*cp) != cp.MAC {
				broken(cp.Seq, "the retention checkpoint is not signed with this installation's key")
				return nil
			}
			want, prev = cp.Seq+1, cp.Hash
			r.Head = cp.AuditHead
			if anchor != "" && anchor == cp.Hash {
				anchorFound = true
			}
		}
		r.First = want
		prefix := []byte(prefixAudit)
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
		defer it.Close()
		for it.Seek(auditKey(want)); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) != len(prefix)+8 {
				broken(want, "malformed key", "key", fmt.Sprintf("%q", k))
				return nil
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			if seq != want {
				broken(want, fmt.Sprintf("entry %d is missing (the next stored entry is %d)", want, seq))
				return nil
			}
			var e AuditEntry
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				broken(seq, "the entry cannot be decoded: "+err.Error())
				return nil
			}
			h, err := db.auditHash(e)
			switch {
			case err != nil:
				broken(seq, "the entry cannot be hashed: "+err.Error())
			case e.Seq != seq:
				broken(seq, fmt.Sprintf("the entry says it is %d: moved", e.Seq))
			case e.Prev != prev:
				broken(seq, "its link to the previous entry does not match: an entry before it was changed, removed or replaced")
			case h != e.Hash:
				broken(seq, "its content does not match its HMAC: changed, or written without this installation's key")
			}
			if r.Broken {
				return nil
			}
			if e.Category == categoryBackup && e.Activity == activityRestored {
				var x AuditRestore
				if err := json.Unmarshal(e.After, &x); err == nil {
					x.At, x.Time, x.Actor = e.Seq, e.Time, e.Actor
					if anchor != "" && x.Replaced != nil && x.Replaced.Hash == anchor {
						anchorFound = true
					}
					r.Restores = append(r.Restores, x)
				}
			}
			if anchor != "" && e.Hash == anchor {
				anchorFound, r.AnchorSeq = true, e.Seq
			}
			r.Checked++
			r.Head = AuditHead{Seq: e.Seq, Hash: e.Hash}
			prev = e.Hash
			want++
		}
		last := want - 1
		switch {
		case !headOK && last > 0:
			broken(last, "the record of the newest entry (head) is missing")
		case !headOK:
		case db.headMAC(head.AuditHead) != head.MAC:
			broken(head.Seq, "the record of the newest entry (head) is not signed with this installation's key")
		case head.Seq > last:
			broken(want, fmt.Sprintf("entries %d to %d are missing at the end of the log", want, head.Seq))
		case head.Seq < last:
			broken(head.Seq+1, fmt.Sprintf("entries %d to %d come after the recorded head %d", head.Seq+1, last, head.Seq))
		case head.Hash != prev:
			broken(last, "the newest entry does not match the recorded head")
		}
		if r.Broken {
			return nil
		}
		// A restore lost entries when the head it replaced is not part of the restored
		// chain: compare the replaced head with the entry of the same seq.
		for i := range r.Restores {
			x := &r.Restores[i]
			if x.Replaced == nil || x.Replaced.Seq == 0 {
				continue
			}
			if x.Replaced.Seq >= x.At {
				x.Lost = true
				continue
			}
			item, err := txn.Get(auditKey(x.Replaced.Seq))
			if errors.Is(err, badger.ErrKeyNotFound) {
				// Pruned since: it was in the chain if the checkpoint covers it.
				x.Lost = cp == nil || x.Replaced.Seq > cp.Seq
				continue
			}
			if err != nil {
				return err
			}
			var e AuditEntry
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return err
			}
			x.Lost = e.Hash != x.Replaced.Hash
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("verify audit: %w", err)
	}
	if anchor != "" && !r.Broken && !anchorFound {
		why := "the anchored head " + anchor + " is not in the log: entries were removed, rewritten or the log replaced"
		if r.Checkpoint != nil {
			why += fmt.Sprintf(" (or the anchor is older than the retention checkpoint at entry %d, which cannot be checked)", r.Checkpoint.Seq)
		}
		broken(0, why)
	}
	return r, nil
}

// AuditRestore records that a backup was restored into this (just restored) database:
// what was restored (source and its SHA-256), by whom, and the head of the log it
// replaced (nil when the data directory was empty), so that verification can tell
// whether the newer entries of the replaced log are gone.
func (db *DB) AuditRestore(actor, source, sum string, replaced *AuditHead) (AuditEntry, error) {
	restored, err := db.AuditHead()
	if err != nil {
		return AuditEntry{}, err
	}
	x := AuditRestore{Source: source, SHA256: sum, Replaced: replaced, Restored: restored}
	details := "into an empty data directory"
	if replaced != nil {
		details = "replaced the log whose head was " + replaced.String()
	}
	return db.Audit(actor, categoryBackup, activityRestored, source, nil, x, details+"; restored head "+restored.String())
}

// PruneAudit removes the oldest entries whose time is before cutoff (the longest such
// run from the start), after writing a signed checkpoint of the last one removed, and
// records the pruning as a new entry. It returns how many entries were removed and the
// checkpoint (nil when nothing was old enough).
func (db *DB) PruneAudit(cutoff time.Time) (int, *AuditCheckpoint, error) {
	db.auditMu.Lock()
	var keys [][]byte
	var cp *AuditCheckpoint
	err := db.bdb.View(func(txn *badger.Txn) error {
		old, err := readCheckpoint(txn)
		if err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: []byte(prefixAudit)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var e AuditEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("entry %x: %w", it.Item().Key(), err)
			}
			if old != nil && e.Seq <= old.Seq {
				keys = append(keys, it.Item().KeyCopy(nil)) // left over from an interrupted prune
				continue
			}
			if !e.Time.Before(cutoff) {
				break
			}
			keys = append(keys, it.Item().KeyCopy(nil))
			cp = &AuditCheckpoint{AuditHead: AuditHead{Seq: e.Seq, Hash: e.Hash}}
		}
		return nil
	})
	if err != nil || cp == nil && len(keys) == 0 {
		db.auditMu.Unlock()
		if err != nil {
			return 0, nil, fmt.Errorf("prune audit: %w", err)
		}
		return 0, nil, nil
	}
	if cp != nil {
		cp.Time, cp.Before = time.Now().UTC(), cutoff.UTC()
		cp.MAC = db.checkpointMAC(*cp)
		v, err := json.Marshal(cp)
		if err == nil {
			// The checkpoint goes first: if the deletes are cut short, verification
			// starts after it anyway and the next prune removes the rest.
			err = db.bdb.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyAuditCheckpoint), v) })
		}
		if err == nil {
			err = db.Sync()
		}
		if err != nil {
			db.auditMu.Unlock()
			return 0, nil, fmt.Errorf("prune audit: checkpoint: %w", err)
		}
	}
	wb := db.bdb.NewWriteBatch()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			wb.Cancel()
			db.auditMu.Unlock()
			return 0, nil, fmt.Errorf("prune audit: %w", err)
		}
	}
	err = wb.Flush()
	db.auditMu.Unlock()
	if err != nil {
		return 0, nil, fmt.Errorf("prune audit: %w", err)
	}
	if cp == nil {
		return len(keys), nil, db.Sync()
	}
	_, err = db.Audit("system", "audit", "Pruned audit log", "audit log", nil, cp,
		fmt.Sprintf("%d entries older than %s removed; checkpoint %s", len(keys), cutoff.UTC().Format(time.RFC3339), cp.AuditHead))
	return len(keys), cp, err
}

// resignLegacyAudit upgrades a log written before the chain was keyed (plain SHA-256
// hashes) to HMACs under the new key, but only when that chain is intact and the key was
// created by this very open: an existing key means the log was already keyed, and a
// legacy chain then is a forgery that verification must keep reporting.
func (db *DB) resignLegacyAudit() error {
	var entries []AuditEntry
	intact := true
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: []byte(prefixAudit)})
		defer it.Close()
		prev := ""
		for it.Rewind(); it.Valid(); it.Next() {
			var e AuditEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				intact = false
				return nil
			}
			h := e.Hash
			e.Hash = ""
			b, _ := json.Marshal(&e)
			sum := sha256.Sum256(b)
			if e.Seq != uint64(len(entries)+1) || e.Prev != prev || hex.EncodeToString(sum[:]) != h {
				intact = false
				return nil
			}
			e.Hash = h
			prev = h
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil || len(entries) == 0 {
		return err
	}
	if !intact {
		db.log.Error("audit log: a new audit key was created, but the log was written with another key (was the key file lost?) or is not an intact chain; it is left as it is and irm audit verify will report it", "key_file", db.auditKeyFile)
		return nil
	}
	legacyHead := entries[len(entries)-1].Hash
	db.auditMu.Lock()
	wb := db.bdb.NewWriteBatch()
	prev := ""
	for i := range entries {
		e := &entries[i]
		e.Prev = prev
		if e.Hash, err = db.auditHash(*e); err != nil {
			break
		}
		v, _ := json.Marshal(e)
		if err = wb.Set(auditKey(e.Seq), v); err != nil {
			break
		}
		prev = e.Hash
	}
	if err == nil {
		last := entries[len(entries)-1]
		h := AuditHead{Seq: last.Seq, Hash: last.Hash}
		hv, _ := json.Marshal(signedHead{AuditHead: h, MAC: db.headMAC(h)})
		err = wb.Set([]byte(keyAuditHead), hv)
	}
	if err == nil {
		err = wb.Flush()
	} else {
		wb.Cancel()
	}
	db.auditMu.Unlock()
	if err != nil {
		return fmt.Errorf("re-sign audit log: %w", err)
	}
	db.log.Warn("audit log re-signed with the new installation key", "entries", len(entries), "legacy_head", legacyHead)
	_, err = db.Audit("system", "audit", "Re-signed audit log", "audit log", nil,
		map[string]any{"entries": len(entries), "legacy_head": legacyHead},
		"the log predates the installation audit key; its SHA-256 chain was intact and is now keyed")
	return err
}
