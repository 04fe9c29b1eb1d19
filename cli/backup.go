package cli

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"irm/audit"
	"irm/config"
	"irm/store"
)

func backupCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) != 1 {
			return usageError("usage: irm backup [-config FILE] FILE")
		}
		target := args[0]
		db, err := c.Store()
		if err != nil {
			return err
		}
		// Recorded before the data leaves, so the backup carries its own entry.
		head, err := db.AuditHead()
		if err != nil {
			return err
		}
		where := "standard output"
		if target != "-" {
			where = c.Abs(target)
		}
		if _, err := db.Audit(c.Actor, "backup", "Wrote backup", where, nil,
			map[string]any{"file": where, "head": head}, "full database backup; audit chain head before it "+head.String()); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if target == "-" {
			w := bufio.NewWriterSize(c.Stdout, 1<<20)
			if err := db.Backup(w); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			return w.Flush()
		}
		// Written beside the target and renamed, so FILE is either a complete backup or
		// untouched (an older backup under the same name survives a failure).
		n, err := c.WriteFileAtomic(target, func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 1<<20)
			if err := db.Backup(bw); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return fmt.Errorf("backup to %s: %w", target, err)
		}
		fmt.Fprintf(c.Stderr, "backup: wrote %s (%d bytes)\n", target, n)
		return nil
	}
}

func restoreCmd(fs *flag.FlagSet) runFunc {
	force := fs.Bool("force", false, "replace a non-empty data dir (the old one is kept as <data_dir>.replaced-<time>)")
	return func(c *Ctx, args []string) error {
		if len(args) != 1 {
			return usageError("usage: irm restore [-config FILE] [-force] FILE")
		}
		cfg, err := c.Config()
		if err != nil {
			return err
		}
		return restore(c, cfg, args[0], *force)
	}
}

// restore runs in this process only: it swaps whole data directories, which a running
// serve holds open.
func restore(c *Ctx, cfg *config.Config, src string, force bool) error {
	var r io.Reader = c.Stdin
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
	if err := store.CheckLocked(dataDir); err != nil {
		return fmt.Errorf("%w: restore replaces the whole database; stop irm serve first", err)
	}
	var replaced *store.AuditHead
	empty, err := dirEmpty(dataDir)
	if err != nil {
		return err
	}
	if !empty {
		if !force {
			return fmt.Errorf("data dir %s is not empty; restore needs an empty one (use -force to replace it)", dataDir)
		}
		// Opening it proves no serve is running on it (Badger holds a directory lock):
		// moving a live store away would lose whatever it writes next.
		db, err := openStore(cfg, c.Logger())
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w: restore replaces the whole database; stop irm serve first", err)
		}
		if err != nil {
			return fmt.Errorf("data dir %s is unreadable: %w", dataDir, err)
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
	db, err := openStore(&wcfg, c.Logger())
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
	e, err := db.AuditRestore(c.Actor, source, hex.EncodeToString(sum.Sum(nil)), replaced)
	if err != nil {
		db.Close()
		os.RemoveAll(work)
		return fmt.Errorf("restore: %w", err)
	}
	anchor := audit.NewAnchor(db, cliLogger(c.Stderr), cfg.Audit.Syslog)
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
		fmt.Fprintf(c.Stderr, "restore: previous data moved to %s\n", old)
	}
	if err := swapIn(work, dataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(c.Stderr, "restore: %s restored into %s (audit entry %d: %s)\n", src, dataDir, e.Seq, e.Details)
	if replaced != nil {
		fmt.Fprintln(c.Stderr, "restore: run irm audit verify to see whether entries of the replaced log are gone")
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
