package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The audit chain is keyed with a per-installation secret kept outside the Badger
// directory: someone who can rewrite the database files but cannot read this file
// cannot re-chain the log. The file holds 32 random bytes as 64 hex digits and a newline.

const auditKeyLen = 32

// defaultAuditKeyFile is where a store opened without Options.AuditKeyFile keeps its
// key: beside the data directory, never inside it.
func defaultAuditKeyFile(dir string) string {
	return filepath.Clean(dir) + ".audit-key"
}

// loadAuditKey reads the key at path, creating it (mode 0600) when it does not exist.
// created reports a new key. A key file that group or others may read is refused: the
// whole point of the key is that the database files alone do not give it away.
func loadAuditKey(path, dataDir string) (key []byte, created bool, err error) {
	absKey, err := filepath.Abs(path)
	if err != nil {
		return nil, false, fmt.Errorf("audit key file %s: %w", path, err)
	}
	if dataDir != "" {
		absDir, err := filepath.Abs(dataDir)
		if err != nil {
			return nil, false, err
		}
		if rel, err := filepath.Rel(absDir, absKey); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return nil, false, fmt.Errorf("audit key file %s is inside the data directory %s; it must live outside it (config [audit] key_file)", path, dataDir)
		}
	}
	key, err = readAuditKey(absKey)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key = make([]byte, auditKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(absKey), 0o700); err != nil {
		return nil, false, fmt.Errorf("audit key file %s: %w", path, err)
	}
	// Written under a temporary name and linked into place, so that two processes
	// starting at once agree on one key and nobody reads a half-written file.
	tmp, err := os.CreateTemp(filepath.Dir(absKey), "."+filepath.Base(absKey)+".*")
	if err != nil {
		return nil, false, fmt.Errorf("audit key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("audit key file %s: %w", path, err)
	}
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("audit key file %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), absKey); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err = readAuditKey(absKey)
			return key, false, err
		}
		return nil, false, fmt.Errorf("audit key file %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(absKey)); err == nil {
		d.Sync()
		d.Close()
	}
	return key, true, nil
}

func readAuditKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("audit key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("audit key file %s has mode %04o: others may read it; run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit key file %s: %w", path, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != auditKeyLen {
		return nil, fmt.Errorf("audit key file %s: want %d hex digits", path, 2*auditKeyLen)
	}
	return key, nil
}
