package cli

// The control socket: while `irm serve` holds the database (Badger allows one process),
// every other command that needs it runs inside serve instead. The calling process
// sends its arguments, then serves as the command's terminal and file system: serve
// writes the command's stdout and stderr back, asks for stdin and for the files the
// command reads, and streams the files it writes (a backup) to be written on the
// caller's side. So a command prints exactly what it prints when serve is stopped,
// exits with the same code, and reads and writes the caller's files with the caller's
// permissions, not serve's.
//
// The socket is <data_dir>/irm.sock, mode 0600; serve also checks the peer's uid
// (SO_PEERCRED): only the account serve runs as, or root, may use it. Changes made
// through it are audited as cli:<the caller's OS user>.
//
// Wire format: frames of one type byte, a 4-byte big-endian length and the payload.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"irm/account"
	"irm/config"
)

const (
	// caller → serve
	frameHello   = 'H' // JSON hello
	frameStdin   = 'I' // stdin bytes; empty = end of input
	frameFile    = 'F' // a file's content, or an error
	frameWritten = 'W' // a file created / committed, or an error

	// serve → caller
	frameStdout    = 'O'
	frameStderr    = 'E'
	frameReadStdin = 'i' // want up to N (uint32) bytes of stdin
	frameReadFile  = 'f' // want the file named by the payload
	frameCreate    = 'c' // create the file named by the payload (temporary name beside it)
	frameData      = 'w' // bytes of the file being written
	frameCommit    = 'k' // sync and rename the file into place; answer with its size
	frameAbort     = 'a' // remove the temporary file; no answer
	frameExit      = 'x' // the exit code (uint32); the last frame

	maxFrame       = 64 << 20 // a file read in one frame (policy, settings files)
	dataChunk      = 256 << 10
	socketName     = "irm.sock"
	maxSessions    = 8
	connectTimeout = 15 * time.Second
)

// hello is the first frame of a session.
type hello struct {
	Args     []string `json:"args"`
	Cwd      string   `json:"cwd"`
	SudoUser string   `json:"sudo_user,omitempty"` // trusted only from root, as in CLIActor
}

// fileError carries an error of the caller's file system, with the errno when there is
// one, so that errors.Is(err, fs.ErrNotExist) and the message are as in a local run.
type fileError struct {
	Op    string `json:"op,omitempty"`
	Path  string `json:"path,omitempty"`
	Errno int    `json:"errno,omitempty"`
	Msg   string `json:"msg"`
}

func toFileError(err error) fileError {
	var pe *fs.PathError
	var errno syscall.Errno
	if errors.As(err, &pe) && errors.As(pe.Err, &errno) {
		return fileError{Op: pe.Op, Path: pe.Path, Errno: int(errno), Msg: err.Error()}
	}
	return fileError{Msg: err.Error()}
}

func (f fileError) err() error {
	if f.Errno != 0 {
		return &fs.PathError{Op: f.Op, Path: f.Path, Err: syscall.Errno(f.Errno)}
	}
	return errors.New(f.Msg)
}

// ControlSocket is the path of serve's control socket for a configuration.
func ControlSocket(cfg *config.Config) string { return filepath.Join(cfg.DataDir, socketName) }

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	buf := make([]byte, 5, 5+len(payload))
	buf[0] = typ
	binary.BigEndian.PutUint32(buf[1:], uint32(len(payload)))
	_, err := w.Write(append(buf, payload...))
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("control socket: frame of %d bytes (at most %d)", n, maxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return h[0], p, nil
}

func okOrError(err error, payload []byte) []byte {
	if err == nil {
		return append([]byte{0}, payload...)
	}
	b, _ := json.Marshal(toFileError(err))
	return append([]byte{1}, b...)
}

func parseReply(p []byte) ([]byte, error) {
	if len(p) == 0 {
		return nil, errors.New("control socket: empty reply")
	}
	if p[0] == 0 {
		return p[1:], nil
	}
	var fe fileError
	if err := json.Unmarshal(p[1:], &fe); err != nil {
		return nil, fmt.Errorf("control socket: bad error reply: %w", err)
	}
	return nil, fe.err()
}

// ---- serve's side ----

// controlServer accepts commands on the control socket while serve runs.
type controlServer struct {
	ln      *net.UnixListener
	path    string
	app     *served
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	slots   chan struct{}
	allowed func(uid int) bool

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// startControl listens on the control socket (replacing one left by a killed serve:
// whoever holds the database owns the socket beside it). allowed decides on a caller's
// uid; nil is allowedPeer for the account serve runs as.
func startControl(app *served, log *slog.Logger, allowed func(uid int) bool) (*controlServer, error) {
	path := ControlSocket(app.cfg)
	if len(path) > 107 {
		return nil, fmt.Errorf("control socket %s: the path is longer than a Unix socket allows (107 bytes); use a shorter data_dir", path)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &controlServer{ln: ln, path: path, app: app, log: log, ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, maxSessions), conns: map[net.Conn]bool{},
		allowed: allowed}
	if s.allowed == nil {
		s.allowed = func(uid int) bool { return allowedPeer(uid, os.Getuid()) }
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *controlServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("control socket: accept", "err", err)
			}
			return
		}
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			select {
			case s.slots <- struct{}{}:
				defer func() { <-s.slots }()
			case <-s.ctx.Done():
				return
			}
			s.session(conn)
		}()
	}
}

// Close stops accepting, lets running commands finish for up to grace, then cuts them
// off (a command writing to a closed connection fails) and waits for them.
func (s *controlServer) Close(grace time.Duration) {
	s.ln.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.cancel()
}

func (s *controlServer) session(conn *net.UnixConn) {
	uid, err := peerUID(conn)
	if err != nil || !s.allowed(uid) {
		msg := fmt.Sprintf("irm: the control socket %s is for the account irm serve runs as (uid %d) and root; this process is uid %d", s.path, os.Getuid(), uid)
		if err != nil {
			msg = "irm: control socket: " + err.Error()
		}
		s.log.Warn("control socket: refused a connection", "peer_uid", uid, "err", err)
		writeFrame(conn, frameStderr, []byte(msg+"\n"))
		writeFrame(conn, frameExit, binary.BigEndian.AppendUint32(nil, 1))
		return
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, p, err := readFrame(conn)
	conn.SetReadDeadline(time.Time{})
	var h hello
	if err == nil && typ == frameHello {
		err = json.Unmarshal(p, &h)
	} else if err == nil {
		err = fmt.Errorf("first frame %q, want hello", typ)
	}
	if err != nil {
		s.log.Warn("control socket: bad hello", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	rs := newRemoteSession(ctx, conn, h.Cwd)
	go rs.readReplies(cancel)
	c := &Ctx{
		Stdin: rs.stdin(), Stdout: rs.stdout, Stderr: rs.stderr,
		Actor: account.CLIActorFor(uid, h.SudoUser),
		ctx:   ctx, files: rs, server: s.app,
	}
	start := time.Now()
	code, _ := execute(c, h.Args)
	rs.exit(code)
	s.log.Debug("control socket: command", "args", redactArgs(h.Args), "actor", c.Actor, "exit", code,
		"elapsed", time.Since(start).Round(time.Millisecond))
}

// allowedPeer: the account serve runs as may use its socket, and root, who can read the
// database files anyway.
func allowedPeer(uid, owner int) bool { return uid == owner || uid == 0 }

// redactArgs keeps the command and sub-command only: arguments may name private files.
func redactArgs(args []string) []string {
	if len(args) > 2 {
		return append(args[:2:2], "…")
	}
	return args
}

// remoteSession is a forwarded command's view of its caller.
type remoteSession struct {
	ctx     context.Context
	conn    net.Conn
	cwd     string
	wmu     sync.Mutex // one frame at a time
	replies chan frame
	stdout  *remoteWriter
	stderr  *remoteWriter
	failed  error // the connection broke
}

type frame struct {
	typ     byte
	payload []byte
}

func newRemoteSession(ctx context.Context, conn net.Conn, cwd string) *remoteSession {
	rs := &remoteSession{ctx: ctx, conn: conn, cwd: cwd, replies: make(chan frame, 1)}
	rs.stdout = &remoteWriter{rs: rs, typ: frameStdout}
	rs.stderr = &remoteWriter{rs: rs, typ: frameStderr}
	rs.stdout.buf = bufio.NewWriterSize(writerFunc(rs.stdout.send), 64<<10)
	rs.stderr.buf = bufio.NewWriterSize(writerFunc(rs.stderr.send), 4<<10)
	rs.stdout.other, rs.stderr.other = rs.stderr, rs.stdout
	return rs
}

// readReplies reads the caller's answers; when the caller goes away it cancels the
// command.
func (rs *remoteSession) readReplies(cancel context.CancelFunc) {
	defer close(rs.replies)
	for {
		typ, p, err := readFrame(rs.conn)
		if err != nil {
			cancel()
			return
		}
		select {
		case rs.replies <- frame{typ, p}:
		case <-rs.ctx.Done():
			return
		}
	}
}

func (rs *remoteSession) send(typ byte, p []byte) error {
	rs.wmu.Lock()
	defer rs.wmu.Unlock()
	if rs.failed != nil {
		return rs.failed
	}
	if err := rs.ctx.Err(); err != nil {
		rs.failed = fmt.Errorf("the calling irm process went away: %w", err)
		return rs.failed
	}
	if err := writeFrame(rs.conn, typ, p); err != nil {
		rs.failed = fmt.Errorf("control socket: %w", err)
		return rs.failed
	}
	return nil
}

// request sends a frame and waits for the caller's answer of type want.
func (rs *remoteSession) request(typ byte, p []byte, want byte) ([]byte, error) {
	rs.stdout.flush()
	rs.stderr.flush()
	if err := rs.send(typ, p); err != nil {
		return nil, err
	}
	select {
	case f, ok := <-rs.replies:
		if !ok {
			return nil, errors.New("the calling irm process went away")
		}
		if f.typ != want {
			return nil, fmt.Errorf("control socket: answer %q, want %q", f.typ, want)
		}
		return f.payload, nil
	case <-rs.ctx.Done():
		return nil, errors.New("the calling irm process went away")
	}
}

func (rs *remoteSession) exit(code int) {
	rs.stdout.flush()
	rs.stderr.flush()
	rs.send(frameExit, binary.BigEndian.AppendUint32(nil, uint32(code)))
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// remoteWriter is the caller's stdout or stderr, buffered; writing to one flushes the
// other first, so that interleaved output keeps its order.
type remoteWriter struct {
	rs    *remoteSession
	typ   byte
	buf   *bufio.Writer
	other *remoteWriter
	mu    sync.Mutex
}

func (w *remoteWriter) send(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		n := min(len(p), dataChunk)
		if err := w.rs.send(w.typ, p[:n]); err != nil {
			return 0, err
		}
		p = p[n:]
	}
	return total, nil
}

func (w *remoteWriter) Write(p []byte) (int, error) {
	w.other.flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if err == nil && w.typ == frameStderr {
		err = w.buf.Flush()
	}
	return n, err
}

func (w *remoteWriter) flush() {
	w.mu.Lock()
	w.buf.Flush()
	w.mu.Unlock()
}

func (rs *remoteSession) stdin() io.Reader { return remoteStdin{rs} }

type remoteStdin struct{ rs *remoteSession }

func (r remoteStdin) Read(p []byte) (int, error) {
	want := min(len(p), dataChunk)
	data, err := r.rs.request(frameReadStdin, binary.BigEndian.AppendUint32(nil, uint32(want)), frameStdin)
	if err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, io.EOF
	}
	return copy(p, data), nil
}

func (rs *remoteSession) ReadFile(path string) ([]byte, error) {
	p, err := rs.request(frameReadFile, []byte(path), frameFile)
	if err != nil {
		return nil, err
	}
	return parseReply(p)
}

func (rs *remoteSession) Abs(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(rs.cwd, path)
}

func (rs *remoteSession) WriteFileAtomic(path string, write func(w io.Writer) error) (int64, error) {
	p, err := rs.request(frameCreate, []byte(path), frameWritten)
	if err != nil {
		return 0, err
	}
	if _, err := parseReply(p); err != nil {
		return 0, err
	}
	// bufio passes a write larger than its buffer straight through (Badger's backup
	// writes batches of tens of megabytes): cut every write into frames of dataChunk.
	bw := bufio.NewWriterSize(writerFunc(func(b []byte) (int, error) {
		total := len(b)
		for len(b) > 0 {
			n := min(len(b), dataChunk)
			if err := rs.send(frameData, b[:n]); err != nil {
				return 0, err
			}
			b = b[n:]
		}
		return total, nil
	}), dataChunk)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		rs.send(frameAbort, nil)
		return 0, err
	}
	p, err = rs.request(frameCommit, nil, frameWritten)
	if err != nil {
		return 0, err
	}
	b, err := parseReply(p)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, errors.New("control socket: bad commit answer")
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// ---- the caller's side ----

// forward runs args inside the serve that holds the database, as the terminal and file
// system of the command, and returns its exit code.
func forward(held *serveHolds, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	path := ControlSocket(held.cfg)
	conn, err := dialControl(path)
	if err != nil {
		fmt.Fprintf(stderr, "irm %s: %v, and no irm serve answers on its control socket %s (%v); stop the other process first\n",
			args[0], held.locked, path, err)
		return 1
	}
	defer conn.Close()
	cwd, _ := os.Getwd()
	h, _ := json.Marshal(hello{Args: args, Cwd: cwd, SudoUser: os.Getenv("SUDO_USER")})
	if err := writeFrame(conn, frameHello, h); err != nil {
		fmt.Fprintf(stderr, "irm %s: control socket %s: %v\n", args[0], path, err)
		return 1
	}
	br := bufio.NewReaderSize(conn, 256<<10)
	var out *atomicFile // the file serve is writing through us
	var outErr error    // a write to it failed: reported at commit
	defer func() {
		if out != nil {
			out.abort()
		}
	}()
	for {
		typ, p, err := readFrame(br)
		if err != nil {
			fmt.Fprintf(stderr, "irm %s: irm serve closed the control connection before the command finished (%v); see serve's log\n", args[0], err)
			return 1
		}
		var reply []byte
		replyType := byte(0)
		switch typ {
		case frameStdout:
			stdout.Write(p)
		case frameStderr:
			stderr.Write(p)
		case frameExit:
			if len(p) != 4 {
				return 1
			}
			return int(binary.BigEndian.Uint32(p))
		case frameReadStdin:
			buf := make([]byte, min(int(binary.BigEndian.Uint32(p)), dataChunk))
			n, err := stdin.Read(buf)
			if n == 0 && err == nil {
				n, _ = io.ReadAtLeast(stdin, buf, 1)
			}
			replyType, reply = frameStdin, buf[:n]
		case frameReadFile:
			data, err := os.ReadFile(string(p))
			replyType, reply = frameFile, okOrError(err, data)
		case frameCreate:
			if out != nil {
				out.abort()
			}
			out, outErr = createAtomic(string(p))
			replyType, reply = frameWritten, okOrError(outErr, nil)
		case frameData:
			if out != nil && outErr == nil {
				_, outErr = out.Write(p)
			}
		case frameAbort:
			if out != nil {
				out.abort()
			}
			out, outErr = nil, nil
		case frameCommit:
			var n int64
			err := outErr
			if out == nil && err == nil {
				err = errors.New("no file is being written")
			}
			if err == nil {
				n, err = out.commit()
			} else if out != nil {
				out.abort()
			}
			out, outErr = nil, nil
			replyType, reply = frameWritten, okOrError(err, binary.BigEndian.AppendUint64(nil, uint64(n)))
		default:
			fmt.Fprintf(stderr, "irm %s: control socket: unexpected frame %q (is irm serve a different version?)\n", args[0], typ)
			return 1
		}
		if replyType != 0 {
			if err := writeFrame(conn, replyType, reply); err != nil {
				fmt.Fprintf(stderr, "irm %s: control socket: %v\n", args[0], err)
				return 1
			}
		}
	}
}

// dialControl connects to the control socket, waiting while serve starts up (it opens
// the socket once its engine is ready).
func dialControl(path string) (*net.UnixConn, error) {
	deadline := time.Now().Add(connectTimeout)
	for {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) || !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED)) {
			return nil, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
