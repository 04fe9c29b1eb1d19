package cli

import (
	"os"
	"strings"
	"testing"
)

// TestHelpListsFlags: irm help COMMAND lists every flag with its meaning; a group lists
// its sub-commands with theirs; -h is the same help; mistakes exit 2 pointing to help.
func TestHelpListsFlags(t *testing.T) {
	e := newTestEnv(t, "")
	out := e.mustIRM(t, "help", "events")
	for _, want := range []string{"irm events [flags]", "-user string", "-since string", "-until string", "-feed audit|hr|badging|dlp|defender", "only this feed (audit|hr|badging|dlp|defender, any case)", "-json", "-limit int", "-config string"} {
		if !strings.Contains(out, want) {
			t.Errorf("irm help events lacks %q:\n%s", want, out)
		}
	}
	out = e.mustIRM(t, "help", "policy")
	for _, want := range []string{"irm policy import [flags] FILE.toml", "irm policy list [flags]", "irm policy backtest [flags] NAME|FILE.toml", "-days int", "-volume fewer|default|more"} {
		if !strings.Contains(out, want) {
			t.Errorf("irm help policy lacks %q:\n%s", want, out)
		}
	}
	if h := e.mustIRM(t, "policy", "backtest", "-h"); !strings.Contains(h, "-days int") || strings.Contains(h, "policy import") {
		t.Errorf("irm policy backtest -h:\n%s", h)
	}
	if h := e.mustIRM(t, "help", "audit", "verify"); !strings.Contains(h, "-head string") || strings.Contains(h, "-category") {
		t.Errorf("irm help audit verify:\n%s", h)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"events", "-bogus"}, "see irm help events"},
		{[]string{"alerts", "-severity", "critical"}, `invalid value "critical" for flag -severity: not one of low, medium, high`},
		{[]string{"policy"}, "want a sub-command first: import, export, list, backtest"},
		{[]string{"policy", "-json", "list"}, "want a sub-command first"},
		{[]string{"user", "frob"}, `unknown sub-command "frob"`},
	} {
		_, stderr, code := e.irm(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("irm %s: exit %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}

// TestRootOnServeOwnedDataDir: root may not open a data dir that belongs to the account
// serve runs as (the files Badger would create as root would lock serve out); that
// account may, and root may use its own.
func TestRootOnServeOwnedDataDir(t *testing.T) {
	dir := t.TempDir()
	owner := os.Getuid()
	if owner == 0 {
		owner = 65534
		if err := os.Chown(dir, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	err := checkOwner(dir, 0)
	if err == nil || !strings.Contains(err.Error(), "not root: run irm as that account (sudo -u") {
		t.Fatalf("root on a data dir owned by uid %d: %v", owner, err)
	}
	if err := checkOwner(dir, owner); err != nil {
		t.Errorf("the owner: %v", err)
	}
	rootDir := t.TempDir()
	if os.Getuid() == 0 {
		if err := checkOwner(rootDir, 0); err != nil {
			t.Errorf("root on its own dir: %v", err)
		}
	}
}
