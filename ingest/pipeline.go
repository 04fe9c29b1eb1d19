package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"irm/event"
	"irm/store"
)

// Options configure an Ingester.
type Options struct {
	DropDir           string        // holds one directory per feed
	Parse             ParseOptions  // passed to Parse for every file
	Rescan            time.Duration // full rescan interval in Run; 0 = 10s
	Settle            time.Duration // a file is taken once unmodified this long; 0 = at once
	KeepProcessedDays int           // processed files older than this are removed; 0 = keep
	Logger            *slog.Logger  // nil = discard
	Progress          io.Writer     // nil = none; else a progress line every 2s while busy
	BatchSize         int           // events per store commit; 0 = 5000
	// OnFile (may be nil) is told about every file done with: ingested, failed, or a
	// duplicate of one already ingested. Called from the ingester's goroutines, serially.
	OnFile func(FileResult)
	// StopGrace is how long, once the context of Run or Once is cancelled, the file in
	// hand may take to finish (no new file is taken) before ingest stops at a batch
	// boundary and leaves it claimed for the next start. 0 = 20 s.
	StopGrace time.Duration
}

// FileResult is what became of one drop file.
type FileResult struct {
	Feed, Name                           string
	Records, Added, Duplicates, Rejected int
	Failed                               bool // moved to failed/: not readable as its feed
	DuplicateFile                        bool // the same content was ingested before
	// Arrived is the file's modification time when it was claimed: when the exporter
	// finished writing it (a rename into place keeps it). Done is when its records were
	// stored and the file moved.
	Arrived, Done time.Time
}

// DefaultStopGrace is StopGrace's default.
const DefaultStopGrace = 20 * time.Second

// drainContext returns a context that ends grace after ctx does. The ingester stops
// taking files when ctx ends and parses the file in hand under the returned context,
// so that a graceful stop finishes it rather than leaving it half ingested.
func drainContext(ctx context.Context, grace time.Duration) (context.Context, func()) {
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return hard, func() { stop(); cancel() }
}

// Summary counts what a run of the ingester did.
type Summary struct {
	Files          int // files moved to processed/ (including duplicate files)
	DuplicateFiles int // of those, files whose digest was already in the ledger
	FailedFiles    int // files moved to failed/
	Records        int // good records parsed
	Added          int // records stored as new events
	Duplicates     int // records whose event was already stored
	Rejected       int // records rejected (listed in the files' error reports)
	Elapsed        time.Duration
}

func (s Summary) String() string {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Records) / s.Elapsed.Seconds()
	}
	return fmt.Sprintf("%d files (%d duplicate, %d failed), %d records: %d added, %d duplicate, %d rejected in %s (%.0f records/s)",
		s.Files+s.FailedFiles, s.DuplicateFiles, s.FailedFiles, s.Records, s.Added, s.Duplicates, s.Rejected,
		s.Elapsed.Round(time.Millisecond), rate)
}

// Ingester moves drop files through claim → parse → commit → processed/failed.
// Once and Run must not be called concurrently.
type Ingester struct {
	db  *store.DB
	opt Options
	log *slog.Logger

	mu   sync.Mutex
	subs []func(added []event.Event)
	// toNotify carries committed batches to the goroutine that calls the subscribers,
	// so that evaluating one batch overlaps committing the next.
	toNotify chan []event.Event

	// Counters of the current Once/Run, read by the progress printer.
	files, records, added, dups, rejected, failed, dupFiles atomic.Int64
}

// New prepares the drop directories: <drop>/<feed>/ with processed/, failed/ and the
// claim directory for every feed.
func New(db *store.DB, opt Options) (*Ingester, error) {
	if db == nil {
		return nil, errors.New("ingest: nil store")
	}
	if opt.DropDir == "" {
		return nil, errors.New("ingest: no drop directory")
	}
	if opt.Rescan <= 0 {
		opt.Rescan = 10 * time.Second
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 5000
	}
	if opt.StopGrace <= 0 {
		opt.StopGrace = DefaultStopGrace
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	for _, f := range event.Feeds {
		if err := makeFeedDirs(opt.DropDir, f); err != nil {
			return nil, err
		}
	}
	return &Ingester{db: db, opt: opt, log: opt.Logger}, nil
}

func makeFeedDirs(drop, feed string) error {
	for _, d := range []string{"", ProcessedDir, FailedDir, ClaimedDir} {
		if err := os.MkdirAll(filepath.Join(drop, feed, d), 0o755); err != nil {
			return fmt.Errorf("ingest: create drop directory: %w", err)
		}
	}
	return nil
}

// OnCommit registers fn to be called after each committed (synced) batch with the
// events that were new. Calls are serial and in commit order, from one goroutine of the
// ingester, while the next batch is being committed; Once returns (and Run stops) only
// after every batch has been delivered. fn must not keep a reference it then modifies:
// other subscribers see the same slice.
func (in *Ingester) OnCommit(fn func(added []event.Event)) {
	in.mu.Lock()
	in.subs = append(in.subs, fn)
	in.mu.Unlock()
}

// notify hands a committed batch to the subscribers. The queue is short so that a slow
// subscriber slows ingest down instead of piling up batches in memory.
func (in *Ingester) notify(added []event.Event) {
	if len(added) > 0 {
		in.toNotify <- added
	}
}

// startNotifier starts the goroutine that calls the OnCommit subscribers, one batch at a
// time in commit order; stop waits until every queued batch has been delivered.
func (in *Ingester) startNotifier() (stop func()) {
	ch := make(chan []event.Event, 2)
	in.toNotify = ch
	done := make(chan struct{})
	go func() {
		defer close(done)
		for added := range ch {
			in.mu.Lock()
			subs := in.subs
			in.mu.Unlock()
			for _, fn := range subs {
				fn(added)
			}
		}
	}()
	return func() { close(ch); <-done }
}

// Once ingests every file present in the drop directories (waiting for files that are
// still settling, and taking files that arrive meanwhile) and returns when none is left.
func (in *Ingester) Once(ctx context.Context) (Summary, error) {
	release, err := lockDrop(in.opt.DropDir)
	if err != nil {
		return Summary{}, err
	}
	defer release()
	start := time.Now()
	in.resetCounters()
	stop := in.startProgress(start)
	defer stop()
	// Deferred after the progress printer, so runs first: Once returns only when the
	// subscribers have seen every batch.
	defer in.startNotifier()()

	hard, release := drainContext(ctx, in.opt.StopGrace)
	defer release()
	in.retireProcessed()
	if err := in.recoverClaimed(ctx, hard); err != nil {
		return in.summary(start), err
	}
	for {
		ready, wait, err := in.scan()
		if err != nil {
			return in.summary(start), err
		}
		if len(ready) == 0 && wait == 0 {
			return in.summary(start), nil
		}
		if err := in.processAll(ctx, hard, ready); err != nil {
			return in.summary(start), err
		}
		if len(ready) == 0 {
			select {
			case <-ctx.Done():
				return in.summary(start), ctx.Err()
			case <-time.After(wait):
			}
		}
	}
}

func (in *Ingester) resetCounters() {
	for _, c := range []*atomic.Int64{&in.files, &in.records, &in.added, &in.dups, &in.rejected, &in.failed, &in.dupFiles} {
		c.Store(0)
	}
}

func (in *Ingester) summary(start time.Time) Summary {
	return Summary{
		Files: int(in.files.Load()), DuplicateFiles: int(in.dupFiles.Load()), FailedFiles: int(in.failed.Load()),
		Records: int(in.records.Load()), Added: int(in.added.Load()), Duplicates: int(in.dups.Load()),
		Rejected: int(in.rejected.Load()), Elapsed: time.Since(start),
	}
}

// startProgress prints a line every 2 seconds while records are flowing.
func (in *Ingester) startProgress(start time.Time) (stop func()) {
	if in.opt.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				recs := in.records.Load()
				if recs == last {
					continue
				}
				rate := float64(recs-last) / now.Sub(lastAt).Seconds()
				fmt.Fprintf(in.opt.Progress, "ingest: %d files, %d records (%d new, %d rejected), %.0f records/s\n",
					in.files.Load()+in.failed.Load(), recs, in.added.Load(), in.rejected.Load(), rate)
				last, lastAt = recs, now
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// scan lists the files that are ready in every feed, oldest first, and how long to
// wait for the next file that is still settling (0 when none is).
func (in *Ingester) scan() (ready []candidate, wait time.Duration, err error) {
	now := time.Now()
	for _, f := range event.Feeds {
		cs, err := scanFeed(filepath.Join(in.opt.DropDir, f), f)
		if errors.Is(err, fs.ErrNotExist) {
			// Removed by hand: recreate it so exporters can deliver again (the rescan,
			// not fsnotify, watches a recreated directory).
			in.log.Warn("drop directory missing; recreating it", "feed", f)
			err = makeFeedDirs(in.opt.DropDir, f)
		}
		if err != nil {
			return nil, 0, err
		}
		for _, c := range cs {
			// The drop protocol makes files appear complete; the settle time guards
			// exporters that write in place. mtime moves with every write, so "not
			// modified for Settle" is "size and mtime stable over Settle".
			if age := now.Sub(c.mtime); age < in.opt.Settle {
				if w := in.opt.Settle - age; wait == 0 || w < wait {
					wait = w
				}
				continue
			}
			ready = append(ready, c)
		}
	}
	sort.Slice(ready, func(i, j int) bool {
		a, b := ready[i], ready[j]
		if !a.mtime.Equal(b.mtime) {
			return a.mtime.Before(b.mtime)
		}
		if a.feed != b.feed {
			return a.feed < b.feed
		}
		return a.name < b.name
	})
	return ready, wait, nil
}

// processAll claims and ingests files in order. A file that vanished (taken by hand) is
// skipped; a store error stops the pass and leaves the file claimed for the next one.
// When ctx ends no further file is claimed; the file in hand is parsed under hard (see
// drainContext).
func (in *Ingester) processAll(ctx, hard context.Context, files []candidate) error {
	p := in.startCommitter()
	for _, c := range files {
		if err := ctx.Err(); err != nil {
			return p.stop(err)
		}
		feedDir := filepath.Join(in.opt.DropDir, c.feed)
		// Re-check just before claiming: the file may have been rewritten since the scan.
		fi, err := os.Lstat(filepath.Join(feedDir, c.name))
		if err != nil || fi.Size() != c.size || !fi.ModTime().Equal(c.mtime) {
			continue
		}
		path, err := claim(feedDir, c.name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return p.stop(err)
		}
		if err := in.ingestFile(hard, p, c.feed, path); err != nil {
			return p.stop(err)
		}
	}
	return p.stop(nil)
}

// recoverClaimed re-ingests files left in claim directories by a crash or a store
// error. Their records may be partly stored; dedup by event ID makes the re-run add
// exactly the missing ones.
func (in *Ingester) recoverClaimed(ctx, hard context.Context) error {
	p := in.startCommitter()
	for _, f := range event.Feeds {
		if err := ctx.Err(); err != nil {
			return p.stop(err)
		}
		dir := filepath.Join(in.opt.DropDir, f, ClaimedDir)
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			err = makeFeedDirs(in.opt.DropDir, f)
		}
		if err != nil {
			return p.stop(fmt.Errorf("ingest: %w", err))
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if err := ctx.Err(); err != nil {
				return p.stop(err)
			}
			in.log.Info("resuming claimed file", "feed", f, "file", e.Name())
			if err := in.ingestFile(hard, p, f, filepath.Join(dir, e.Name())); err != nil {
				return p.stop(err)
			}
		}
	}
	return p.stop(nil)
}

func (in *Ingester) retireProcessed() {
	for _, f := range event.Feeds {
		n, err := retireOld(filepath.Join(in.opt.DropDir, f, ProcessedDir), in.opt.KeepProcessedDays, time.Now())
		if err != nil {
			in.log.Warn("retire processed files", "feed", f, "err", err)
		} else if n > 0 {
			in.log.Info("retired processed files", "feed", f, "files", n, "older_than_days", in.opt.KeepProcessedDays)
		}
	}
}

// errStore marks an error from committing (not from the file's content): the file must
// stay claimed and be retried rather than be moved to failed/.
type errStore struct{ err error }

func (e *errStore) Error() string { return e.err.Error() }
func (e *errStore) Unwrap() error { return e.err }

// fileJob is one claimed file on its way through the committer.
type fileJob struct {
	feed, path, name string
	t0, arrived      time.Time
	rec              store.FileRecord
	counts           fileCounts
	rejects          []RecordError
	perr             error // the file's own fault: it goes to failed/
}

type fileCounts struct{ records, added, dups int }

// ingestFile takes one claimed file through digest → ledger → parse, handing its batches
// and then the file itself to the committer p, which writes and syncs the batches and then
// finishes the file (report, ledger, processed/ or failed/, see finishFile). It returns
// once the file is parsed, so the next file is parsed while this one is committed. It
// returns an error only for problems that are not the file's fault (store, file system,
// cancellation); the file then stays claimed.
func (in *Ingester) ingestFile(ctx context.Context, p *committer, feed, path string) error {
	name := filepath.Base(path)
	feedDir := filepath.Join(in.opt.DropDir, feed)
	t0 := time.Now()
	started := t0
	arrived := t0
	if fi, err := os.Stat(path); err == nil {
		arrived = fi.ModTime()
	}
	digest, size, err := digestFile(path)
	if err != nil {
		return fmt.Errorf("ingest %s/%s: %w", feed, name, err)
	}
	if p.inFlight(digest) {
		// The same content is still being committed under another name: let it finish, so
		// that this copy is recognised as a duplicate file.
		if err := p.drain(); err != nil {
			return err
		}
	}
	rec, found, err := in.db.LedgerGet(digest)
	if err != nil {
		return fmt.Errorf("ingest %s/%s: ledger: %w", feed, name, err)
	}
	if found && !rec.Finished.IsZero() && rec.Failed == "" && rec.Feed == feed {
		// Either dropped twice or a crash after the ledger write: nothing to add.
		dst, err := retire(path, filepath.Join(feedDir, ProcessedDir), name, "", "")
		if err != nil {
			return fmt.Errorf("ingest %s/%s: %w", feed, name, err)
		}
		in.files.Add(1)
		in.dupFiles.Add(1)
		in.report(FileResult{Feed: feed, Name: name, DuplicateFile: true, Arrived: arrived, Done: time.Now()})
		in.log.Info("duplicate file: already ingested", "feed", feed, "file", name, "moved_to", dst,
			"first_name", rec.Name, "first_finished", rec.Finished, "digest", digest)
		return nil
	}
	if found && rec.Finished.IsZero() && !rec.Started.IsZero() {
		started = rec.Started // resuming after a crash: keep the first start
	}
	job := &fileJob{feed: feed, path: path, name: name, t0: t0, arrived: arrived,
		rec: store.FileRecord{Digest: digest, Feed: feed, Name: name, Size: size, Started: started}}
	if err := in.db.LedgerPut(job.rec); err != nil {
		return fmt.Errorf("ingest %s/%s: ledger: %w", feed, name, err)
	}
	p.begin(digest)

	perr := in.parse(ctx, p, job)
	// A cancellation that arrives after the file is parsed does not stop the bookkeeping:
	// finishing is quicker than re-reading the whole file on the next start.
	if perr != nil && (errors.Is(perr, errCommitFailed) || ctx.Err() != nil || errors.Is(perr, errOpen)) {
		p.abandon(digest)
		if err := p.failed(); err != nil {
			return err
		}
		return fmt.Errorf("ingest %s/%s: %w", feed, name, perr)
	}
	job.perr = perr
	p.finish(job)
	return nil
}

var errOpen = errors.New("open")

func (in *Ingester) report(r FileResult) {
	if in.opt.OnFile != nil {
		in.opt.OnFile(r)
	}
}

// parse parses the file and hands its records to the committer in batches.
func (in *Ingester) parse(ctx context.Context, p *committer, job *fileJob) error {
	f, err := os.Open(job.path)
	if err != nil {
		return fmt.Errorf("%w: %w", errOpen, err)
	}
	defer f.Close()
	n := in.opt.BatchSize
	cur := make([]event.Event, 0, n)
	// ev.Raw points into the parser's read buffer; the raw records of a batch are copied
	// into chunks shared by the batch (one allocation per chunk instead of per record).
	// Chunks are never reused: subscribers may keep the events.
	var raw []byte
	emit := func(ev *event.Event) error {
		if p.failedFlag.Load() {
			return errCommitFailed
		}
		if len(raw)+len(ev.Raw) > cap(raw) {
			raw = make([]byte, 0, max(rawChunk, len(ev.Raw)))
		}
		start := len(raw)
		raw = append(raw, ev.Raw...)
		cur = append(cur, *ev)
		cur[len(cur)-1].Raw = raw[start:len(raw):len(raw)]
		job.counts.records++
		if len(cur) == n {
			if err := ctx.Err(); err != nil {
				return err
			}
			in.records.Add(int64(n))
			p.write(job, cur)
			cur = make([]event.Event, 0, n)
		}
		return nil
	}
	rejects, perr := Parse(job.feed, f, in.opt.Parse, emit)
	job.rejects = rejects
	if perr == nil && len(cur) > 0 {
		in.records.Add(int64(len(cur)))
		p.write(job, cur)
	}
	return perr
}

// finishFile records a file whose batches are all synced in the ledger and moves it to
// processed/ (or failed/ when the file as a whole could not be read), with its report.
func (in *Ingester) finishFile(job *fileJob) error {
	feed, name, rec, counts := job.feed, job.name, &job.rec, job.counts
	feedDir := filepath.Join(in.opt.DropDir, feed)
	rec.Finished = time.Now()
	rec.Records, rec.Added, rec.Duplicates, rec.Rejected = counts.records, counts.added, counts.dups, len(job.rejects)
	for i, r := range job.rejects {
		if i == 100 {
			break
		}
		rec.Errors = append(rec.Errors, r.Error())
	}
	if job.perr != nil {
		rec.Failed = job.perr.Error()
	}
	if err := in.db.LedgerPut(*rec); err != nil {
		return fmt.Errorf("ingest %s/%s: ledger: %w", feed, name, err)
	}

	if job.perr != nil {
		report := fmt.Sprintf("%s/%s: not ingested: %v\n", feed, name, job.perr)
		dst, err := retire(job.path, filepath.Join(feedDir, FailedDir), name, errorSuffix, report)
		if err != nil {
			return fmt.Errorf("ingest %s/%s: %w", feed, name, err)
		}
		in.failed.Add(1)
		in.report(FileResult{Feed: feed, Name: name, Records: counts.records, Added: counts.added, Duplicates: counts.dups,
			Rejected: len(job.rejects), Failed: true, Arrived: job.arrived, Done: rec.Finished})
		in.log.Warn("file failed", "feed", feed, "file", name, "moved_to", dst, "err", job.perr)
		return nil
	}
	var report strings.Builder
	for _, r := range job.rejects {
		report.WriteString(r.Error())
		report.WriteByte('\n')
	}
	dst, err := retire(job.path, filepath.Join(feedDir, ProcessedDir), name, errorsSuffix, report.String())
	if err != nil {
		return fmt.Errorf("ingest %s/%s: %w", feed, name, err)
	}
	in.files.Add(1)
	in.rejected.Add(int64(len(job.rejects)))
	in.report(FileResult{Feed: feed, Name: name, Records: counts.records, Added: counts.added, Duplicates: counts.dups,
		Rejected: len(job.rejects), Arrived: job.arrived, Done: rec.Finished})
	lvl := slog.LevelInfo
	if len(job.rejects) > 0 {
		lvl = slog.LevelWarn
	}
	in.log.Log(context.Background(), lvl, "file ingested", "feed", feed, "file", name, "records", counts.records,
		"added", counts.added, "duplicates", counts.dups, "rejected", len(job.rejects),
		"elapsed", time.Since(job.t0).Round(time.Millisecond), "moved_to", dst)
	return nil
}

// committer writes and syncs the batches of a pass's files on two goroutines, so that
// parsing (the caller's goroutine), writing batch N+1 (store.WriteEvents) and syncing
// batch N (DB.Sync) overlap, also across files: the next file is parsed while the last
// batches of this one are committed.
//
// Everything happens in the order it was handed over. A batch counts (and goes to the
// OnCommit subscribers) only once a sync that started after its write has returned, and a
// file is finished (ledger, processed/) only after all its batches have: so a file is
// retired only when its records survive a power cut. After a store error nothing more is
// written or finished; the files not finished stay claimed for the next pass.
type committer struct {
	in         *Ingester
	toWrite    chan commitItem
	toSync     chan commitItem
	done       chan struct{}
	failedFlag atomic.Bool

	mu       sync.Mutex
	err      error          // the first store error
	inflight map[string]int // digests of files handed over and not yet finished
}

// commitItem is a batch to write (batch != nil), a file to finish (file != nil, batch nil),
// or a marker to signal when everything before it is done (drained != nil).
type commitItem struct {
	file    *fileJob
	batch   []event.Event
	added   []event.Event
	drained chan struct{}
}

func (in *Ingester) startCommitter() *committer {
	p := &committer{in: in, toWrite: make(chan commitItem, 1), toSync: make(chan commitItem, 2),
		done: make(chan struct{}), inflight: map[string]int{}}
	go p.writer()
	go p.syncer()
	return p
}

func (p *committer) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.failedFlag.Store(true)
}

// failed returns the first store error, if any.
func (p *committer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *committer) write(job *fileJob, batch []event.Event) {
	p.toWrite <- commitItem{file: job, batch: batch}
}

func (p *committer) begin(digest string) {
	p.mu.Lock()
	p.inflight[digest]++
	p.mu.Unlock()
}

func (p *committer) abandon(digest string) {
	p.mu.Lock()
	if p.inflight[digest]--; p.inflight[digest] <= 0 {
		delete(p.inflight, digest)
	}
	p.mu.Unlock()
}

func (p *committer) inFlight(digest string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight[digest] > 0
}

// finish hands over a parsed file, to be finished after its batches are synced.
func (p *committer) finish(job *fileJob) { p.toWrite <- commitItem{file: job} }

// drain waits until everything handed over so far is done, and returns the store error
// if there was one.
func (p *committer) drain() error {
	ch := make(chan struct{})
	p.toWrite <- commitItem{drained: ch}
	<-ch
	return p.failed()
}

// stop waits for everything handed over to be done and ends the goroutines. It returns
// the first store error, else err.
func (p *committer) stop(err error) error {
	close(p.toWrite)
	<-p.done
	if ferr := p.failed(); ferr != nil {
		return ferr
	}
	return err
}

func (p *committer) writer() {
	defer close(p.toSync)
	for it := range p.toWrite {
		if it.batch != nil && !p.failedFlag.Load() {
			added, err := p.in.db.WriteEvents(it.batch)
			if err != nil {
				p.fail(&errStore{fmt.Errorf("ingest %s/%s: commit: %w", it.file.feed, it.file.name, err)})
			}
			it.added = added
		}
		p.toSync <- it
	}
}

func (p *committer) syncer() {
	defer close(p.done)
	var ready []commitItem
	for it := range p.toSync {
		// Take everything written meanwhile: one sync covers them all.
		ready = append(ready[:0], it)
	more:
		for {
			select {
			case it, ok := <-p.toSync:
				if !ok {
					break more
				}
				ready = append(ready, it)
			default:
				break more
			}
		}
		needSync := false
		for _, it := range ready {
			needSync = needSync || it.batch != nil
		}
		if needSync && !p.failedFlag.Load() {
			if err := p.in.db.Sync(); err != nil {
				p.fail(&errStore{fmt.Errorf("ingest: commit: %w", err)})
			}
		}
		for _, it := range ready {
			p.settle(it)
		}
	}
}

// settle counts a synced batch, finishes a file, or signals a drain.
func (p *committer) settle(it commitItem) {
	in := p.in
	switch {
	case it.drained != nil:
		close(it.drained)
	case p.failedFlag.Load():
		if it.batch == nil {
			p.abandon(it.file.rec.Digest)
		}
	case it.batch != nil:
		c := &it.file.counts
		c.added += len(it.added)
		c.dups += len(it.batch) - len(it.added)
		in.added.Add(int64(len(it.added)))
		in.dups.Add(int64(len(it.batch) - len(it.added)))
		in.notify(it.added)
	default:
		if err := in.finishFile(it.file); err != nil {
			p.fail(err)
		}
		p.abandon(it.file.rec.Digest)
	}
}

var errCommitFailed = errors.New("commit failed")

const rawChunk = 256 << 10
