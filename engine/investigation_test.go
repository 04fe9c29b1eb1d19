package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"irm/store"
)

// raise commits a resignation and a USB burst for each user and returns their alerts.
func raise(t *testing.T, users ...string) (*Engine, map[string]Alert, string) {
	t.Helper()
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	for _, u := range users {
		commit(t, e, db, append(usbDays(u, 30, 5), resignation(u, at(4, 0), at(20, 0))))
	}
	out := map[string]Alert{}
	for _, u := range users {
		out[u] = onlyAlert(t, e, u, "Departing")
	}
	return e, out, db.Badger().Opts().Dir
}

// TestAlertIDsAreKeyed: alert ids are an HMAC under a per-installation key: two
// installations with the same data give different ids, neither is the old unkeyed hash
// of UPN and policy, and an installation keeps its key across restarts.
func TestAlertIDsAreKeyed(t *testing.T) {
	const u = "ann@contoso.com"
	e1, a1, _ := raise(t, u)
	e2, a2, _ := raise(t, u)
	if a1[u].ID == a2[u].ID {
		t.Fatalf("two installations gave the same alert id %s", a1[u].ID)
	}
	sum := sha256.Sum256([]byte(u + "\x00Departing\x000"))
	if old := "A" + strings.ToUpper(hex.EncodeToString(sum[:6])); a1[u].ID == old {
		t.Fatalf("alert id %s is the unkeyed hash of the UPN", old)
	}
	if e1.alertID(u, "Departing", 0) != a1[u].ID || e2.alertID(u, "Departing", 0) == e1.alertID(u, "Departing", 0) {
		t.Fatal("alertID does not give the stored ids")
	}
	e3 := engineOver(t, e1.db)
	if got := e3.alertID(u, "Departing", 0); got != a1[u].ID {
		t.Fatalf("after a restart the id is %s, want %s", got, a1[u].ID)
	}
	c, err := e1.CreateCase("analyst", "USB burst", []string{a1[u].ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == e2.caseID(u, "USB burst", c.Created.UnixNano(), 0) || !strings.HasPrefix(c.ID, "C") || len(c.ID) != 13 {
		t.Fatalf("case id %s is not keyed per installation", c.ID)
	}
}

// TestQueryAlerts: filters, counts by severity, sorting and paging over the read model,
// and that it follows status changes.
func TestQueryAlerts(t *testing.T) {
	var users []string
	for i := range 7 {
		users = append(users, fmt.Sprintf("user%d@contoso.com", i))
	}
	e, as, _ := raise(t, users...)
	all, err := e.QueryAlerts(AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if all.Total != 7 || len(all.Alerts) != 7 {
		t.Fatalf("total %d, page %d, want 7", all.Total, len(all.Alerts))
	}
	sev := as[users[0]].Severity
	if all.BySeverity[sev] != 7 {
		t.Fatalf("by severity %v", all.BySeverity)
	}
	other := map[string]string{LevelLow: LevelHigh, LevelMedium: LevelLow, LevelHigh: LevelLow}[sev]
	if p, _ := e.QueryAlerts(AlertQuery{AlertFilter: AlertFilter{Severity: sev}}); p.Total != 7 {
		t.Fatalf("severity %s: %d alerts, want 7", sev, p.Total)
	}
	if p, _ := e.QueryAlerts(AlertQuery{AlertFilter: AlertFilter{Severity: other}}); p.Total != 0 || p.BySeverity[sev] != 7 {
		t.Fatalf("severity %s: %d alerts, want 0 (and the %s count still 7: %v)", other, p.Total, sev, p.BySeverity)
	}
	for _, a := range all.Alerts {
		if !strings.HasPrefix(a.Title, "Departing: ") || a.Title == "Departing: " {
			t.Errorf("title %q does not say what the alert is about", a.Title)
		}
	}
	// Paging: 3 per page, no alert twice, none lost.
	seen := map[string]bool{}
	for off := 0; off < 9; off += 3 {
		p, err := e.QueryAlerts(AlertQuery{Offset: off, Limit: 3, Sort: SortScore})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Alerts {
			if seen[a.ID] {
				t.Fatalf("alert %s on two pages", a.ID)
			}
			seen[a.ID] = true
		}
	}
	if len(seen) != 7 {
		t.Fatalf("pages held %d alerts, want 7", len(seen))
	}
	// A dismissal shows at once in the status filter, and the hidden users are hidden.
	if err := e.SetAlertStatus("analyst", as[users[1]].ID, StatusDismissed, "known project"); err != nil {
		t.Fatal(err)
	}
	p, _ := e.QueryAlerts(AlertQuery{AlertFilter: AlertFilter{Status: StatusDismissed}})
	if p.Total != 1 || p.Alerts[0].ID != as[users[1]].ID {
		t.Fatalf("dismissed: %+v", p)
	}
	p, _ = e.QueryAlerts(AlertQuery{Hidden: func(u string) bool { return u == users[2] }})
	if p.Total != 6 || slices.ContainsFunc(p.Alerts, func(a AlertSummary) bool { return a.User == users[2] }) {
		t.Fatalf("hidden user listed: total %d", p.Total)
	}
	p, _ = e.QueryAlerts(AlertQuery{AlertFilter: AlertFilter{User: users[3]}})
	if p.Total != 1 {
		t.Fatalf("user filter: %d", p.Total)
	}
	p, _ = e.QueryAlerts(AlertQuery{RiskFactor: FactorPriority})
	if p.Total != 7 {
		t.Fatalf("risk factor filter (every alert has labelled files): %d", p.Total)
	}
	p, _ = e.QueryAlerts(AlertQuery{Until: time.Unix(0, 1)})
	if p.Total != 0 {
		t.Fatalf("until the epoch: %d", p.Total)
	}
	for _, bad := range []AlertQuery{{AlertFilter: AlertFilter{Status: "open"}}, {Sort: "name"}, {RiskFactor: "x"}} {
		if _, err := e.QueryAlerts(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestBulkAndAssign: a bulk dismissal needs a reason, checks every alert first, writes
// them all and audits once; assignment is recorded in the history and the audit log.
func TestBulkAndAssign(t *testing.T) {
	users := []string{"a@contoso.com", "b@contoso.com", "c@contoso.com"}
	e, as, _ := raise(t, users...)
	ids := []string{as[users[0]].ID, as[users[1]].ID}
	audits := func(activity string) int {
		n := 0
		e.db.AuditEntries(store.AuditFilter{Category: "alerts"}, func(en store.AuditEntry) error {
			if strings.Contains(en.Activity, activity) {
				n++
			}
			return nil
		})
		return n
	}
	if err := e.BulkSetStatus("analyst", ids, StatusDismissed, ""); err == nil {
		t.Fatal("bulk dismissal without a reason accepted")
	}
	if err := e.BulkSetStatus("analyst", append(slices.Clone(ids), "ANOSUCH"), StatusDismissed, "noise"); err == nil {
		t.Fatal("bulk dismissal with an unknown alert accepted")
	}
	if a, _ := e.Alert(ids[0]); a.Status != StatusNeedsReview {
		t.Fatal("a refused bulk action changed an alert")
	}
	if err := e.BulkSetStatus("analyst", make([]string, MaxBulk+1), StatusDismissed, "noise"); err == nil {
		t.Fatal("more than MaxBulk accepted")
	}
	before := audits("in bulk")
	if err := e.BulkSetStatus("analyst", ids, StatusDismissed, "test accounts"); err != nil {
		t.Fatal(err)
	}
	if n := audits("in bulk") - before; n != 1 {
		t.Fatalf("bulk dismissal wrote %d audit entries, want 1", n)
	}
	for _, id := range ids {
		a, _ := e.Alert(id)
		if a.Status != StatusDismissed || a.History[len(a.History)-1].Comment != "test accounts" {
			t.Fatalf("%s: %s %+v", id, a.Status, a.History)
		}
	}
	// The store has the change (a restarted engine sees it).
	e2 := engineOver(t, e.db)
	if a, _ := e2.Alert(ids[0]); a.Status != StatusDismissed || len(a.Insights) == 0 || len(a.EventIDs) == 0 {
		t.Fatalf("after restart: %s, %d insights, %d events", a.Status, len(a.Insights), len(a.EventIDs))
	}
	if err := e.AssignAlerts("lead", []string{as[users[2]].ID}, "analyst"); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.Alert(as[users[2]].ID); a.Assignee != "analyst" || !strings.Contains(a.History[len(a.History)-1].Action, "assigned to analyst") {
		t.Fatalf("assignment: %q %+v", a.Assignee, a.History)
	}
	if p, _ := e.QueryAlerts(AlertQuery{Assignee: "analyst"}); p.Total != 1 {
		t.Fatalf("assignee filter: %d", p.Total)
	}
	if p, _ := e.QueryAlerts(AlertQuery{Assignee: "-"}); p.Total != 2 {
		t.Fatalf("unassigned filter: %d", p.Total)
	}
	if audits("alerts assigned") != 1 {
		t.Fatal("assignment not audited")
	}
}

// TestPartialAlertsAfterRestart: alerts load from their heads and are completed from
// the store when read; active alerts are whole before the first evaluation; a reopened
// alert is whole again and scoring continues; alerts stored without a head get one.
func TestPartialAlertsAfterRestart(t *testing.T) {
	const u, v = "ann@contoso.com", "bob@contoso.com"
	e, as, _ := raise(t, u, v)
	id := as[u].ID
	ev := engineOver(t, e.db)
	if !ev.alerts[as[v].ID].partial {
		t.Fatal("an alert was decoded whole at start")
	}
	if err := ev.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if ev.alerts[as[v].ID].partial {
		t.Fatal("the active alert is still partial after an evaluation")
	}
	if a, _ := ev.Alert(as[v].ID); a.Score != as[v].Score || len(a.History) != len(as[v].History) {
		t.Fatalf("evaluation after restart changed the alert: %+v", a)
	}
	// Heads gone (an older version's store): the alerts still load, and heads come back.
	var drop []store.Doc
	e.db.EngineStates("alert-head/", func(name string, _ []byte) error {
		drop = append(drop, store.Doc{Key: "eng/" + name})
		return nil
	})
	if len(drop) != 2 {
		t.Fatalf("%d alert heads stored, want 2", len(drop))
	}
	if err := e.db.PutDocs(drop); err != nil {
		t.Fatal(err)
	}
	if el := engineOver(t, e.db); len(el.alerts) != 2 || el.alertIx.entries[0].title == "" {
		t.Fatalf("without heads: %d alerts", len(el.alerts))
	}
	n := 0
	e.db.EngineStates("alert-head/", func(string, []byte) error { n++; return nil })
	if n != 2 {
		t.Fatalf("%d heads rewritten, want 2", n)
	}
	if err := e.SetAlertStatus("analyst", id, StatusDismissed, "expected"); err != nil {
		t.Fatal(err)
	}
	e2 := engineOver(t, e.db)
	if a := e2.alerts[id]; !a.partial || a.EventIDs != nil {
		t.Fatal("a closed alert was decoded whole at start")
	}
	got, ok := e2.Alert(id)
	if !ok || len(got.EventIDs) != len(as[u].EventIDs) || len(got.History) < 2 || got.Insights[0].Detail == "" {
		t.Fatalf("completed alert: %d events, %d history entries", len(got.EventIDs), len(got.History))
	}
	if err := e2.SetAlertStatus("analyst", id, StatusNeedsReview, "reopened"); err != nil {
		t.Fatal(err)
	}
	a, _ := e2.Alert(id)
	if a.Status != StatusNeedsReview || len(a.History) < 3 || len(a.EventIDs) == 0 {
		t.Fatalf("reopened: %s, %d history entries", a.Status, len(a.History))
	}
	list := e2.Alerts(AlertFilter{})
	if len(list) != 2 || !slices.ContainsFunc(list, func(a Alert) bool { return a.ID == id && a.Status == StatusNeedsReview }) {
		t.Fatalf("alerts after reopening: %+v", list)
	}
}

// TestCasesAndNotes: a case is about one user; alerts can be added; notes append;
// resolution resolves the alerts.
func TestCasesAndNotes(t *testing.T) {
	users := []string{"ann@contoso.com", "bob@contoso.com"}
	e, as, _ := raise(t, users...)
	if _, err := e.CreateCase("analyst", "mixed", []string{as[users[0]].ID, as[users[1]].ID}, ""); err == nil {
		t.Fatal("a case of two users was created")
	}
	c, err := e.CreateCase("analyst", "Ann's USB burst", []string{as[users[0]].ID}, "first look")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddAlertsToCase("analyst", c.ID, []string{as[users[1]].ID}); err == nil {
		t.Fatal("another user's alert was added to the case")
	}
	if err := e.AddCaseNote("investigator", c.ID, "called HR"); err != nil {
		t.Fatal(err)
	}
	if err := e.ResolveCase("investigator", c.ID, ResolutionViolation, ""); err == nil {
		t.Fatal("a violation without the action taken was accepted")
	}
	if err := e.ResolveCase("investigator", c.ID, ResolutionViolation, "access revoked"); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Case(c.ID)
	if got.Status != "closed" || len(got.Notes) != 3 || !strings.Contains(got.Notes[2].Text, "confirmed policy violation") {
		t.Fatalf("case after resolution: %+v", got)
	}
	if a, _ := e.Alert(as[users[0]].ID); a.Status != StatusResolved || a.Case != c.ID {
		t.Fatalf("alert after resolution: %s %s", a.Status, a.Case)
	}
	if err := e.AddCaseNote("investigator", c.ID, strings.Repeat("x", maxNote+1)); err == nil {
		t.Fatal("an oversized note was accepted")
	}
	if cs := e.CasesOf(users[0]); len(cs) != 1 || cs[0].ID != c.ID {
		t.Fatalf("cases of the user: %+v", cs)
	}
}

// TestNoticeTemplates: every problem is named; placeholders must be known.
func TestNoticeTemplates(t *testing.T) {
	e, _ := newTestEngine(t)
	err := e.SaveNoticeTemplate("inv", NoticeTemplate{Name: "", From: "not an address", CC: []string{"x"}, Subject: "", Body: "Hi {{nickname}}"})
	for _, want := range []string{"name:", "sender", "cc \"x\"", "subject", "{{nickname}}"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	ok := NoticeTemplate{Name: "Reminder", From: "irm@contoso.com", Subject: "Case {{case_id}}", Body: "Dear {{user_name}}, …"}
	if err := e.SaveNoticeTemplate("inv", ok); err != nil {
		t.Fatal(err)
	}
	ts, err := e.NoticeTemplates()
	if err != nil || len(ts) != 1 || ts[0].UpdatedBy != "inv" {
		t.Fatalf("templates: %v %+v", err, ts)
	}
	if _, err := e.SendNotice(t.Context(), "inv", "CNOSUCH", "Reminder"); err == nil || !strings.Contains(err.Error(), "no mail server") {
		t.Fatalf("send without [smtp]: %v", err)
	}
	if err := e.DeleteNoticeTemplate("inv", "Reminder"); err != nil {
		t.Fatal(err)
	}
	if NameFromUPN("ann.smith2@contoso.com") != "Ann Smith" {
		t.Fatal(NameFromUPN("ann.smith2@contoso.com"))
	}
}

// TestTimelineAndScopes: the user's timeline counts the matched events per category
// and day, and its score line reaches the alert's score on the burst.
func TestTimelineAndScopes(t *testing.T) {
	const u = "ann@contoso.com"
	e, as, _ := raise(t, u)
	e.now = func() time.Time { return at(10, 0) }
	tl, err := e.UserTimeline(u, 31)
	if err != nil {
		t.Fatal(err)
	}
	burst := slices.Index(tl.Days, at(5, 0).Format("2006-01-02"))
	if burst < 0 {
		t.Fatalf("days %v lack the burst", tl.Days)
	}
	found := false
	for i, cat := range tl.Categories {
		if tl.Counts[i][burst] == 30 {
			found = true
			_ = cat
		}
	}
	if !found {
		t.Fatalf("no category counts the 30 USB copies: %v %v", tl.Categories, tl.Counts)
	}
	if m := slices.Max(tl.Score); m != as[u].Score {
		t.Fatalf("timeline score peaks at %d, the alert's score is %d", m, as[u].Score)
	}
	if len(tl.Marks) == 0 || tl.Marks[0].Day != burst {
		t.Fatalf("marks %+v", tl.Marks)
	}
	scopes, err := e.UserScopes(u)
	if err != nil || len(scopes) != 1 || scopes[0].Policy != "Departing" || scopes[0].Alert != as[u].ID || len(scopes[0].Windows) == 0 {
		t.Fatalf("scopes: %v %+v", err, scopes)
	}
	page, err := e.AlertActivity(as[u].ID, ActivityFilter{Limit: 10})
	if err != nil || page.All != 30 || page.Total != 30 || len(page.Events) != 10 {
		t.Fatalf("explorer: %v all %d total %d page %d", err, page.All, page.Total, len(page.Events))
	}
	page, _ = e.AlertActivity(as[u].ID, ActivityFilter{Offset: 25, Limit: 10, Day: tl.Days[burst]})
	if len(page.Events) != 5 || !page.Events[0].Event.Time.Before(page.Events[4].Event.Time) {
		t.Fatalf("last page: %d events", len(page.Events))
	}
}

// TestAlertHeadCodec: a head round-trips the fields start-up needs, and every cut or
// corrupted head is an error, not a panic or a wrong alert.
func TestAlertHeadCodec(t *testing.T) {
	now := time.Date(2026, 11, 3, 9, 30, 0, 123, time.UTC)
	a := &Alert{ID: "A0123456789AB", User: "ann@contoso.com", Policy: "Departing", Template: "data_theft_departing", Severity: "high",
		Score: 81, Status: StatusDismissed, Created: now, Updated: now.Add(time.Hour), RiskFactors: []string{FactorAboveUsual, FactorPriority},
		Case: "C1", Title: "Departing: USB", Assignee: "bob",
		Insights: []Insight{{Kind: "indicator", ID: "copy_to_usb", Day: "2026-11-03", Level: "high", Name: "not kept"}}}
	b := encodeHead(a)
	got, refs, err := decodeHead(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0] != (coverRef{"indicator/copy_to_usb/2026-11-03", 3}) {
		t.Fatalf("cover refs %+v", refs)
	}
	want := *a
	want.Insights = nil
	want.partial = true
	if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", *got, want)
	}
	for i := range b {
		if _, _, err := decodeHead(b[:i]); err == nil {
			t.Fatalf("head cut at %d of %d decoded", i, len(b))
		}
	}
	bad := slices.Clone(b)
	bad[len(bad)-1] = 0xff
	if _, _, err := decodeHead(append(bad, 0xff)); err == nil {
		t.Fatal("a head with trailing bytes decoded")
	}
}
