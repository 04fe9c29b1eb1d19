package store

import (
	"encoding/json"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// m/rule-files keeps the contents of the rules directory as last recorded in the audit
// log, so that changes made while irm was not running are recorded at the next start.
const keyRuleFiles = "m/rule-files"

// RuleFiles returns the rules directory as last recorded (base name -> contents); ok is
// false when nothing was ever recorded.
func (db *DB) RuleFiles() (files map[string][]byte, ok bool, err error) {
	b, ok, err := docGet(db, keyRuleFiles)
	if err != nil || !ok {
		return nil, ok, err
	}
	if err := json.Unmarshal(b, &files); err != nil {
		return nil, false, err
	}
	return files, true, nil
}

// PutRuleFiles records the rules directory's contents.
func (db *DB) PutRuleFiles(files map[string][]byte) error {
	b, err := json.Marshal(files)
	if err != nil {
		return err
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyRuleFiles), b) }); err != nil {
		return fmt.Errorf("put rule files: %w", err)
	}
	return db.Sync()
}
