package store

// CaseDocKey is the key of a case document.
func CaseDocKey(id string) string { return casePrefix + id }

// Case returns the stored case document with this id.
func (db *DB) Case(id string) ([]byte, bool, error) { return docGet(db, CaseDocKey(id)) }

// Cases calls fn for each stored case document in id order.
func (db *DB) Cases(fn func(id string, val []byte) error) error {
	return docList(db, casePrefix, fn)
}
