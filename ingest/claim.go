package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Directory names inside each <drop>/<feed>/ directory. The claim directory starts with a
// dot so that exporters and the scanner both treat it as not-a-drop-file.
const (
	ProcessedDir = "processed"
	FailedDir    = "failed"
	ClaimedDir   = ".claimed"
	lockName     = ".irm.lock"
)

// ignored reports whether a name in a feed directory is not a drop file: the drop
// protocol writes under a dot-name or a .tmp suffix and renames into place when complete.
func ignored(name string) bool {
	return name == "" || name[0] == '.' || strings.HasSuffix(strings.ToLower(name), ".tmp") ||
		name == ProcessedDir || name == FailedDir
}

// candidate is a file waiting in a feed directory.
type candidate struct {
	feed, name string
	size       int64
	mtime      time.Time
}

// scanFeed lists the drop files of one feed directory.
func scanFeed(dir, feed string) ([]candidate, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	var out []candidate
	for _, e := range ents {
		if ignored(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			// Gone between ReadDir and Info: another pass will see its new state.
			continue
		}
		out = append(out, candidate{feed: feed, name: e.Name(), size: fi.Size(), mtime: fi.ModTime()})
	}
	return out, nil
}

// claim moves a drop file into the claim directory so that no other pass picks it up and
// so that a crash leaves it where the next start finds it. It returns the claimed path.
func claim(feedDir, name string) (string, error) {
	dst, err := freeName(filepath.Join(feedDir, ClaimedDir), name)
	if err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(feedDir, name), dst); err != nil {
		return "", fmt.Errorf("claim %s: %w", name, err)
	}
	return dst, syncDir(filepath.Join(feedDir, ClaimedDir))
}

// freeName returns dir/name, or dir/<stem>-N<ext> when that name is taken, so that a
// second file of the same name never overwrites the first. A report without its file
// does not block the name: it is the leftover of a crash between writing the report
// and moving this same file, and is rewritten or kept.
func freeName(dir, name string) (string, error) {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 0; i < 100000; i++ {
		n := name
		if i > 0 {
			n = stem + "-" + strconv.Itoa(i) + ext
		}
		p := filepath.Join(dir, n)
		if !exists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free name for %s in %s", name, dir)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

const (
	errorsSuffix = ".errors.txt" // beside a processed file: its rejected records
	errorSuffix  = ".error.txt"  // beside a failed file: why it could not be read
)

// retire moves a claimed file into dest (processed/ or failed/) under a free name, with
// an optional report written beside it first, so that a crash in between leaves the
// report and a file that will be retired again under the same name.
func retire(claimed, destDir, name, reportSuffix, report string) (string, error) {
	dst, err := freeName(destDir, name)
	if err != nil {
		return "", err
	}
	if report != "" {
		if err := writeFileAtomic(dst+reportSuffix, []byte(report)); err != nil {
			return "", err
		}
	}
	// Retention of processed files counts from when they were processed, not from
	// the exporter's mtime (which cp -p or rsync may carry from long ago).
	now := time.Now()
	_ = os.Chtimes(claimed, now, now)
	if err := os.Rename(claimed, dst); err != nil {
		return "", fmt.Errorf("move %s to %s: %w", filepath.Base(claimed), destDir, err)
	}
	return dst, syncDir(destDir)
}

// writeFileAtomic writes via a dot-named temporary file and rename so a report is
// either absent or complete.
func writeFileAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// syncDir makes a rename durable: without it a power cut can undo the move of a file
// whose records are already committed (harmless, they dedup) or, worse, of a claim.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// digestFile returns the sha256 of a file (hex) and its size.
func digestFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("digest %s: %w", filepath.Base(path), err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// lockDrop takes an exclusive advisory lock on the drop directory: two ingesters on the
// same drop directory would re-process each other's claimed files as crash leftovers.
func lockDrop(dropDir string) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dropDir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock drop dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("drop dir %s is in use by another irm process", dropDir)
		}
		return nil, fmt.Errorf("lock drop dir: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// retireOld removes processed files (and their error reports) older than the given
// number of days; failed files stay until an operator deals with them.
func retireOld(processedDir string, days int, now time.Time) (int, error) {
	if days <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
	ents, err := os.ReadDir(processedDir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(processedDir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}
