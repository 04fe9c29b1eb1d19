package ui

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"irm/account"
	"irm/engine"
	"irm/event"
	"irm/store"
)

var pseudonymRE = regexp.MustCompile(`^Anon-[0-9A-F]{6}$`)

var userLinkRE = regexp.MustCompile(`/users/Anon-[0-9A-F]{6}`)

// TestPseudonymMatchesEngine: the engine still computes pseudonyms itself (for the CLI's
// alert listings); both must give the same name.
func TestPseudonymMatchesEngine(t *testing.T) {
	for _, upn := range []string{"alice@contoso.com", "Bob@Contoso.com", ""} {
		if a, e := account.Pseudonym([]byte("k"), upn), engine.PseudonymOf([]byte("k"), upn); a != e {
			t.Errorf("%q: account %s, engine %s", upn, a, e)
		}
	}
}

// TestPseudonymization: with pseudonymize on, analysts and investigators see the stable
// pseudonym on every page and in the API; an investigator may switch real names on,
// which is audited; an analyst may not; with pseudonymize off everyone sees UPNs.
func TestPseudonymization(t *testing.T) {
	const upn = "mallory@contoso.com"
	now := time.Now().UTC()
	ev := event.Event{ID: "ev-priv", Feed: event.FeedAudit, Time: now.Add(-time.Hour), User: upn, Operation: "FileDownloaded",
		Object: "https://contoso-my.sharepoint.com/personal/Mallory_contoso_com/Documents/plan.docx", FileName: "plan.docx",
		Recipients: []string{"Mallory@Contoso.com"}, Raw: json.RawMessage(`{"UserId":"mallory@contoso.com"}`)}
	a := engine.Alert{ID: "APRIV", User: upn, Policy: "P", Template: "data_theft_departing", Severity: "high", Score: 80,
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
	key, err := env.db.SecretKey("pseudonym")
	if err != nil {
		t.Fatal(err)
	}
	anon := account.Pseudonym(key, upn)
	pages := []string{"/", "/alerts", "/alerts/APRIV", "/api/v1/alerts", "/api/v1/alerts/APRIV"}
	shows := func(c *client, want, notWant string) {
		t.Helper()
		for _, p := range pages {
			// Links to the user page name the user by pseudonym for everyone (a copied
			// link gives no name away); they are not what the viewer reads.
			page := userLinkRE.ReplaceAllString(c.get(p), "")
			low := strings.ToLower(page)
			leaked := strings.Contains(low, strings.ToLower(notWant)) || (notWant == upn && strings.Contains(low, "mallory_contoso_com"))
			if !strings.Contains(page, want) || leaked {
				t.Errorf("%s: want %q and not %q", p, want, notWant)
			}
		}
	}
	analyst, investigator := env.signIn(account.RoleAnalyst), env.signIn(account.RoleInvestigator)
	shows(analyst, anon, upn)
	shows(investigator, anon, upn)

	if r := analyst.post("/privacy/reveal", url.Values{"reveal": {"on"}}); r.StatusCode != 403 {
		t.Fatalf("analyst reveal: %d, want 403", r.StatusCode)
	}
	if r := investigator.post("/privacy/reveal", url.Values{"reveal": {"on"}}); r.StatusCode != 303 {
		t.Fatalf("investigator reveal: %d, want 303", r.StatusCode)
	}
	shows(investigator, upn, anon)
	shows(analyst, anon, upn) // one session's choice does not leak into another's
	var audited bool
	env.db.AuditEntries(store.AuditFilter{Actor: account.RoleInvestigator, Category: "users"}, func(e store.AuditEntry) error {
		audited = audited || e.Activity == "Showed real names"
		return nil
	})
	if !audited {
		t.Fatal("revealing real names was not audited")
	}
	investigator.post("/privacy/reveal", url.Values{"reveal": {"off"}})
	shows(investigator, anon, upn)

	st := env.eng.Settings()
	st.Pseudonymize = false
	if err := env.eng.UpdateSettings("test", st); err != nil {
		t.Fatal(err)
	}
	shows(analyst, upn, anon)

	// A priority group that names its viewers hides its members' alerts from others.
	st.PriorityGroups = []engine.PriorityGroup{{Name: "Execs", Members: []string{upn}, Viewers: []string{account.RoleInvestigator}}}
	if err := env.eng.UpdateSettings("test", st); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/alerts/APRIV", "/api/v1/alerts/APRIV"} {
		if r := analyst.do("GET", p, nil, nil); r.StatusCode != 404 {
			t.Errorf("analyst %s of a restricted priority user: %d, want 404", p, r.StatusCode)
		}
		if r := investigator.do("GET", p, nil, nil); r.StatusCode != 200 {
			t.Errorf("investigator %s: %d, want 200", p, r.StatusCode)
		}
	}
	if page := analyst.get("/alerts"); strings.Contains(page, "APRIV") {
		t.Error("analyst's alert list shows a restricted priority user")
	}
}
