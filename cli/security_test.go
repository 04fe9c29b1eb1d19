package cli

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"

	"irm/account"
	"irm/store"
)

const strongPassword = "Velvet-Quarry-Lantern-92\n"

var headRE = regexp.MustCompile(`head seq=(\d+) hash=([0-9a-f]{64})`)

// verifyHead runs irm audit verify and returns the head it reports.
func (e *testEnv) verifyHead(t *testing.T) string {
	t.Helper()
	out, stderr, code := e.irm(t, "audit", "verify")
	m := headRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("verify: exit %d %q %q", code, out, stderr)
	}
	return m[2]
}

func (e *testEnv) openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(e.data, store.Options{AuditKeyFile: filepath.Join(e.dir, "audit.key")})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestRestoreOfOlderBackupIsReported: the probe restored an older backup with -force,
// which silently removed a later account creation from the log. Now the restore is an
// entry (what, who, the replaced head) and verify reports the entries that are gone.
func TestRestoreOfOlderBackupIsReported(t *testing.T) {
	e := newTestEnv(t, "")
	e.irmStdin(t, strongPassword, "user", "add", "-role", "analyst", "-password-stdin", "alice")
	bak := filepath.Join(e.dir, "old.bak")
	e.mustIRM(t, "backup", bak)
	e.irmStdin(t, strongPassword, "user", "add", "-role", "admin", "-password-stdin", "mallory")
	replaced := e.verifyHead(t)

	if _, stderr, code := e.irm(t, "restore", "-force", bak); code != 0 {
		t.Fatalf("restore: %d %s", code, stderr)
	}
	out, stderr, code := e.irm(t, "audit", "verify")
	if code != 3 || !strings.Contains(out, "ENTRIES GONE") || !strings.Contains(out, replaced) || !strings.Contains(out, "entries 3 to 3") {
		t.Fatalf("verify after restoring an older backup: exit %d\n%s\n%s", code, out, stderr)
	}
	// The anchor recorded before the restore is accounted for (it is the replaced head).
	if out, _, code := e.irm(t, "audit", "verify", "-head", replaced); code != 3 || !strings.Contains(out, "replaced by a restore") {
		t.Fatalf("verify -head of the replaced head: exit %d %s", code, out)
	}
	list := e.mustIRM(t, "audit", "list", "-category", "backup", "-json")
	actor := account.CLIActor()
	var restored, wrote bool
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		var en store.AuditEntry
		if err := json.Unmarshal([]byte(line), &en); err != nil {
			t.Fatal(err)
		}
		switch en.Activity {
		case "Restored backup":
			restored = en.Actor == actor && strings.HasSuffix(en.Target, "old.bak") && strings.Contains(en.Details, replaced)
		case "Wrote backup":
			wrote = en.Actor == actor
		}
	}
	if !restored || !wrote {
		t.Fatalf("backup and restore entries (actor %s) missing or wrong:\n%s", actor, list)
	}
	// Restoring the newest backup loses nothing.
	e.mustIRM(t, "backup", filepath.Join(e.dir, "new.bak"))
	e.mustIRM(t, "restore", "-force", filepath.Join(e.dir, "new.bak"))
	if out, _, code := e.irm(t, "audit", "verify"); code != 3 || strings.Count(out, "ENTRIES GONE") != 1 || !strings.Contains(out, "is contained in the restored one") {
		t.Fatalf("verify after restoring the newest backup: exit %d\n%s", code, out)
	}
}

// TestVerifyAgainstAnchor: cutting entries off the end and putting back an earlier
// head record passes the chain check alone, but not against the head anchored outside.
func TestVerifyAgainstAnchor(t *testing.T) {
	e := newTestEnv(t, "")
	e.irmStdin(t, strongPassword, "user", "add", "-role", "analyst", "-password-stdin", "alice")
	db := e.openStore(t)
	var oldHead []byte
	db.Badger().View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("m/audit-head"))
		if err == nil {
			oldHead, err = item.ValueCopy(nil)
		}
		return err
	})
	db.Close()
	e.irmStdin(t, strongPassword, "user", "add", "-role", "admin", "-password-stdin", "mallory")
	anchor := e.verifyHead(t)
	if out, _, code := e.irm(t, "audit", "verify", "-head", anchor); code != 0 || !strings.Contains(out, "is entry 2") {
		t.Fatalf("verify -head of the current head: exit %d %s", code, out)
	}

	db = e.openStore(t)
	err := db.Badger().Update(func(txn *badger.Txn) error {
		if err := txn.Delete(binary.BigEndian.AppendUint64([]byte("aud/"), 2)); err != nil {
			return err
		}
		return txn.Set([]byte("m/audit-head"), oldHead)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, code := e.irm(t, "audit", "verify"); code != 0 {
		t.Fatalf("truncated to a replayed head: exit %d; the chain alone cannot tell (documented)", code)
	}
	_, stderr, code := e.irm(t, "audit", "verify", "-head", anchor)
	if code != 1 || !strings.Contains(stderr, "BROKEN") || !strings.Contains(stderr, "not in the log") {
		t.Fatalf("verify -head after truncation: exit %d %s", code, stderr)
	}
	if _, stderr, code := e.irm(t, "audit", "verify", "-head", "nothex"); code != 2 || !strings.Contains(stderr, "64 hex digits") {
		t.Fatalf("bad -head: exit %d %s", code, stderr)
	}
}

// TestEventsJSONIsUTF8: a raw record with bytes that are not UTF-8 used to make
// irm events -json unreadable for standard JSON parsers.
func TestEventsJSONIsUTF8(t *testing.T) {
	e := newTestEnv(t, "")
	os.MkdirAll(filepath.Join(e.drop, "audit"), 0o755)
	rec := "{\"Id\":\"bad-utf8-1\",\"CreationTime\":\"2026-03-02T10:00:00\",\"Operation\":\"FileDownloaded\",\"RecordType\":6," +
		"\"Workload\":\"SharePoint\",\"UserId\":\"ann@contoso.com\",\"ObjectId\":\"https://contoso.sharepoint.com/caf\xe9.docx\"," +
		"\"SourceFileName\":\"caf\xe9 \xff.docx\"}\n"
	os.WriteFile(filepath.Join(e.drop, "audit", "latin1.json"), []byte(rec), 0o644)
	e.mustIRM(t, "ingest", "-once", "-q")
	out := e.mustIRM(t, "events", "-json")
	if !utf8.ValidString(out) {
		t.Fatal("irm events -json wrote invalid UTF-8")
	}
	var evs []map[string]any
	if err := json.Unmarshal([]byte(out), &evs); err != nil || len(evs) != 1 {
		t.Fatalf("parse: %v (%d events)\n%s", err, len(evs), out)
	}
	if raw, _ := json.Marshal(evs[0]["raw"]); !strings.Contains(string(raw), "caf\uFFFD") {
		t.Fatalf("raw record %s: the invalid byte is not U+FFFD", raw)
	}
}

// TestCLIActorEverywhere: settings imports and account changes are recorded with the
// same cli:<os user> actor.
func TestCLIActorEverywhere(t *testing.T) {
	e := newTestEnv(t, "")
	e.irmStdin(t, strongPassword, "user", "add", "-role", "analyst", "-password-stdin", "alice")
	settings := e.mustIRM(t, "settings", "export")
	f := filepath.Join(e.dir, "settings.toml")
	os.WriteFile(f, []byte(settings), 0o644)
	// Without $USER the old code recorded plain "cli".
	cmd := exec.Command(irmBin, "settings", "import", f)
	cmd.Env = append(os.Environ(), "IRM_CONFIG="+e.config, "USER=", "SUDO_USER=")
	cmd.Dir = e.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("settings import: %v %s", err, out)
	}
	want := account.CLIActor()
	list := e.mustIRM(t, "audit", "list", "-json")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		var en store.AuditEntry
		json.Unmarshal([]byte(line), &en)
		if en.Category == "settings" || en.Category == "users" {
			n++
			if en.Actor != want {
				t.Errorf("%s / %s by %q, want %q", en.Category, en.Activity, en.Actor, want)
			}
		}
	}
	if n < 2 {
		t.Fatalf("expected a users and a settings entry:\n%s", list)
	}
}

// TestServeAnchorsHeadToSyslog: irm serve sends the audit chain head to a real syslog
// listener on loopback at start, records a rule file dropped into the rules directory
// while it runs, and the head from syslog later checks the log with verify -head.
func TestServeAnchorsHeadToSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 8192)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	e := newTestEnv(t, "[audit]\nsyslog = \"udp://"+pc.LocalAddr().String()+"\"\n")
	os.MkdirAll(filepath.Join(e.dir, "rules.d"), 0o755)
	cmd := exec.Command(irmBin, "serve", "-config", e.config)
	cmd.Dir = e.dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	recorded := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "change recorded in the audit log") {
				close(recorded)
				io.Copy(io.Discard, stderr)
				return
			}
		}
	}()
	var line string
	select {
	case line = <-msgs:
	case <-time.After(30 * time.Second):
		t.Fatal("no syslog message from serve within 30 s")
	}
	m := regexp.MustCompile(`irm audit chain head seq=\d+ hash=([0-9a-f]{64}) \(start\)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("syslog line %q", line)
	}
	rule := "[[list]]\nid = \"watched_hosts\"\nname = \"Watched\"\nitems = [\"a.example\"]\n"
	os.WriteFile(filepath.Join(e.dir, "rules.d", "lists.toml"), []byte(rule), 0o644)
	select {
	case <-recorded:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not record the new rule file within 30 s")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	if out, stderr, code := e.irm(t, "audit", "verify", "-head", m[1]); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify -head from syslog: exit %d %s %s", code, out, stderr)
	}
	list := e.mustIRM(t, "audit", "list", "-category", "rules", "-json")
	if !strings.Contains(list, "Rule file added") || !strings.Contains(list, `+id = \"watched_hosts\"`) {
		t.Fatalf("the rule file dropped while serve ran is not in the audit log with its diff:\n%s", list)
	}
}
