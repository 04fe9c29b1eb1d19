package cli

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"irm/store"
)

// irmStdin runs the binary with stdin.
func (e *testEnv) irmStdin(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(irmBin, args...)
	cmd.Env = append(os.Environ(), "IRM_CONFIG="+e.config)
	cmd.Dir = e.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

func TestUserCommands(t *testing.T) {
	e := newTestEnv(t, "")
	if _, stderr, code := e.irmStdin(t, "Velvet-Quarry-Lantern-92\n", "user", "add", "-role", "admin,auditor", "-password-stdin", "alice"); code != 0 {
		t.Fatalf("user add: %d %s", code, stderr)
	}
	out, _, code := e.irmStdin(t, "", "user", "add", "-role", "analyst", "bob")
	if code != 0 || !strings.Contains(out, "password (shown once): ") {
		t.Fatalf("user add with a generated password: %d %q", code, out)
	}
	for _, bad := range [][]string{
		{"user", "add", "-role", "root", "carol"},
		{"user", "add", "carol"},
		{"user", "add", "-role", "admin"},
		{"user", "frob"},
	} {
		if _, _, code := e.irmStdin(t, "", bad...); code != 2 {
			t.Errorf("irm %s: exit %d, want 2", strings.Join(bad, " "), code)
		}
	}
	if _, stderr, code := e.irmStdin(t, "short\n", "user", "add", "-role", "analyst", "-password-stdin", "carol"); code != 1 || !strings.Contains(stderr, "at least 12") {
		t.Errorf("short password: exit %d %q", code, stderr)
	}
	if _, _, code := e.irmStdin(t, "", "user", "disable", "bob"); code != 0 {
		t.Fatal("disable")
	}
	out, _, _ = e.irmStdin(t, "", "user", "list")
	if !strings.Contains(out, "alice  admin,auditor  active") || !strings.Contains(out, "bob    analyst        disabled") {
		t.Fatalf("user list:\n%s", out)
	}
	out, _, _ = e.irmStdin(t, "", "audit", "list", "-category", "users")
	for _, want := range []string{"Added account", "Disabled account", "alice", "bob"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit list lacks %q:\n%s", want, out)
		}
	}
}

// TestAuditVerifyDetectsEdit: editing one stored entry (here: who did it) breaks the
// chain at that entry, and irm audit verify says so with exit code 1.
func TestAuditVerifyDetectsEdit(t *testing.T) {
	e := newTestEnv(t, "")
	for _, name := range []string{"alice", "bobby", "carol"} {
		if _, stderr, code := e.irmStdin(t, "Velvet-Quarry-Lantern-92\n", "user", "add", "-role", "analyst", "-password-stdin", name); code != 0 {
			t.Fatalf("user add: %s", stderr)
		}
	}
	out, _, code := e.irmStdin(t, "", "audit", "verify")
	if code != 0 || !strings.Contains(out, "3 entries verified") {
		t.Fatalf("verify intact: %d %q", code, out)
	}

	db, err := store.Open(e.data, store.Options{AuditKeyFile: filepath.Join(e.dir, "audit.key")})
	if err != nil {
		t.Fatal(err)
	}
	key := binary.BigEndian.AppendUint64([]byte("aud/"), 2)
	err = db.Badger().Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		edited := bytes.Replace(v, []byte(`"target":"bobby"`), []byte(`"target":"eve"`), 1)
		if bytes.Equal(edited, v) {
			t.Fatalf("entry 2 is not about bobby: %s", v)
		}
		return txn.Set(key, edited)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := e.irmStdin(t, "", "audit", "verify")
	if code != 1 || !strings.Contains(stderr, "BROKEN at entry 2") {
		t.Fatalf("verify after edit: exit %d %q", code, stderr)
	}
}
