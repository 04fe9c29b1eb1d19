package store

// The integrations' records (package integrations): webhooks hook/<id>, their
// deliveries hookd/<webhook id>/<event key>, the SIEM export queue siemq/<seq>, and
// m/outbox-cursor, the last audit entry turned into outgoing events. They are opaque
// JSON (or text) to the store, like the engine's documents. A batch of them is written
// in one transaction and synced, so an event is either wholly queued with the cursor
// moved past it or not at all: a crash neither loses nor repeats one.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

const (
	OutboxWebhooks   = "hook/"
	OutboxDeliveries = "hookd/"
	OutboxSIEM       = "siemq/"
	OutboxCursor     = "m/outbox-cursor"
)

func outboxKey(k string) bool {
	if k == OutboxCursor {
		return true
	}
	for _, p := range []string{OutboxWebhooks, OutboxDeliveries, OutboxSIEM} {
		if strings.HasPrefix(k, p) && len(k) > len(p) && len(k) <= maxDocKeyBytes {
			return true
		}
	}
	return false
}

// PutOutbox writes (Value nil: deletes) integration records in one transaction, synced.
func (db *DB) PutOutbox(docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	for _, d := range docs {
		if !outboxKey(d.Key) {
			return fmt.Errorf("put %q: not an integrations key", d.Key)
		}
	}
	err := db.Badger().Update(func(txn *badger.Txn) error {
		for _, d := range docs {
			var err error
			if d.Value == nil {
				err = txn.Delete([]byte(d.Key))
			} else {
				err = txn.Set([]byte(d.Key), d.Value)
			}
			if err != nil {
				return fmt.Errorf("put %s: %w", d.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put integration records: %w", err)
	}
	return db.Sync()
}

// OutboxDoc returns one integration record.
func (db *DB) OutboxDoc(key string) ([]byte, bool, error) { return docGet(db, key) }

// OutboxDocs calls fn for every record under prefix (one of the Outbox* prefixes, or
// a longer one), in key order, with the full key. Return ErrStop to stop.
func (db *DB) OutboxDocs(prefix string, fn func(key string, val []byte) error) error {
	return docList(db, prefix, func(name string, val []byte) error { return fn(prefix+name, val) })
}

// OutboxKeys calls fn for every key under prefix, in key order, without reading values.
func (db *DB) OutboxKeys(prefix string, fn func(key string) error) error {
	err := db.Badger().View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.PrefetchValues = false
		opt.Prefix = []byte(prefix)
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := fn(string(it.Item().Key())); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// AuditAfter calls fn for the audit entries after seq, oldest first, at most limit
// (0: all). Return ErrStop to stop.
func (db *DB) AuditAfter(seq uint64, limit int, fn func(AuditEntry) error) error {
	prefix := []byte(prefixAudit)
	n := 0
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
		defer it.Close()
		for it.Seek(auditKey(seq + 1)); it.Valid(); it.Next() {
			k := it.Item().Key()
			if !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 || binary.BigEndian.Uint64(k[len(prefix):]) <= seq {
				continue
			}
			var e AuditEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("entry %x: %w", k[len(prefix):], err)
			}
			if err := fn(e); err != nil {
				return err
			}
			if n++; limit > 0 && n >= limit {
				return nil
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrStop) {
		return fmt.Errorf("audit entries after %d: %w", seq, err)
	}
	return nil
}
