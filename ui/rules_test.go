package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"irm/account"
	"irm/audit"
	"irm/dsl"
	"irm/engine"
	"irm/event"
	"irm/store"
)

// sheetRule is a custom indicator file as a security engineer writes it: one indicator
// with two tests.
const sheetRule = `[[indicator]]
id = "sheet_print"
name = "Printing spreadsheets"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted" && event.file_name.endsWith(".xlsx")'
thresholds = [1, 2, 3]

[[test]]
indicator = "sheet_print"
name = "a spreadsheet"
event = { operation = "FilePrinted", workload = "Endpoint", file_name = "q.xlsx" }
expect = true

[[test]]
indicator = "sheet_print"
name = "a letter"
event = { operation = "FilePrinted", workload = "Endpoint", file_name = "letter.docx" }
expect = false
`

// rulesEnv is the UI with the rules directory's changes audited, as irm serve wires it.
func rulesEnv(t *testing.T, setup ...func(db *store.DB)) *testEnv {
	t.Helper()
	env := newTestEnv(t, setup...)
	if err := audit.WatchRules(env.db, env.srv.rules, env.srv.rules.Dir(), nil); err != nil {
		t.Fatal(err)
	}
	return env
}

func ruleEntriesOf(t *testing.T, db *store.DB) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	db.AuditEntries(store.AuditFilter{Category: "rules"}, func(e store.AuditEntry) error {
		out = append(out, e)
		return nil
	})
	return out
}

func htmxPost(c *client, form url.Values) (int, string) {
	c.env.t.Helper()
	form.Set("csrf", c.csrf)
	resp := c.do("POST", "/rules/edit", form, map[string]string{"HX-Request": "true"})
	return resp.StatusCode, body(resp)
}

// TestRuleEditorWithoutJavaScript walks the editor with plain form posts, as a browser
// without JavaScript does: check a type error (shown at its line and column, with the
// line and a caret), fix it, run the tests, save; then the file is in force, audited
// once with the author and the diff, and shown on /rules with its tests and policy.
func TestRuleEditorWithoutJavaScript(t *testing.T) {
	env := rulesEnv(t)
	c := env.signIn(account.RoleSecurityEngineer)
	dir := env.srv.rules.Dir()

	page := c.get("/rules/edit")
	if !strings.Contains(page, `id="rule-text"`) || !strings.Contains(page, "my_indicator") || !strings.Contains(page, `data-ok="true"`) {
		t.Fatalf("new file editor:\n%s", page)
	}

	broken := strings.Replace(sheetRule, `endsWith(".xlsx")`, `endsWith(1)`, 1)
	form := url.Values{"new": {"1"}, "name": {"sheets.toml"}, "text": {broken}, "action": {"check"}}
	resp := c.post("/rules/edit", cloneValues(form))
	page = body(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, `data-ok="false"`) || !strings.Contains(page, `data-line="6" data-col="69"`) ||
		!strings.Contains(page, "found no matching overload for &#39;endsWith&#39;") || !strings.Contains(page, "line 6, column 69") {
		t.Fatalf("check of a type error: %d\n%s", resp.StatusCode, page)
	}
	// The caret sits under the column of the line's excerpt (the part from 36 characters
	// before the column), and the gutter marks the line.
	if !strings.Contains(page, `<pre class="src">…Printed&#34; &amp;&amp; event.file_name.endsWith(1)&#39;`+"\n"+strings.Repeat(" ", 37)+"^") || !regexp.MustCompile(`class="ln err" title="6:69: [^"]*" data-line="6"`).MatchString(page) {
		t.Fatalf("no caret under column 69 or no marked line 6:\n%s", page)
	}
	// The text comes back as typed.
	if !strings.Contains(page, "endsWith(1)") {
		t.Fatal("the editor lost the text")
	}

	// Save refuses it: nothing written, nothing audited.
	form.Set("action", "save")
	if resp := c.post("/rules/edit", cloneValues(form)); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body(resp), "Nothing was written") {
		t.Fatalf("save of a type error: %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "sheets.toml")); !os.IsNotExist(err) {
		t.Fatalf("a file that does not compile was written: %v", err)
	}

	form.Set("text", sheetRule)
	form.Set("action", "test")
	page = body(c.post("/rules/edit", cloneValues(form)))
	if !strings.Contains(page, "2 passed") || strings.Contains(page, "failed</span>") || !strings.Contains(page, "line 9: a spreadsheet") {
		t.Fatalf("tests:\n%s", page)
	}
	wrong := strings.Replace(sheetRule, "expect = false", "expect = true", 1)
	form.Set("text", wrong)
	if page = body(c.post("/rules/edit", cloneValues(form))); !strings.Contains(page, "1 failed") || !strings.Contains(page, `expected true, got false`) {
		t.Fatalf("a failing test:\n%s", page)
	}

	form.Set("text", sheetRule)
	form.Set("action", "save")
	resp = c.post("/rules/edit", cloneValues(form))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/rules/edit?file=sheets.toml" {
		t.Fatalf("save: %d %s", resp.StatusCode, body(resp))
	}
	if env.srv.rules.Current().Indicator("sheet_print") == nil {
		t.Fatal("the saved indicator is not in force")
	}
	if rs, err := dsl.Load(nil, dir, dsl.Options{}); err != nil || rs.Indicator("sheet_print") == nil {
		t.Fatalf("irm rules list's loader does not see the file: %v", err)
	}
	page = c.get("/rules/edit?file=sheets.toml")
	if !strings.Contains(page, "Saved "+filepath.Join(dir, "sheets.toml")) || !strings.Contains(page, `name="base" value="`+dsl.Digest([]byte(sheetRule))+`"`) {
		t.Fatalf("editor after save:\n%s", page)
	}
	es := ruleEntriesOf(t, env.db)
	if len(es) != 1 || es[0].Actor != account.RoleSecurityEngineer || es[0].Activity != "Rule file added" {
		t.Fatalf("audit after save: %+v", es)
	}
	var ch audit.RuleFileChange
	json.Unmarshal(es[0].After, &ch)
	if !strings.Contains(ch.Diff, `+id = "sheet_print"`) || ch.Result != "active" {
		t.Fatalf("audited change: %+v", ch)
	}

	// A second editor that opened the file before this save cannot overwrite it.
	stale := url.Values{"name": {"sheets.toml"}, "base": {dsl.Digest([]byte("old"))}, "text": {sheetRule + "\n# mine\n"}, "action": {"save"}}
	if resp := c.post("/rules/edit", stale); resp.StatusCode != http.StatusConflict || !strings.Contains(body(resp), "changed on disk since you opened it") {
		t.Fatalf("stale save: %d", resp.StatusCode)
	}
	// Nor can a new file take its name.
	if resp := c.post("/rules/edit", cloneValues(form)); resp.StatusCode != http.StatusConflict || !strings.Contains(body(resp), "already a file sheets.toml") {
		t.Fatalf("new file over an existing one: %d", resp.StatusCode)
	}
	form.Set("action", "check")
	if page := body(c.post("/rules/edit", cloneValues(form))); !strings.Contains(page, "There is already a file sheets.toml in the rules directory") {
		t.Fatal("checking a new file with a taken name does not say so")
	}
	form.Set("action", "save")
	// A change with the right base goes through, audited as a change with its diff.
	edit := url.Values{"name": {"sheets.toml"}, "base": {dsl.Digest([]byte(sheetRule))}, "action": {"save"},
		"text": {strings.Replace(sheetRule, "thresholds = [1, 2, 3]", "thresholds = [2, 4, 6]", 1)}}
	if resp := c.post("/rules/edit", edit); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", resp.StatusCode, body(resp))
	}
	es = ruleEntriesOf(t, env.db)
	json.Unmarshal(es[0].After, &ch) // newest first
	if len(es) != 2 || es[0].Activity != "Rule file changed" || !strings.Contains(ch.Diff, "-thresholds = [1, 2, 3]") || !strings.Contains(ch.Diff, "+thresholds = [2, 4, 6]") {
		t.Fatalf("audit after the edit: %+v %s", es, ch.Diff)
	}
	for _, bad := range []url.Values{
		{"new": {"1"}, "name": {"../escape.toml"}, "text": {sheetRule}, "action": {"save"}},
		{"new": {"1"}, "name": {""}, "text": {sheetRule}, "action": {"save"}},
		{"new": {"1"}, "name": {".hidden.toml"}, "text": {sheetRule}, "action": {"save"}},
	} {
		if resp := c.post("/rules/edit", bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("save as %q: %d", bad.Get("name"), resp.StatusCode)
		}
	}
	if n := len(ruleEntriesOf(t, env.db)); n != 2 {
		t.Fatalf("refused saves were audited: %d entries", n)
	}
	if c.do("GET", "/rules/edit?file=nosuch.toml", nil, nil).StatusCode != http.StatusNotFound ||
		c.do("GET", "/rules/edit?file=..%2Fx.toml", nil, nil).StatusCode != http.StatusNotFound {
		t.Fatal("editor of a file that does not exist")
	}
}

// TestRuleEditorHTMX: the answers htmx swaps in while the engineer types: the check
// panel with the gutter and the backtest choices out of band, the tests panel.
func TestRuleEditorHTMX(t *testing.T) {
	env := rulesEnv(t)
	c := env.signIn(account.RoleAdmin)
	code, frag := htmxPost(c, url.Values{"new": {"1"}, "name": {"sheets.toml"}, "action": {"check"},
		"text": {strings.Replace(sheetRule, `"exfiltration"`, `"exfil"`, 1)}})
	if code != 200 || strings.Contains(frag, "<html") || !strings.Contains(frag, `id="check"`) ||
		!strings.Contains(frag, `id="gutter" class="gutter" aria-hidden="true" data-testid="gutter" hx-swap-oob="true"`) ||
		!strings.Contains(frag, `data-line="4" data-col="1"`) || !strings.Contains(frag, `id="bt-target" name="target" hx-swap-oob="true"`) {
		t.Fatalf("check fragment %d:\n%s", code, frag)
	}
	code, frag = htmxPost(c, url.Values{"new": {"1"}, "name": {"sheets.toml"}, "action": {"check"}, "text": {sheetRule}})
	if code != 200 || !strings.Contains(frag, `data-ok="true"`) || !strings.Contains(frag, `<option value="sheet_print" selected>`) {
		t.Fatalf("check fragment of a good file:\n%s", frag)
	}
	code, frag = htmxPost(c, url.Values{"new": {"1"}, "name": {"sheets.toml"}, "action": {"test"}, "text": {sheetRule}})
	if code != 200 || !strings.HasPrefix(strings.TrimSpace(frag), `<div id="tests"`) || !strings.Contains(frag, "2 passed") {
		t.Fatalf("tests fragment:\n%s", frag)
	}
	// A draft that breaks another file of the directory says where.
	os.WriteFile(filepath.Join(env.srv.rules.Dir(), "uses.toml"), []byte(`[[sequence]]
id = "sheet_then_upload"
name = "Print a sheet, then upload"
steps = ["sheet_print", "upload_to_cloud"]
`), 0o644)
	code, frag = htmxPost(c, url.Values{"new": {"1"}, "name": {"sheets.toml"}, "action": {"check"}, "text": {"# nothing yet\n"}})
	if code != 200 || !strings.Contains(frag, "In other files") || !strings.Contains(frag, "uses.toml") || !strings.Contains(frag, "sheet_print") {
		t.Fatalf("a problem in another file:\n%s", frag)
	}
}

// TestRuleBacktestUI: a backtest of a draft runs in the background with progress,
// shows matched users pseudonymised for a security engineer (never their UPN, not even
// in paths), is visible to its owner only, and can be cancelled; the admin sees real
// names when pseudonymisation is off.
func TestRuleBacktestUI(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var evs []event.Event
	for i, u := range []string{"alice.chen@contoso.com", "alice.chen@contoso.com", "alice.chen@contoso.com", "bob@contoso.com"} {
		evs = append(evs, event.Event{ID: "p" + itoa(i), Feed: event.FeedAudit, Time: now.Add(time.Duration(i) * time.Minute), User: u,
			Operation: "FilePrinted", Workload: "Endpoint", FileName: "q" + itoa(i) + ".xlsx", FileExt: "xlsx",
			Object: `C:\Users\` + strings.TrimSuffix(u, "@contoso.com") + `\Documents\q` + itoa(i) + ".xlsx"})
	}
	evs = append(evs, event.Event{ID: "other", Feed: event.FeedAudit, Time: now, User: "carol@contoso.com", Operation: "FilePrinted",
		Workload: "Endpoint", FileName: "letter.docx", FileExt: "docx"})
	env := rulesEnv(t, func(db *store.DB) {
		if _, err := db.CommitEvents(evs); err != nil {
			t.Fatal(err)
		}
	})
	eng := env.signIn(account.RoleSecurityEngineer)
	form := url.Values{"new": {"1"}, "name": {"sheets.toml"}, "text": {sheetRule}, "action": {"backtest"}, "target": {"sheet_print"}, "days": {"7"}}
	code, frag := htmxPost(eng, cloneValues(form))
	// A small backtest can finish before the answer is written: then the panel is the
	// result, with the job's id, rather than a running panel polling for it.
	jobID := regexp.MustCompile(`(?:hx-get="/rules/backtests/|data-job=")([A-Za-z0-9_-]+)`)
	m := jobID.FindStringSubmatch(frag)
	if code != 200 || m == nil {
		t.Fatalf("backtest start %d:\n%s", code, frag)
	}
	id := m[1]
	var panel string
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp := eng.do("GET", "/rules/backtests/"+id, nil, map[string]string{"HX-Request": "true"})
		panel = body(resp)
		if strings.Contains(panel, `data-state="done"`) || strings.Contains(panel, `data-state="error"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backtest still running after 30 s:\n%s", panel)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(panel, `data-testid="bt-matched">4<`) || !strings.Contains(panel, `data-testid="bt-users">2<`) ||
		!strings.Contains(panel, "high 1") || !strings.Contains(panel, "low 1") {
		t.Fatalf("backtest result:\n%s", panel)
	}
	pa, pb := account.Pseudonym(env.srv.pseudo, "alice.chen@contoso.com"), account.Pseudonym(env.srv.pseudo, "bob@contoso.com")
	if !strings.Contains(panel, pa) || !strings.Contains(panel, pb) || strings.Contains(panel, "contoso.com") || strings.Contains(panel, "alice.chen") {
		t.Fatalf("the security engineer sees a user's name:\n%s", panel)
	}
	if !strings.Contains(panel, `C:\Users\`+pa+`\Documents\q2.xlsx`) {
		t.Fatalf("the path is not scrubbed to the pseudonym:\n%s", panel)
	}
	// The same job's page of its own, and without htmx.
	if page := eng.get("/rules/backtests/" + id); !strings.Contains(page, "<html") || !strings.Contains(page, pa) {
		t.Fatal("backtest page")
	}
	// Another account cannot see it.
	admin := env.signIn(account.RoleAdmin)
	if resp := admin.do("GET", "/rules/backtests/"+id, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another account's backtest: %d", resp.StatusCode)
	}
	// Without JavaScript: the whole editor with the job, its text kept.
	form.Set("action", "status")
	form.Set("job", id)
	page := body(eng.post("/rules/edit", cloneValues(form)))
	if !strings.Contains(page, `id="rule-text"`) || !strings.Contains(page, `data-state="done"`) || !strings.Contains(page, "sheet_print") {
		t.Fatalf("status without JavaScript:\n%s", page)
	}

	// An admin with pseudonymisation off sees the UPNs.
	st := env.eng.Settings()
	st.Pseudonymize = false
	if err := env.eng.UpdateSettings("test", st); err != nil {
		t.Fatal(err)
	}
	form.Set("action", "backtest")
	code, frag = htmxPost(admin, cloneValues(form))
	id2 := jobID.FindStringSubmatch(frag)
	if code != 200 || id2 == nil {
		t.Fatalf("admin backtest: %d %s", code, frag)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(panel, "alice.chen@contoso.com") || strings.Contains(panel, `data-state="running"`); {
		panel = body(admin.do("GET", "/rules/backtests/"+id2[1], nil, map[string]string{"HX-Request": "true"}))
		if time.Now().After(deadline) {
			t.Fatalf("admin never sees the real name:\n%s", panel)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The security engineer still sees pseudonyms with pseudonymisation off.
	if panel = body(eng.do("GET", "/rules/backtests/"+id, nil, map[string]string{"HX-Request": "true"})); strings.Contains(panel, "contoso.com") {
		t.Fatal("pseudonymisation off shows names to the security engineer")
	}

	// Bad requests.
	for _, tc := range []struct {
		set  url.Values
		want string
	}{
		{url.Values{"days": {"91"}}, "Days must be 1 to 90"},
		{url.Values{"text": {"[[indicator]]\nid = 1\n"}}, "does not compile"},
		{url.Values{"action": {"cancel"}, "job": {"nosuch"}}, "no longer known"},
	} {
		f := cloneValues(form)
		for k, v := range tc.set {
			f[k] = v
		}
		if _, frag := htmxPost(eng, f); !strings.Contains(frag, tc.want) {
			t.Errorf("%v: %s", tc.set, frag)
		}
	}
}

// TestRulesPage: the browse page shows the custom file's entries with their source,
// tests (a failing one with why), the built-in they replace, the policies using them,
// and, when the directory stops compiling, the error at its position.
func TestRulesPage(t *testing.T) {
	env := rulesEnv(t)
	dir := env.srv.rules.Dir()
	override := strings.Replace(sheetRule, `expect = false`, `expect = true`, 1) + `
[[indicator]]
id = "print_file"
name = "Printing files (tuned)"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted"'
thresholds = [50, 100, 200]
`
	os.WriteFile(filepath.Join(dir, "sheets.toml"), []byte(override), 0o644)
	if err := env.srv.rules.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := env.eng.SavePolicy("test", engine.Policy{Name: "Sheets watch", Template: "data_leaks", Users: []string{"*"},
		Indicators: []string{"sheet_print"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	page := env.signIn(account.RoleSecurityEngineer).get("/rules")
	for _, want := range []string{
		`<span class="badge ok">loads</span>`,
		`<a href="/rules/edit?file=sheets.toml">sheets.toml</a>`,
		`id="indicator-sheet_print"`,
		filepath.Join(dir, "sheets.toml") + ":2</a>",
		"1 of 2 failed",
		`test &#34;a letter&#34;: indicator sheet_print: expected true, got false`,
		"Sheets watch",
		"replaces built-in",
		"rules/device.toml:",
		" passed, 1 failed",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/rules lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("page:\n%s", page)
	}
	os.WriteFile(filepath.Join(dir, "sheets.toml"), []byte(strings.Replace(override, `endsWith(".xlsx")`, `endsWith(1)`, 1)), 0o644)
	if err := env.srv.rules.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	page = env.signIn(account.RoleSecurityEngineer).get("/rules")
	if !strings.Contains(page, "does not load") || !strings.Contains(page, `<a href="/rules/edit?file=sheets.toml">sheets.toml</a>`) ||
		!strings.Contains(page, `<span class="pos">:6:69</span>`) {
		t.Fatalf("/rules with a broken directory:\n%s", page)
	}
	if env.srv.rules.Current().Indicator("sheet_print") == nil {
		t.Fatal("the last good rules are gone")
	}
}

// TestRuleEditorHostileText: a rule file, a file name and a job id that carry markup are
// shown inert, in the editor, its errors (the offending line is echoed) and its tests.
func TestRuleEditorHostileText(t *testing.T) {
	env := rulesEnv(t)
	c := env.signIn(account.RoleSecurityEngineer)
	text := "</textarea>" + xssAll + "\n[[indicator]]\nid = \"x\"\nname = '" + xssAll + "'\ncategory = \"access\"\nwhen = '\"" + xssScript + "\" == event.user'\n"
	for _, action := range []string{"check", "test", "save", "backtest", "status"} {
		resp := c.post("/rules/edit", url.Values{"new": {"1"}, "name": {xssAll}, "text": {text}, "action": {action}, "job": {xssAll}, "target": {xssAll}})
		page := body(resp)
		assertInert(t, "editor "+action, page)
		if !strings.Contains(page, "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the text is not shown escaped", action)
		}
	}
	_, frag := htmxPost(c, url.Values{"new": {"1"}, "name": {"a.toml"}, "text": {text}, "action": {"check"}})
	assertInert(t, "check fragment", frag)
}
