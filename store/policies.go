package store

// PolicyDocKey is the key of a policy document; names are unique and immutable.
func PolicyDocKey(name string) string { return policyPrefix + name }

// Policy returns the stored policy document named name.
func (db *DB) Policy(name string) ([]byte, bool, error) { return docGet(db, PolicyDocKey(name)) }

// PutPolicy stores (or with nil deletes) the policy document named name.
func (db *DB) PutPolicy(name string, val []byte) error {
	return db.PutDocs([]Doc{{Key: PolicyDocKey(name), Value: val}})
}

// Policies calls fn for each stored policy document in name order.
func (db *DB) Policies(fn func(name string, val []byte) error) error {
	return docList(db, policyPrefix, fn)
}
