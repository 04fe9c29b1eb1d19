package store

// AlertDocKey is the key of an alert document.
func AlertDocKey(id string) string { return alertPrefix + id }

// Alert returns the stored alert document with this id.
func (db *DB) Alert(id string) ([]byte, bool, error) { return docGet(db, AlertDocKey(id)) }

// Alerts calls fn for each stored alert document in id order.
func (db *DB) Alerts(fn func(id string, val []byte) error) error {
	return docList(db, alertPrefix, fn)
}
