package audit

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"irm/dsl"
	"irm/rules"
	"irm/store"
)

const ruleV1 = `[[indicator]]
id = "after_hours_sign_in"
name = "Signing in outside working hours"
category = "access"
feeds = ["audit"]
when = 'event.operation == "UserLoggedIn" && event.time.getHours() < 7'
thresholds = [1, 3, 6]
`

func openDB(t *testing.T) (*store.DB, string) {
	t.Helper()
	root := t.TempDir()
	db, err := store.Open(filepath.Join(root, "data"), store.Options{AuditKeyFile: filepath.Join(root, "audit.key")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, root
}

func ruleEntries(t *testing.T, db *store.DB) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	db.AuditEntries(store.AuditFilter{Category: "rules"}, func(e store.AuditEntry) error {
		out = append([]store.AuditEntry{e}, out...) // oldest first
		return nil
	})
	return out
}

// waitEntries waits (bounded) until the log holds n rule entries.
func waitEntries(t *testing.T, db *store.DB, n int) []store.AuditEntry {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		es := ruleEntries(t, db)
		if len(es) >= n {
			return es
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s the audit log has %d rule entries, want %d: %+v", len(es), n, es)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func change(t *testing.T, e store.AuditEntry) RuleFileChange {
	t.Helper()
	var c RuleFileChange
	if err := json.Unmarshal(e.After, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRuleFileEditsAreAudited: a rule file added, edited, broken and removed on disk
// appears in the audit log with its diff while the reloader runs, the broken version as
// rejected; changes made while irm was stopped are recorded at the next start.
func TestRuleFileEditsAreAudited(t *testing.T) {
	db, root := openDB(t)
	dir := filepath.Join(root, "rules.d")
	os.MkdirAll(dir, 0o755)
	file := filepath.Join(dir, "custom.toml")
	opt := dsl.Options{OrgDomains: []string{"contoso.com"}, Debounce: 20 * time.Millisecond, Poll: 50 * time.Millisecond}
	r, err := dsl.NewReloader(rules.FS, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := WatchRules(db, r, dir, nil); err != nil {
		t.Fatal(err)
	}
	if es := ruleEntries(t, db); len(es) != 0 {
		t.Fatalf("an empty rules directory at first start recorded %d entries", len(es))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }

	os.WriteFile(file, []byte(ruleV1), 0o644)
	es := waitEntries(t, db, 1)
	if e := es[0]; e.Activity != "Rule file added" || e.Actor != "disk" || !strings.Contains(change(t, e).Diff, "+id = \"after_hours_sign_in\"") || change(t, e).Result != "active" {
		t.Fatalf("added: %+v %s", e, e.After)
	}

	os.WriteFile(file, []byte(strings.Replace(ruleV1, "thresholds = [1, 3, 6]", "thresholds = [50, 60, 70]", 1)), 0o644)
	es = waitEntries(t, db, 2)
	c := change(t, es[1])
	if es[1].Activity != "Rule file changed" || !strings.Contains(c.Diff, "-thresholds = [1, 3, 6]") || !strings.Contains(c.Diff, "+thresholds = [50, 60, 70]") ||
		!strings.HasPrefix(c.Diff, "--- a/custom.toml\n+++ b/custom.toml") || c.Before == "" || c.After == "" {
		t.Fatalf("changed: %+v\n%s", es[1], c.Diff)
	}
	if !strings.Contains(es[1].Details, "file owner") {
		t.Errorf("changed: details %q name no owner", es[1].Details)
	}

	os.WriteFile(file, []byte(strings.Replace(ruleV1, `event.time.getHours() < 7`, `event.time.getHours() < "seven"`, 1)), 0o644)
	es = waitEntries(t, db, 3)
	if c := change(t, es[2]); es[2].Activity != "Rule file changed (rejected)" || !strings.HasPrefix(c.Result, "rejected: ") || !strings.Contains(c.Diff, `"seven"`) {
		t.Fatalf("rejected: %+v %s", es[2], es[2].After)
	}
	if r.Current().Indicator("after_hours_sign_in").Thresholds[0] != 50 {
		t.Fatal("the rejected change replaced the active rules")
	}

	os.Remove(file)
	es = waitEntries(t, db, 4)
	if c := change(t, es[3]); es[3].Activity != "Rule file removed" || !strings.Contains(c.Diff, "+++ /dev/null") || c.After != "" {
		t.Fatalf("removed: %+v %s", es[3], es[3].After)
	}
	stop()

	// While irm is stopped someone drops a file in; the next start records it.
	os.WriteFile(filepath.Join(dir, "late.toml"), []byte(ruleV1), 0o644)
	r2, err := dsl.NewReloader(rules.FS, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := WatchRules(db, r2, dir, nil); err != nil {
		t.Fatal(err)
	}
	es = waitEntries(t, db, 5)
	if es[4].Activity != "Rule file added" || !strings.Contains(es[4].Details, "while irm was not running") || !strings.HasSuffix(es[4].Target, "late.toml") {
		t.Fatalf("offline change: %+v", es[4])
	}
	// And nothing more when nothing changed.
	r3, _ := dsl.NewReloader(rules.FS, dir, opt)
	if err := WatchRules(db, r3, dir, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(ruleEntries(t, db)); n != 5 {
		t.Fatalf("an unchanged restart recorded %d more entries", n-5)
	}
	if rep, err := db.VerifyAudit(""); err != nil || rep.Broken {
		t.Fatalf("chain: %+v %v", rep, err)
	}
}

// TestSavedRuleFileAuditedOnce: a file saved through irm (the rule workbench) is
// recorded once, with the saving account as actor and the diff, while the watcher that
// also sees the file appear runs; a save that does not compile records nothing.
func TestSavedRuleFileAuditedOnce(t *testing.T) {
	db, root := openDB(t)
	dir := filepath.Join(root, "rules.d")
	r, err := dsl.NewReloader(rules.FS, dir, dsl.Options{OrgDomains: []string{"contoso.com"}, Debounce: 10 * time.Millisecond, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := WatchRules(db, r, dir, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	if _, err := r.Save("custom.toml", []byte(strings.Replace(ruleV1, "< 7", `< "seven"`, 1)), "eve", ""); err == nil {
		t.Fatal("a rule that does not compile was saved")
	}
	if _, err := r.Save("custom.toml", []byte(ruleV1), "eve", ""); err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(ruleV1, "thresholds = [1, 3, 6]", "thresholds = [2, 4, 8]", 1)
	if _, err := r.Save("custom.toml", []byte(v2), "eve", dsl.Digest([]byte(ruleV1))); err != nil {
		t.Fatal(err)
	}
	es := waitEntries(t, db, 2)
	time.Sleep(300 * time.Millisecond) // the watcher's debounce and polls, several times over
	if es = ruleEntries(t, db); len(es) != 2 {
		t.Fatalf("%d rule entries for two saves: %+v", len(es), es)
	}
	for i, want := range []string{"Rule file added", "Rule file changed"} {
		e := es[i]
		if e.Actor != "eve" || e.Activity != want || !strings.Contains(e.Details, "saved in irm by eve") || change(t, e).Result != "active" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if c := change(t, es[1]); !strings.Contains(c.Diff, "-thresholds = [1, 3, 6]") || !strings.Contains(c.Diff, "+thresholds = [2, 4, 8]") {
		t.Errorf("diff of the second save:\n%s", c.Diff)
	}
}

// syslogListener is a real syslog receiver on loopback: it returns each message.
func syslogListener(t *testing.T, network string) (addr string, msgs <-chan string) {
	t.Helper()
	ch := make(chan string, 16)
	switch network {
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				ch <- string(buf[:n])
			}
		}()
		return pc.LocalAddr().String(), ch
	default:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					buf := make([]byte, 64<<10)
					for {
						n, err := c.Read(buf)
						if err != nil {
							return
						}
						for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
							ch <- line
						}
					}
				}()
			}
		}()
		return ln.Addr().String(), ch
	}
}

func receive(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return m
			}
		case <-timeout:
			t.Fatalf("no syslog message containing %q within 10 s", want)
		}
	}
}

// TestAnchorToSyslog: the chain head reaches a real syslog listener over UDP and TCP,
// at start and after a prune, in the form irm audit verify -head takes.
func TestAnchorToSyslog(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			db, _ := openDB(t)
			old := time.Now().AddDate(0, 0, -400)
			for i := range 3 {
				if _, err := db.AppendAudit(store.AuditEntry{Time: old.Add(time.Duration(i) * time.Minute), Actor: "a", Category: "settings", Activity: "old"}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.Audit("a", "settings", "recent", "", nil, nil, ""); err != nil {
				t.Fatal(err)
			}
			addr, msgs := syslogListener(t, network)
			a := NewAnchor(db, nil, network+"://"+addr)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { a.Keep(ctx, time.Hour, 365); close(done) }()
			defer func() { cancel(); <-done }()

			// Keep prunes the three old entries first (checkpoint), then anchors.
			m := receive(t, msgs, "(prune)")
			head, _ := db.AuditHead()
			if !strings.Contains(m, "irm audit chain head "+head.String()) || !strings.Contains(m, "irm") {
				t.Fatalf("syslog line %q does not carry head %s", m, head)
			}
			receive(t, msgs, "(start)")
			rep, err := db.VerifyAudit(head.Hash)
			if err != nil || rep.Broken || rep.Checkpoint == nil || rep.Checkpoint.Seq != 3 || rep.AnchorSeq != head.Seq {
				t.Fatalf("verify against the syslog anchor: %+v %v", rep, err)
			}
		})
	}
}

func TestAnchorSyslogUnreachable(t *testing.T) {
	db, _ := openDB(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	a := NewAnchor(db, nil, "tcp://"+addr)
	if _, err := a.Write("test"); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("unreachable syslog: %v", err)
	}
}
