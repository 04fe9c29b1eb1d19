package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"irm/dsl"
	"irm/event"
	"irm/rules"
	"irm/store"
)

// zipUpload is a custom indicator as a security engineer writes it (not guard-only: CEL
// runs for endsWith).
const zipUpload = `[[indicator]]
id = "zip_upload"
name = "Uploading zip archives"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FileUploadedToCloud" && event.file_name.endsWith(".zip")'
thresholds = [1, 3, 5]

[[indicator]]
id = "new_upload_site"
name = "Uploading to a site not used in 10 days"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FileUploadedToCloud"'
first_seen = { key = 'event.target_domain', days = 10, min_active_days = 3 }
thresholds = [1, 2, 3]
`

// ruleBacktestEnv is an engine over a real store with a rules directory.
func ruleBacktestEnv(t *testing.T) (*Engine, *store.DB, *dsl.Reloader) {
	t.Helper()
	db := openTestDB(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	r, err := dsl.NewReloader(rules.FS, filepath.Join(t.TempDir(), "rules.d"), dsl.Options{OrgDomains: []string{"contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(db, r, testConfig(), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	e.now = func() time.Time { return demoEnd.Add(15 * time.Hour) } // 2026-03-31 15:00 UTC
	return e, db, r
}

func upload(user, file, site string, at time.Time) event.Event {
	return ev(user, "FileUploadedToCloud", at, withFile(file), func(e *event.Event) { e.TargetDomain = site })
}

// TestBacktestRuleIndicator: a candidate indicator that is not in force is replayed over
// the stored events of the window only, with the engine's filters, counted per day and
// user, users by their highest level, and the examples of the users with the highest
// peaks; the engine's rules and alerts do not change.
func TestBacktestRuleIndicator(t *testing.T) {
	e, db, r := ruleBacktestEnv(t)
	mustSettings(t, e, "[settings]\n[settings.domains]\nallowed = [\"partner.example\"]\n")
	day := func(d int, h int) time.Time { return demoEnd.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour) }
	var evs []event.Event
	// alice: 5 zips on the last day (high), 1 the day before.
	for i := range 5 {
		evs = append(evs, upload("alice@contoso.com", "a"+itoa(i)+".zip", "mega.nz", day(0, 9+i)))
	}
	evs = append(evs, upload("alice@contoso.com", "b.zip", "mega.nz", day(-1, 10)))
	// bob: 3 zips on one day (medium); one only to an allowed domain does not count (the
	// engine's filter); a pdf does not match.
	for i := range 3 {
		evs = append(evs, upload("bob@contoso.com", "b"+itoa(i)+".zip", "box.com", day(-3, 9+i)))
	}
	evs = append(evs, upload("bob@contoso.com", "x.zip", "partner.example", day(-3, 14)))
	evs = append(evs, upload("bob@contoso.com", "report.pdf", "box.com", day(-3, 15)))
	// carol: one zip (low) and one before the window (not counted).
	evs = append(evs, upload("carol@contoso.com", "c.zip", "dropbox.com", day(-9, 8)))
	evs = append(evs, upload("carol@contoso.com", "old.zip", "dropbox.com", day(-10, 8)))
	// dave: activity, no match.
	evs = append(evs, ev("dave@contoso.com", "FilePrinted", day(-2, 10), withFile("x.zip")))
	commit(t, e, db, evs)

	rs, err := r.Draft("zip.toml", []byte(zipUpload), false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current().Indicator("zip_upload") != nil {
		t.Fatal("the candidate is in force")
	}
	alertsBefore := len(e.Alerts(AlertFilter{}))
	var mu sync.Mutex
	var last RuleBacktestProgress
	res, err := e.BacktestRule(context.Background(), rs, "zip_upload", RuleBacktestOptions{Days: 10, Progress: func(p RuleBacktestProgress) {
		mu.Lock()
		last = p
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != "indicator" || res.From != "2026-03-22" || res.To != "2026-03-31" || len(res.PerDay) != 10 || res.Thresholds != [3]int{1, 3, 5} {
		t.Fatalf("result header: %+v", res)
	}
	if res.Matched != 10 || res.Users != 3 || res.UsersActive != 4 {
		t.Fatalf("matched %d events of %d users (%d active), want 10 of 3 (4 active)", res.Matched, res.Users, res.UsersActive)
	}
	if res.Events != int64(len(evs)-1) { // carol's event before the window is not replayed
		t.Fatalf("events %d, want %d", res.Events, len(evs)-1)
	}
	if res.Levels != (RuleBacktestLevels{Low: 1, Medium: 1, High: 1}) {
		t.Fatalf("levels %+v", res.Levels)
	}
	want := map[string][2]int{"2026-03-31": {5, 1}, "2026-03-30": {1, 1}, "2026-03-28": {3, 1}, "2026-03-22": {1, 1}}
	for _, d := range res.PerDay {
		if w := want[d.Day]; d.Matched != w[0] || d.Users != w[1] {
			t.Errorf("day %s: %d matched, %d users; want %v", d.Day, d.Matched, d.Users, w)
		}
	}
	if len(res.Examples) != 10 || res.Examples[0].User != "alice@contoso.com" || res.Examples[0].FileName != "a4.zip" || res.Examples[0].DayCount != 5 {
		t.Fatalf("examples: %+v", res.Examples)
	}
	for i := 1; i < len(res.Examples); i++ {
		if res.Examples[i].Time.After(res.Examples[i-1].Time) {
			t.Fatalf("examples not newest first: %+v", res.Examples)
		}
	}
	mu.Lock()
	if !last.Done || last.Users != 4 || last.UsersDone != 4 || last.Events < int64(len(evs)-1) {
		t.Errorf("final progress %+v", last)
	}
	mu.Unlock()
	if len(e.Alerts(AlertFilter{})) != alertsBefore || r.Current().Indicator("zip_upload") != nil {
		t.Fatal("the backtest changed the engine")
	}

	// One worker gives the same answer; so does a backtest ending earlier.
	one, err := e.BacktestRule(context.Background(), rs, "zip_upload", RuleBacktestOptions{Days: 10, Workers: 1})
	if err != nil || one.Matched != res.Matched || one.Levels != res.Levels || len(one.Examples) != len(res.Examples) {
		t.Fatalf("one worker: %+v %v", one, err)
	}
	early, err := e.BacktestRule(context.Background(), rs, "zip_upload", RuleBacktestOptions{Days: 2, End: demoEnd.AddDate(0, 0, -2)})
	if err != nil || early.Matched != 3 || early.To != "2026-03-29" {
		t.Fatalf("ending 03-29: %+v %v", early, err)
	}

	// Bad requests say what is wrong.
	for _, tc := range []struct {
		id   string
		days int
		want string
	}{{"zip_upload", 91, "days must be 1-90"}, {"zip_upload", -1, "days must be"}, {"nope", 5, `no indicator or sequence "nope"`}} {
		if _, err := e.BacktestRule(context.Background(), rs, tc.id, RuleBacktestOptions{Days: tc.days}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %d days: %v, want %q", tc.id, tc.days, err, tc.want)
		}
	}
	// Cancelled: an error, no result.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.BacktestRule(ctx, rs, "zip_upload", RuleBacktestOptions{Days: 10}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled backtest: %v", err)
	}

	var out bytes.Buffer
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`Indicator zip_upload "Uploading zip archives"`, "Matched: 10 matching events of 3 users", "high 1, medium 1, low 1", "2026-03-31  5", "alice@contoso.com"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, out.String())
		}
	}
}

// TestBacktestRuleNovelty: a first_seen indicator counts only new keys, with history
// from before the window, and only for users with enough active days.
func TestBacktestRuleNovelty(t *testing.T) {
	e, db, r := ruleBacktestEnv(t)
	day := func(d int) time.Time { return demoEnd.AddDate(0, 0, d).Add(10 * time.Hour) }
	var evs []event.Event
	for d := -14; d <= 0; d++ { // alice is active every day
		evs = append(evs, ev("alice@contoso.com", "UserLoggedIn", day(d)))
	}
	// box.com 8 days before the window's first day (within 10 days of it): not new on day -4.
	evs = append(evs, upload("alice@contoso.com", "a.pdf", "box.com", day(-12)))
	evs = append(evs, upload("alice@contoso.com", "b.pdf", "box.com", day(-4)))
	evs = append(evs, upload("alice@contoso.com", "c.pdf", "mega.nz", day(-3))) // new
	evs = append(evs, upload("alice@contoso.com", "d.pdf", "mega.nz", day(-1))) // seen 2 days before
	// bob has too little history: his upload is never new.
	evs = append(evs, upload("bob@contoso.com", "e.pdf", "mega.nz", day(-1)))
	commit(t, e, db, evs)
	rs, err := r.Draft("zip.toml", []byte(zipUpload), false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.BacktestRule(context.Background(), rs, "new_upload_site", RuleBacktestOptions{Days: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !res.FirstSeen || res.Matched != 1 || res.WhenMatched != 4 || res.Users != 1 || res.Examples[0].TargetDomain != "mega.nz" || res.Examples[0].FileName != "c.pdf" {
		t.Fatalf("novelty: matched %d (when %d) of %d users, examples %+v", res.Matched, res.WhenMatched, res.Users, res.Examples)
	}
}

// TestBacktestRuleSequence: a built-in sequence, fed through dsl.SequenceTracker, counts
// its completions on the day they complete, with the chain of steps as the example; a
// chain started before the window and completed in it counts.
func TestBacktestRuleSequence(t *testing.T) {
	e, db, r := ruleBacktestEnv(t)
	at := func(d, h int) time.Time { return demoEnd.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour) }
	sp := func(e *event.Event) { e.Workload = "SharePoint" }
	evs := []event.Event{
		ev("alice@contoso.com", "FileDownloaded", at(-6, 9), withFile("plan.docx"), sp),
		ev("alice@contoso.com", "FilePrinted", at(-3, 9), withFile("plan.docx")), // completes, from before the window
		ev("alice@contoso.com", "FileDownloaded", at(-1, 9), withFile("q.xlsx"), sp),
		ev("alice@contoso.com", "FilePrinted", at(-1, 11), withFile("q.xlsx")), // completes
		ev("alice@contoso.com", "FilePrinted", at(-1, 12), withFile("other.xlsx")),
		ev("bob@contoso.com", "FilePrinted", at(-1, 11), withFile("q.xlsx")), // no download by bob
	}
	commit(t, e, db, evs)
	res, err := e.BacktestRule(context.Background(), r.Current(), "download_then_exfiltrate", RuleBacktestOptions{Days: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != "sequence" || res.Matched != 2 || res.Users != 1 || res.Levels.Low != 1 || len(res.Examples) != 2 {
		t.Fatalf("sequence: %+v", res)
	}
	if x := res.Examples[0]; x.FileName != "q.xlsx" || len(x.Steps) != 2 || !strings.HasPrefix(x.Steps[0], "FileDownloaded 2026-03-30 09:00") {
		t.Fatalf("example %+v", x)
	}
}

// TestRuleBacktestTargets: `irm rules backtest ID|FILE` resolves an id in force, or
// every indicator and sequence of a file compiled with the rules directory.
func TestRuleBacktestTargets(t *testing.T) {
	_, _, r := ruleBacktestEnv(t)
	rs, ids, err := RuleBacktestTargets(r, "copy_to_usb", nil)
	if err != nil || rs != r.Current() || len(ids) != 1 {
		t.Fatalf("id: %v %v", ids, err)
	}
	f := filepath.Join(t.TempDir(), "zip.toml")
	os.WriteFile(f, []byte(zipUpload), 0o644)
	rs, ids, err = RuleBacktestTargets(r, f, nil)
	if err != nil || strings.Join(ids, ",") != "zip_upload,new_upload_site" || rs.Indicator("zip_upload") == nil {
		t.Fatalf("file: %v %v", ids, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte(strings.Replace(zipUpload, `endsWith(".zip")`, `endsWith(7)`, 1)), 0o644)
	var le *dsl.LoadError
	if _, _, err := RuleBacktestTargets(r, bad, nil); !errors.As(err, &le) || le.Diags[0].Line != 6 {
		t.Fatalf("a file with a type error: %v", err)
	}
	if _, _, err := RuleBacktestTargets(r, "no_such_thing", nil); err == nil || !strings.Contains(err.Error(), "neither an indicator") {
		t.Fatalf("unknown: %v", err)
	}
}
