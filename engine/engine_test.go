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

const departingPolicy = `
[[policy]]
name = "Departing"
template = "data_theft_departing"
users = ["*"]
priority_content = { labels = ["Confidential"] }
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

func onlyAlert(t *testing.T, e *Engine, user, policy string) Alert {
	t.Helper()
	as := e.Alerts(AlertFilter{User: user, Policy: policy})
	if len(as) != 1 {
		t.Fatalf("want 1 alert for %s under %q, got %d: %+v", user, policy, len(as), as)
	}
	return as[0]
}

func TestDepartingUserIsAlertedWithExplanation(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	u := "ann@contoso.com"
	evs := append(usbDays(u, 30, 10, 11, 12), resignation(u, at(9, 0), at(20, 0)))
	// Someone who copies as much but has not resigned is not in scope.
	evs = append(evs, usbDays("bob@contoso.com", 30, 10, 11, 12)...)
	commit(t, e, db, evs)

	a := onlyAlert(t, e, u, "Departing")
	if a.Severity != LevelHigh || a.Status != StatusNeedsReview || a.Template != "data_theft_departing" {
		t.Errorf("alert = %s %s %s, want high needs_review data_theft_departing", a.Severity, a.Status, a.Template)
	}
	if !slices.Contains(a.RiskFactors, FactorPriority) {
		t.Errorf("risk factors %v lack %s", a.RiskFactors, FactorPriority)
	}
	var usb []Insight
	for _, in := range a.Insights {
		if in.ID == "copy_to_usb" {
			usb = append(usb, in)
		}
	}
	if len(usb) != 3 {
		t.Fatalf("want 3 copy_to_usb insights (one a day), got %+v", a.Insights)
	}
	in := usb[0]
	if in.Count != 30 || in.Level != LevelHigh || in.Day != "2026-03-12" || len(in.EventIDs) != 30 || in.Points <= in.BasePoints {
		t.Errorf("insight = %+v", in)
	}
	if len(a.EventIDs) < 90 || len(a.Triggers) == 0 || !strings.Contains(a.Triggers[0].Name, "esignation") {
		t.Errorf("event ids %d, triggers %+v", len(a.EventIDs), a.Triggers)
	}
	if got := e.Alerts(AlertFilter{User: "bob@contoso.com"}); len(got) != 0 {
		t.Errorf("user without trigger alerted: %+v", got)
	}
}

func TestLateTriggerScoresPastActivity(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	u := "cid@contoso.com"
	commit(t, e, db, usbDays(u, 12, 3, 4))
	if got := e.Alerts(AlertFilter{}); len(got) != 0 {
		t.Fatalf("alerted before any trigger: %+v", got)
	}
	// The HR file arrives a week later; the resignation dates back before the activity.
	commit(t, e, db, []event.Event{resignation(u, at(2, 0), at(15, 0))})
	a := onlyAlert(t, e, u, "Departing")
	if len(a.Insights) == 0 || a.Insights[0].Day != "2026-03-05" {
		t.Errorf("insights = %+v", a.Insights)
	}
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

func TestThresholdsAndVolume(t *testing.T) {
	e, db := newTestEngine(t)
	// Custom thresholds raise the bar: 12 copies a day is now only "low" (15 points),
	// below the default volume's cut-off of 25.
	mustPolicies(t, e, `
[[policy]]
name = "Departing"
template = "data_theft_departing"
users = ["*"]
thresholds = { copy_to_usb = [10, 50, 100] }
boosters = { above_usual_activity = false }
`)
	u := "dee@contoso.com"
	commit(t, e, db, append(usbDays(u, 12, 5), resignation(u, at(4, 0), at(20, 0))))
	if got := e.Alerts(AlertFilter{}); len(got) != 0 {
		t.Fatalf("alerted under the cut-off: %+v", got)
	}
	mustSettings(t, e, "[settings]\nalert_volume = \"more\"\n")
	a := onlyAlert(t, e, u, "Departing")
	if a.Severity != LevelLow || a.Score != 15 || a.Insights[0].Thresholds != [3]int{10, 50, 100} {
		t.Errorf("alert = %d %s %+v", a.Score, a.Severity, a.Insights)
	}
}

func TestSeverityRisesAndStatusClosesAlert(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	u := "eve@contoso.com"
	commit(t, e, db, append(usbDays(u, 10, 5), resignation(u, at(4, 0), at(30, 0))))
	a := onlyAlert(t, e, u, "Departing")
	first := a.Severity
	commit(t, e, db, usbDays(u, 30, 6, 7))
	b := onlyAlert(t, e, u, "Departing")
	if b.ID != a.ID || levelRank(b.Severity) < levelRank(first) || b.Score <= a.Score {
		t.Fatalf("update: %s %s %d -> %s %s %d", a.ID, first, a.Score, b.ID, b.Severity, b.Score)
	}
	if err := e.SetAlertStatus("analyst", b.ID, "bogus", ""); err == nil {
		t.Error("bogus status accepted")
	}
	if err := e.SetAlertStatus("analyst", b.ID, StatusDismissed, "expected for this user"); err != nil {
		t.Fatal(err)
	}
	// Re-scoring the same days does not raise a new alert; a later day does.
	commit(t, e, db, usbDays(u, 1, 7))
	if got := e.Alerts(AlertFilter{Status: StatusNeedsReview}); len(got) != 0 {
		t.Fatalf("closed days re-alerted: %+v", got)
	}
	commit(t, e, db, usbDays(u, 30, 9))
	as := e.Alerts(AlertFilter{Status: StatusNeedsReview})
	if len(as) != 1 || as[0].ID == b.ID {
		t.Fatalf("want a new alert after the dismissed one, got %+v", as)
	}
	for _, in := range as[0].Insights {
		if in.Day <= "2026-03-09" && in.Kind == "indicator" {
			t.Errorf("new alert repeats closed day: %+v", in)
		}
	}
}

func TestAlertsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir)
	e := engineOver(t, db)
	mustPolicies(t, e, departingPolicy)
	u := "fay@contoso.com"
	commit(t, e, db, append(usbDays(u, 12, 5), resignation(u, at(4, 0), at(20, 0))))
	a := onlyAlert(t, e, u, "Departing")
	db.Close()

	db = openTestDB(t, dir)
	defer db.Close()
	e = engineOver(t, db)
	if got, ok := e.Alert(a.ID); !ok || got.Score != a.Score {
		t.Fatalf("after restart: %+v %v", got, ok)
	}
	// New activity after the restart updates the same alert.
	commit(t, e, db, usbDays(u, 30, 6))
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
	now := time.Now().UTC()
	var evs []event.Event
	for i := 0; i < 30; i++ {
		evs = append(evs, ev(u, "FileCopiedToRemovableMedia", now.Add(-48*time.Hour+time.Duration(i)*time.Minute), withFile(fmt.Sprintf("f%d.txt", i))))
	}
	commit(t, e, db, evs)
	if got := e.Alerts(AlertFilter{}); len(got) != 0 {
		t.Fatalf("alerted without trigger: %+v", got)
	}
	if err := e.StartScoring("admin", []string{u}, 3, "x"); err == nil {
		t.Error("3 days accepted")
	}
	if err := e.StartScoring("admin", []string{u}, 10, "tip from manager"); err != nil {
		t.Fatal(err)
	}
	onlyAlert(t, e, u, "Departing")
}

func TestSequenceLinkedByFile(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, departingPolicy)
	u := "hal@contoso.com"
	evs := []event.Event{resignation(u, at(1, 0), at(20, 0))}
	for i := 0; i < 4; i++ {
		f := fmt.Sprintf("design-%d.dwg", i)
		evs = append(evs,
			ev(u, "FileDownloaded", at(3, 9+i), withFile(f), func(e *event.Event) { e.Workload = "SharePoint"; e.Site = "https://contoso.sharepoint.com/sites/rd" }),
			ev(u, "FileUploadedToCloud", at(4, 9+i), withFile(f), func(e *event.Event) { e.TargetDomain = "drive.google.com" }),
		)
	}
	// An upload of a file that was never downloaded is not part of a sequence.
	evs = append(evs, ev(u, "FileUploadedToCloud", at(4, 15), withFile("other.txt")))
	commit(t, e, db, evs)
	a := onlyAlert(t, e, u, "Departing")
	var seq *Insight
	for i := range a.Insights {
		if a.Insights[i].ID == "download_then_exfiltrate" {
			seq = &a.Insights[i]
		}
	}
	if seq == nil || seq.Count != 4 || seq.Level != LevelMedium || len(seq.EventIDs) != 8 || !slices.Contains(a.RiskFactors, FactorSequence) {
		t.Fatalf("sequence insight = %+v, factors %v", seq, a.RiskFactors)
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
	commit(t, e, db, append(usbDays(u, 12, 5), resignation(u, at(4, 0), at(30, 0))))
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
	commit(t, e, db, usbDays(u, 12, 8))
	as := e.Alerts(AlertFilter{Status: StatusNeedsReview})
	if len(as) != 1 || !slices.Contains(as[0].Insights[0].Boosters, BoosterPreviousCase) {
		t.Fatalf("new alert after a confirmed violation: %+v", as)
	}
}

func TestCumulativeExfiltration(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, `
[[policy]]
name = "Departing"
template = "data_theft_departing"
users = ["*"]
boosters = { above_usual_activity = false }
`)
	// Twenty colleagues print 1 file every other day; the leaver prints 3 a day for 20
	// days: never a "low" day for printing (threshold 5), but far above everyone's total.
	var evs []event.Event
	for i := 0; i < 20; i++ {
		u := fmt.Sprintf("peer%d@contoso.com", i)
		for d := 0; d < 20; d += 2 {
			evs = append(evs, ev(u, "FilePrinted", at(d, 10), withFile("memo.docx")))
		}
	}
	u := "lee@contoso.com"
	for d := 0; d < 20; d++ {
		for j := 0; j < 3; j++ {
			evs = append(evs, ev(u, "FilePrinted", at(d, 10+j), withFile(fmt.Sprintf("spec%d-%d.pdf", d, j))))
		}
	}
	commit(t, e, db, append(evs, resignation(u, at(15, 0), at(25, 0))))
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	a := onlyAlert(t, e, u, "Departing")
	if len(a.Insights) != 1 || a.Insights[0].Kind != "cumulative" || a.Insights[0].Count != 60 || a.Insights[0].Level != LevelHigh ||
		!slices.Contains(a.RiskFactors, FactorCumulative) {
		t.Fatalf("alert = %s", describe(a))
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
	commit(t, e, db, append(usbDays(u, 12, 5), resignation(u, at(4, 0), at(20, 0))))
	a := onlyAlert(t, e, u, "Departing")
	if a.Insights[0].Count != 12 {
		t.Errorf("counted %d copies, want 12 (each event once)", a.Insights[0].Count)
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
	for d := 20; d < 23; d++ {
		swipes = append(swipes, ev(u, "PhysicalAccess", at(d, 9), func(e *event.Event) { e.Feed = event.FeedBadging; e.Workload = "" }))
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
