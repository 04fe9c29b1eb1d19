package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"irm/account"
	"irm/config"
	"irm/store"
)

// cliRun is one command line with its standard input.
type cliRun struct {
	args  []string
	stdin string
}

type cliResult struct {
	stdout, stderr string
	code           int
}

func (e *testEnv) runAll(t *testing.T, runs []cliRun) []cliResult {
	t.Helper()
	out := make([]cliResult, len(runs))
	for i, r := range runs {
		o, er, code := e.irmStdin(t, r.stdin, r.args...)
		out[i] = cliResult{o, er, code}
	}
	return out
}

// serving is a running `irm serve` of a test env.
type serving struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	url  string
}

// startServe starts serve and waits until its control socket and HTTP listener answer.
func (e *testEnv) startServe(t *testing.T) *serving {
	t.Helper()
	s := &serving{logs: &lockedBuffer{}}
	s.cmd = exec.Command(irmBin, "serve")
	s.cmd.Env = append(os.Environ(), "IRM_CONFIG="+e.config)
	s.cmd.Dir = e.dir
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	url := regexp.MustCompile(`url=(http://\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := url.FindStringSubmatch(s.logs.String()); m != nil {
			if c, err := net.Dial("unix", filepath.Join(e.data, "irm.sock")); err == nil {
				c.Close()
				s.url = m[1]
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start within 60 s:\n%s", s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *serving) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exit after SIGTERM: %v\n%s", err, s.logs.String())
		}
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("serve did not stop within 60 s")
	}
}

// mustBeHeld fails unless a running serve holds the env's database, so that the
// commands just run had to go through the control socket.
func (e *testEnv) mustBeHeld(t *testing.T) {
	t.Helper()
	db, err := store.Open(e.data, store.Options{AuditKeyFile: filepath.Join(e.dir, "audit.key")})
	if err == nil {
		db.Close()
		t.Fatal("the database is not held by serve: the commands ran in their own process")
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("open while serving: %v, want store.ErrLocked", err)
	}
}

// TestEveryCommandThroughControlSocket (must-show): every command that reads or writes
// the database prints the same stdout and stderr and exits with the same code whether it
// runs on its own (serve stopped) or inside `irm serve` through the control socket, and
// changes made through the socket are audited as cli:<OS user>.
func TestEveryCommandThroughControlSocket(t *testing.T) {
	e, _ := demoEnv(t)
	e.mustIRM(t, "ingest", "-once", "-q")
	e.irmStdin(t, strongPassword, "user", "add", "-role", "analyst", "-password-stdin", "alice")
	candidate := filepath.Join(e.dir, "candidate.toml")
	os.WriteFile(candidate, []byte("[[policy]]\nname = \"Strict browsing\"\ntemplate = \"risky_browsing\"\nusers = [\"*\"]\nthreshold_mode = \"fixed\"\n"), 0o644)
	var events []struct{ User string }
	json.Unmarshal([]byte(e.mustIRM(t, "events", "-json", "-feed", "hr")), &events)
	if len(events) == 0 {
		t.Fatal("no HR events in the demo")
	}
	head := headRE.FindStringSubmatch(e.mustIRM(t, "audit", "verify"))[2]

	// Reads: the same env, first stopped, then serving.
	reads := []cliRun{
		{args: []string{"events"}},
		{args: []string{"events", "-json", "-user", strings.ToUpper(events[0].User)}},
		{args: []string{"events", "-feed", "DLP", "-limit", "5"}},
		{args: []string{"events", "-user", "nobody@contoso.com"}},
		{args: []string{"events", "-since", "last tuesday"}},
		{args: []string{"events", "-feed", "mail"}},
		{args: []string{"alerts"}},
		{args: []string{"alerts", "-json"}},
		{args: []string{"alerts", "-severity", "HIGH", "-status", "Needs_Review"}},
		{args: []string{"alerts", "-policy", "risky_browsing"}},
		{args: []string{"alerts", "-policy", "RISKY BROWSING", "-json"}},
		{args: []string{"alerts", "-policy", "no such policy"}},
		{args: []string{"alerts", "-status", "dismissed"}},
		{args: []string{"audit", "verify"}},
		{args: []string{"audit", "verify", "-head", head}},
		{args: []string{"audit", "verify", "-head", "nothex"}},
		{args: []string{"audit", "list", "-limit", "0"}},
		{args: []string{"audit", "list", "-json", "-category", "USERS"}},
		{args: []string{"audit", "list", "-actor", "nobody"}},
		{args: []string{"policy", "list"}},
		{args: []string{"policy", "export"}},
		{args: []string{"policy", "backtest", "-days", "21", "Risky browsing"}},
		{args: []string{"policy", "backtest", "-days", "21", "-volume", "More", "-json", "candidate.toml"}},
		{args: []string{"policy", "backtest", "no such policy"}},
		{args: []string{"policy", "backtest", "-days", "400", "Risky browsing"}},
		{args: []string{"settings", "export"}},
		{args: []string{"user", "list"}},
		{args: []string{"rules", "list"}},
		{args: []string{"rules", "lint"}},
		{args: []string{"policy", "frobnicate"}},
	}
	direct := e.runAll(t, reads)
	s := e.startServe(t)
	served := e.runAll(t, reads)
	e.mustBeHeld(t)
	// A backtest reports how long it took.
	elapsed := regexp.MustCompile(`"elapsed_ns": \d+`)
	for i, r := range reads {
		direct[i].stdout = elapsed.ReplaceAllString(direct[i].stdout, `"elapsed_ns": …`)
		served[i].stdout = elapsed.ReplaceAllString(served[i].stdout, `"elapsed_ns": …`)
		if direct[i] != served[i] {
			t.Errorf("irm %s: differs through the control socket\nserve stopped: exit %d\nstdout:\n%s\nstderr:\n%s\nserving: exit %d\nstdout:\n%s\nstderr:\n%s",
				strings.Join(r.args, " "), direct[i].code, direct[i].stdout, direct[i].stderr, served[i].code, served[i].stdout, served[i].stderr)
		}
	}
	// The runs above said something: empty lists say so on stderr, filters worked.
	for i, want := range map[int]string{3: "no events match", 12: "no alerts with status dismissed", 18: "no audit entries match"} {
		if !strings.Contains(direct[i].stderr, want) || direct[i].stdout != "" || direct[i].code != 0 {
			t.Errorf("irm %s: stdout %q stderr %q exit %d, want %q on stderr", strings.Join(reads[i].args, " "), direct[i].stdout, direct[i].stderr, direct[i].code, want)
		}
	}
	for _, i := range []int{4, 5, 11, 15, 24, 29} {
		if direct[i].code != 2 {
			t.Errorf("irm %s: exit %d, want 2 (usage)", strings.Join(reads[i].args, " "), direct[i].code)
		}
	}
	if !strings.Contains(direct[11].stderr, "is neither a policy nor a template id") {
		t.Errorf("-policy matching nothing: %q", direct[11].stderr)
	}
	if !strings.Contains(direct[9].stdout, "Risky browsing") || strings.Contains(direct[9].stdout, "General data leaks") {
		t.Errorf("alerts -policy risky_browsing (a template id):\n%s", direct[9].stdout)
	}
	if direct[22].code != 0 || !strings.Contains(direct[22].stdout, `"policy": "Strict browsing"`) {
		t.Errorf("backtest of a file read through the socket: exit %d %s %s", direct[22].code, direct[22].stdout, direct[22].stderr)
	}

	// Commands that must not run inside serve say why.
	if _, stderr, code := e.irm(t, "ingest", "-once"); code != 1 || !strings.Contains(stderr, "irm serve ingests the drop directories itself") {
		t.Errorf("ingest while serving: exit %d %s", code, stderr)
	}
	for _, args := range [][]string{{"restore", "-force", candidate}, {"restore", candidate}} {
		if _, stderr, code := e.irm(t, args...); code != 1 || !strings.Contains(stderr, "stop irm serve first") {
			t.Errorf("irm %v while serving: exit %d %s", args, code, stderr)
		}
	}
	before, _ := filepath.Glob(filepath.Join(e.drop, "*", "*"))
	if _, stderr, code := e.irm(t, "demo", "-background", "clean", "-users", "30", "-days", "21"); code != 1 || !strings.Contains(stderr, "stop the running one first") {
		t.Errorf("demo while serving: exit %d %s", code, stderr)
	}
	if after, _ := filepath.Glob(filepath.Join(e.drop, "*", "*")); len(after) != len(before) {
		t.Errorf("demo while serving wrote into the drop directories: %d entries, then %d", len(before), len(after))
	}
	if _, stderr, code := e.irm(t, "serve"); code != 1 || !strings.Contains(stderr, "is irm serve already running?") || !strings.Contains(stderr, "pid") {
		t.Errorf("a second serve: exit %d %s", code, stderr)
	}
	s.stop(t)

	// Writes: two copies of one env, one changed directly, the other through serve.
	other := e.clone(t)
	os.WriteFile(filepath.Join(e.dir, "settings.toml"), []byte(e.mustIRM(t, "settings", "export")+"\n"), 0o644)
	os.WriteFile(filepath.Join(other.dir, "settings.toml"), []byte(other.mustIRM(t, "settings", "export")+"\n"), 0o644)
	for _, env := range []*testEnv{e, other} {
		os.WriteFile(filepath.Join(env.dir, "more.toml"), []byte("[[policy]]\nname = \"Browsing watch\"\ntemplate = \"risky_browsing\"\nusers = [\"*\"]\n"), 0o644)
	}
	writes := []cliRun{
		{args: []string{"settings", "import", "settings.toml"}},
		{args: []string{"settings", "import", "missing.toml"}},
		{args: []string{"policy", "import", "more.toml"}},
		{args: []string{"user", "add", "-role", "Analyst,AUDITOR", "-password-stdin", "bob"}, stdin: strongPassword},
		{args: []string{"user", "add", "-role", "analyst", "-password-stdin", "carol"}, stdin: "short\n"},
		{args: []string{"user", "add", "-role", "root", "dave"}},
		{args: []string{"user", "roles", "-role", "investigator", "bob"}},
		{args: []string{"user", "disable", "bob"}},
		{args: []string{"user", "enable", "bob"}},
		{args: []string{"user", "passwd", "-password-stdin", "bob"}, stdin: "Granite-Harbor-Violin-33\n"},
		{args: []string{"user", "disable", "nobody"}},
		{args: []string{"backup", "copy.bak"}},
		{args: []string{"backup", "no/such/dir/copy.bak"}},
		// What the writes left (not what serve's live evaluation adds: alerts, scopes).
		{args: []string{"policy", "export"}},
		{args: []string{"settings", "export"}},
		{args: []string{"user", "list"}},
		{args: []string{"audit", "list", "-limit", "0", "-category", "users"}},
		{args: []string{"audit", "list", "-limit", "0", "-category", "backup"}},
	}
	direct = e.runAll(t, writes)
	s = other.startServe(t)
	served = other.runAll(t, writes)
	other.mustBeHeld(t)
	// Times, hashes, the backup's size and the env's directory differ between the two
	// runs, and so do audit sequence numbers (serve's live evaluation audits the alerts it
	// raises in between); nothing else may.
	volatile := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?|[0-9a-f]{64}|\(\d+ bytes\)|/00\d/|seq=\d+|(?m:^\d+  )`)
	norm := func(s string) string { return volatile.ReplaceAllString(s, "…") }
	for i, r := range writes {
		d, v := direct[i], served[i]
		if norm(d.stdout) != norm(v.stdout) || norm(d.stderr) != norm(v.stderr) || d.code != v.code {
			t.Errorf("irm %s: differs through the control socket\nserve stopped: exit %d\nstdout:\n%s\nstderr:\n%s\nserving: exit %d\nstdout:\n%s\nstderr:\n%s",
				strings.Join(r.args, " "), d.code, d.stdout, d.stderr, v.code, v.stdout, v.stderr)
		}
	}
	for i, code := range map[int]int{1: 1, 4: 1, 5: 2, 10: 1, 12: 1} {
		if direct[i].code != code {
			t.Errorf("irm %s: exit %d, want %d: %s", strings.Join(writes[i].args, " "), direct[i].code, code, direct[i].stderr)
		}
	}
	// The backup written through the socket is the caller's file and restores.
	if fi, err := os.Stat(filepath.Join(other.dir, "copy.bak")); err != nil || fi.Size() == 0 {
		t.Fatalf("backup through the socket: %v", err)
	}
	if ents, _ := filepath.Glob(filepath.Join(other.dir, ".copy.bak.tmp")); len(ents) != 0 {
		t.Errorf("temporary backup file left: %v", ents)
	}
	list := other.mustIRM(t, "audit", "list", "-json", "-limit", "0")
	s.stop(t)
	want := account.CLIActor()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		var en store.AuditEntry
		json.Unmarshal([]byte(line), &en)
		if en.Category == "users" || en.Category == "settings" || en.Category == "policies" || en.Category == "backup" {
			n++
			if en.Actor != want {
				t.Errorf("%s / %s audited as %q, want %q", en.Category, en.Activity, en.Actor, want)
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d audited changes:\n%s", n, list)
	}
	restored := newTestEnv(t, "")
	key, _ := os.ReadFile(filepath.Join(other.dir, "audit.key"))
	os.WriteFile(filepath.Join(restored.dir, "audit.key"), key, 0o600)
	restored.mustIRM(t, "restore", filepath.Join(other.dir, "copy.bak"))
	if got, want := restored.mustIRM(t, "events", "-json"), other.mustIRM(t, "events", "-json"); got != want {
		t.Error("the backup made through the socket restores other events")
	}
}

// clone copies the env's whole directory (config, data, drop, audit key) to a new env
// with the same relative layout.
func (e *testEnv) clone(t *testing.T) *testEnv {
	t.Helper()
	c := newTestEnv(t, "")
	if err := os.RemoveAll(c.dir); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", e.dir, c.dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return c
}

// TestControlSocketRefusesOtherUsers: the socket is 0600 and serve checks the caller's
// uid with SO_PEERCRED; a refused caller gets a message naming the socket and exit 1.
func TestControlSocketRefusesOtherUsers(t *testing.T) {
	for _, c := range []struct {
		uid, owner int
		ok         bool
	}{{1000, 1000, true}, {1001, 1000, false}, {0, 1000, true}, {0, 0, true}, {1000, 0, false}} {
		if got := allowedPeer(c.uid, c.owner); got != c.ok {
			t.Errorf("allowedPeer(%d, %d) = %v", c.uid, c.owner, got)
		}
	}

	e := newTestEnv(t, "")
	cfg := loadTestConfig(t, e)
	db, err := openStore(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seen := make(chan int, 1)
	ctl, err := startControl(&served{cfg: cfg, db: db}, discardLogger(), func(uid int) bool { seen <- uid; return false })
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close(time.Second)
	fi, err := os.Stat(ctl.path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("control socket %s: mode %v, %v", ctl.path, fi.Mode(), err)
	}
	conn, err := net.Dial("unix", ctl.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	typ, msg, err := readFrame(r)
	if err != nil || typ != frameStderr || !strings.Contains(string(msg), "is for the account irm serve runs as") {
		t.Fatalf("refusal: %q %q %v", typ, msg, err)
	}
	typ, code, err := readFrame(r)
	if err != nil || typ != frameExit || code[3] != 1 {
		t.Fatalf("refusal exit: %q %v %v", typ, code, err)
	}
	if uid := <-seen; uid != os.Getuid() {
		t.Errorf("peer uid seen %d, want %d", uid, os.Getuid())
	}
}

func loadTestConfig(t *testing.T, e *testEnv) *config.Config {
	t.Helper()
	c := &Ctx{cfgPath: &e.config}
	cfg, err := c.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestControlSocketRunsRemoteCommandsOnly: a caller that asks serve to run a command
// that must not run inside it (serve itself, ingest, restore) is refused.
func TestControlSocketRunsRemoteCommandsOnly(t *testing.T) {
	e := newTestEnv(t, "")
	cfg := loadTestConfig(t, e)
	db, err := openStore(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctl, err := startControl(&served{cfg: cfg, db: db}, discardLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close(time.Second)
	for _, args := range [][]string{{"serve"}, {"ingest", "-once"}, {"restore", "x.bak"}, {"demo"}} {
		conn, err := net.Dial("unix", ctl.path)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := json.Marshal(hello{Args: args})
		writeFrame(conn, frameHello, h)
		r := bufio.NewReader(conn)
		var stderr string
		code := -1
		for code < 0 {
			typ, p, err := readFrame(r)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			switch typ {
			case frameStderr:
				stderr += string(p)
			case frameExit:
				code = int(p[3])
			}
		}
		conn.Close()
		if code != 2 || !strings.Contains(stderr, "does not run inside irm serve") {
			t.Errorf("%v through the socket: exit %d %q", args, code, stderr)
		}
	}
}
