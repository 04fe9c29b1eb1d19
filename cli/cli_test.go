package cli

import (
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
