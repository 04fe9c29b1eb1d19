package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"irm/account"
	"irm/audit"
	"irm/store"
)

func init() {
	register(&command{
		name:    "backup",
		usage:   "FILE",
		summary: "write a full backup of the database to FILE (- for stdout); stop serve first",
		run:     runBackup,
	})
	register(&command{
		name:    "restore",
		usage:   "FILE",
		summary: "restore a backup FILE into an empty data dir (-force replaces a non-empty one)",
		run:     runRestore,
	})
}

func runBackup(args []string) error {
	fset, cfgPath := newFlags("backup")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 1 {
		return &exitError{2, "usage: irm backup [-config FILE] FILE"}
	}
	target := fset.Arg(0)
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	db, err := openStoreFor(cfg, quietLogger())
	if err != nil {
		return err
	}
	defer db.Close()
	// Recorded before the data leaves, so the backup carries its own entry.
	head, err := db.AuditHead()
	if err != nil {
		return err
	}
	where := target
	if target == "-" {
		where = "standard output"
	} else if abs, err := filepath.Abs(target); err == nil {
		where = abs
	}
	if _, err := db.Audit(account.CLIActor(), "backup", "Wrote backup", where, nil,
		map[string]any{"file": where, "head": head}, "full database backup; audit chain head before it "+head.String()); err != nil {
		return fmt.Errorf("backup: %w", err)
	}

	if target == "-" {
		w := bufio.NewWriterSize(os.Stdout, 1<<20)
		if err := db.Backup(w); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return w.Flush()
	}
	// Written beside the target and renamed, so FILE is either a complete backup or
	// untouched (an older backup under the same name survives a failure).
	tmp := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
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
		return fmt.Errorf("backup to %s: %w", target, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return err
	}
	fi, _ := os.Stat(target)
	fmt.Fprintf(os.Stderr, "backup: wrote %s (%d bytes)\n", target, fi.Size())
	return nil
}

func runRestore(args []string) error {
	fset, cfgPath := newFlags("restore")
	force := fset.Bool("force", false, "replace a non-empty data dir (the old one is kept as <data_dir>.replaced-<time>)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 1 {
		return &exitError{2, "usage: irm restore [-config FILE] [-force] FILE"}
	}
	src := fset.Arg(0)
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	source := "standard input"
	if src != "-" {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
		if abs, err := filepath.Abs(src); err == nil {
			source = abs
		}
	}
	// The restore entry names the backup by its SHA-256, computed as it is read.
	sum := sha256.New()
	r = io.TeeReader(r, sum)

	dataDir := filepath.Clean(cfg.DataDir)
	var replaced *store.AuditHead
	empty, err := dirEmpty(dataDir)
	if err != nil {
		return err
	}
	if !empty {
		if !*force {
			return fmt.Errorf("data dir %s is not empty; restore needs an empty one (use -force to replace it)", dataDir)
		}
		// Opening it proves no serve is running on it (Badger holds a directory lock):
		// moving a live store away would lose whatever it writes next.
		db, err := openStoreFor(cfg, quietLogger())
		if err != nil {
			return fmt.Errorf("data dir %s is in use or unreadable: %w", dataDir, err)
		}
		// The head of the log being replaced goes into the restored log, so that
		// verification can tell which entries the restore removed.
		h, err := db.AuditHead()
		db.Close()
		if err != nil {
			return fmt.Errorf("data dir %s: %w", dataDir, err)
		}
		replaced = &h
	}

	// Restore into a sibling directory and swap it in at the end, so a failed restore
	// leaves the data dir as it was.
	work := dataDir + ".restoring"
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	wcfg := *cfg
	wcfg.DataDir = work
	db, err := openStoreFor(&wcfg, quietLogger())
	if err != nil {
		return err
	}
	if err := db.Restore(bufio.NewReaderSize(r, 1<<20)); err != nil {
		db.Close()
		os.RemoveAll(work)
		return fmt.Errorf("restore from %s: %w", src, err)
	}
	io.Copy(io.Discard, r) // the whole file counts in its digest
	// A backup from another appliance carries a log keyed with that appliance's key;
	// restoring it under this key would make the whole log look forged.
	if rep, err := db.VerifyAudit(""); err != nil || rep.Broken {
		db.Close()
		os.RemoveAll(work)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		return fmt.Errorf("restore from %s: the backup's audit log does not verify with this installation's audit key %s (entry %d: %s); "+
			"if the backup comes from another appliance, copy that appliance's key file over %s and restore again; nothing was changed",
			src, cfg.Audit.KeyFile, rep.BrokenAt, rep.Reason, cfg.Audit.KeyFile)
	}
	e, err := db.AuditRestore(account.CLIActor(), source, hex.EncodeToString(sum.Sum(nil)), replaced)
	if err != nil {
		db.Close()
		os.RemoveAll(work)
		return fmt.Errorf("restore: %w", err)
	}
	anchor := audit.NewAnchor(db, cliLogger(), cfg.Audit.Syslog)
	anchor.Write("restore")
	anchor.Close()
	if err := db.Close(); err != nil {
		os.RemoveAll(work)
		return fmt.Errorf("restore: %w", err)
	}
	if !empty {
		old := dataDir + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		for i := 2; ; i++ { // two restores within a second must not collide
			if _, err := os.Lstat(old); errors.Is(err, fs.ErrNotExist) {
				break
			}
			old = fmt.Sprintf("%s.replaced-%s-%d", dataDir, time.Now().UTC().Format("20060102T150405Z"), i)
		}
		if err := os.Rename(dataDir, old); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "restore: previous data moved to %s\n", old)
	}
	if err := swapIn(work, dataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(os.Stderr, "restore: %s restored into %s (audit entry %d: %s)\n", src, dataDir, e.Seq, e.Details)
	if replaced != nil {
		fmt.Fprintln(os.Stderr, "restore: run irm audit verify to see whether entries of the replaced log are gone")
	}
	return nil
}

// dirEmpty reports whether dir is absent or has no entries.
func dirEmpty(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(ents) == 0, nil
}

// swapIn makes work the data dir. An existing (empty) data dir may be a mount point, so
// its entries are moved in rather than the directory replaced.
func swapIn(work, dataDir string) error {
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(work, dataDir)
	}
	ents, err := os.ReadDir(work)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(work, e.Name()), filepath.Join(dataDir, e.Name())); err != nil {
			return err
		}
	}
	return os.Remove(work)
}
