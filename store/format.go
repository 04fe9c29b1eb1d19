package store

// The data directory's format version and its migrations. A binary refuses a data
// directory written by a newer one (whose keys it may misread and then overwrite), and
// brings an older one up to date after writing a full backup beside it, so that an
// upgrade can always be undone by restoring that backup with the old binary.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// FormatVersion is the data format this binary writes. Raise it, and add a migration
// below, whenever stored data changes in a way an older or newer binary would misread.
const FormatVersion = 1

// keyFormat holds the data directory's format version (8 bytes, big-endian). Absent in
// a non-empty database: written before versions were recorded, version 0.
const keyFormat = "m/format"

// migration brings a database from version to version+1.
type migration struct {
	to   int
	what string
	run  func(db *DB, dir string) error
}

// migrations are applied in order to a database older than FormatVersion.
var migrations = []migration{
	{to: 1, what: "remove the alert snapshot file alerts.json (irm alerts now asks the running serve)", run: func(_ *DB, dir string) error {
		if dir == "" {
			return nil
		}
		for _, name := range []string{"alerts.json", "alerts.json.tmp"} {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	}},
}

// FormatError is returned by Open for a data directory this binary cannot use.
type FormatError struct {
	Dir        string
	Version    int // the directory's format version
	Supported  int // the newest version this binary reads (FormatVersion)
	FromBackup bool
}

func (e *FormatError) Error() string {
	what := "data dir " + e.Dir
	if e.FromBackup {
		what = "the backup"
	}
	return fmt.Sprintf("%s has data format version %d, newer than this irm binary reads (up to %d): it was written by a newer irm; "+
		"run that version, or restore a backup made before the upgrade with this one", what, e.Version, e.Supported)
}

// Format returns the format version stored in the database.
func (db *DB) Format() (int, error) {
	v, _, err := db.readFormat()
	return v, err
}

// readFormat returns the stored version and whether the key exists.
func (db *DB) readFormat() (int, bool, error) {
	var v int
	found := false
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(keyFormat))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(b []byte) error {
			if len(b) != 8 {
				return fmt.Errorf("format version: %d bytes, want 8", len(b))
			}
			v = int(binary.BigEndian.Uint64(b))
			return nil
		})
	})
	return v, found, err
}

func (db *DB) writeFormat(v int) error {
	err := db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(keyFormat), binary.BigEndian.AppendUint64(nil, uint64(v)))
	})
	if err == nil {
		err = db.Sync()
	}
	return err
}

// isEmpty reports whether the database holds no key but the format version.
func (db *DB) isEmpty() (bool, error) {
	empty := true
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if string(it.Item().Key()) != keyFormat {
				empty = false
				return nil
			}
		}
		return nil
	})
	return empty, err
}

// checkFormat runs at Open: it stamps a new database, refuses a newer one, and migrates
// an older one after backing it up to a file beside dir.
func (db *DB) checkFormat(dir string) error {
	v, found, err := db.readFormat()
	if err != nil {
		return err
	}
	if !found {
		empty, err := db.isEmpty()
		if err != nil {
			return err
		}
		if empty {
			return db.writeFormat(FormatVersion)
		}
	}
	if v > FormatVersion {
		return &FormatError{Dir: dir, Version: v, Supported: FormatVersion}
	}
	if v == FormatVersion {
		return nil
	}
	if dir != "" {
		bak, err := db.backupBeside(dir, v)
		if err != nil {
			return fmt.Errorf("backup before migrating from data format %d: %w", v, err)
		}
		db.log.Warn("data format upgraded: a backup of the old data is beside the data dir; restore it with the old irm to go back",
			"from", v, "to", FormatVersion, "backup", bak)
	}
	return db.migrate(v, dir)
}

// migrate applies the migrations after version v and records the new version.
func (db *DB) migrate(v int, dir string) error {
	for _, m := range migrations {
		if m.to <= v {
			continue
		}
		if err := m.run(db, dir); err != nil {
			return fmt.Errorf("migrate data format %d to %d (%s): %w", m.to-1, m.to, m.what, err)
		}
		db.log.Info("data format migrated", "to", m.to, "what", m.what)
	}
	return db.writeFormat(FormatVersion)
}

// backupBeside writes a full backup to <dir>.format-<v>-<UTC time>.bak (synced, then
// renamed into place) and returns its path.
func (db *DB) backupBeside(dir string, v int) (string, error) {
	clean := filepath.Clean(dir)
	name := fmt.Sprintf("%s.format-%d-%s.bak", clean, v, time.Now().UTC().Format("20060102T150405Z"))
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(f, 1<<20)
	err = db.Backup(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, name); err != nil {
		return "", err
	}
	return name, nil
}
