package demo

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestCleanIndicatorLevels keeps the clean background's invariant: benign users never
// reach an indicator's low threshold on any day, and every planted user reaches at
// least the medium level of an indicator of their case.
func TestCleanIndicatorLevels(t *testing.T) {
	t.Run("default rate", func(t *testing.T) { checkCleanLevels(t, smallOpts()) })
	// The benchmark's dense background (about 100 audit records per user-day) must stay
	// just as quiet: only neutral filler grows with the volume.
	t.Run("dense", func(t *testing.T) {
		checkCleanLevels(t, Options{Background: Clean, Users: 30, Days: 21, Seed: 5, End: testEnd, AuditRecords: 30 * 21 * 100})
	})
}

func checkCleanLevels(t *testing.T, opt Options) {
	dir := t.TempDir()
	m := generate(t, opt, dir)
	o := runCatalog(t, dir, m, nil)
	planted := o.planted()
	users := make([]string, 0, len(o.count))
	for u := range o.count {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		var summary []string
		top := 0
		for id := range o.count[u] {
			lv, n := o.level(u, id)
			top = max(top, lv)
			if lv > 0 {
				summary = append(summary, fmt.Sprintf("%s=%d(L%d)", id, n, lv))
			}
			// The clean organisation works every day of the week, which the after-hours
			// indicator counts (weekends), and this checker counts matches, not the
			// novelty a first_seen indicator needs (the engine decides that).
			ind := o.rs.Indicator(id)
			exempt := id == "after_hours_sign_in" || (ind != nil && ind.FirstSeen != nil)
			if _, ok := planted[u]; !ok && lv > 0 && !exempt {
				t.Errorf("benign %s reaches level %d of %s (%d in a day, thresholds %v)", u, lv, id, n, o.rs.Indicator(id).Thresholds)
			}
		}
		sort.Strings(summary)
		if p, ok := planted[u]; ok {
			t.Logf("%-28s %-30s %s", u, p.Template, strings.Join(summary, " "))
			if top < 2 {
				t.Errorf("planted %s (%s) reaches no indicator's medium level: %v", u, p.Scenario, summary)
			}
		}
	}
	for _, p := range m.Planted {
		if o.count[p.User] == nil {
			t.Errorf("planted %s matches no indicator", p.User)
		}
	}
}

// overlapIndicators are the indicators whose fixed thresholds ordinary people are
// expected to reach in a realistic organisation.
var overlapIndicators = []string{"copy_to_usb", "email_external_attachments", "print_file", "browse_job_sites"}

// TestRealisticOverlap: in the realistic organisation benign behaviour overlaps risky
// behaviour. A measurable share of benign users reach the built-in low and medium
// fixed thresholds of USB copies, external mail with attachments, printing and job
// sites on some day. The shares are reported, not tuned: the habits come from what
// offices look like.
func TestRealisticOverlap(t *testing.T) {
	o := bigRealisticOrg(t)
	benign := o.benign()
	t.Logf("%d benign users, %d planted, %d events", len(benign), len(o.m.Planted), o.events)
	var ids []string
	seen := map[string]bool{}
	for _, u := range benign {
		for id := range o.count[u] {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	t.Logf("%-34s %8s %8s %8s   (share of benign users reaching the level on some day; thresholds)", "indicator", "low", "medium", "high")
	for _, id := range ids {
		var reach [4]int
		for _, u := range benign {
			lv, _ := o.level(u, id)
			for l := 1; l <= lv; l++ {
				reach[l]++
			}
		}
		t.Logf("%-34s %8s %8s %8s   %v", id, pct(reach[1], len(benign)), pct(reach[2], len(benign)), pct(reach[3], len(benign)), o.rs.Indicator(id).Thresholds)
		if slices.Contains(overlapIndicators, id) && (reach[1] == 0 || reach[2] == 0) {
			t.Errorf("%s: %d benign users reach its low threshold and %d its medium one: benign behaviour must overlap risky behaviour", id, reach[1], reach[2])
		}
	}
	for _, id := range overlapIndicators {
		if !seen[id] {
			t.Errorf("%s: no benign user matches it at all", id)
		}
	}
}

// TestHeavyTails: per-user rates are heavy-tailed, so a few users do a lot. Among the
// users who copy to USB, the top tenth make far more than a tenth of the copies, and
// the busiest user's total is many times the median's.
func TestHeavyTails(t *testing.T) {
	o := bigRealisticOrg(t)
	for _, id := range []string{"copy_to_usb", "email_external_attachments", "print_file"} {
		var totals []int
		sum := 0
		for _, u := range o.benign() {
			n := 0
			for _, c := range o.count[u][id] {
				n += c
			}
			if n > 0 {
				totals = append(totals, n)
				sum += n
			}
		}
		slices.Sort(totals)
		slices.Reverse(totals)
		top := 0
		for _, n := range totals[:max(1, len(totals)/10)] {
			top += n
		}
		median := totals[len(totals)/2]
		t.Logf("%s: %d users, top tenth make %s of %d, busiest %d, median %d", id, len(totals), pct(top, sum), sum, totals[0], median)
		if float64(top) < 0.25*float64(sum) || totals[0] < 8*median {
			t.Errorf("%s: not heavy-tailed: top tenth %d of %d, busiest %d, median %d", id, top, sum, totals[0], median)
		}
	}
}

// TestRealisticPlantedCases: every planted user still produces the events of their
// case, through the real parsers and the rule catalog, in the realistic organisation.
func TestRealisticPlantedCases(t *testing.T) {
	o := bigRealisticOrg(t)
	checkPlantedCases(t, o)
}

// oldCaseIndicators: for today's cases, an indicator of the case that must reach at
// least its medium level.
var oldCaseIndicators = map[string][]string{
	scDepartingUSBCloud:  {"copy_to_usb", "upload_to_cloud"},
	scRiskySharing:       {"share_file_external", "email_free_public_domain"},
	scPriorityLeak:       {"dlp_high_severity", "email_free_public_domain"},
	scDLPExfil:           {"sharepoint_download", "upload_to_cloud"},
	scSequence:           {"upload_to_cloud", "file_renamed_device"},
	scDefender:           {"defender_malware", "defender_defense_evasion"},
	scDefenderDeparting:  {"defender_malware", "defender_defense_evasion"},
	scDefenderPriority:   {"defender_malware", "defender_defense_evasion"},
	scDefenderRisky:      {"defender_malware", "defender_defense_evasion"},
	scBadgeAfterTerminat: {"physical_access_after_termination", "physical_failed_priority_asset"},
	scRiskyBrowsing:      {"browse_unallowed_domain", "browse_job_sites"},
}

func checkPlantedCases(t *testing.T, o *orgRun) {
	for _, p := range o.m.Planted {
		u := p.User
		evs := o.kept[u]
		c := o.count[u]
		daysOf := func(id string) []string {
			var ds []string
			for d := range c[id] {
				ds = append(ds, d)
			}
			slices.Sort(ds)
			return ds
		}
		if ids, ok := oldCaseIndicators[p.Scenario]; ok {
			best := 0
			for _, id := range ids {
				lv, _ := o.level(u, id)
				best = max(best, lv)
			}
			if best < 2 {
				t.Errorf("%s (%s): none of %v reaches its medium level: %v", u, p.Scenario, ids, c)
			}
			continue
		}
		switch p.Scenario {
		case scFirstTimeBurst:
			// One day with the first after-hours sign-in, the first USB use and a visit
			// to an unallowed domain; nothing of the kind before it.
			burst := daysOf("after_hours_sign_in")
			if len(burst) != 1 {
				t.Errorf("%s: after-hours sign-ins on %v, want exactly one day", u, burst)
				continue
			}
			for _, id := range []string{"copy_to_usb", "usb_mount", "browse_unallowed_domain"} {
				if ds := daysOf(id); len(ds) != 1 || ds[0] != burst[0] {
					t.Errorf("%s: %s on %v, want only on the burst day %s", u, id, ds, burst[0])
				}
			}
			if n := c["copy_to_usb"][burst[0]]; n < 3 || n > 12 {
				t.Errorf("%s: %d USB copies in the burst, want a handful", u, n)
			}
			for _, tm := range o.signIns[u] {
				if (tm.Hour() < 7 || tm.Hour() >= 19) && tm.Format("2006-01-02") != burst[0] {
					t.Errorf("%s: an after-hours sign-in before the burst at %v", u, tm)
				}
			}
			prof := o.profiles[u]
			if !prof.Departing() || prof.ResignationDate.In(o.loc).Format("2006-01-02") >= burst[0] ||
				prof.LastWorkingDate.In(o.loc).Format("2006-01-02") <= burst[0] {
				t.Errorf("%s: the burst %s is not in the notice period: %+v", u, burst[0], prof)
			}
		case scJobSitesBurst:
			jobDays := daysOf("browse_job_sites")
			usb, cloud := daysOf("copy_to_usb"), daysOf("upload_to_cloud")
			resigned := o.profiles[u].ResignationDate.In(o.loc).Format("2006-01-02")
			if len(jobDays) < 8 || len(usb) == 0 || jobDays[0] >= usb[0] {
				t.Errorf("%s: job sites on %v, USB on %v: want weeks of job browsing before the burst", u, jobDays, usb)
			}
			burstUSB, burstCloud := 0, 0
			for _, d := range usb {
				if d < resigned {
					burstUSB = max(burstUSB, c["copy_to_usb"][d])
				}
			}
			for _, d := range cloud {
				if d < resigned {
					burstCloud = max(burstCloud, c["upload_to_cloud"][d])
				}
			}
			if burstUSB < 10 || burstCloud < 4 {
				t.Errorf("%s: burst before resigning (%s): at most %d USB copies and %d cloud uploads a day", u, resigned, burstUSB, burstCloud)
			}
		case scAdminHackTools:
			review := o.profiles[u].LatestReviewDate.In(o.loc).Format("2006-01-02")
			dl := daysOf("download_unallowed_domain")
			if len(dl) != 1 || dl[0] <= review || c["download_unallowed_domain"][dl[0]] < 3 {
				t.Errorf("%s: downloads from unallowed domains %v (review %s): want hacking tools after the poor review", u, c["download_unallowed_domain"], review)
			}
			alerts := 0
			for _, id := range []string{"defender_malware", "defender_unwanted_software"} {
				for d, n := range c[id] {
					if len(dl) == 1 && d == dl[0] {
						alerts += n
					}
				}
			}
			if alerts < 2 {
				t.Errorf("%s: %d imported Defender alerts on the download day", u, alerts)
			}
			tools, mass := 0, 0
			for _, ev := range evs {
				if ev.Operation == "FileCopiedToRemovableMedia" && slices.ContainsFunc(hackTools, func(h struct{ file, alert, category, severity, status string }) bool {
					return h.file == ev.FileName
				}) {
					tools++
				}
				if ev.Operation == "Send" && len(ev.Recipients) >= 50 && ev.Attachments > 0 &&
					slices.ContainsFunc(ev.Recipients, func(r string) bool { return !strings.HasSuffix(r, "@"+o.m.OrgDomain) }) {
					mass++
				}
			}
			if tools != len(hackTools) || mass != 1 {
				t.Errorf("%s: %d hacking tools copied to USB, %d mass emails with an attachment leaving the organisation", u, tools, mass)
			}
		case scSlowExfiltration:
			checkSlowExfiltration(t, o, u)
		case scUnallowedUpload:
			n := 0
			for _, ev := range evs {
				if ev.Operation == "FileUploadedToCloud" && matchesAny(ev.TargetDomain, o.m.UnallowedDomains) {
					n++
				}
			}
			if ds := daysOf("upload_to_cloud"); n != 1 {
				t.Errorf("%s: %d uploads to an unallowed domain (cloud uploads on %v), want one", u, n, ds)
			}
		default:
			t.Errorf("%s: no check for scenario %s", u, p.Scenario)
		}
	}
}

// checkSlowExfiltration: on each of the case's days the counts stay under the fixed
// low thresholds but are several times the user's own daily mean before the case.
func checkSlowExfiltration(t *testing.T, o *orgRun, u string) {
	var caseDays []string
	for d, n := range o.count[u]["print_file"] {
		if n == 4 {
			caseDays = append(caseDays, d)
		}
	}
	slices.Sort(caseDays)
	if len(caseDays) < 12 {
		t.Errorf("%s: %d days with the planted printing, want three weeks of working days", u, len(caseDays))
		return
	}
	first, _ := time.ParseInLocation("2006-01-02", caseDays[0], o.loc)
	for id, want := range map[string]int{"email_external_attachments": 2, "print_file": 4, "sharepoint_download": 6} {
		th := o.rs.Indicator(id).Thresholds[0]
		if want >= th {
			t.Errorf("%s: planted %d a day reaches the low threshold %d", id, want, th)
		}
		for _, d := range caseDays {
			if n := o.count[u][id][d]; n != want {
				t.Errorf("%s on %s: %d %s, want %d", u, d, n, id, want)
			}
		}
		// History: the 30 days before the case (working days and days off alike).
		hist := 0
		for i := 1; i <= 30; i++ {
			hist += o.count[u][id][first.AddDate(0, 0, -i).Format("2006-01-02")]
		}
		mean := float64(hist) / 30
		t.Logf("%s %s: %d a day for %d days; the 30 days before: %d in all (%.2f a day)", u, id, want, len(caseDays), hist, mean)
		if float64(want) < 3*mean {
			t.Errorf("%s %s: %d a day is not several times the user's history (%.2f a day)", u, id, want, mean)
		}
	}
}

func matchesAny(domain string, list []string) bool {
	for _, x := range list {
		if domain == x || (strings.HasPrefix(x, "*.") && strings.HasSuffix(domain, x[1:])) {
			return true
		}
	}
	return false
}
