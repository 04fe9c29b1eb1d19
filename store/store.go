// Package store keeps everything irm persists in one embedded Badger v4 database: events
// by user and by time, per-user profiles, the ledger of ingested files, the audit log, and
// (in files owned by engine and ui) settings, policies, alerts, cases and accounts.
//
// Key layout (docs/store.md has the full table):
//
//	e/<user>/<time 8 bytes BE>/<id>  -> event value (codec.go), TTL = retention
//	t/<time 8 bytes BE>/<id>/<user>  -> empty, TTL = retention
//	p/<user>                         -> event.Profile JSON (never expires)
//	f/<sha256 hex>                   -> FileRecord JSON (never expires)
//	m/stats/<feed>                   -> events added from the feed, uint64 BE
//	m/audit-head                     -> seq and hash of the newest audit entry
//	aud/<seq 8 bytes BE>             -> AuditEntry JSON (audit.go)
//
// An event's identity is (user, time, id), its e/ key: deduplication looks that key up.
package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"irm/event"
)

var (
	// ErrNotFound is returned by lookups of a single record that is not stored.
	ErrNotFound = errors.New("not found")
	// ErrStop may be returned by an iteration callback to end the iteration early; the
	// iterating function then returns nil.
	ErrStop = errors.New("stop iteration")
	// ErrLocked is returned (as a *LockedError) by Open when another process holds the
	// database: Badger allows one process per data directory.
	ErrLocked = errors.New("data dir in use by another process")
)

// LockedError says which data directory is held, and by which process when Badger's
// pid file tells.
type LockedError struct {
	Dir string
	PID int // 0 = unknown
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("data dir %s is in use by another irm process (pid %d)", e.Dir, e.PID)
	}
	return fmt.Sprintf("data dir %s is in use by another irm process", e.Dir)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Options configure Open.
type Options struct {
	InMemory      bool         // tests that do not need a dir
	RetentionDays int          // event TTL; 0 = keep forever
	Logger        *slog.Logger // nil = discard
	// AuditKeyFile holds the per-installation secret that keys the audit chain; it must
	// be outside dir and is created (mode 0600) when missing. "" = "<dir>.audit-key",
	// beside the data directory. In memory the key is random per process.
	AuditKeyFile string
}

// DB is the irm database. All methods are safe for concurrent use.
type DB struct {
	bdb *badger.DB
	opt Options
	log *slog.Logger
	dir string // "" in memory

	// commitMu serialises WriteEvents: deduplication reads the e/ keys before writing
	// them, which is only sound with one writer, and the per-feed counters are kept in
	// memory between commits.
	commitMu sync.Mutex
	statsMu  sync.Mutex        // guards stats for readers; writers also hold commitMu
	stats    map[string]uint64 // events added per feed; mirrors m/stats/<feed>
	arena    []byte            // encoding buffer reused by CommitEvents

	auditMu      sync.Mutex // serialises AppendAudit so the hash chain has one tail
	auditKey     []byte     // HMAC key of the audit chain (auditkey.go)
	auditKeyFile string

	files *fileSyncer // nil in memory

	// filter answers "certainly not stored" for most new event IDs (idfilter.go);
	// nextFilter is one being built. Both are guarded by commitMu.
	filter, nextFilter *idFilter

	maintainCtx  context.Context // cancelled by Close
	stopMaintain context.CancelFunc
	bg           sync.WaitGroup // background goroutines, waited for by Close
}

// Memory budget (docs/store.md): memtables 3 x 16 MiB = 48 MiB, no block cache (SST blocks
// are uncompressed and read straight from the mmap), index/bloom cache 16 MiB, table-builder
// buffers for flushes and 2 compactors (Badger pools up to 8), the event-ID filter (4-32
// MiB). Measured live heap: ~100 MiB after 300,000 events, ~220 MiB after 1,000,000; the
// process should run with GOMEMLIMIT so GC headroom does not double that. Mapped file
// pages are dropped from the resident set after each commit (releaseMapped).
const (
	memTableSize     = 16 << 20
	numMemtables     = 3
	indexCacheSize   = 16 << 20  // bounds index and bloom-filter memory as the data grows
	valueLogFileSize = 128 << 20 // small files let value-log GC reclaim expired events sooner
	valueThreshold   = 256       // event values (~600 B with Raw) go to the value log, written once
	gcInterval       = 10 * time.Minute
	releaseInterval  = 30 * time.Second
)

func badgerOptions(dir string, opt Options, log *slog.Logger) badger.Options {
	bo := badger.DefaultOptions(dir).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		// L0 tables live on disk, not in memory; 5 before compaction (Badger's default)
		// measured ~8% less ingest CPU than 3, because each L0->L1 compaction of random
		// keys rewrites all of L1 and does so less often.
		WithNumLevelZeroTables(5).
		WithNumLevelZeroTablesStall(15).
		WithNumCompactors(2).
		WithIndexCacheSize(indexCacheSize).
		WithValueLogFileSize(valueLogFileSize).
		WithValueThreshold(valueThreshold).
		// The LSM holds only keys and small values; compressing them cost ~6% of ingest CPU
		// (Snappy on flush and compaction, decode on dedup lookups) to save ~10% of disk.
		// Without compression a block cache is pure overhead (Badger's option docs).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithNumGoroutines(2).
		// Durability comes from DB.Sync at the end of each commit (CommitEvents, LedgerPut,
		// AppendAudit) rather than a sync on every write request (sync.go).
		WithSyncWrites(false).
		WithLogger(badgerLogger{log})
	if opt.InMemory {
		// In-memory mode has no value log, so every value must fit under the threshold.
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("").WithValueThreshold(1 << 20)
	}
	return bo
}

// Open opens (creating if needed) the database in dir.
func Open(dir string, opt Options) (*DB, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.RetentionDays < 0 {
		return nil, fmt.Errorf("open store: negative retention %d days", opt.RetentionDays)
	}
	bdb, err := badger.Open(badgerOptions(dir, opt, log))
	if err != nil {
		if !opt.InMemory {
			if lerr := lockedBy(dir); lerr != nil {
				return nil, lerr
			}
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	db := &DB{bdb: bdb, opt: opt, log: log}
	if !opt.InMemory {
		db.dir = dir
	}
	if err := db.checkFormat(db.dir); err != nil {
		bdb.Close()
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if err := db.loadStats(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	newKey := false
	if opt.InMemory {
		db.auditKey = make([]byte, auditKeyLen)
		rand.Read(db.auditKey)
	} else {
		db.auditKeyFile = opt.AuditKeyFile
		if db.auditKeyFile == "" {
			db.auditKeyFile = defaultAuditKeyFile(dir)
		}
		if db.auditKey, newKey, err = loadAuditKey(db.auditKeyFile, dir); err != nil {
			bdb.Close()
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	if !opt.InMemory {
		// /proc/self/maps names files by absolute, resolved path (releaseMapped).
		abs, err := filepath.Abs(dir)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			bdb.Close()
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
		db.files = &fileSyncer{dir: abs}
	}
	if newKey {
		if err := db.resignLegacyAudit(); err != nil {
			bdb.Close()
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
	}
	db.maintainCtx, db.stopMaintain = context.WithCancel(context.Background())
	if !opt.InMemory {
		db.bg.Add(1)
		go db.maintain(db.maintainCtx)
	}
	db.commitMu.Lock()
	db.startFilterBuild(0)
	db.commitMu.Unlock()
	return db, nil
}

// maintain runs in the background while the database is open. It reclaims value-log space
// held by expired and overwritten values, which Badger never does on its own (and event
// values live in the value log, see valueThreshold), and it keeps pages that reads and
// other packages' writes mapped in out of the resident set (releaseMapped).
func (db *DB) maintain(ctx context.Context) {
	defer db.bg.Done()
	gc := time.NewTicker(gcInterval)
	defer gc.Stop()
	rss := time.NewTicker(releaseInterval)
	defer rss.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-rss.C:
			if err := releaseMapped(db.files.dir); err != nil {
				db.log.Debug("release mapped pages", "err", err)
			}
		case <-gc.C:
			n := 0
			for ctx.Err() == nil && db.bdb.RunValueLogGC(0.5) == nil {
				n++
			}
			if n > 0 {
				db.log.Info("value log GC", "files_rewritten", n)
			}
		}
	}
}

// Close flushes and closes the database.
func (db *DB) Close() error {
	db.stopMaintain()
	db.bg.Wait()
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Badger returns the underlying Badger database, for store files written by other helpers
// (settings, policies, alerts, cases, accounts) only.
func (db *DB) Badger() *badger.DB { return db.bdb }

// Sync makes every write committed so far durable (survive a power cut), including writes
// that Badger has already rotated out of its active log files (see fileSyncer).
func (db *DB) Sync() error {
	if err := db.bdb.Sync(); err != nil {
		return fmt.Errorf("sync store: %w", err)
	}
	if db.files != nil {
		if err := db.files.sync(); err != nil {
			return fmt.Errorf("sync store: %w", err)
		}
	}
	return nil
}

// badgerLogger routes Badger's own logging to slog. Badger's Info lines (table opened,
// compaction done) are routine, so they are logged at Debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) {
	b.log(slog.LevelWarn, f, a)
}
func (b badgerLogger) Infof(f string, a ...any)  { b.log(slog.LevelDebug, f, a) }
func (b badgerLogger) Debugf(f string, a ...any) { b.log(slog.LevelDebug-4, f, a) }

func (b badgerLogger) log(level slog.Level, f string, a []any) {
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return
	}
	msg := fmt.Sprintf(f, a...)
	for len(msg) > 0 && (msg[len(msg)-1] == '\n' || msg[len(msg)-1] == ' ') {
		msg = msg[:len(msg)-1]
	}
	b.l.Log(ctx, level, msg, "component", "badger")
}

// ---- ledger ----

// FileRecord is the ledger entry of one drop file (key f/<sha256 hex>).
type FileRecord struct {
	Digest     string    `json:"digest"` // sha256 of the file content, hex
	Feed       string    `json:"feed"`
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished,omitzero"` // zero while in progress
	Records    int       `json:"records"`
	Added      int       `json:"added"`
	Duplicates int       `json:"duplicates"`
	Rejected   int       `json:"rejected"`
	Errors     []string  `json:"errors,omitempty"` // first 100 rejection lines, "line 12: bad CreationTime: ..."
	Failed     string    `json:"failed,omitempty"` // non-empty: the whole file failed, why
}

func ledgerKey(digest string) []byte { return append([]byte(prefixLedger), digest...) }

// LedgerGet returns the ledger entry of the file with this digest.
func (db *DB) LedgerGet(digest string) (FileRecord, bool, error) {
	var rec FileRecord
	found := false
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(ledgerKey(digest))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &rec) })
	})
	if err != nil {
		return FileRecord{}, false, fmt.Errorf("ledger get %s: %w", digest, err)
	}
	return rec, found, nil
}

// LedgerPut stores (replacing) the ledger entry rec.Digest and returns once it is synced.
func (db *DB) LedgerPut(rec FileRecord) error {
	if rec.Digest == "" {
		return errors.New("ledger put: empty digest")
	}
	v, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("ledger put %s: %w", rec.Digest, err)
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(ledgerKey(rec.Digest), v) }); err != nil {
		return fmt.Errorf("ledger put %s: %w", rec.Digest, err)
	}
	if err := db.Sync(); err != nil {
		return fmt.Errorf("ledger put %s: %w", rec.Digest, err)
	}
	return nil
}

// ledgerScan calls fn for every ledger entry, in digest order.
func (db *DB) ledgerScan(fn func(rec *FileRecord) error) error {
	return db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: []byte(prefixLedger)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec FileRecord
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("ledger entry %q: %w", it.Item().Key(), err)
			}
			if err := fn(&rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// LedgerList returns the ledger entries of a feed ("" = all feeds), newest start first,
// at most limit of them (limit <= 0 = all).
func (db *DB) LedgerList(feed string, limit int) ([]FileRecord, error) {
	var out []FileRecord
	err := db.ledgerScan(func(rec *FileRecord) error {
		if feed == "" || rec.Feed == feed {
			out = append(out, *rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger list %q: %w", feed, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].Name < out[j].Name
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// FeedStat summarises one feed.
type FeedStat struct {
	Feed        string    `json:"feed"`
	Events      uint64    `json:"events"`             // events added from this feed, ever (expiry does not subtract)
	Files       int       `json:"files"`              // files in the ledger
	FailedFiles int       `json:"failed_files"`       // files that could not be read at all
	InProgress  int       `json:"in_progress"`        // files started but not finished
	Records     int64     `json:"records"`            // good records parsed, over all files
	Duplicates  int64     `json:"duplicates"`         // records already stored
	Rejected    int64     `json:"rejected"`           // records rejected, over all files
	LastFile    time.Time `json:"last_file,omitzero"` // newest Finished (or Started) in the ledger
}

// FeedStats returns a FeedStat for every known feed (event.Feeds, plus any other feed seen).
// Event counts come from counters maintained by CommitEvents; file counts from the ledger.
func (db *DB) FeedStats() (map[string]FeedStat, error) {
	out := make(map[string]FeedStat, len(event.Feeds))
	for _, f := range event.Feeds {
		out[f] = FeedStat{Feed: f}
	}
	db.statsMu.Lock()
	for f, n := range db.stats {
		s := out[f]
		s.Feed, s.Events = f, n
		out[f] = s
	}
	db.statsMu.Unlock()
	err := db.ledgerScan(func(rec *FileRecord) error {
		s := out[rec.Feed]
		s.Feed = rec.Feed
		s.Files++
		if rec.Failed != "" {
			s.FailedFiles++
		} else if rec.Finished.IsZero() {
			s.InProgress++
		}
		s.Records += int64(rec.Records)
		s.Duplicates += int64(rec.Duplicates)
		s.Rejected += int64(rec.Rejected)
		last := rec.Finished
		if last.IsZero() {
			last = rec.Started
		}
		if last.After(s.LastFile) {
			s.LastFile = last
		}
		out[rec.Feed] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feed stats: %w", err)
	}
	return out, nil
}

// ---- backup ----

// Backup writes a full, consistent backup of the whole database (every prefix, including
// other packages' keys) to w. It can run while the database is in use.
func (db *DB) Backup(w io.Writer) error {
	if _, err := db.bdb.Backup(w, 0); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// Restore loads a backup written by Backup. The database must be empty: restoring over
// existing data would mix two histories (and break the audit chain). Nothing else may use
// the database while it runs (Badger's Load is not safe beside other transactions).
func (db *DB) Restore(r io.Reader) error {
	// Badger's Load must not run beside other transactions, such as an ID-filter build.
	for {
		db.commitMu.Lock()
		next := db.nextFilter
		if next == nil {
			break
		}
		db.commitMu.Unlock()
		<-next.built
	}
	defer db.commitMu.Unlock()
	db.auditMu.Lock()
	defer db.auditMu.Unlock()
	empty, err := db.isEmpty()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if !empty {
		return errors.New("restore: the database is not empty; restore into a new data directory")
	}
	// The backup says its own format version (none: written before versions were kept).
	// Load keeps the backup's own key versions, so the version stamped at Open must be
	// gone, not shadowed by a newer tombstone.
	if err := db.bdb.DropAll(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The restored IDs are in no filter: drop the filters until a new one is built.
	db.filter, db.nextFilter = nil, nil
	defer db.startFilterBuild(0)
	if err := db.bdb.Load(r, 256); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	v, _, err := db.readFormat()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if v > FormatVersion {
		return &FormatError{Dir: db.dir, Version: v, Supported: FormatVersion, FromBackup: true}
	}
	if v < FormatVersion {
		// The backup being restored is itself the copy of the old format.
		if err := db.migrate(v, db.dir); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := db.Sync(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := db.loadStatsLocked(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// CheckLocked returns a *LockedError when another process holds the data directory dir,
// else nil, without opening (or creating) anything.
func CheckLocked(dir string) error { return lockedBy(dir) }

// lockedBy returns a *LockedError when another process holds dir's lock (Badger takes
// an exclusive flock on the directory and writes its pid to dir/LOCK), else nil.
func lockedBy(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return nil
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return nil
	}
	e := &LockedError{Dir: dir}
	if b, err := os.ReadFile(filepath.Join(dir, "LOCK")); err == nil {
		e.PID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return e
}
