package ingest

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"irm/event"
)

// Run ingests until ctx is done: files left claimed by a crash first, then everything
// present, then whatever arrives. When ctx ends it takes no new file and finishes the
// one in hand (up to Options.StopGrace). fsnotify only makes arrival fast; the periodic
// rescan is what guarantees that every file is seen (inotify drops events on overflow
// and does not work on network file systems). It returns nil when ctx is cancelled.
func (in *Ingester) Run(ctx context.Context) error {
	release, err := lockDrop(in.opt.DropDir)
	if err != nil {
		return err
	}
	defer release()
	in.resetCounters()
	stopProgress := in.startProgress(time.Now())
	defer stopProgress()
	defer in.startNotifier()()

	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	// The watch goes in before the first scan so that a file arriving in between is
	// seen by one or the other.
	stopWatch := in.watch(ctx, poke)
	defer stopWatch()

	in.retireProcessed()
	lastRetire := time.Now()
	rescan := time.NewTicker(in.opt.Rescan)
	defer rescan.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()

	hard, release := drainContext(ctx, in.opt.StopGrace)
	defer release()
	recovered := false
	for {
		if ctx.Err() != nil {
			return nil
		}
		wait, err := in.pass(ctx, hard, &recovered)
		if err != nil && ctx.Err() == nil {
			// A store or file-system error: the file stays claimed and is retried on
			// the next rescan rather than spinning on it.
			in.log.Error("ingest pass failed; retrying at next rescan", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-rescan.C:
			}
			continue
		}
		if wait > 0 {
			settle.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case <-settle.C:
		case <-rescan.C:
			if time.Since(lastRetire) > time.Hour {
				in.retireProcessed()
				lastRetire = time.Now()
			}
		}
	}
}

// pass re-runs claimed leftovers (once per Run, or again after an error) and ingests
// every ready file; it returns how long until a settling file is due.
func (in *Ingester) pass(ctx, hard context.Context, recovered *bool) (time.Duration, error) {
	if !*recovered {
		if err := in.recoverClaimed(ctx, hard); err != nil {
			return 0, err
		}
		*recovered = true
	}
	ready, wait, err := in.scan()
	if err != nil {
		return 0, err
	}
	if err := in.processAll(ctx, hard, ready); err != nil {
		*recovered = false // the failed file is still claimed
		return 0, err
	}
	return wait, nil
}

// watch starts fsnotify on every feed directory and calls poke when a file may have
// arrived. Without inotify (limits reached, unsupported file system) Run still works
// by rescanning, so a failure here is only logged.
func (in *Ingester) watch(ctx context.Context, poke func()) (stop func()) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		in.log.Warn("fsnotify unavailable; relying on periodic rescans", "err", err)
		return func() {}
	}
	for _, f := range event.Feeds {
		if err := w.Add(filepath.Join(in.opt.DropDir, f)); err != nil {
			in.log.Warn("fsnotify watch failed; relying on periodic rescans", "feed", f, "err", err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				// Create covers rename-into-place; Write and Chmod cover exporters that
				// write in place (the settle timer then decides when it is complete).
				if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Chmod) != 0 && !ignored(filepath.Base(ev.Name)) {
					poke()
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				if errors.Is(err, fsnotify.ErrEventOverflow) {
					in.log.Warn("fsnotify queue overflow; rescanning")
				} else {
					in.log.Warn("fsnotify error; rescanning", "err", err)
				}
				poke()
			}
		}
	}()
	return func() {
		w.Close()
		<-done
	}
}
