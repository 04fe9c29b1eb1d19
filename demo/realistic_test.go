package demo

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"irm/event"
)

func realisticOpts() Options {
	return Options{Users: MinRealisticUsers, Days: MinRealisticDays, Seed: 7, End: testEnd}
}

// habitBehaviour says, from a user's parsed events, whether they show a habit.
var habitBehaviour = []struct {
	tag    string
	lo, hi float64 // stated range of the share of benign users who show it
	shows  func(o *orgRun, u string) bool
}{
	{"usb", 0.20, 0.30, func(o *orgRun, u string) bool { return len(o.count[u]["copy_to_usb"]) > 0 }},
	{"self_mail", 0.07, 0.14, func(o *orgRun, u string) bool { return len(o.count[u]["email_to_self"]) > 0 }},
	{"external_mail", 0.28, 0.40, func(o *orgRun, u string) bool {
		// Partners and customers (mail to one's own free-mail address aside).
		for d, n := range o.count[u]["email_external_attachments"] {
			if n > o.count[u]["email_to_self"][d] {
				return true
			}
		}
		return false
	}},
	{"job_sites", 0.02, 0.06, func(o *orgRun, u string) bool { return len(o.count[u]["browse_job_sites"]) > 0 }},
	{"after_hours", 0.08, 0.20, func(o *orgRun, u string) bool {
		// Signs in before 07:00 or from 19:00 local, or on a day off.
		for _, t := range o.signIns[u] {
			if t.Hour() < 7 || t.Hour() >= 19 || t.Weekday() == time.Saturday || t.Weekday() == time.Sunday ||
				slices.Contains(o.m.Holidays, t.Format("2006-01-02")) {
				return true
			}
		}
		return false
	}},
	{"engineer_sync", 0.06, 0.16, func(o *orgRun, u string) bool {
		// A day with dozens of synced files (SharePoint or OneDrive; a new laptop's
		// first sync counts too).
		for _, id := range []string{"sharepoint_sync_download", "onedrive_sync_download"} {
			for _, n := range o.count[u][id] {
				if n >= 40 {
					return true
				}
			}
		}
		return false
	}},
	{"printer", 0.04, 0.09, func(o *orgRun, u string) bool {
		for _, n := range o.count[u]["print_file"] {
			if n >= 10 {
				return true
			}
		}
		return false
	}},
	{"traveller", 0.06, 0.10, func(o *orgRun, u string) bool { return len(o.ips[u]) > 2 }}, // office, home and a trip's network
	{"external_sharing", 0.09, 0.15, func(o *orgRun, u string) bool { return len(o.count[u]["share_file_external"]) > 0 }},
	{"cloud_upload", 0.05, 0.10, func(o *orgRun, u string) bool { return len(o.count[u]["upload_to_cloud"]) > 0 }},
	{"benign_leaver", 0.02, 0.05, func(o *orgRun, u string) bool { return o.profiles[u].Departing() }},
}

// TestHabitShares measures, on the 1,000-user 60-day organisation, the share of
// benign users who show each habit in the files (read back through the parsers and
// the rule catalog), and checks it against the range docs/demo.md states. Every tag in
// the manifest is one of HabitTags.
func TestHabitShares(t *testing.T) {
	o := bigRealisticOrg(t)
	benign := o.benign()
	tagged := map[string]int{}
	for _, u := range benign {
		for _, tag := range o.m.Habits[u] {
			if !slices.Contains(HabitTags, tag) {
				t.Errorf("%s: unknown habit tag %q", u, tag)
			}
			tagged[tag]++
		}
	}
	for _, hb := range habitBehaviour {
		n := 0
		for _, u := range benign {
			if hb.shows(o, u) {
				n++
			}
		}
		share := float64(n) / float64(len(benign))
		t.Logf("%-16s tagged %6s  shows it %6s  (stated %.0f-%.0f%%)", hb.tag, pct(tagged[hb.tag], len(benign)), pct(n, len(benign)), 100*hb.lo, 100*hb.hi)
		if share < hb.lo || share > hb.hi {
			t.Errorf("%s: %.1f%% of benign users show it, stated range %.0f-%.0f%%", hb.tag, 100*share, 100*hb.lo, 100*hb.hi)
		}
	}
	for _, tag := range HabitTags {
		t.Logf("tag %-18s %6s", tag, pct(tagged[tag], len(benign)))
	}
	// The HR look-alikes and the rare alerts exist, at about their stated rates.
	for tag, want := range map[string][2]float64{
		"poor_review": {0.03, 0.07}, "improvement_plan": {0.005, 0.03}, "level_down": {0.005, 0.02},
		"dlp_high": {0.005, 0.02}, "defender_pua": {0.005, 0.05}, "vacation": {0.40, 0.60},
	} {
		if s := float64(tagged[tag]) / float64(len(benign)); s < want[0] || s > want[1] {
			t.Errorf("%s: %.1f%% of benign users, stated %.1f-%.1f%%", tag, 100*s, 100*want[0], 100*want[1])
		}
	}
	// Every benign High DLP match and imported Defender alert belongs to a tagged user.
	for _, u := range benign {
		if len(o.count[u]["dlp_high_severity"]) > 0 != slices.Contains(o.m.Habits[u], "dlp_high") {
			t.Errorf("%s: High DLP matches %v, tags %v", u, o.count[u]["dlp_high_severity"], o.m.Habits[u])
		}
		imported := len(o.count[u]["defender_unwanted_software"])+len(o.count[u]["defender_malware"]) > 0
		if imported != (slices.Contains(o.m.Habits[u], "defender_pua") || slices.Contains(o.m.Habits[u], "defender_malware")) {
			t.Errorf("%s: imported Defender alerts %v, tags %v", u, imported, o.m.Habits[u])
		}
	}
}

// TestDaysOff: weekends, holidays and a user's vacations have no activity, except for
// weekend workers at weekends; leavers have none after their last working day.
func TestDaysOff(t *testing.T) {
	o := bigRealisticOrg(t)
	if len(o.m.Holidays) < 2 {
		t.Errorf("holidays in a %d-day window: %v", bigDays, o.m.Holidays)
	}
	weekendWork, vacationers := 0, 0
	for _, u := range o.benign() {
		days := o.activeDays[u]
		weekender := slices.Contains(o.m.Habits[u], "weekend_worker")
		for d := range days {
			day, _ := time.Parse("2006-01-02", d)
			weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
			switch {
			case weekend && weekender:
				weekendWork++
			case weekend:
				t.Errorf("%s: activity on %s, a %s", u, d, day.Weekday())
			case slices.Contains(o.m.Holidays, d):
				t.Errorf("%s: activity on the holiday %s", u, d)
			}
			for _, v := range o.m.Vacations[u] {
				if d >= v[0] && d <= v[1] {
					t.Errorf("%s: activity on %s, in their vacation %v", u, d, v)
				}
			}
			if p := o.profiles[u]; !p.LastWorkingDate.IsZero() && d > p.LastWorkingDate.In(o.loc).Format("2006-01-02") {
				t.Errorf("%s: activity on %s, after the last working day %v", u, d, p.LastWorkingDate)
			}
		}
		if len(o.m.Vacations[u]) > 0 {
			vacationers++
		}
	}
	t.Logf("holidays %v; %d benign users with vacations; %d weekend days worked by weekend workers", o.m.Holidays, vacationers, weekendWork)
	if weekendWork == 0 || vacationers == 0 {
		t.Errorf("weekend days worked %d, users with vacations %d", weekendWork, vacationers)
	}
}

// TestTimeZone: working hours are local to Options.TimeZone, across a daylight-saving
// change, while every record is written in UTC.
func TestTimeZone(t *testing.T) {
	dir := t.TempDir()
	opt := realisticOpts()
	opt.TimeZone = "America/New_York" // the window (Oct 14 - Nov 27, 2026) crosses the November 1 change
	m := generate(t, opt, dir)
	if m.TimeZone != "America/New_York" {
		t.Fatalf("manifest time zone %q", m.TimeZone)
	}
	loc, _ := time.LoadLocation(m.TimeZone)
	recs := readFeeds(t, dir)
	regular := map[string]bool{}
	for _, u := range m.Users {
		tags := strings.Join(m.Habits[u], " ")
		if !strings.Contains(tags, "after_hours") && !strings.Contains(tags, "traveller") {
			regular[u] = true
		}
	}
	for _, p := range m.Planted {
		delete(regular, p.User)
	}
	var edt, est int
	for _, r := range recs[event.FeedAudit] {
		ts := r["CreationTime"].(string)
		if !strings.HasSuffix(ts, "Z") {
			t.Fatalf("time %q is not UTC", ts)
		}
		if r["Operation"] != "UserLoggedIn" || !regular[r["UserId"].(string)] {
			continue
		}
		at, _ := time.Parse(time.RFC3339, ts)
		local := at.In(loc)
		if h := local.Hour(); h < 6 || h >= 19 {
			t.Errorf("%s: a regular user signs in at %v local", r["UserId"], local)
		}
		if wd := local.Weekday(); wd == time.Saturday || wd == time.Sunday {
			t.Errorf("%s: a regular user signs in on a %s", r["UserId"], wd)
		}
		if _, off := local.Zone(); off == -4*3600 {
			edt++
		} else {
			est++
		}
	}
	if edt == 0 || est == 0 {
		t.Errorf("sign-ins under EDT %d, EST %d: the window should cross the change", edt, est)
	}
	if _, err := Generate(Options{TimeZone: "Mars/Olympus_Mons"}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "Mars/Olympus_Mons") {
		t.Errorf("unknown time zone: %v", err)
	}
}

// TestExactModeKeepsHabits: with AuditRecords the habits keep their per-user rates and
// only neutral filler changes: every user's total of every indicator is the same as
// in the same organisation at its own volume, and the filler matches no indicator.
func TestExactModeKeepsHabits(t *testing.T) {
	opt := realisticOpts()
	a, b := t.TempDir(), t.TempDir()
	ma := generate(t, opt, a)
	opt.AuditRecords = 2 * ma.Background[event.FeedAudit]
	mb := generate(t, opt, b)
	if mb.Background[event.FeedAudit] != opt.AuditRecords {
		t.Fatalf("benign audit %d, want %d", mb.Background[event.FeedAudit], opt.AuditRecords)
	}
	oa, ob := runCatalog(t, a, ma, nil), runCatalog(t, b, mb, nil)
	planted := oa.planted()
	totals := func(o *orgRun) map[string]int {
		out := map[string]int{}
		for u, byInd := range o.count {
			if _, ok := planted[u]; ok {
				continue // planted records come on top, drawn with the content
			}
			for id, days := range byInd {
				if id == "after_hours_sign_in" || id == "sign_in_unusual_hour" {
					continue // extra sign-ins fall at random times of the working day
				}
				for _, n := range days {
					out[u+" "+id] += n
				}
			}
		}
		return out
	}
	ta, tb := totals(oa), totals(ob)
	if !maps.Equal(ta, tb) {
		for k, n := range ta {
			if tb[k] != n {
				t.Errorf("%s: %d at the users' own volume, %d with %d audit records", k, n, tb[k], opt.AuditRecords)
			}
		}
		for k, n := range tb {
			if _, ok := ta[k]; !ok {
				t.Errorf("%s: only with %d audit records (%d)", k, opt.AuditRecords, n)
			}
		}
	}
	t.Logf("%d and %d events, %d user-indicator totals equal", oa.events, ob.events, len(ta))
	// Too few records for the habits is an error that says so.
	opt.AuditRecords = 1000
	if _, err := Generate(opt, t.TempDir()); err == nil || !strings.Contains(err.Error(), "fewer than the realistic habits") {
		t.Errorf("1000 records: %v", err)
	}
}

// TestLookAlikesAtMinimum: at the minimum size every planted case still hides among
// benign users with the same habits.
func TestLookAlikesAtMinimum(t *testing.T) {
	m := generate(t, realisticOpts(), t.TempDir())
	have := map[string]int{}
	planted := map[string]bool{}
	for _, p := range m.Planted {
		planted[p.User] = true
	}
	for u, tags := range m.Habits {
		if !planted[u] {
			for _, tag := range tags {
				have[tag]++
			}
		}
	}
	// The look-alikes of each case (docs/demo.md).
	for _, tag := range []string{"usb", "after_hours", "benign_leaver", "job_sites", "poor_review", "improvement_plan",
		"level_down", "external_mail", "printer", "cloud_upload", "self_mail", "external_sharing", "defender_pua", "dlp_high",
		"engineer_sync", "traveller"} {
		if have[tag] == 0 {
			t.Errorf("no benign user with habit %s at %d users", tag, len(m.Users))
		}
	}
	if len(m.Planted) != len(plantSpecs) || len(m.Users) != MinRealisticUsers {
		t.Errorf("%d planted, %d users", len(m.Planted), len(m.Users))
	}
	t.Logf("benign look-alikes at %d users: %v", MinRealisticUsers, have)
}

// TestUSBFrequencies: USB days range from about once a month to most working days.
func TestUSBFrequencies(t *testing.T) {
	o := bigRealisticOrg(t)
	lo, hi := 1.0, 0.0
	for _, u := range o.benign() {
		if !slices.Contains(o.m.Habits[u], "usb") || len(o.activeDays[u]) < 20 {
			continue
		}
		f := float64(len(o.count[u]["copy_to_usb"])) / float64(len(o.activeDays[u]))
		lo, hi = min(lo, f), max(hi, f)
	}
	t.Logf("USB users copy on %.0f%% to %.0f%% of their days with activity", 100*lo, 100*hi)
	if lo > 1.0/15 || hi < 0.5 {
		t.Errorf("USB days from %.2f to %.2f of active days: want about once a month to most days", lo, hi)
	}
}

// TestPlantedHabitOverrides: over many seeds, the planted users' habits never blur
// their case: the first-time case never has a USB or after-hours habit, the slow
// exfiltration case has a low history of exactly the habits it is compared with, and
// no planted user gets a benign HR event, alert or DLP match, or leave or a trip during
// the case.
func TestPlantedHabitOverrides(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		opt := realisticOpts()
		opt.Seed = seed
		g, _, err := newGen(opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range g.users {
			if u.plant == nil {
				continue
			}
			h := u.h
			switch u.plant.scenario {
			case scFirstTimeBurst:
				if h.usbP != 0 || h.hours != hoursRegular || len(h.trips) > 0 || h.has("usb") || h.has("after_hours") || h.laptopDay >= 0 {
					t.Errorf("seed %d: %s has history the case says it never had: %+v", seed, u.upn, h.tags)
				}
			case scSlowExfiltration:
				if h.usbP+h.selfP+h.cloudP+h.shareP+h.jobP+h.syncP != 0 || h.extRate != 0.2 || h.printP != 0.2 || h.printMed != 1 {
					t.Errorf("seed %d: %s habits %+v", seed, u.upn, h)
				}
			}
			if h.pipDay >= 0 || h.levelDown || h.dlpHighDay >= 0 || len(h.alerts) > 0 || u.benignDeparting {
				t.Errorf("seed %d: planted %s has a benign look-alike event", seed, u.upn)
			}
			limit := g.cal.at(u.plant.from) // the case's first event
			for _, v := range h.vacations {
				if v[1] >= limit {
					t.Errorf("seed %d: %s on vacation %v during the case (from day %d)", seed, u.upn, v, limit)
				}
			}
			for _, tr := range h.trips {
				if tr.to >= limit {
					t.Errorf("seed %d: %s travels %v during the case", seed, u.upn, tr)
				}
			}
		}
	}
}
