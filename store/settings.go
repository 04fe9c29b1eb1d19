package store

// Engine-owned records (settings s/, policies pol/, alerts a/, cases c/, engine state
// eng/) are opaque JSON documents to the store: the engine owns their types, so the
// store only keeps, lists and deletes them. This file holds the shared key-value helpers
// and the settings record.

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

const (
	settingsKey    = "s/settings"
	policyPrefix   = "pol/"
	alertPrefix    = "a/"
	casePrefix     = "c/"
	enginePrefix   = "eng/"
	maxDocKeyBytes = 512
)

// Doc is one engine document written in a batch.
type Doc struct {
	Key   string // full key, e.g. "a/<id>"
	Value []byte // nil deletes the key
}

func docGet(db *DB, key string) ([]byte, bool, error) {
	var val []byte
	err := db.Badger().View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", key, err)
	}
	return val, true, nil
}

// docList calls fn for every key under prefix, in key order, with the key's suffix.
func docList(db *DB, prefix string, fn func(name string, val []byte) error) error {
	return db.Badger().View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = []byte(prefix)
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			val, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("list %s: %w", prefix, err)
			}
			if err := fn(string(item.Key()[len(prefix):]), val); err != nil {
				if errors.Is(err, ErrStop) {
					return nil
				}
				return err
			}
		}
		return nil
	})
}

// PutDocs writes engine documents in one write batch and syncs them to disk.
func (db *DB) PutDocs(docs []Doc) error { return db.putDocs(docs, true) }

// PutDocsLazy writes engine documents without waiting for a sync: for state the engine
// can re-derive from the stored events after a crash (alert scores), so that the
// evaluation of every batch does not pay for an fsync.
func (db *DB) PutDocsLazy(docs []Doc) error { return db.putDocs(docs, false) }

func (db *DB) putDocs(docs []Doc, sync bool) error {
	if len(docs) == 0 {
		return nil
	}
	for _, d := range docs {
		if !engineKey(d.Key) {
			return fmt.Errorf("put %q: not an engine key", d.Key)
		}
	}
	wb := db.Badger().NewWriteBatch()
	defer wb.Cancel()
	for _, d := range docs {
		var err error
		if d.Value == nil {
			err = wb.Delete([]byte(d.Key))
		} else {
			err = wb.Set([]byte(d.Key), d.Value)
		}
		if err != nil {
			return fmt.Errorf("put %s: %w", d.Key, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("put engine documents: %w", err)
	}
	if !sync {
		return nil
	}
	return db.Badger().Sync()
}

func engineKey(k string) bool {
	if len(k) > maxDocKeyBytes {
		return false
	}
	for _, p := range []string{settingsKey, policyPrefix, alertPrefix, casePrefix, enginePrefix} {
		if len(k) >= len(p) && k[:len(p)] == p && (p != settingsKey || k == settingsKey) {
			return true
		}
	}
	return false
}

// Settings returns the stored global settings document (false: never saved).
func (db *DB) Settings() ([]byte, bool, error) { return docGet(db, settingsKey) }

// PutSettings replaces the global settings document.
func (db *DB) PutSettings(val []byte) error {
	return db.PutDocs([]Doc{{Key: settingsKey, Value: val}})
}

// EngineState returns one engine state document, keyed under eng/.
func (db *DB) EngineState(name string) ([]byte, bool, error) {
	return docGet(db, enginePrefix+name)
}

// PutEngineState writes (or with nil deletes) one engine state document.
func (db *DB) PutEngineState(name string, val []byte) error {
	return db.PutDocs([]Doc{{Key: enginePrefix + name, Value: val}})
}

// EngineStates lists the engine state documents whose name starts with prefix.
func (db *DB) EngineStates(prefix string, fn func(name string, val []byte) error) error {
	return docList(db, enginePrefix+prefix, func(n string, v []byte) error { return fn(prefix+n, v) })
}
