package engine

import (
	"fmt"
	"irm/dsl"
	"irm/rules"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"irm/event"
	"irm/store"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(day, hour int) time.Time { return day0.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour) }

// departingPolicy uses fixed thresholds: these tests are about the alert lifecycle and
// have no month of history for user mode to compare with (the golden tests in
// testdata/ cover user mode).
const departingPolicy = `
[[policy]]
name = "Departing"
template = "data_theft_departing"
users = ["*"]
priority_content = { labels = ["Confidential"] }
threshold_mode = "fixed"
`

// usbDays copies n files a day to USB on each of the days, labelled Confidential.
func usbDays(user string, n int, days ...int) []event.Event {
	var out []event.Event
	for _, d := range days {
		for i := 0; i < n; i++ {
			out = append(out, ev(user, "FileCopiedToRemovableMedia", at(d, 9).Add(time.Duration(i)*time.Minute),
				withFile(fmt.Sprintf("plan-%d-%d.docx", d, i)), withLabels("Confidential")))
		}
	}
	return out
}

// onlyAlert settles (Flush) and returns the pair's one alert.
func onlyAlert(t *testing.T, e *Engine, user, policy string) Alert {
	t.Helper()
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	as := e.Alerts(AlertFilter{User: user, Policy: policy})
	if len(as) != 1 {
		t.Fatalf("want 1 alert for %s under %q, got %d: %+v", user, policy, len(as), as)
	}
	return as[0]
}

func TestPolicyUsersAndGroups(t *testing.T) {
	e, db := newTestEngine(t)
	mustSettings(t, e, `
[settings]
[[settings.priority_group]]
name = "Execs"
members = ["ceo@contoso.com"]
`)
	mustPolicies(t, e, `
[[policy]]
name = "Execs departing"
template = "data_theft_departing"
users = ["Execs"]
threshold_mode = "fixed"
priority_content = { labels = ["Confidential"] }
`)
	var evs []event.Event
	for _, u := range []string{"ceo@contoso.com", "dev@contoso.com"} {
		evs = append(evs, usbDays(u, 30, 5)...)
		evs = append(evs, resignation(u, at(4, 0), at(20, 0)))
	}
	commit(t, e, db, evs)
	a := onlyAlert(t, e, "ceo@contoso.com", "Execs departing")
	if !slices.Contains(a.RiskFactors, FactorPriorityUser) {
		t.Errorf("risk factors %v lack priority_user", a.RiskFactors)
	}
	if got := e.Alerts(AlertFilter{User: "dev@contoso.com"}); len(got) != 0 {
		t.Errorf("user outside the policy alerted: %+v", got)
	}
	if _, err := e.ImportPolicies("t", "x.toml", []byte("[[policy]]\nname = \"bad\"\ntemplate = \"data_leaks\"\nusers = [\"Nobody\"]\n")); err == nil ||
		!strings.Contains(err.Error(), "neither a UPN nor a priority group") {
		t.Errorf("unknown group: err = %v", err)
	}
}

// uploads uploads n labelled files to personal cloud storage on the day.
func uploads(user string, n, day int) []event.Event {
	var out []event.Event
	for i := 0; i < n; i++ {
		out = append(out, ev(user, "FileUploadedToCloud", at(day, 14).Add(time.Duration(i)*time.Minute),
			withFile(fmt.Sprintf("up-%d-%d.docx", day, i)), withLabels("Confidential"), func(e *event.Event) { e.TargetDomain = "drive.google.com" }))
	}
	return out
}

// TestSeverityRisesAndStatusClosesAlert: one boosted high day raises a low alert
// (35 x 1.5 = 53); a second day of the same (a quarter: 13) and a second kind of
// evidence in the same week (53) raise its severity to high (1 - 0.47 x 0.87 x 0.47 =
// 81); after a dismissal the same days do not alert again, a new day does, and the new
// alert holds only the new evidence.
func TestSeverityRisesAndStatusClosesAlert(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	u := "eve@contoso.com"
	commit(t, e, db, append(usbDays(u, 30, 5), resignation(u, at(4, 0), at(30, 0))))
	a := onlyAlert(t, e, u, "Departing")
	if a.Severity != LevelLow || a.Score != 53 {
		t.Fatalf("first: %s %d, want low 53\n%s", a.Severity, a.Score, describe(a))
	}
	commit(t, e, db, append(usbDays(u, 30, 6), uploads(u, 15, 7)...))
	b := onlyAlert(t, e, u, "Departing")
	if b.ID != a.ID || b.Severity != LevelHigh || b.Score != 81 {
		t.Fatalf("update: %s %s %d -> %s %s %d, want the same alert, high 81\n%s", a.ID, a.Severity, a.Score, b.ID, b.Severity, b.Score, describe(b))
	}
	if len(b.History) != 2 || !strings.Contains(b.History[1].Action, "severity rose from low to high") {
		t.Errorf("history: %+v", b.History)
	}
	if err := e.SetAlertStatus("analyst", b.ID, "bogus", ""); err == nil {
		t.Error("bogus status accepted")
	}
	if err := e.SetAlertStatus("analyst", b.ID, StatusDismissed, "expected for this user"); err != nil {
		t.Fatal(err)
	}
	// Re-scoring the same days does not raise a new alert; a later day does.
	commit(t, e, db, usbDays(u, 1, 7))
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := e.Alerts(AlertFilter{Status: StatusNeedsReview}); len(got) != 0 {
		t.Fatalf("closed days re-alerted: %+v", got)
	}
	// Day 9: 30 more copies, a new high day (53); the single copy of day 7, which no
	// closed alert showed, is the same indicator again in that week (15 / 4 = 4):
	// 1 - 0.47 x 0.96 = 55, medium.
	commit(t, e, db, usbDays(u, 30, 9))
	c := onlyAlertStatus(t, e, StatusNeedsReview)
	if c.ID == b.ID || c.Severity != LevelMedium || c.Score != 55 {
		t.Fatalf("want a new medium alert (55) after the dismissed one, got\n%s", describe(c))
	}
	for _, in := range c.Insights {
		if in.Day < "2026-03-09" {
			t.Errorf("new alert repeats closed evidence: %+v", in)
		}
	}
}

func onlyAlertStatus(t *testing.T, e *Engine, status string) Alert {
	t.Helper()
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	as := e.Alerts(AlertFilter{Status: status})
	if len(as) != 1 {
		t.Fatalf("want 1 %s alert, got %d: %+v", status, len(as), as)
	}
	return as[0]
}

func TestAlertsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir)
	e := engineOver(t, db)
	mustPolicies(t, e, departingPolicy)
	u := "fay@contoso.com"
	commit(t, e, db, append(usbDays(u, 30, 5), resignation(u, at(4, 0), at(20, 0))))
	a := onlyAlert(t, e, u, "Departing")
	db.Close()

	db = openTestDB(t, dir)
	defer db.Close()
	e = engineOver(t, db)
	if got, ok := e.Alert(a.ID); !ok || got.Score != a.Score {
		t.Fatalf("after restart: %+v %v", got, ok)
	}
	// New activity after the restart updates the same alert.
	commit(t, e, db, uploads(u, 15, 6))
	if b := onlyAlert(t, e, u, "Departing"); b.ID != a.ID || b.Score <= a.Score {
		t.Errorf("after restart: %s %d, before %s %d", b.ID, b.Score, a.ID, a.Score)
	}
	if p, ok := e.Policy("Departing"); !ok || p.Template != "data_theft_departing" {
		t.Errorf("policy after restart: %+v", p)
	}
}

func TestStartScoringWithoutTrigger(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	u := "gus@contoso.com"
	// Two days ago at 10:00: one day's burst, whatever the time the test runs (from
	// now-48h, a run after 23:30 split the burst over two days, neither one high).
	burst := time.Now().UTC().Truncate(24 * time.Hour).Add(-48*time.Hour + 10*time.Hour)
	var evs []event.Event
	for i := 0; i < 30; i++ {
		evs = append(evs, ev(u, "FileCopiedToRemovableMedia", burst.Add(time.Duration(i)*time.Minute), withFile(fmt.Sprintf("f%d.txt", i)), withLabels("Confidential")))
	}
	commit(t, e, db, evs)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := e.Alerts(AlertFilter{}); len(got) != 0 {
		t.Fatalf("alerted without trigger: %+v", got)
	}
	if err := e.StartScoring("admin", []string{u}, []string{"Departing"}, 3, "x"); err == nil {
		t.Error("3 days accepted")
	}
	if err := e.StartScoring("admin", []string{u}, nil, 10, "x"); err == nil {
		t.Error("no policy accepted")
	}
	if err := e.StartScoring("admin", []string{u, "not a upn"}, []string{"Departing"}, 10, "x"); err == nil || len(e.ManualScopes(u)) != 0 {
		t.Errorf("a bad user: err %v, and %d scopes stored for the good one (want all or nothing)", err, len(e.ManualScopes(u)))
	}
	if err := e.StartScoring("admin", []string{u}, []string{"Departing"}, 10, "tip from manager"); err != nil {
		t.Fatal(err)
	}
	onlyAlert(t, e, u, "Departing")
}

// TestStartScoringOnlyChosenPolicies: scoring started for one policy puts the user in
// scope of that policy, not of every policy that covers them.
func TestStartScoringOnlyChosenPolicies(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy+`
[[policy]]
name = "Leaks"
template = "data_leaks"
users = ["*"]
`)
	u := "gil@contoso.com"
	commit(t, e, db, []event.Event{ev(u, "FileDownloaded", time.Now().UTC().Add(-time.Hour), withFile("a.docx"))})
	if err := e.StartScoring("admin", []string{u}, []string{"Departing"}, 10, "tip"); err != nil {
		t.Fatal(err)
	}
	if got := e.InScope(); got["Departing"] != 1 || got["Leaks"] != 0 {
		t.Errorf("in scope = %v, want Departing 1 and Leaks 0", got)
	}
}

func TestAuditTrail(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	u := "ivy@contoso.com"
	commit(t, e, db, append(usbDays(u, 30, 5), resignation(u, at(4, 0), at(20, 0))))
	a := onlyAlert(t, e, u, "Departing")
	if err := e.SetAlertStatus("analyst", a.ID, StatusConfirmed, ""); err != nil {
		t.Fatal(err)
	}
	var acts []string
	if err := db.AuditEntries(store.AuditFilter{}, func(en store.AuditEntry) error {
		acts = append(acts, en.Category+":"+en.Activity)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"policies:policy created", "alerts:alert created", "alerts:alert status changed"} {
		if !slices.Contains(acts, want) {
			t.Errorf("audit lacks %q: %v", want, acts)
		}
	}
}

func TestExclusionsAndPriorityOnly(t *testing.T) {
	e, db := newTestEngine(t)
	mustSettings(t, e, `
[settings]
excluded_file_types = ["mp3"]
[settings.domains]
allowed = ["partner.com"]
unallowed = ["*.leaks.org"]
`)
	mustPolicies(t, e, `
[[policy]]
name = "Only labelled"
template = "data_theft_departing"
users = ["*"]
priority_content = { labels = ["Confidential"], only = true }
boosters = { above_usual_activity = false }
`)
	u := "joe@contoso.com"
	cloud := func(name, domain string, mods ...func(*event.Event)) event.Event {
		return ev(u, "FileUploadedToCloud", at(5, 10), append([]func(*event.Event){withFile(name), func(e *event.Event) { e.TargetDomain = domain }}, mods...)...)
	}
	var evs []event.Event
	for i := 0; i < 6; i++ {
		evs = append(evs,
			cloud(fmt.Sprintf("song%d.mp3", i), "drive.google.com", withLabels("Confidential")), // excluded type
			cloud(fmt.Sprintf("a%d.docx", i), "files.partner.com", withLabels("Confidential")),  // not allowed: subdomain of a bare name
			cloud(fmt.Sprintf("b%d.docx", i), "partner.com", withLabels("Confidential")),        // allowed domain
			cloud(fmt.Sprintf("c%d.docx", i), "drive.google.com"),                               // not priority content
		)
	}
	evs = append(evs, cloud("d.docx", "www.leaks.org", withLabels("Confidential")))
	commit(t, e, db, append(evs, resignation(u, at(4, 0), at(20, 0))))
	a := onlyAlert(t, e, u, "Only labelled")
	var up *Insight
	for i := range a.Insights {
		if a.Insights[i].ID == "upload_to_cloud" {
			up = &a.Insights[i]
		}
	}
	// Counted: the six uploads to files.partner.com and the one to www.leaks.org.
	if up == nil || up.Count != 7 || up.PriorityCount != 7 || !slices.Contains(up.Boosters, FactorUnallowed) || !slices.Contains(up.Boosters, FactorPriority) {
		t.Fatalf("upload insight = %+v", up)
	}
}

func TestCasesAndPreviousViolationBooster(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	u := "kim@contoso.com"
	commit(t, e, db, append(usbDays(u, 30, 5), resignation(u, at(4, 0), at(30, 0))))
	a := onlyAlert(t, e, u, "Departing")
	c, err := e.CreateCase("investigator", "Kim USB", []string{a.ID}, "looks bad")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Alert(a.ID); got.Status != StatusConfirmed || got.Case != c.ID {
		t.Fatalf("alert after case: %+v", got)
	}
	if err := e.ResolveCase("investigator", c.ID, ResolutionViolation, ""); err == nil {
		t.Error("violation without action accepted")
	}
	if err := e.ResolveCase("investigator", c.ID, ResolutionViolation, "access revoked"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Alert(a.ID); got.Status != StatusResolved {
		t.Fatalf("alert after resolution: %s", got.Status)
	}
	commit(t, e, db, usbDays(u, 30, 8))
	na := onlyAlertStatus(t, e, StatusNeedsReview)
	// 35 x 1.5 (priority content) x 1.25 (previous case) = 65.6
	if !slices.Contains(na.Insights[0].Boosters, BoosterPreviousCase) || na.Score != 66 {
		t.Fatalf("new alert after a confirmed violation:\n%s", describe(na))
	}
}

func TestRuleReloadRescores(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	defer db.Close()
	dir := t.TempDir()
	r, err := dsl.NewReloader(rules.FS, dir, dsl.Options{OrgDomains: []string{"contoso.com"}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(db, r, testConfig(), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	mustPolicies(t, e, departingPolicy)
	u := "max@contoso.com"
	commit(t, e, db, append(usbDays(u, 3, 5), resignation(u, at(4, 0), at(20, 0))))
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := e.Alerts(AlertFilter{}); len(got) != 0 {
		t.Fatalf("3 copies alerted with the built-in thresholds: %+v", got)
	}
	// A security engineer overrides the built-in indicator: 3 copies a day is now high.
	os.WriteFile(filepath.Join(dir, "usb.toml"), []byte(`
[[indicator]]
id = "copy_to_usb"
name = "Copying files to USB"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation in ["FileCopiedToRemovableMedia", "FileCreatedOnRemovableMedia"]'
thresholds = [1, 2, 3]
`), 0o644)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	a := onlyAlert(t, e, u, "Departing")
	if a.Insights[0].Level != LevelHigh || a.Insights[0].Thresholds != [3]int{1, 2, 3} {
		t.Errorf("after reload: %s", describe(a))
	}
}

func TestNewUserWithHRInSameBatch(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	commit(t, e, db, usbDays("someone@contoso.com", 1, 1)) // the index exists before the batch
	u := "nia@contoso.com"
	commit(t, e, db, append(usbDays(u, 30, 5), resignation(u, at(4, 0), at(20, 0))))
	a := onlyAlert(t, e, u, "Departing")
	if a.Insights[0].Count != 30 {
		t.Errorf("counted %d copies, want 30 (each event once)", a.Insights[0].Count)
	}
}

// TestProfileChangeRematchesOnlyWhatRulesRead: a late resignation gives the user an end
// date, which physical_access_after_termination reads, so the stored badge swipes are
// matched again and score; a later performance review changes only the rating, which no
// rule reads, so nothing is read back and the matches stand.
func TestProfileChangeRematchesOnlyWhatRulesRead(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, `
[[policy]]
name = "Departing security"
template = "security_violations_departing"
users = ["*"]
`)
	u := "dee@contoso.com"
	var swipes []event.Event
	for h := 20; h < 23; h++ {
		swipes = append(swipes, ev(u, "PhysicalAccess", at(20, h), func(e *event.Event) { e.Feed = event.FeedBadging; e.Workload = "" }))
	}
	commit(t, e, db, swipes)
	commit(t, e, db, []event.Event{ev(u, "FileAccessed", at(20, 10))}) // the user exists before the HR records
	if n := len(e.users[u].hits); n != 0 {
		t.Fatalf("%d hits before any end date", n)
	}
	commit(t, e, db, []event.Event{resignation(u, at(10, 0), at(15, 0))})
	if n := len(e.users[u].hits); n != 3 || e.rematches != 1 {
		t.Fatalf("after the resignation: %d hits, %d re-matches; want 3, 1", n, e.rematches)
	}
	before := onlyAlert(t, e, u, "Departing security")
	evSeq++
	review := event.Event{ID: "hr-review-" + itoa(evSeq), Feed: event.FeedHR, Time: at(25, 0), User: u,
		Operation: event.HRPerformanceReview, Raw: []byte(`{}`),
		HR: &event.HR{Scenario: event.HRPerformanceReview, EffectiveDate: at(25, 0), Rating: "4"}}
	commit(t, e, db, []event.Event{review})
	if e.users[u].profile.LatestRating != "4" {
		t.Errorf("profile not updated: %+v", e.users[u].profile)
	}
	if n := len(e.users[u].hits); n != 3 || e.rematches != 1 {
		t.Errorf("after the review: %d hits, %d re-matches; want 3, 1", n, e.rematches)
	}
	if after := onlyAlert(t, e, u, "Departing security"); after.Score != before.Score || len(after.Insights) != len(before.Insights) {
		t.Errorf("alert changed: %+v -> %+v", before, after)
	}
}
