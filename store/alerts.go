package store

import "github.com/dgraph-io/badger/v4"

// AlertDocKey is the key of an alert document.
func AlertDocKey(id string) string { return alertPrefix + id }

// Alert returns the stored alert document with this id.
func (db *DB) Alert(id string) ([]byte, bool, error) { return docGet(db, AlertDocKey(id)) }

// Alerts calls fn for each stored alert document in id order.
func (db *DB) Alerts(fn func(id string, val []byte) error) error {
	return docList(db, alertPrefix, fn)
}

// AlertIDs calls fn with the id of every stored alert, in id order, reading keys only.
func (db *DB) AlertIDs(fn func(id string) error) error {
	return db.Badger().View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.PrefetchValues = false
		opt.Prefix = []byte(alertPrefix)
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := fn(string(it.Item().Key()[len(alertPrefix):])); err != nil {
				return err
			}
		}
		return nil
	})
}
