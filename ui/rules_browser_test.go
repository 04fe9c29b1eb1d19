package ui

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"irm/account"
	"irm/audit"
	"irm/demo"
	"irm/dsl"
	"irm/engine"
	"irm/event"
	"irm/ingest"
	"irm/rules"
	"irm/store"
)

// The indicator the browser test types: first with a type error in when, then right.
const (
	typedRuleBroken = `[[indicator]]
id = "sheet_print"
name = "Printing spreadsheets"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted" && event.size > "1MB"'
thresholds = [1, 2, 3]
`
	typedRuleFixed = `[[indicator]]
id = "sheet_print"
name = "Printing spreadsheets"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted" && event.file_name.endsWith(".xlsx")'
thresholds = [1, 2, 3]

[[test]]
indicator = "sheet_print"
event = { operation = "FilePrinted", file_name = "q.xlsx" }
expect = true

[[test]]
indicator = "sheet_print"
event = { operation = "FilePrinted", file_name = "memo.docx" }
expect = false
`
)

// TestBrowserRuleWorkbench is the workbench's whole flow in a real chromium over a
// demo organisation: a security engineer opens a new file, types an indicator with a
// type error and sees the error at its line and column (as the server compiles while
// they type), fixes it, runs its tests, backtests it over the demo data and sees the
// matched users (pseudonymised), and saves. The rule is then live: in the rules in
// force, in what `irm rules list` loads, and the engine scores the next matching event;
// the audit log holds the save once, by the engineer, with its diff. An analyst gets
// 403 on /rules. The screenshots of docs/rules.md are taken here (IRM_UPDATE_DOCS=1
// writes them into docs/img).
func TestBrowserRuleWorkbench(t *testing.T) {
	env := newTestEnv(t)
	if err := audit.WatchRules(env.db, env.srv.rules, env.srv.rules.Dir(), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reloaderDone := make(chan struct{})
	go func() { env.srv.rules.Run(ctx); close(reloaderDone) }()
	t.Cleanup(func() { cancel(); <-reloaderDone })

	// A demo organisation, ingested through the real pipeline into the engine.
	src := t.TempDir()
	m, err := demo.Generate(demo.Options{Background: demo.Clean, Users: 20, Days: 21, Seed: 3}, src)
	if err != nil {
		t.Fatal(err)
	}
	st, err := engine.ParseSettings("demo.toml", []byte(m.SettingsTOML()), env.srv.rules.Current())
	if err != nil {
		t.Fatal(err)
	}
	st.AlertVolume = engine.VolumeMore
	if err := env.eng.UpdateSettings("test", st); err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(env.db, ingest.Options{DropDir: src})
	if err != nil {
		t.Fatal(err)
	}
	in.OnCommit(env.eng.Process)
	if _, err := in.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := env.eng.Flush(); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, env)
	b.signIn(account.RoleSecurityEngineer)
	b.do("rules page", chromedp.Navigate(env.ts.URL+"/rules"), chromedp.WaitVisible(`[data-testid="rules-status"]`))
	if s := b.text("rules status", `[data-testid="rules-status"]`); !strings.Contains(s, "loads") {
		t.Fatalf("rules status: %q", s)
	}
	b.do("new file", chromedp.Click("#new-rule-file"), chromedp.WaitVisible("#rule-text"))
	b.do("type a type error",
		chromedp.SendKeys("#rule-name", "sheets.toml"),
		clearText,
		chromedp.SendKeys("#rule-text", typedRuleBroken),
	)
	// The server compiles as the engineer types (no button pressed).
	diag := b.waitText("type error shown", `[data-testid="check"]`, "the type error at line 6", func(s string) bool {
		return strings.Contains(s, "does not compile") && strings.Contains(s, "line 6, column 56") && strings.Contains(s, "no matching overload for '_>_'")
	})
	if !strings.Contains(diag, `event.size > "1MB"`) {
		t.Errorf("the error does not show its line: %q", diag)
	}
	b.do("gutter marks line 6", chromedp.WaitVisible(`#gutter .ln.err[data-line="6"]`))
	b.saveShot("rules-workbench-error")

	b.do("fix it", clearText, chromedp.SendKeys("#rule-text", typedRuleFixed))
	b.waitText("compiles", `[data-testid="check"]`, "ok", func(s string) bool {
		return strings.Contains(s, "ok") && strings.Contains(s, "1 indicator,") && strings.Contains(s, "2 tests")
	})
	b.do("run tests", chromedp.Click("#test-btn"))
	b.waitText("tests pass", `[data-testid="tests"]`, "2 passed", func(s string) bool { return strings.Contains(s, "2 passed") })

	b.do("backtest", chromedp.SetValue("#bt-days", "30"), chromedp.Click("#backtest-btn"))
	b.waitText("backtest done", `#backtest`, "the results", func(s string) bool { return strings.Contains(s, "Users matched") })
	users, err := strconv.Atoi(strings.TrimSpace(b.text("matched users", `[data-testid="bt-users"]`)))
	if err != nil || users == 0 {
		t.Fatalf("backtest matched %d users (%v)", users, err)
	}
	examples := b.text("examples", `[data-testid="bt-examples"]`)
	if !strings.Contains(examples, "Anon-") || strings.Contains(examples, "@") || !strings.Contains(examples, ".xlsx") {
		t.Fatalf("examples are not pseudonymised spreadsheet prints: %q", examples)
	}
	b.saveShot("rules-workbench")
	if env.srv.rules.Current().Indicator("sheet_print") != nil {
		t.Fatal("the draft is in force before it was saved")
	}

	b.do("save", chromedp.Click("#save-btn"), chromedp.WaitVisible(`[data-testid="flash"]`))
	if f := b.text("flash", `[data-testid="flash"]`); !strings.Contains(f, "Saved") || !strings.Contains(f, "in force") {
		t.Fatalf("after save: %q", f)
	}
	b.signOut()

	// Live: in force, and in what `irm rules list` loads (the built-ins and the rules dir).
	if env.srv.rules.Current().Indicator("sheet_print") == nil {
		t.Fatal("the saved indicator is not in force")
	}
	listed, err := dsl.Load(rules.FS, env.srv.rules.Dir(), dsl.Options{OrgDomains: []string{"contoso.com"}})
	if err != nil || listed.Indicator("sheet_print") == nil {
		t.Fatalf("irm rules list would not show it: %v", err)
	}
	// The engine scores the next matching event.
	if err := env.eng.SavePolicy("test", engine.Policy{Name: "Spreadsheet prints", Template: "data_leaks", Users: []string{"*"},
		Triggers: engine.Triggers{Indicators: []string{"sheet_print"}}, Indicators: []string{"sheet_print"}, ThresholdMode: engine.ThresholdFixed,
		Enabled: true}); err != nil {
		t.Fatal(err)
	}
	user := "late.printer@contoso.com"
	now := time.Now().UTC()
	var next []event.Event
	for i := range 4 {
		next = append(next, event.Event{ID: "next-" + strconv.Itoa(i), Feed: event.FeedAudit, Time: now.Add(-time.Duration(i) * time.Minute), User: user,
			Operation: "FilePrinted", Workload: "Endpoint", FileName: "payroll-" + strconv.Itoa(i) + ".xlsx", FileExt: "xlsx"})
	}
	added, err := env.db.CommitEvents(next)
	if err != nil {
		t.Fatal(err)
	}
	env.eng.Process(added)
	if err := env.eng.Flush(); err != nil {
		t.Fatal(err)
	}
	scored := false
	for _, a := range env.eng.Alerts(engine.AlertFilter{Policy: "Spreadsheet prints"}) {
		if a.User == user && slices.ContainsFunc(a.Insights, func(in engine.Insight) bool { return in.ID == "sheet_print" && in.Points > 0 }) {
			scored = true
		}
	}
	if !scored {
		t.Fatalf("the next matching event was not scored by the new indicator: %+v", env.eng.Alerts(engine.AlertFilter{Policy: "Spreadsheet prints"}))
	}

	// The audit log holds the save once, by the engineer, with the diff; an auditor
	// finds it.
	var saves []store.AuditEntry
	env.db.AuditEntries(store.AuditFilter{Category: "rules"}, func(e store.AuditEntry) error {
		saves = append(saves, e)
		return nil
	})
	if len(saves) != 1 || saves[0].Actor != account.RoleSecurityEngineer || saves[0].Activity != "Rule file added" {
		t.Fatalf("rules audit entries: %+v", saves)
	}
	var ch audit.RuleFileChange
	if err := json.Unmarshal(saves[0].After, &ch); err != nil || !strings.Contains(ch.Diff, `+when = 'event.operation == "FilePrinted" && event.file_name.endsWith(".xlsx")'`) {
		t.Fatalf("audited diff: %v\n%s", err, ch.Diff)
	}
	b.signIn(account.RoleAuditor)
	b.do("audit: rules", chromedp.Navigate(env.ts.URL+"/audit?category=rules"), chromedp.WaitVisible(`[data-testid="audit"]`))
	if rows := b.text("audit rows", `[data-testid="audit"]`); !strings.Contains(rows, account.RoleSecurityEngineer+"\trules\tRule file added") {
		t.Fatalf("the auditor does not see the save: %q", rows)
	}
	b.signOut()

	// An analyst may not open the workbench.
	b.signIn(account.RoleAnalyst)
	b.do("analyst: /rules", chromedp.Navigate(env.ts.URL+"/rules"), chromedp.WaitVisible(`[data-testid="error"]`))
	if st, err := chromedp.Run(b.ctx, chromedp.AttributeValue(`[data-testid="error"]`, "data-status")); err != nil || st.Value != "403" {
		t.Fatalf("analyst on /rules: status %q %v", st.Value, err)
	}
	if nav := b.text("analyst nav", `[data-testid="nav"]`); strings.Contains(nav, "Rules") {
		t.Fatalf("the analyst's menu offers Rules: %q", nav)
	}
}

// clearText empties the editor's text (chromedp.SetValue refuses "" on a textarea).
var clearText chromedp.Action[chromedp.Void] = func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := chromedp.Evaluate[bool](`(() => { document.getElementById("rule-text").value = ""; return true })()`)(ctx, t)
	return chromedp.Void{}, err
}

// saveShot keeps a full-page screenshot for the docs: in the artifacts directory
// always, and in docs/img when IRM_UPDATE_DOCS=1.
func (b *browser) saveShot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	dirs := []string{b.dir}
	if os.Getenv("IRM_UPDATE_DOCS") == "1" {
		dirs = append(dirs, filepath.Join("..", "docs", "img"))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}
