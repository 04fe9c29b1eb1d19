package demo

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"irm/event"
)

var testEnd = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func smallOpts() Options {
	return Options{Background: Clean, Users: 40, Days: 30, Seed: 7, End: testEnd}
}

// readFeeds decodes every drop file under dir and returns the records per feed
// (JSON objects; HR rows as header->value maps).
func readFeeds(t testing.TB, dir string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, feed := range event.Feeds {
		entries, err := os.ReadDir(filepath.Join(dir, feed))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("%s/%s: dot-file left behind", feed, e.Name())
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, feed, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if feed == event.FeedHR {
				rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
				if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				for _, row := range rows[1:] {
					m := map[string]any{}
					for i, col := range rows[0] {
						m[col] = row[i]
					}
					out[feed] = append(out[feed], m)
				}
				continue
			}
			var recs []map[string]any
			if err := json.Unmarshal(data, &recs); err != nil {
				t.Fatalf("%s/%s: %v", feed, e.Name(), err)
			}
			out[feed] = append(out[feed], recs...)
		}
	}
	return out
}

// bothBackgrounds runs a test on a small organisation of each background.
func bothBackgrounds(t *testing.T, f func(t *testing.T, opt Options)) {
	t.Run(Clean, func(t *testing.T) { f(t, smallOpts()) })
	t.Run(Realistic, func(t *testing.T) { f(t, realisticOpts()) })
}

func TestGenerateFeedsParseWithExpectedCounts(t *testing.T) { bothBackgrounds(t, checkFeedsAndCounts) }

func checkFeedsAndCounts(t *testing.T, opt Options) {
	dir := t.TempDir()
	m, err := Generate(opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	realistic := opt.Background != Clean
	if m.BackgroundMode != map[bool]string{true: Realistic, false: Clean}[realistic] || m.TimeZone != "UTC" {
		t.Errorf("manifest: background %q, time zone %q", m.BackgroundMode, m.TimeZone)
	}
	recs := readFeeds(t, dir)
	for _, feed := range event.Feeds {
		if got, want := len(recs[feed]), m.Counts[feed]; got != want || want == 0 {
			t.Errorf("%s: %d records in files, manifest says %d", feed, got, want)
		}
		if m.Background[feed] > m.Counts[feed] {
			t.Errorf("%s: background %d > total %d", feed, m.Background[feed], m.Counts[feed])
		}
	}
	if len(m.Users) != opt.Users || !slices.IsSorted(m.Users) {
		t.Errorf("users: %d, sorted %v", len(m.Users), slices.IsSorted(m.Users))
	}
	// Every record names a known user and a time inside the window.
	known := map[string]bool{"it-admin@contoso.com": true}
	for _, u := range m.Users {
		known[u] = true
	}
	userField := map[string]string{event.FeedAudit: "UserId", event.FeedHR: "EmailAddress", event.FeedBadging: "UserId", event.FeedDLP: "UserId", event.FeedDefender: "UserPrincipalName"}
	timeField := map[string]string{event.FeedAudit: "CreationTime", event.FeedBadging: "EventTime", event.FeedDLP: "CreationTime", event.FeedDefender: "CreatedTime"}
	for feed, rs := range recs {
		for _, r := range rs {
			if u, _ := r[userField[feed]].(string); !known[u] {
				t.Fatalf("%s: unknown user %q in %v", feed, u, r)
			}
			if tf := timeField[feed]; tf != "" {
				ts, err := time.Parse(time.RFC3339, r[tf].(string))
				if err != nil || ts.Before(m.Start) || !ts.Before(m.End.AddDate(0, 0, 1)) {
					t.Fatalf("%s: time %v outside [%v, %v]: %v", feed, r[tf], m.Start, m.End, err)
				}
			}
		}
	}
	if len(m.Planted) != len(plantSpecsFor(realistic)) {
		t.Fatalf("planted %d", len(m.Planted))
	}
	templates := map[string]bool{}
	for _, p := range m.Planted {
		templates[p.Template] = true
		if !slices.Contains(m.Users, p.User) || p.Expect == "" || p.Scenario == "" {
			t.Errorf("bad planted entry %+v", p)
		}
	}
	for _, tpl := range []string{"data_theft_departing", "data_leaks", "data_leaks_priority", "data_leaks_risky",
		"security_violations", "security_violations_departing", "security_violations_priority", "security_violations_risky", "risky_browsing"} {
		if !templates[tpl] {
			t.Errorf("no planted case for template %s", tpl)
		}
	}
	if len(m.BenignDeparting) < numBenignDeparting || (!realistic && len(m.BenignDeparting) != numBenignDeparting) {
		t.Errorf("benign departing: %v", m.BenignDeparting)
	}
	if realistic != (len(m.Habits) > 0) || realistic != (len(m.Holidays) > 0) || realistic != (len(m.Vacations) > 0) {
		t.Errorf("habits of %d users, holidays %v, vacations of %d users", len(m.Habits), m.Holidays, len(m.Vacations))
	}
	for _, p := range m.Planted {
		if p.Scenario == scAdminHackTools && !slices.Contains(p.AlsoTemplates, "data_leaks_risky") {
			t.Errorf("%s: also templates %v", p.User, p.AlsoTemplates)
		}
	}
	if g := m.PriorityGroups[PriorityGroupName]; len(g) != numExecs+2 {
		t.Errorf("priority group: %v", g)
	}
}

// TestPlantedActivity checks the shape of each planted case in the written files.
func TestPlantedActivity(t *testing.T) { bothBackgrounds(t, checkPlantedActivity) }

func checkPlantedActivity(t *testing.T, opt Options) {
	dir := t.TempDir()
	m, err := Generate(opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	realistic := opt.Background != Clean
	recs := readFeeds(t, dir)
	who := map[string]string{} // scenario -> user
	for _, p := range m.Planted {
		who[p.Scenario] = p.User
	}
	count := func(feed, user string, match func(r map[string]any) bool) int {
		n := 0
		for _, r := range recs[feed] {
			u, _ := r["UserId"].(string)
			if feed == event.FeedDefender {
				u, _ = r["UserPrincipalName"].(string)
			}
			if feed == event.FeedHR {
				u, _ = r["EmailAddress"].(string)
			}
			if u == user && match(r) {
				n++
			}
		}
		return n
	}
	op := func(name string) func(r map[string]any) bool {
		return func(r map[string]any) bool { return r["Operation"] == name }
	}
	day := func(r map[string]any, f string) time.Time {
		ts, _ := time.Parse(time.RFC3339, r[f].(string))
		return ts.Truncate(24 * time.Hour)
	}
	L := m.End

	u := who[scDepartingUSBCloud]
	if n := count(event.FeedAudit, u, op("FileCopiedToRemovableMedia")); n < 100 {
		t.Errorf("departing: %d USB copies", n)
	}
	if n := count(event.FeedAudit, u, op("FileUploadedToCloud")); n < 40 {
		t.Errorf("departing: %d cloud uploads", n)
	}
	if n := count(event.FeedAudit, u, func(r map[string]any) bool {
		return r["SensitivityLabelEventData"] != nil || r["SourceLabel"] == "Confidential"
	}); n < 30 {
		t.Errorf("departing: %d Confidential records", n)
	}
	if n := count(event.FeedHR, u, func(r map[string]any) bool { return r["ResignationDate"] != nil }); n != 1 {
		t.Errorf("departing: %d resignation rows", n)
	}
	// No activity after the last working day.
	if n := count(event.FeedAudit, u, func(r map[string]any) bool { return !day(r, "CreationTime").Before(L) }); n != 0 {
		t.Errorf("departing: %d records after the last working day", n)
	}

	u = who[scRiskySharing]
	if n := count(event.FeedAudit, u, func(r map[string]any) bool { return r["TargetUserOrGroupType"] == "Guest" }); n < 50 {
		t.Errorf("risky: %d guest shares", n)
	}
	if n := count(event.FeedHR, u, func(r map[string]any) bool { return r["Rating"] == poorRating }); n != 1 {
		t.Errorf("risky: %d poor reviews", n)
	}

	for _, sc := range []string{scPriorityLeak, scDLPExfil} {
		if n := count(event.FeedDLP, who[sc], func(r map[string]any) bool {
			return strings.Contains(fmt.Sprint(r["PolicyDetails"]), "Severity:High")
		}); n == 0 {
			t.Errorf("%s: no high-severity DLP match", sc)
		}
	}
	// Benign users never match a High rule (realistic: only the few with the
	// dlp_high habit), nor raise an open Defender alert (realistic: only those with a
	// defender_pua or defender_malware habit).
	planted := map[string]bool{}
	for _, p := range m.Planted {
		planted[p.User] = true
	}
	tagged := func(u string, tags ...string) bool {
		return slices.ContainsFunc(m.Habits[u], func(t string) bool { return slices.Contains(tags, t) })
	}
	for _, r := range recs[event.FeedDLP] {
		u := r["UserId"].(string)
		if !planted[u] && strings.Contains(fmt.Sprint(r["PolicyDetails"]), "Severity:High") && !tagged(u, "dlp_high") {
			t.Errorf("benign high-severity DLP match: %v", r)
		}
	}
	for _, r := range recs[event.FeedDefender] {
		u := r["UserPrincipalName"].(string)
		if !planted[u] && r["Status"] != "Resolved" && !tagged(u, "defender_pua", "defender_malware") {
			t.Errorf("benign unresolved defender alert: %v", r)
		}
	}

	// The sequence: each file name goes through all four steps in order.
	u = who[scSequence]
	steps := map[string][]string{}
	for _, r := range recs[event.FeedAudit] {
		if r["UserId"] != u {
			continue
		}
		name, _ := r["SourceFileName"].(string)
		if obj, _ := r["ObjectId"].(string); r["Workload"] == "Endpoint" {
			name = obj[strings.LastIndexByte(obj, '\\')+1:]
		}
		if strings.HasPrefix(name, "Design-Spec-") && strings.Count(name, "-") == 3 {
			steps[name] = append(steps[name], r["CreationTime"].(string)+" "+r["Operation"].(string))
		}
	}
	if len(steps) != 50 {
		t.Errorf("sequence: %d files", len(steps))
	}
	for name, s := range steps {
		slices.Sort(s)
		var ops []string
		for _, x := range s {
			ops = append(ops, strings.Fields(x)[1])
		}
		if len(ops) != 4 || ops[0] != "FileDownloaded" || ops[1] != "FileRenamed" ||
			(ops[2] != "FileUploadedToCloud" && ops[2] != "FileCopiedToRemovableMedia") || ops[3] != "FileDeleted" {
			t.Errorf("sequence %s: %v", name, ops)
		}
	}

	for _, sc := range []string{scDefender, scDefenderDeparting, scDefenderPriority, scDefenderRisky} {
		if n := count(event.FeedDefender, who[sc], func(r map[string]any) bool { return r["Status"] != "Resolved" }); n < 10 {
			t.Errorf("%s: %d open alerts", sc, n)
		}
	}

	// Badge use after the last working date, and failures at priority assets.
	u = who[scBadgeAfterTerminat]
	var lwd time.Time
	for _, r := range recs[event.FeedHR] {
		if r["EmailAddress"] == u && r["LastWorkingDate"] != nil {
			lwd, _ = time.Parse(time.RFC3339, r["LastWorkingDate"].(string))
		}
	}
	after, failedPriority := 0, 0
	for _, r := range recs[event.FeedBadging] {
		if r["UserId"] != u {
			continue
		}
		if ts, _ := time.Parse(time.RFC3339, r["EventTime"].(string)); ts.After(lwd.Add(24*time.Hour)) && r["AccessStatus"] == "Success" {
			after++
		}
		if slices.Contains(m.PriorityAssets, r["AssetId"].(string)) && r["AccessStatus"] == "Failed" {
			failedPriority++
		}
	}
	if lwd.IsZero() || after < 5 || failedPriority < 10 {
		t.Errorf("badge after termination: lwd %v, %d after, %d failed at priority assets", lwd, after, failedPriority)
	}
	if n := count(event.FeedAudit, "it-admin@contoso.com", func(r map[string]any) bool { return r["ObjectId"] == u && r["Operation"] == "Delete user." }); n != 1 {
		t.Errorf("badge after termination: %d account deletions", n)
	}
	for _, r := range recs[event.FeedBadging] {
		if !planted[r["UserId"].(string)] && slices.Contains(m.PriorityAssets, r["AssetId"].(string)) {
			t.Errorf("benign user at a priority asset: %v", r)
		}
	}

	// Browsing to a listed domain only by planted users; no benign record touches an
	// unallowed domain at all; job sites are not unallowed.
	listed := func(d string) bool {
		return matchesAny(d, m.UnallowedDomains) || matchesAny(d, m.ThirdPartyDomains)
	}
	risky := 0
	for _, r := range recs[event.FeedAudit] {
		u := r["UserId"].(string)
		d, _ := r["TargetDomain"].(string)
		if r["Operation"] == "WebsiteVisited" && listed(d) && !planted[u] {
			t.Fatalf("benign visit to a listed domain: %v", r)
		}
		if d != "" && matchesAny(d, m.UnallowedDomains) && !planted[u] {
			t.Fatalf("benign record with an unallowed domain: %v", r)
		}
		if r["Operation"] == "WebsiteVisited" && listed(d) && u == who[scRiskyBrowsing] {
			risky++
		}
	}
	if risky < 35 {
		t.Errorf("risky browsing: %d visits", risky)
	}
	for _, x := range m.UnallowedDomains {
		for _, job := range []string{"indeed", "glassdoor", "monster", "linkedin", "ziprecruiter"} {
			if strings.Contains(x, job) {
				t.Errorf("unallowed domains list a job site: %s", x)
			}
		}
	}
	if realistic {
		// A planted user's background is drawn like everyone else's: the (a) case has
		// no USB and no after-hours habit.
		u := who[scFirstTimeBurst]
		for _, tag := range m.Habits[u] {
			if tag == "usb" || tag == "after_hours" {
				t.Errorf("%s: habit %s", u, tag)
			}
		}
	}
}

// TestBenignSteady checks that benign users' daily audit volume is steady: no day is
// more than 50% above the user's own average.
func TestBenignSteady(t *testing.T) {
	dir := t.TempDir()
	m, err := Generate(smallOpts(), dir)
	if err != nil {
		t.Fatal(err)
	}
	planted := map[string]bool{}
	for _, p := range m.Planted {
		planted[p.User] = true
	}
	perDay := map[string]map[string]int{}
	for _, r := range readFeeds(t, dir)[event.FeedAudit] {
		u := r["UserId"].(string)
		if planted[u] || r["Operation"] == "Delete user." {
			continue
		}
		if perDay[u] == nil {
			perDay[u] = map[string]int{}
		}
		perDay[u][r["CreationTime"].(string)[:10]]++
	}
	for u, days := range perDay {
		total := 0
		for _, n := range days {
			total += n
		}
		avg := float64(total) / float64(len(days))
		for d, n := range days {
			if float64(n) > 1.5*avg {
				t.Errorf("%s on %s: %d audit records, average %.1f", u, d, n, avg)
			}
		}
	}
}

func digestTree(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256.Sum256(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministic(t *testing.T) { bothBackgrounds(t, checkDeterministic) }

func checkDeterministic(t *testing.T, opt Options) {
	opt.FileRecords = 3000 // several files per feed
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	ma, err := Generate(opt, a)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := Generate(opt, b)
	if err != nil {
		t.Fatal(err)
	}
	da, db := digestTree(t, a), digestTree(t, b)
	if len(da) < 8 || len(da) != ma.Files {
		t.Fatalf("%d files, manifest says %d", len(da), ma.Files)
	}
	for name, sum := range da {
		if db[name] != sum {
			t.Errorf("%s differs between runs with the same seed", name)
		}
	}
	if len(db) != len(da) {
		t.Errorf("file sets differ: %d vs %d", len(da), len(db))
	}
	ja, _ := json.Marshal(ma)
	jb, _ := json.Marshal(mb)
	if !bytes.Equal(ja, jb) || ma.SettingsTOML() != mb.SettingsTOML() {
		t.Error("manifests differ between runs with the same seed")
	}
	opt.Seed++
	if _, err := Generate(opt, c); err != nil {
		t.Fatal(err)
	}
	same := 0
	for name, sum := range digestTree(t, c) {
		if da[strings.Replace(name, fmt.Sprintf("-s%d-", opt.Seed), fmt.Sprintf("-s%d-", opt.Seed-1), 1)] == sum {
			same++
		}
	}
	if same == len(da) {
		t.Error("a different seed produced identical files")
	}
}

func TestExactAuditRecordsAndFileSplit(t *testing.T) {
	t.Run(Clean, func(t *testing.T) {
		checkExact(t, Options{Background: Clean, Users: 25, Days: 21, Seed: 3, End: testEnd, AuditRecords: 12345, FileRecords: 1000})
	})
	t.Run(Realistic, func(t *testing.T) {
		checkExact(t, Options{Users: 100, Days: 45, Seed: 3, End: testEnd, AuditRecords: 45678, FileRecords: 5000})
	})
}

func checkExact(t *testing.T, opt Options) {
	dir := t.TempDir()
	m, err := Generate(opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Background[event.FeedAudit] != opt.AuditRecords {
		t.Errorf("background audit %d, want %d", m.Background[event.FeedAudit], opt.AuditRecords)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, event.FeedAudit))
	if want := (m.Counts[event.FeedAudit] + opt.FileRecords - 1) / opt.FileRecords; len(entries) != want {
		t.Errorf("%d audit files, want %d", len(entries), want)
	}
	total := 0
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, event.FeedAudit, e.Name()))
		var recs []json.RawMessage
		if err := json.Unmarshal(data, &recs); err != nil || len(recs) > opt.FileRecords {
			t.Errorf("%s: %d records, %v", e.Name(), len(recs), err)
		}
		total += len(recs)
	}
	if total != m.Counts[event.FeedAudit] {
		t.Errorf("audit %d in files vs %d in the manifest", total, m.Counts[event.FeedAudit])
	}
}

func TestOptionErrors(t *testing.T) {
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{Background: Clean, Users: 5}, "at least 20"},
		{Options{Background: Clean, Days: 7}, "at least 21"},
		{Options{Background: Clean, AuditRecords: -1}, "negative"},
		{Options{Users: 99}, "at least 100"},
		{Options{Days: 44}, "at least 45"},
		{Options{Days: 30, Users: 500}, "clean background"},
		{Options{Background: "noisy"}, `background "noisy"`},
		{Options{TimeZone: "Europe/Atlantis"}, "Europe/Atlantis"},
	} {
		if _, err := Generate(c.opt, t.TempDir()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", c.opt, err, c.want)
		}
	}
	// The defaults: realistic, 200 users, 90 days (and clean 50 and 30).
	m, err := Generate(Options{End: testEnd, neutralScale: 0.05}, t.TempDir())
	if err != nil || m.BackgroundMode != Realistic || len(m.Users) != 200 || m.End.Sub(m.Start) != 89*24*time.Hour {
		t.Errorf("defaults: %v, %s, %d users, %v-%v", err, m.BackgroundMode, len(m.Users), m.Start, m.End)
	}
	m, err = Generate(Options{Background: "Clean", End: testEnd}, t.TempDir())
	if err != nil || m.BackgroundMode != Clean || len(m.Users) != 50 || m.End.Sub(m.Start) != 29*24*time.Hour {
		t.Errorf("clean defaults: %v, %s, %d users, %v-%v", err, m.BackgroundMode, len(m.Users), m.Start, m.End)
	}
	// An output directory that cannot be created is an error, not a panic.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Generate(smallOpts(), f); err == nil {
		t.Error("generating under a regular file: no error")
	}
}

func TestSettingsTOML(t *testing.T) {
	m, err := Generate(smallOpts(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Settings struct {
			ActivationWindowDays int      `toml:"activation_window_days"`
			PastActivityDays     int      `toml:"past_activity_days"`
			AlertVolume          string   `toml:"alert_volume"`
			Pseudonymize         bool     `toml:"pseudonymize"`
			PriorityAssets       []string `toml:"priority_assets"`
			DefenderStatuses     []string `toml:"defender_statuses"`
			Domains              struct {
				Unallowed, Allowed []string
				ThirdParty         []string `toml:"third_party"`
			}
			PriorityGroup []struct {
				Name    string
				Members []string
			} `toml:"priority_group"`
		}
	}
	md, err := toml.Decode(m.SettingsTOML(), &s)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("undecoded keys %v", u)
	}
	st := s.Settings
	if len(st.PriorityGroup) != 1 || st.PriorityGroup[0].Name != PriorityGroupName ||
		!slices.Equal(st.PriorityGroup[0].Members, m.PriorityGroups[PriorityGroupName]) {
		t.Errorf("priority groups %+v", st.PriorityGroup)
	}
	if !slices.Equal(st.DefenderStatuses, []string{"new", "inprogress"}) {
		t.Errorf("defender statuses %v", st.DefenderStatuses)
	}
	for _, x := range st.Domains.Unallowed {
		if matchesAny(strings.TrimPrefix(x, "*."), []string{"*.indeed.com", "indeed.com", "glassdoor.com", "monster.com"}) {
			t.Errorf("job site %s in the unallowed list", x)
		}
	}
	if !slices.Equal(st.PriorityAssets, m.PriorityAssets) || !slices.Equal(st.Domains.Unallowed, m.UnallowedDomains) ||
		!slices.Equal(st.Domains.ThirdParty, m.ThirdPartyDomains) || !slices.Contains(st.Domains.Unallowed, "wikileaks.org") {
		t.Errorf("settings %+v", st)
	}
}

// TestBoundedMemory generates 300,000 audit records and samples the heap while it
// runs: memory must stay flat (no accumulation of records).
func TestBoundedMemory(t *testing.T) {
	opt := Options{Users: 200, Days: 60, Seed: 11, End: testEnd, AuditRecords: 300000}
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	m, err := Generate(opt, t.TempDir())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if m.Background[event.FeedAudit] != 300000 {
		t.Errorf("background audit %d", m.Background[event.FeedAudit])
	}
	t.Logf("peak heap %.1f MiB for %d records", float64(peak)/(1<<20), m.Counts[event.FeedAudit])
	if peak > 48<<20 {
		t.Errorf("peak heap %d MiB: generation is not streaming", peak>>20)
	}
}

// BenchmarkGenerate: 200,000 benign audit records (plus the other feeds and the
// planted cases) for 200 users over 60 days (realistic) or 30 days (clean).
func BenchmarkGenerate(b *testing.B) {
	for _, opt := range []Options{
		{Background: Realistic, Users: 200, Days: 60},
		{Background: Clean, Users: 200, Days: 30},
	} {
		b.Run(opt.Background, func(b *testing.B) {
			const n = 200000
			dir := b.TempDir()
			total := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				opt.Seed, opt.End, opt.AuditRecords = int64(i), testEnd, n
				m, err := Generate(opt, filepath.Join(dir, fmt.Sprint(i)))
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range m.Counts {
					total += c
				}
				b.StopTimer()
				os.RemoveAll(filepath.Join(dir, fmt.Sprint(i)))
				b.StartTimer()
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
