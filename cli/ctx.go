package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"irm/account"
	"irm/config"
	"irm/dsl"
	"irm/engine"
	"irm/store"
)

// Ctx is what a command runs with. Run directly, it is this process: its streams, its
// files, its own store opened on demand. Inside serve (a forwarded command), the streams
// and files are the calling process's, carried over the control socket, and the store,
// engine, rules and config are the running appliance's.
type Ctx struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Actor is who the audit log records for a change made by this command:
	// cli:<OS user> of the calling process.
	Actor string

	ctx     context.Context
	files   fileAccess
	command string  // "policy import", for messages
	cfgPath *string // the -config flag
	// remoteOK: the running command may be forwarded to serve (from the table).
	remoteOK bool

	// Local mode: opened on demand, closed by close.
	cfg *config.Config
	db  *store.DB
	eng *engine.Engine
	rl  *dsl.Reloader

	server *served // non-nil inside serve

	// Local mode: what the command has done with the streams, so that a command is
	// never forwarded after it printed or read something.
	out, in *usage
}

// served is the running appliance a forwarded command works on.
type served struct {
	cfg   *config.Config
	db    *store.DB
	eng   *engine.Engine
	rules *dsl.Reloader
}

// fileAccess is the filesystem of the user running the command.
type fileAccess interface {
	ReadFile(path string) ([]byte, error)
	// WriteFileAtomic writes path as a whole: a temporary file beside it, synced, then
	// renamed; on error the old file (if any) is left. It returns the bytes written.
	WriteFileAtomic(path string, write func(w io.Writer) error) (int64, error)
	Abs(path string) string
}

func localCtx() *Ctx {
	out, in := &usage{w: os.Stdout}, &usage{r: os.Stdin}
	errw := &usage{w: os.Stderr}
	out.peer, errw.peer = errw, out
	return &Ctx{
		Stdin: in, Stdout: out, Stderr: errw, Actor: account.CLIActor(),
		ctx: context.Background(), files: osFiles{}, out: out, in: in,
	}
}

// usage wraps a standard stream and remembers that it was used.
type usage struct {
	w    io.Writer
	r    io.Reader
	used bool
	peer *usage
}

func (u *usage) Write(p []byte) (int, error) { u.used = true; return u.w.Write(p) }
func (u *usage) Read(p []byte) (int, error)  { u.used = true; return u.r.Read(p) }

func (c *Ctx) used() bool {
	return c.out != nil && (c.out.used || c.out.peer.used || c.in.used)
}

// Context is cancelled when the caller goes away (a forwarded command whose client
// disconnected) or serve shuts down.
func (c *Ctx) Context() context.Context { return c.ctx }

// Config is the configuration: inside serve the appliance's own (the caller found the
// socket through a config naming the same data directory), else the -config file.
func (c *Ctx) Config() (*config.Config, error) {
	if c.server != nil {
		return c.server.cfg, nil
	}
	if c.cfg == nil {
		path := ""
		if c.cfgPath != nil {
			path = *c.cfgPath
		}
		cfg, err := config.Load(config.FromEnv(path))
		if err != nil {
			return nil, err
		}
		c.cfg = cfg
	}
	return c.cfg, nil
}

// serveHolds is returned by Store when a running serve holds the database: a remote
// command is then forwarded to it.
type serveHolds struct {
	cfg    *config.Config
	locked *store.LockedError
}

func (e *serveHolds) Error() string {
	return fmt.Sprintf("%v (irm serve?); stop it first", e.locked)
}

// Store is the database: the running serve's, or this process's own, opened now. When
// another process holds it, a command that may run remotely is forwarded to serve; for
// the others (serve, ingest, restore, demo) the error says to stop the holder.
func (c *Ctx) Store() (*store.DB, error) {
	if c.server != nil {
		return c.server.db, nil
	}
	if c.db != nil {
		return c.db, nil
	}
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	// Root on a data dir held by serve goes through the socket like anyone: check the
	// lock before the owner check in openStore would refuse root.
	var le *store.LockedError
	if errors.As(store.CheckLocked(cfg.DataDir), &le) {
		return nil, &serveHolds{cfg: cfg, locked: le}
	}
	db, err := openStore(cfg, c.Logger())
	if errors.As(err, &le) {
		return nil, &serveHolds{cfg: cfg, locked: le}
	}
	if err != nil {
		return nil, err
	}
	c.db = db
	return db, nil
}

// Engine is the detection engine over Store: serve's running one, or one built now.
func (c *Ctx) Engine() (*engine.Engine, error) {
	if c.server != nil {
		return c.server.eng, nil
	}
	if c.eng != nil {
		return c.eng, nil
	}
	db, err := c.Store()
	if err != nil {
		return nil, err
	}
	cfg, _ := c.Config()
	rl, err := c.Rules()
	if err != nil {
		return nil, err
	}
	e, err := engine.New(db, rl, cfg, c.Logger())
	if err != nil {
		return nil, err
	}
	c.eng = e
	return e, nil
}

// Rules is the rule set in force: serve's reloader, or the built-ins plus the rules dir.
func (c *Ctx) Rules() (*dsl.Reloader, error) {
	if c.server != nil {
		return c.server.rules, nil
	}
	if c.rl != nil {
		return c.rl, nil
	}
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	rl, err := engineRules(cfg, c.Logger())
	if err != nil {
		return nil, err
	}
	c.rl = rl
	return rl, nil
}

// Logger shows warnings and errors on the command's stderr. Log lines do not count as
// output that would stop a command from being forwarded to serve.
func (c *Ctx) Logger() *slog.Logger {
	w := c.Stderr
	if u, ok := w.(*usage); ok {
		w = u.w
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// ReadFile reads a file of the user running the command (relative to their directory).
func (c *Ctx) ReadFile(path string) ([]byte, error) { return c.files.ReadFile(path) }

// WriteFileAtomic writes a file of the user running the command, as a whole.
func (c *Ctx) WriteFileAtomic(path string, write func(w io.Writer) error) (int64, error) {
	return c.files.WriteFileAtomic(path, write)
}

// Abs is path made absolute against the user's working directory.
func (c *Ctx) Abs(path string) string { return c.files.Abs(path) }

// close releases what a local run opened.
func (c *Ctx) close() {
	if c.db != nil {
		c.db.Close()
		c.db = nil
	}
}

// openStore opens the Badger store named by the config.
func openStore(cfg *config.Config, log *slog.Logger) (*store.DB, error) {
	if err := checkOwner(cfg.DataDir, os.Getuid()); err != nil {
		return nil, err
	}
	return store.Open(cfg.DataDir, store.Options{RetentionDays: cfg.Retention.EventsDays, Logger: log, AuditKeyFile: cfg.Audit.KeyFile})
}

// checkOwner refuses root (uid 0) on a data directory that belongs to another account
// (the one irm serve runs as): files Badger created as root would be unreadable to serve.
func checkOwner(dir string, uid int) error {
	if uid != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	name := strconv.Itoa(int(st.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Errorf("data dir %s belongs to %s (uid %d), not root: run irm as that account (sudo -u %s irm ...) "+
		"so that the files it writes stay usable by irm serve", dir, name, st.Uid, name)
}

// osFiles is this process's own filesystem.
type osFiles struct{}

func (osFiles) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

func (osFiles) Abs(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func (osFiles) WriteFileAtomic(path string, write func(w io.Writer) error) (int64, error) {
	a, err := createAtomic(path)
	if err != nil {
		return 0, err
	}
	if err := write(a); err != nil {
		a.abort()
		return 0, err
	}
	return a.commit()
}

// atomicFile is a file written under a temporary name beside its target and renamed
// into place once complete and synced, so the target is either whole or untouched.
type atomicFile struct {
	f      *os.File
	target string
	n      int64
}

func createAtomic(path string) (*atomicFile, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &atomicFile{f: f, target: path}, nil
}

func (a *atomicFile) Write(p []byte) (int, error) {
	n, err := a.f.Write(p)
	a.n += int64(n)
	return n, err
}

func (a *atomicFile) abort() {
	a.f.Close()
	os.Remove(a.f.Name())
}

func (a *atomicFile) commit() (int64, error) {
	err := a.f.Sync()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.f.Name(), a.target)
	}
	if err != nil {
		os.Remove(a.f.Name())
		return 0, err
	}
	return a.n, nil
}
