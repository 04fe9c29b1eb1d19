package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// setFormat writes a format version behind the store's back (nil deletes the key), the
// way an older or newer binary would have left it.
func setFormat(t *testing.T, db *DB, v *int) {
	t.Helper()
	err := db.Badger().Update(func(txn *badger.Txn) error {
		if v == nil {
			return txn.Delete([]byte(keyFormat))
		}
		return txn.Set([]byte(keyFormat), binary.BigEndian.AppendUint64(nil, uint64(*v)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFormatNewDatabaseIsStamped(t *testing.T) {
	db := openTest(t, Options{})
	if v, err := db.Format(); err != nil || v != FormatVersion {
		t.Fatalf("new database: format %d (%v), want %d", v, err, FormatVersion)
	}
}

// A data directory written by a newer binary is refused with a message that says what
// to do, and left as it was.
func TestFormatNewerIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key := filepath.Join(filepath.Dir(dir), "audit.key")
	db, err := Open(dir, Options{AuditKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, db, 2)
	newer := FormatVersion + 1
	setFormat(t, db, &newer)
	db.Close()

	_, err = Open(dir, Options{AuditKeyFile: key})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Version != newer || !strings.Contains(err.Error(), "newer than this irm binary reads") {
		t.Fatalf("open of a newer data dir: %v", err)
	}
	// Refused again: nothing was rewritten.
	if _, err := Open(dir, Options{AuditKeyFile: key}); !errors.As(err, &fe) {
		t.Fatalf("second open: %v", err)
	}
}

// A data directory from before format versions (version 0, with the old alert snapshot
// file) is backed up beside itself, migrated and stamped; the backup restores the old data.
func TestFormatOlderIsBackedUpAndMigrated(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	key := filepath.Join(parent, "audit.key")
	db, err := Open(dir, Options{AuditKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, db, 3)
	setFormat(t, db, nil)
	before := dump(t, db)
	db.Close()
	if err := os.WriteFile(filepath.Join(dir, "alerts.json"), []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}

	db, err = Open(dir, Options{AuditKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, _ := db.Format(); v != FormatVersion {
		t.Fatalf("after migration: format %d, want %d", v, FormatVersion)
	}
	if _, err := os.Stat(filepath.Join(dir, "alerts.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the obsolete alert snapshot is still there: %v", err)
	}
	baks, _ := filepath.Glob(dir + ".format-0-*.bak")
	if len(baks) != 1 {
		t.Fatalf("backups beside the data dir: %v", baks)
	}
	// The backup holds the old data, version key absent, and restores as such.
	b, err := os.ReadFile(baks[0])
	if err != nil {
		t.Fatal(err)
	}
	old := openTest(t, Options{AuditKeyFile: key})
	if err := old.Restore(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	got := dump(t, old)
	for k, v := range before {
		if got[k] != v {
			t.Errorf("restored backup: key %q differs", k)
		}
	}
	// Restoring an old backup migrates it too.
	if v, _ := old.Format(); v != FormatVersion {
		t.Errorf("restored old backup: format %d, want %d", v, FormatVersion)
	}
	// Migrated once: opening again makes no second backup.
	db.Close()
	db, err = Open(dir, Options{AuditKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	if baks, _ := filepath.Glob(dir + ".format-*.bak"); len(baks) != 1 {
		t.Errorf("a second open made another backup: %v", baks)
	}
}

// A backup written by a newer binary is refused by Restore.
func TestFormatRestoreOfNewerBackupIsRefused(t *testing.T) {
	key := filepath.Join(t.TempDir(), "audit.key")
	src := openTest(t, Options{AuditKeyFile: key})
	appendN(t, src, 1)
	newer := FormatVersion + 1
	setFormat(t, src, &newer)
	var buf bytes.Buffer
	if err := src.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	dst := openTest(t, Options{AuditKeyFile: key})
	err := dst.Restore(&buf)
	var fe *FormatError
	if !errors.As(err, &fe) || !fe.FromBackup || !strings.Contains(err.Error(), "the backup has data format version") {
		t.Fatalf("restore of a newer backup: %v", err)
	}
}

// A second process opening a held data directory gets ErrLocked, typed, with the pid.
func TestOpenLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "audit.key")
	db, err := Open(dir, Options{AuditKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(dir, Options{AuditKeyFile: key})
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second open: %v", err)
	}
	if !strings.Contains(err.Error(), "in use by another irm process") {
		t.Errorf("message: %v", err)
	}
}
