package ui

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"irm/account"
	"irm/engine"
	"irm/event"
	"irm/store"
)

// Hostile values as a feed, an HR file, a rule author or a user could deliver them.
const (
	xssScript = `<script>alert(1)</script>`
	xssImg    = `"><img src=x onerror=alert(2)>`
	xssURL    = `javascript:alert(3)`
	xssAll    = xssScript + xssImg + xssURL
)

// assertInert parses a page and fails if anything in it could run script: a <script>
// other than our own htmx file, an on* attribute, a javascript: URL, or an element that
// only the payloads would have brought (img, iframe, svg, object, embed).
func assertInert(t *testing.T, name, page string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(page))
	inScript := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				t.Errorf("%s: inline script content %q", name, z.Text())
			}
		case html.EndTagToken:
			inScript = false
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script":
				inScript = tt == html.StartTagToken
				src := ""
				for _, a := range tok.Attr {
					if a.Key == "src" {
						src = a.Val
					}
				}
				if src != "/static/htmx.min.js" {
					t.Errorf("%s: unexpected script element %s", name, tok)
				}
			case "svg":
				// The activity timeline is the one SVG the UI draws; its attributes are fixed.
				for _, a := range tok.Attr {
					if !slices.Contains([]string{"xmlns", "viewbox", "width", "role", "aria-label"}, a.Key) {
						t.Errorf("%s: injected element %s", name, tok)
					}
				}
			case "img", "iframe", "object", "embed", "base":
				t.Errorf("%s: injected element %s", name, tok)
			}
			for _, a := range tok.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("%s: event handler attribute %s=%q on <%s>", name, a.Key, a.Val, tok.Data)
				}
				switch a.Key {
				case "href", "src", "action", "formaction":
					if strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
						t.Errorf("%s: javascript URL %s=%q", name, a.Key, a.Val)
					}
				}
			}
		}
	}
}

// TestHostileValuesAreInert plants hostile values in every kind of data the pages show
// (events, alerts, users, policies, settings, ledger, audit log, sign-in form) and
// proves each page renders them as text.
func TestHostileValuesAreInert(t *testing.T) {
	hostileUser := strings.ToLower(`x"><img src=x onerror=alert(2)>@contoso.com`)
	now := time.Now().UTC().Truncate(time.Second)
	ev := event.Event{
		ID: "ev-hostile-1", Feed: event.FeedAudit, Time: now.Add(-time.Hour), User: hostileUser,
		Operation: xssScript, Workload: xssImg, Object: xssURL, FileName: xssAll, URL: xssURL,
		TargetDomain: xssImg, Recipients: []string{xssScript}, Labels: []string{xssImg},
		Raw: json.RawMessage(`{"Operation":"<script>alert(1)</script>","ObjectId":"javascript:alert(3)"}`),
	}
	alert := engine.Alert{
		ID: "AHOSTILE", User: hostileUser, Policy: xssAll, Template: xssImg, Severity: xssImg, Score: 50,
		Status: engine.StatusNeedsReview, Created: now, Updated: now, RiskFactors: []string{xssScript},
		Insights: []engine.Insight{{Kind: "indicator", ID: xssImg, Name: xssScript, Day: now.Format("2006-01-02"),
			Count: 3, Level: xssImg, Detail: xssURL, EventIDs: []string{ev.ID}}},
		EventIDs: []string{ev.ID}, Triggers: []engine.TriggerRef{{Name: xssScript, Time: now, EventID: xssImg}},
		History: []engine.AlertNote{{Time: now, Actor: xssImg, Action: xssScript, Comment: xssURL}},
	}
	env := newTestEnv(t, func(db *store.DB) {
		if _, err := db.CommitEvents([]event.Event{ev}); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(alert)
		if err := db.PutDocs([]store.Doc{{Key: store.AlertDocKey(alert.ID), Value: b}}); err != nil {
			t.Fatal(err)
		}
		if err := db.LedgerPut(store.FileRecord{Digest: strings.Repeat("ab", 32), Feed: event.FeedAudit, Name: xssAll,
			Started: now, Finished: now, Records: 3, Rejected: 1, Errors: []string{"line 2: " + xssImg}, Failed: xssURL}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AppendAudit(store.AuditEntry{Actor: xssImg, Category: "rules", Activity: xssScript, Target: xssURL,
			Details: xssAll, After: json.RawMessage(`{"v":"<script>alert(1)</script>"}`)}); err != nil {
			t.Fatal(err)
		}
	})
	st := env.eng.Settings()
	st.PriorityGroups = append(st.PriorityGroups, engine.PriorityGroup{Name: xssScript + xssURL, Description: xssImg, Members: []string{"a@contoso.com"}})
	if err := env.eng.UpdateSettings("test", st); err != nil {
		t.Fatal(err)
	}
	policyName := xssAll
	if err := env.eng.SavePolicy("test", engine.Policy{Name: policyName, Description: xssAll, Template: "data_theft_departing",
		Users: []string{"*"}, Indicators: []string{engine.TemplateToken}, Enabled: true}); err != nil {
		t.Fatal(err)
	}

	// A case, a note and a notice template carry hostile text too.
	hostileCase, err := env.eng.CreateCase("test", xssAll, []string{"AHOSTILE"}, xssImg)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.eng.SaveNoticeTemplate("test", engine.NoticeTemplate{Name: "hostile" + xssImg, From: "irm@contoso.com", Subject: xssScript, Body: xssAll}); err != nil {
		t.Fatal(err)
	}

	c := env.signIn(account.RoleIRM)
	for _, reveal := range []string{"off", "on"} {
		c.post("/privacy/reveal", url.Values{"reveal": {reveal}})
		pages := []string{"/", "/alerts", "/alerts/AHOSTILE", "/policies", "/policies/" + url.PathEscape(policyName),
			"/settings", "/connectors", "/audit", "/audit?q=" + url.QueryEscape(xssScript), "/admin/users", "/policies/new", "/policies/scoring",
			"/cases", "/cases/" + hostileCase.ID, "/cases/" + hostileCase.ID + "/content",
			"/notices", "/notices?edit=" + url.QueryEscape("hostile"+xssImg), "/users/" + account.Pseudonym(env.srv.pseudo, hostileUser)}
		for _, p := range pages {
			resp := c.do("GET", p, nil, nil)
			page := body(resp)
			if resp.StatusCode != 200 {
				t.Errorf("%s: status %d", p, resp.StatusCode)
			}
			assertInert(t, p+" (reveal "+reveal+")", page)
		}
	}
	// A hostile user filter is refused, and echoed escaped.
	filtered := c.do("GET", "/alerts?user="+url.QueryEscape(xssScript), nil, nil)
	if page := body(filtered); filtered.StatusCode != 400 || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("hostile user filter: status %d", filtered.StatusCode)
	} else {
		assertInert(t, "hostile user filter", page)
	}
	// The planted values did render (escaped), so the checks above saw them.
	for _, p := range []string{"/alerts/AHOSTILE", "/connectors", "/audit", "/policies"} {
		if page := c.get(p); !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the hostile value is not shown escaped", p)
		}
	}
	// The wizard carries a hostile draft in a hidden field.
	draft, _ := json.Marshal(engine.Policy{Name: xssAll, Description: xssAll, Template: "data_theft_departing"})
	resp := c.post("/policies/new", url.Values{"draft": {string(draft)}, "step": {secName}, "nav": {"back"}})
	assertInert(t, "wizard with hostile draft", body(resp))

	// Start scoring echoes hostile UPNs, days and reason in its errors and the form, and a
	// valid but quote-bearing UPN, the reason and the hostile policy name in its result.
	resp = c.post("/policies/scoring", url.Values{"users": {xssScript + "\n" + xssImg + "\n" + xssURL + "\n" + hostileUser +
		"\nUser Principal Name\n\"" + xssImg + "\""}, "days": {xssImg}, "reason": {xssAll}})
	page := body(resp)
	if resp.StatusCode != 400 || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("start scoring with hostile values: status %d, or the values are not shown escaped", resp.StatusCode)
	}
	assertInert(t, "start scoring with hostile values", page)
	csvPage := body(c.post("/policies/scoring", url.Values{"users": {"User Principal Name,x\n\"" + xssImg + "\"," + xssScript + "\n"}, "days": {"7"}, "reason": {xssAll}, "policy": {xssAll}}))
	assertInert(t, "start scoring with hostile CSV", csvPage)
	resp = c.post("/policies/scoring", url.Values{"users": {"o'x@contoso.com"}, "days": {"5"}, "reason": {xssAll}, "policy": {policyName}})
	page = body(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, "o&#39;x@contoso.com") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("start scoring with a hostile reason: status %d, or the values are not shown escaped", resp.StatusCode)
	}
	assertInert(t, "start scoring result", page)

	// JSON: the API escapes < and > so a browser sniffing it cannot find markup.
	api := c.get("/api/v1/alerts")
	if strings.Contains(api, "<script>") || strings.Contains(api, "<img") {
		t.Errorf("API JSON carries raw markup: %s", api)
	}
	// The sign-in form echoes the typed name back.
	anon := env.client()
	m := csrfRE.FindStringSubmatch(anon.get("/login"))
	resp = anon.do("POST", "/login", url.Values{"csrf": {m[1]}, "name": {xssAll}, "password": {"x"}}, nil)
	assertInert(t, "login with hostile name", body(resp))
	// The CSV export defuses formulas.
	csv := c.get("/audit/export.csv")
	if strings.Contains(csv, ",=") || strings.Contains(csv, ",+") {
		t.Errorf("CSV export starts a cell with a formula character:\n%s", csv)
	}
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{"=SUM(A1)": "'=SUM(A1)", "+1": "'+1", "-2": "'-2", "@x": "'@x", "plain": "plain", "": ""} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
