package ui

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"irm/account"
	"irm/engine"
	"irm/event"
	"irm/store"
)

// loginForm fetches the sign-in form and returns the client with its login token.
func (e *testEnv) loginForm() (*client, string) {
	e.t.Helper()
	c := e.client()
	m := csrfRE.FindStringSubmatch(c.get("/login"))
	if m == nil {
		e.t.Fatal("no csrf field on /login")
	}
	return c, m[1]
}

func signinEntries(t *testing.T, db *store.DB) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	if err := db.AuditEntries(store.AuditFilter{Category: "signin"}, func(e store.AuditEntry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSignInRedirectStaysOnSite: after sign-in only a path on this site is followed.
// The probe's /login?next=/%09/evil.example was answered with "Location: /\t/evil.example",
// which browsers turn into //evil.example.
func TestSignInRedirectStaysOnSite(t *testing.T) {
	env := newTestEnv(t)
	hostile := []string{
		"/\t/evil.example", "/%09/evil.example", "/\n/evil.example", "/%0a/evil.example", "/\r/evil.example",
		"/\\evil.example", "/%5Cevil.example", "\\\\evil.example", "//evil.example", "/%2F/evil.example",
		"/%2f%2fevil.example", "/%252F%252Fevil.example", "///evil.example", "/./evil.example", "/.//evil.example",
		"https://evil.example/", "http:evil.example", "javascript:alert(1)", "evil.example", "%2F%2Fevil.example",
		"/x/..//evil.example", "/\x7f/evil.example", "/login?next=//evil.example", strings.Repeat("/a", 2000),
	}
	for _, next := range hostile {
		c, tok := env.loginForm()
		resp := c.roundTrip("POST", "/login", url.Values{"csrf": {tok}, "name": {account.RoleAnalyst},
			"password": {testPassword(account.RoleAnalyst)}, "next": {next}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Errorf("next=%q: status %d Location %q, want 303 to /", next, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, next := range []string{"/alerts", "/alerts?status=needs_review&severity=high", "/policies/Data%20theft", "/audit?q=a%2Fb"} {
		c, tok := env.loginForm()
		resp := c.do("POST", "/login", url.Values{"csrf": {tok}, "name": {account.RoleAnalyst},
			"password": {testPassword(account.RoleAnalyst)}, "next": {next}}, nil)
		if resp.Header.Get("Location") != next {
			t.Errorf("next=%q: Location %q, want it kept", next, resp.Header.Get("Location"))
		}
	}
	// The form carries only a safe next, too.
	page := env.client().get("/login?next=" + url.QueryEscape("/\t/evil.example"))
	if strings.Contains(page, "evil.example") {
		t.Error("the sign-in form carries a hostile next")
	}
}

// roundTrip sends one request with the client's cookies and returns the answer as it
// came: unlike http.Client, it does not choke on a Location a browser would follow.
func (c *client) roundTrip(method, path string, form url.Values) *http.Response {
	c.env.t.Helper()
	req, err := http.NewRequest(method, c.env.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.env.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, k := range c.http.Jar.Cookies(req.URL) {
		req.AddCookie(k)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		c.env.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSignInNameIsCapped: the probe's 4 MiB sign-in names grew the database by 60 MB
// each. The form is refused whole above 16 KiB, and a name within it is cut to 64 bytes
// before it is looked up, throttled or recorded.
func TestSignInNameIsCapped(t *testing.T) {
	env := newTestEnv(t)
	c, tok := env.loginForm()
	huge := strings.Repeat("n", 4<<20)
	resp := c.do("POST", "/login", url.Values{"csrf": {tok}, "name": {huge}, "password": {"x"}}, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("4 MiB name: status %d, want 413", resp.StatusCode)
	}
	c, tok = env.loginForm()
	long := strings.Repeat("m", 10<<10)
	resp = c.do("POST", "/login", url.Values{"csrf": {tok}, "name": {long}, "password": {"x"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("10 KiB name: status %d, want 401", resp.StatusCode)
	}
	if page := body(resp); strings.Contains(page, strings.Repeat("m", maxNameField+1)) {
		t.Error("the sign-in page echoes more than the cap of the name")
	}
	env.srv.refusals.flush()
	es := signinEntries(t, env.db)
	if len(es) == 0 {
		t.Fatal("the refused sign-ins were not audited")
	}
	for _, e := range es {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), strings.Repeat("n", maxNameField+1)) || strings.Contains(string(b), strings.Repeat("m", maxNameField+1)) {
			t.Errorf("entry %d stores more of the name than the %d-byte cap: %d bytes", e.Seq, maxNameField, len(b))
		}
	}
}

// TestRefusedSignInsAreBounded: 1,000 refused sign-ins from one client (for one name,
// then for ever-new names) add a handful of audit entries that still count every one,
// and only the first few make the server hash a password.
func TestRefusedSignInsAreBounded(t *testing.T) {
	env := newTestEnv(t)
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	env.srv.now = func() time.Time { return now }
	before := len(signinEntries(t, env.db))
	c, tok := env.loginForm()
	statuses := map[int]int{}
	for i := range 1000 {
		name := account.RoleAuditor
		if i >= 500 {
			name = "guess" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
		}
		resp := c.do("POST", "/login", url.Values{"csrf": {tok}, "name": {name}, "password": {"wrong password"}}, nil)
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusUnauthorized] > maxIPFailures || statuses[http.StatusTooManyRequests] < 1000-maxIPFailures {
		t.Errorf("statuses %v: want at most %d attempts checked (401), the rest refused at once (429)", statuses, maxIPFailures)
	}
	env.srv.refusals.flush()
	es := signinEntries(t, env.db)[:len(signinEntries(t, env.db))-before]
	if len(es) > 3 {
		for _, e := range es {
			t.Logf("%d %s %s %s", e.Seq, e.Actor, e.Activity, e.Details)
		}
		t.Fatalf("1000 refused sign-ins added %d audit entries", len(es))
	}
	total := 0
	for _, e := range es {
		switch e.Activity {
		case "Sign-in failed":
			total++
		case "Repeated sign-in refusals":
			var s refusalSummary
			if err := json.Unmarshal(e.After, &s); err != nil {
				t.Fatal(err)
			}
			total += s.Count
		}
	}
	if total != 1000 {
		t.Fatalf("the entries account for %d refusals, want 1000", total)
	}

	// Addresses and names beyond the group limit go into one overflow summary.
	now = now.Add(refusalWindow)
	for i := range refusalGroups + 30 {
		env.srv.refusals.record("n"+string(rune('A'+i%26))+strings.Repeat("z", i/26), "192.0.2."+string(rune('0'+i%10))+string(rune('0'+i/10)), reasonNoAccount)
	}
	env.srv.refusals.flush()
	es = signinEntries(t, env.db)
	var overflow int
	for _, e := range es[:refusalGroups+1] {
		if e.Activity == "Repeated sign-in refusals" && e.Actor == "anonymous" && strings.Contains(e.Details, "30 more") {
			overflow++
		}
	}
	if overflow != 1 {
		t.Errorf("no single overflow summary for the refusals beyond %d groups", refusalGroups)
	}
}

// TestLoginThrottle: after five failures for one name from one address, even the right
// password is refused until the lockout ends; the first failure is audited at once, the
// rest in one summary.
func TestLoginThrottle(t *testing.T) {
	env := newTestEnv(t)
	now := time.Now()
	env.srv.now = func() time.Time { return now }
	try := func(pw string) int {
		c, tok := env.loginForm()
		return c.do("POST", "/login", url.Values{"csrf": {tok}, "name": {account.RoleAuditor}, "password": {pw}}, nil).StatusCode
	}
	for i := 0; i < maxFailures; i++ {
		if got := try("wrong"); got != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, got)
		}
	}
	if got := try(testPassword(account.RoleAuditor)); got != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: %d, want 429", got)
	}
	now = now.Add(baseLockout + time.Second)
	if got := try(testPassword(account.RoleAuditor)); got != http.StatusSeeOther {
		t.Fatalf("right password after lockout: %d, want 303", got)
	}
	env.srv.refusals.flush()
	var failed, ok int
	var summary refusalSummary
	for _, e := range signinEntries(t, env.db) {
		switch e.Activity {
		case "Sign-in failed":
			failed++
		case "Repeated sign-in refusals":
			json.Unmarshal(e.After, &summary)
		case "Signed in":
			if e.Actor == account.RoleAuditor {
				ok++
			}
		}
	}
	if failed != 1 || ok != 1 || summary.Count != maxFailures || summary.Reasons[reasonLocked] != 1 || summary.Reasons[reasonWrongPassword] != maxFailures-1 {
		t.Fatalf("audit: %d failed, %d signed in, summary %+v", failed, ok, summary)
	}
}

// TestFlashOnlyFromServer: /?flash=<text> used to put attacker-chosen text in the
// banner; messages now come from the session and show once.
func TestFlashOnlyFromServer(t *testing.T) {
	env := newTestEnv(t)
	c := env.signIn(account.RoleAdmin)
	if page := c.get("/?flash=" + url.QueryEscape("Your session expired, call +1 555 0100")); strings.Contains(page, "555 0100") {
		t.Fatal("the banner shows text from the query string")
	}
	resp := c.post("/admin/users", url.Values{"name": {"flashy"}, "role": {account.RoleAnalyst}, "password": {"Velvet-Quarry-Lantern-92"}})
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "flash") {
		t.Fatalf("add account: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if page := c.get(resp.Header.Get("Location")); !strings.Contains(page, "Added account flashy") {
		t.Fatal("the server's message is not shown after the redirect")
	}
	if page := c.get("/admin/users"); strings.Contains(page, `data-testid="flash"`) {
		t.Fatal("the message shows twice")
	}
}

// TestLoginCookieClearedOnItsPath: the login token cookie is set for /login and must be
// cleared for /login (it used to be cleared for /, which leaves it in the browser).
func TestLoginCookieClearedOnItsPath(t *testing.T) {
	env := newTestEnv(t)
	c, tok := env.loginForm()
	resp := c.do("POST", "/login", url.Values{"csrf": {tok}, "name": {account.RoleAnalyst}, "password": {testPassword(account.RoleAnalyst)}}, nil)
	var cleared bool
	for _, k := range resp.Cookies() {
		if k.Name == loginCSRFCookie {
			if k.Path != "/login" || k.MaxAge >= 0 {
				t.Errorf("login cookie on sign-in: %+v, want cleared with Path=/login", k)
			}
			cleared = true
		}
	}
	if !cleared {
		t.Fatal("the login cookie is not cleared after sign-in")
	}
	u, _ := url.Parse(env.ts.URL + "/login")
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == loginCSRFCookie {
			t.Fatal("the browser still holds the login cookie")
		}
	}
}

// TestConfiguredSessionTimeouts: the idle and absolute time-outs come from the options
// (config [ui] session_idle_minutes, session_max_hours).
func TestConfiguredSessionTimeouts(t *testing.T) {
	env := newTestEnv(t)
	env.srv.idle, env.srv.maxAge = 5*time.Minute, time.Hour
	now := time.Now()
	env.srv.now = func() time.Time { return now }
	c := env.signIn(account.RoleAnalyst)
	now = now.Add(4 * time.Minute)
	if r := c.do("GET", "/", nil, nil); r.StatusCode != 200 {
		t.Fatalf("4 minutes idle of 5: %d", r.StatusCode)
	}
	now = now.Add(6 * time.Minute)
	if r := c.do("GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("6 minutes idle of 5: %d, want 303", r.StatusCode)
	}
	c = env.signIn(account.RoleAnalyst)
	for i := 0; i < 15; i++ { // active every 4 minutes for an hour
		now = now.Add(4 * time.Minute)
		c.do("GET", "/", nil, nil)
	}
	now = now.Add(time.Minute)
	if r := c.do("GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("61 minutes after sign-in with a 1-hour limit: %d, want 303", r.StatusCode)
	}
	s, err := newServer(Options{DB: env.db, Engine: env.eng})
	if err != nil || s.idle != 30*time.Minute || s.maxAge != 12*time.Hour {
		t.Fatalf("defaults: %v %v %v", s.idle, s.maxAge, err)
	}
}

// TestWeakPasswordRefusedInUI: the accounts page refuses a weak password with the reason.
func TestWeakPasswordRefusedInUI(t *testing.T) {
	env := newTestEnv(t)
	c := env.signIn(account.RoleAdmin)
	for pw, reason := range map[string]string{"password1234": "common password", "            ": "only spaces", "weakling-Velvet-9": "account name"} {
		resp := c.post("/admin/users", url.Values{"name": {"weakling"}, "role": {account.RoleAnalyst}, "password": {pw}})
		if page := body(resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, reason) {
			t.Errorf("password %q: status %d, page lacks %q", pw, resp.StatusCode, reason)
		}
	}
	if _, ok, _ := env.db.Account("weakling"); ok {
		t.Fatal("an account with a weak password was created")
	}
	resp := c.post("/admin/users/analyst", url.Values{"action": {"password"}, "password": {"analyst-Velvet-Quarry-1"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body(resp), "account name") {
		t.Errorf("set password containing the name: %d", resp.StatusCode)
	}
}

// TestAnalystDoesNotSeeRawRecord: the raw source record of an event is shown to
// investigators and hidden from analysts (PermRawContent).
func TestAnalystDoesNotSeeRawRecord(t *testing.T) {
	const upn = "ruth@contoso.com"
	now := time.Now().UTC()
	ev := event.Event{ID: "ev-raw", Feed: event.FeedAudit, Time: now.Add(-time.Hour), User: upn, Operation: "FileDownloaded",
		FileName: "plan.docx", Raw: json.RawMessage(`{"Id":"ev-raw","Secret":"RAW-ONLY-MARKER-7781"}`)}
	a := engine.Alert{ID: "ARAW", User: upn, Policy: "P", Template: "data_theft_departing", Severity: "high", Score: 80,
		Status: engine.StatusNeedsReview, Created: now, Updated: now, EventIDs: []string{ev.ID}}
	env := newTestEnv(t, func(db *store.DB) {
		if _, err := db.CommitEvents([]event.Event{ev}); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(a)
		if err := db.PutDocs([]store.Doc{{Key: store.AlertDocKey(a.ID), Value: b}}); err != nil {
			t.Fatal(err)
		}
	})
	inv := env.signIn(account.RoleInvestigator).get("/alerts/ARAW")
	if !strings.Contains(inv, "RAW-ONLY-MARKER-7781") || !strings.Contains(inv, "plan.docx") {
		t.Fatal("the investigator does not see the raw record (the test would prove nothing)")
	}
	ana := env.signIn(account.RoleAnalyst).get("/alerts/ARAW")
	if !strings.Contains(ana, "plan.docx") {
		t.Fatal("the analyst does not see the event at all")
	}
	if strings.Contains(ana, "RAW-ONLY-MARKER-7781") || strings.Contains(ana, "raw record") {
		t.Fatal("the analyst sees the raw record")
	}
}

// TestAuditExportDefusesFormulas: every cell an entry's values could start is defused
// in the CSV export, with values that start with each of = + - @ planted.
func TestAuditExportDefusesFormulas(t *testing.T) {
	env := newTestEnv(t, func(db *store.DB) {
		if _, err := db.AppendAudit(store.AuditEntry{Actor: "@SUM(1+1)*cmd|' /C calc'!A0", Category: "rules",
			Activity: "=HYPERLINK(\"http://evil.example\",\"x\")", Target: "+1+2", Details: "-2+3",
			Before: json.RawMessage(`"=1+1"`), After: json.RawMessage(`"@x"`)}); err != nil {
			t.Fatal(err)
		}
	})
	c := env.signIn(account.RoleAuditor)
	rows, err := csv.NewReader(strings.NewReader(c.get("/audit/export.csv?category=rules"))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("export: %d rows, %v", len(rows), err)
	}
	for i, v := range rows[1] {
		if v != "" && strings.ContainsRune("=+-@", rune(v[0])) {
			t.Errorf("column %s starts with a formula character: %q", rows[0][i], v)
		}
	}
	if rows[1][2] != "'@SUM(1+1)*cmd|' /C calc'!A0" {
		t.Errorf("actor cell %q, want the value prefixed with '", rows[1][2])
	}
}

// TestJSONAnswersAreUTF8: raw feed bytes that are not UTF-8 reach JSON answers only as
// U+FFFD.
func TestJSONAnswersAreUTF8(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, 200, map[string]any{"raw": json.RawMessage("{\"a\":\"caf\xe9 \xff\xfe\"}"), "s": "ok\xc3"})
	b := rec.Body.Bytes()
	if !utf8.Valid(b) || !json.Valid(b) || !strings.Contains(string(b), "caf\uFFFD") {
		t.Fatalf("answer %q", b)
	}
}
