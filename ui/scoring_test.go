package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"irm/account"
	"irm/engine"
	"irm/event"
	"irm/store"
)

// TestStartScoring: an admin opens "Start scoring users" from the policies list and
// posts the form (Purview's CSV format); the engine puts the covered users in scope of
// the policy without a trigger and audits it. A bad form and a token-less post change
// nothing.
func TestStartScoring(t *testing.T) {
	now := time.Now().UTC()
	var evs []event.Event
	for i, u := range []string{"alice@contoso.com", "bob@contoso.com", "carol@contoso.com"} {
		evs = append(evs, event.Event{ID: "ev-scoring-" + u, Feed: event.FeedAudit, Time: now.Add(-time.Duration(i+1) * time.Hour),
			User: u, Operation: "FileDownloaded", FileName: "plan.docx"})
	}
	env := newTestEnv(t, func(db *store.DB) {
		if _, err := db.CommitEvents(evs); err != nil {
			t.Fatal(err)
		}
	})
	// Departing-user theft needs a resignation to trigger; nobody has one.
	if err := env.eng.SavePolicy("test", engine.Policy{Name: "Departing", Template: "data_theft_departing",
		Users: []string{"alice@contoso.com", "bob@contoso.com"}, Indicators: []string{engine.TemplateToken}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := env.eng.Rebuild(); err != nil {
		t.Fatal(err)
	}
	inScope := func() int { return env.eng.InScope()["Departing"] }
	if n := inScope(); n != 0 {
		t.Fatalf("before: %d users in scope, want 0 (no trigger)", n)
	}
	started := func() []store.AuditEntry {
		var out []store.AuditEntry
		env.db.AuditEntries(store.AuditFilter{Category: "policies"}, func(e store.AuditEntry) error {
			if e.Activity == "scoring started" {
				out = append(out, e)
			}
			return nil
		})
		return out
	}

	c := env.signIn(account.RoleAdmin)
	if list := c.get("/policies"); !strings.Contains(list, `href="/policies/scoring"`) {
		t.Fatal("the policies list does not link to /policies/scoring")
	}
	form := c.get("/policies/scoring")
	if !strings.Contains(form, `name="days"`) || !strings.Contains(form, `value="30"`) || !strings.Contains(form, `name="reason"`) ||
		!strings.Contains(form, `name="policy" value="Departing"`) {
		t.Fatalf("form: no days field defaulting to 30 or no reason field:\n%s", form)
	}

	// Every problem at once, each named; nothing changes.
	resp := c.post("/policies/scoring", url.Values{"users": {"alice@contoso.com\nnot-a-upn\r\nbob smith@contoso.com"}, "days": {"31"}, "reason": {"  "}})
	page := body(resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad form: status %d, want 400", resp.StatusCode)
	}
	for _, want := range []string{"line 2: &#34;not-a-upn&#34; is not a UPN", "line 3: &#34;bob smith@contoso.com&#34;", "a space", "Days:", "Reason:", "Not started"} {
		if !strings.Contains(page, want) {
			t.Errorf("bad form: page does not say %q", want)
		}
	}
	if !strings.Contains(page, "not-a-upn\r\nbob smith") && !strings.Contains(page, "not-a-upn\nbob smith") {
		t.Error("bad form: the typed users are not kept in the form")
	}
	// Without the CSRF token: refused, nothing changes.
	resp = c.do("POST", "/policies/scoring", url.Values{"users": {"alice@contoso.com"}, "days": {"7"}, "reason": {"x"}, "policy": {"Departing"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("token-less post: status %d, want 403", resp.StatusCode)
	}
	if n, a := inScope(), started(); n != 0 || len(a) != 0 {
		t.Fatalf("refused posts changed something: %d in scope, %d audit entries", n, len(a))
	}

	// Purview's CSV: header, other columns, a duplicate in another case, a user no policy covers.
	csv := "\uFEFFUser Principal Name,Display Name\r\nAlice@Contoso.com,Alice\r\nbob@contoso.com,\"Smith, Bob\"\r\nALICE@contoso.com,Alice again\r\ncarol@contoso.com,Carol\r\n"
	// No policy chosen: refused, named.
	resp = c.post("/policies/scoring", url.Values{"users": {csv}, "days": {"7"}, "reason": {"HR tip-off 42"}})
	if page := body(resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "choose at least one policy") {
		t.Fatalf("no policy: status %d, want 400 naming the policies", resp.StatusCode)
	}
	resp = c.post("/policies/scoring", url.Values{"users": {csv}, "days": {"7"}, "reason": {"HR tip-off 42"}, "policy": {"Departing"}})
	page = body(resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("start scoring: status %d:\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{"Started scoring 3 users for 7 days", "1 duplicate line was ignored", "Reason: HR tip-off 42",
		"1 of these users is not covered", "alice@contoso.com", "carol@contoso.com", "no policy", "Departing"} {
		if !strings.Contains(page, want) {
			t.Errorf("result: page does not say %q", want)
		}
	}

	// The engine's effect: alice and bob are in scope of the policy (carol is not covered).
	if n := inScope(); n != 2 {
		t.Errorf("after: %d users in scope of Departing, want 2", n)
	}
	a := started()
	if len(a) != 1 {
		t.Fatalf("%d 'scoring started' audit entries, want 1", len(a))
	}
	var after struct {
		Users []string `json:"users"`
		Days  int      `json:"days"`
	}
	if err := json.Unmarshal(a[0].After, &after); err != nil {
		t.Fatal(err)
	}
	if a[0].Actor != account.RoleAdmin || a[0].Details != "HR tip-off 42" || after.Days != 7 ||
		!slices.Equal(after.Users, []string{"alice@contoso.com", "bob@contoso.com", "carol@contoso.com"}) {
		t.Errorf("audit entry: actor %q details %q after %s", a[0].Actor, a[0].Details, a[0].After)
	}
	// The scoring is stored: a full re-evaluation keeps it.
	if err := env.eng.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if n := inScope(); n != 2 {
		t.Errorf("after rebuild: %d users in scope, want 2", n)
	}
	// The auditor finds it in the audit log page.
	if log := env.signIn(account.RoleAuditor).get("/audit?category=policies"); !strings.Contains(log, "scoring started") {
		t.Error("the audit log page does not show the scoring")
	}
}

func TestParseScoringUsers(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		users    []string
		dups     int
		problems []string // substrings, in order
	}{
		{"lines, commas, semicolons, blanks", "a@contoso.com\n\n  B@Contoso.com , c@contoso.com;d@contoso.com\r\n", []string{"a@contoso.com", "b@contoso.com", "c@contoso.com", "d@contoso.com"}, 0, nil},
		{"duplicates", "a@contoso.com\nA@CONTOSO.COM\na@contoso.com", []string{"a@contoso.com"}, 2, nil},
		{"apostrophe and dots", "o'brien.j-k_l@sub.contoso.com", []string{"o'brien.j-k_l@sub.contoso.com"}, 0, nil},
		{"empty", " \n ", nil, 0, []string{"enter at least one UPN"}},
		{"bad lines named", "a@contoso.com\nbob\nx@@y\n@contoso.com\nz@\nq<r@contoso.com\ns@contoso..com\nt@-x.com",
			[]string{"a@contoso.com"}, 0,
			[]string{"line 2: \"bob\" is not a UPN (name@domain): it has no @", "line 3:", "more than one @", "line 4:", "nothing before the @",
				"line 5:", "no domain", "line 6:", "'<' is not allowed", "line 7:", "not a domain name", "line 8:"}},
		{"CSV, column not first, quoted", "Display Name,user principal name\n\"Smith, Bob\",bob@contoso.com\nAlice,\"alice@contoso.com\"\n,\n",
			[]string{"bob@contoso.com", "alice@contoso.com"}, 0, nil},
		{"CSV row without the column", "Name,User Principal Name\nBob\nAlice,alice@contoso.com\n", []string{"alice@contoso.com"}, 0,
			[]string{"line 2: the row has no User Principal Name value"}},
		{"CSV bad value", "User Principal Name\nbob@contoso.com\nnope\n", []string{"bob@contoso.com"}, 0, []string{"line 3: \"nope\""}},
		{"CSV broken quote", "User Principal Name\nbob@contoso.com\n\"x@contoso.com\"y\n", []string{"bob@contoso.com"}, 0, []string{"line 3: not valid CSV"}},
		{"header alone", "User Principal Name\n", nil, 0, []string{"enter at least one UPN"}},
	} {
		users, dups, problems := parseScoringUsers(tc.in)
		if !slices.Equal(users, tc.users) || dups != tc.dups {
			t.Errorf("%s: users %q dups %d, want %q %d", tc.name, users, dups, tc.users, tc.dups)
		}
		all := strings.Join(problems, "\n")
		rest := all
		for _, want := range tc.problems {
			i := strings.Index(rest, want)
			if i < 0 {
				t.Errorf("%s: problems do not say %q (in order):\n%s", tc.name, want, all)
				break
			}
			rest = rest[i+len(want):]
		}
		if len(tc.problems) == 0 && len(problems) > 0 {
			t.Errorf("%s: unexpected problems:\n%s", tc.name, all)
		}
	}
	// Many bad lines: the first ones are named, the rest counted.
	_, _, problems := parseScoringUsers(strings.Repeat("bad\n", 30))
	if len(problems) != scoringMaxErrors+1 || !strings.Contains(problems[scoringMaxErrors], "10 more problems") {
		t.Errorf("30 bad lines: %d problems, last %q", len(problems), problems[len(problems)-1])
	}
	// Too many users.
	var b strings.Builder
	for i := range scoringMaxUsers + 1 {
		b.WriteString("u" + itoa(i) + "@contoso.com\n")
	}
	if _, _, problems := parseScoringUsers(b.String()); len(problems) != 1 || !strings.Contains(problems[0], "at most 5000") {
		t.Errorf("too many users: %q", problems)
	}
}

func TestParseScoringFormDaysAndReason(t *testing.T) {
	for _, tc := range []struct {
		days, reason string
		ok           bool
	}{
		{"30", "r", true}, {" 5 ", "r", true}, {"4", "r", false}, {"31", "r", false}, {"", "r", false}, {"7.5", "r", false},
		{"10", "", false}, {"10", " \n ", false}, {"10", strings.Repeat("é", scoringMaxReason), true}, {"10", strings.Repeat("x", scoringMaxReason+1), false},
	} {
		_, _, _, _, problems := parseScoringForm(scoringForm{Users: "a@contoso.com", Days: tc.days, Reason: tc.reason})
		if (len(problems) == 0) != tc.ok {
			t.Errorf("days %q reason of %d chars: problems %q, want ok=%v", tc.days, len(tc.reason), problems, tc.ok)
		}
	}
}

// TestReservedPolicyNames: /policies/new and /policies/scoring are pages, so the wizard
// refuses those names.
func TestReservedPolicyNames(t *testing.T) {
	env := newTestEnv(t)
	for _, name := range []string{"new", "scoring"} {
		if err := env.srv.checkNewName(name); err == nil {
			t.Errorf("policy name %q accepted", name)
		}
	}
	if err := env.srv.checkNewName("Scoring review"); err != nil {
		t.Errorf("ordinary name refused: %v", err)
	}
}
