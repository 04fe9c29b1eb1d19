package dsl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Reloader keeps the current RuleSet for the built-ins plus the user's rules directory,
// and rebuilds the whole set when a file there changes. A change that does not compile
// leaves the last good set active; LastError says why (and it is logged).
type Reloader struct {
	builtin fs.FS
	dir     string
	opt     Options

	cur     atomic.Pointer[RuleSet]
	mu      sync.Mutex
	lastErr error
	lastSum string // fingerprint of the directory the current attempt was built from
	subs    []func(*RuleSet)
	files   map[string][]byte // the directory's files at the latest attempt, by base name
	changes []func(Change)

	// good are the directory's files behind Current() (none when it holds the built-ins
	// alone), for compiling the current rules again with other options (tests).
	good map[string][]byte
	// reloading serialises reload attempts and saves, so that a file saved through Save
	// is compiled, written and reloaded as one step: the watcher cannot reload it first
	// and report it as a change found on disk.
	reloading sync.Mutex
}

// Change is a reload attempt over a rules directory whose files differ from the
// previous attempt's: the files before and after (base name -> contents), and Err, nil
// when the new files compiled and are active, else why they were rejected (the previous
// rules stay active). The audit log records every Change.
type Change struct {
	Old, New map[string][]byte
	Err      error
	// Actor is who made the change through Save (an account of the web UI); "" for a
	// change found in the directory, made by whoever can write there.
	Actor string
}

// NewReloader loads the rules. If the user's files do not compile, it starts with the
// built-in rules alone and reports the problem through LastError (so a typo in a rule
// file does not keep the appliance from starting); an error is returned only when the
// built-ins themselves fail.
func NewReloader(builtin fs.FS, userDir string, opt Options) (*Reloader, error) {
	r := &Reloader{builtin: builtin, dir: userDir, opt: opt}
	if r.opt.Debounce <= 0 {
		r.opt.Debounce = 300 * time.Millisecond
	}
	if r.opt.Poll <= 0 {
		r.opt.Poll = 5 * time.Second
	}
	r.lastSum = r.fingerprint()
	r.files = r.readFiles()
	r.good = r.files
	rs, err := Load(builtin, userDir, opt)
	if err != nil {
		base, berr := Load(builtin, "", opt)
		if berr != nil {
			return nil, berr
		}
		r.lastErr = err
		r.good = map[string][]byte{}
		opt.logger().Error("rules: user rules do not compile; running with the built-in rules only", "dir", userDir, "err", err)
		rs = base
	}
	r.cur.Store(rs)
	return r, nil
}

// Current returns the active RuleSet.
func (r *Reloader) Current() *RuleSet { return r.cur.Load() }

// LastError returns the error of the latest reload attempt, nil if it succeeded.
func (r *Reloader) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// OnReload registers fn to be called with each new RuleSet after a successful reload
// (from the Run goroutine).
func (r *Reloader) OnReload(fn func(*RuleSet)) {
	r.mu.Lock()
	r.subs = append(r.subs, fn)
	r.mu.Unlock()
}

// OnChange registers fn to be called after each reload attempt whose files differ from
// the previous attempt's, accepted or rejected (from the Run goroutine, or the caller of
// Reload).
func (r *Reloader) OnChange(fn func(Change)) {
	r.mu.Lock()
	r.changes = append(r.changes, fn)
	r.mu.Unlock()
}

// Files returns the rules directory's files as of the latest load attempt, by base name.
func (r *Reloader) Files() map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.files)
}

// Reload rebuilds the set now. On success the new set becomes current and the
// subscribers are called; on failure the current set stays and the error is returned.
// Either way, if the files changed, the OnChange subscribers are called.
func (r *Reloader) Reload() error {
	r.reloading.Lock()
	defer r.reloading.Unlock()
	return r.reload("")
}

// reloadIfChanged reloads unless the directory is as the latest attempt found it (a
// Save may have reloaded it since the watcher noticed the change).
func (r *Reloader) reloadIfChanged() {
	r.reloading.Lock()
	defer r.reloading.Unlock()
	r.mu.Lock()
	changed := r.fingerprint() != r.lastSum
	r.mu.Unlock()
	if changed {
		_ = r.reload("")
	}
}

// reload is Reload with r.reloading held; actor is passed on to the OnChange
// subscribers.
func (r *Reloader) reload(actor string) error {
	sum := r.fingerprint()
	files := r.readFiles()
	rs, err := Load(r.builtin, r.dir, r.opt)
	r.mu.Lock()
	r.lastSum = sum
	r.lastErr = err
	if err == nil {
		r.good = files
	}
	subs := append([]func(*RuleSet){}, r.subs...)
	old := r.files
	r.files = files
	var changes []func(Change)
	if !maps.EqualFunc(old, files, bytes.Equal) {
		changes = append(changes, r.changes...)
	}
	r.mu.Unlock()
	for _, fn := range changes {
		fn(Change{Old: maps.Clone(old), New: maps.Clone(files), Err: err, Actor: actor})
	}
	log := r.opt.logger()
	if err != nil {
		log.Error("rules: reload failed; the previous rules stay active", "dir", r.dir, "err", err)
		return err
	}
	r.cur.Store(rs)
	log.Info("rules: reloaded", "dir", r.dir, "indicators", len(rs.indOrder), "sequences", len(rs.seqOrder), "templates", len(rs.tmplOrder))
	for _, fn := range subs {
		fn(rs)
	}
	return nil
}

// Run watches the rules directory until ctx is done. Changes are debounced; the
// directory is also re-checked every Options.Poll in case a notification was lost or
// the directory appeared after start.
func (r *Reloader) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	watching := false
	watch := func() {
		if watching || r.dir == "" {
			return
		}
		if err := w.Add(r.dir); err == nil {
			watching = true
		}
	}
	watch()
	poll := time.NewTicker(r.opt.Poll)
	defer poll.Stop()
	var debounce *time.Timer
	var fire <-chan time.Time
	kick := func() {
		if debounce == nil {
			debounce = time.NewTimer(r.opt.Debounce)
		} else {
			debounce.Reset(r.opt.Debounce)
		}
		fire = debounce.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("rules: watcher closed")
			}
			if filepath.Ext(ev.Name) == ".toml" || ev.Name == r.dir {
				kick()
			}
			if ev.Name == r.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				watching = false
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("rules: watcher closed")
			}
			// Overflow or similar: the poll below catches up.
			r.opt.logger().Warn("rules: watch error", "dir", r.dir, "err", err)
			kick()
		case <-poll.C:
			watch()
			r.mu.Lock()
			changed := r.fingerprint() != r.lastSum
			r.mu.Unlock()
			if changed {
				kick()
			}
		case <-fire:
			fire = nil
			r.reloadIfChanged()
		}
	}
}

// readFiles reads the *.toml files of the directory (those Load reads), by base name.
func (r *Reloader) readFiles() map[string][]byte {
	out := map[string][]byte{}
	paths, _ := userFiles(r.dir)
	for _, f := range paths {
		if b, err := os.ReadFile(f); err == nil {
			out[filepath.Base(f)] = b
		}
	}
	return out
}

// fingerprint hashes the names and contents of the *.toml files in the directory, so
// that only real changes cause a rebuild (editors touch files without changing them).
func (r *Reloader) fingerprint() string {
	files, err := userFiles(r.dir)
	if err != nil {
		return "error:" + err.Error()
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		h.Write([]byte(f))
		h.Write([]byte{0})
		s := sha256.Sum256(b)
		h.Write(s[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
