package demo

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

type gen struct {
	opt       Options
	realistic bool
	specs     []plantSpec
	r         *rand.Rand
	tenant    string
	orgID     string
	start     time.Time
	cal       *calendar
	users     []*user
	pools     map[string][]string // department -> file names

	day int // current day index

	// Realistic background: the per-user-day decisions come from their own generator,
	// seeded by (seed, user, day), so that the counting pass of exact mode and the
	// writing pass draw the same plan. Content (ids, times, names) comes from r.
	dsrc *rand.PCG
	dr   *rand.Rand
	plan dayPlan

	audit, badgeW, dlpW, defW *feedWriter
	b                         []byte

	slots, slotOrd int // exact mode: user-days with activity, and the current one
	filler         int // exact mode (realistic): filler records to spread over the slots
	neutralScale   float64

	benignAudit, benignHR, benignBadge, benignDLP, benignDef int
}

// planTimelines fixes every user's timeline (resignations, reviews, last day of
// activity) and, in the realistic background, draws everyone's habits.
func (g *gen) planTimelines() {
	L := g.opt.Days - 1
	at := g.cal.at
	g.pools = map[string][]string{}
	for i := range departments {
		d := &departments[i]
		if !g.realistic && i >= cleanDepartments {
			break
		}
		for range 60 {
			g.pools[d.name] = append(g.pools[d.name], fileName(g.r, d))
		}
	}
	nBenign := len(g.users) - len(g.specs)
	if g.realistic {
		g.drawHabits(nBenign)
	} else {
		for i, u := range g.users {
			u.reviewDay = (i * 3) % 7
			u.review = []string{"3", "4", "Exceeds expectations"}[i%3]
			if i < nBenign && i%23 == 11 {
				u.promoted = true
			}
		}
		// Two benign resignations: one still working out the notice period, one gone
		// (account deleted) before the end of the window. Both do nothing unusual.
		bd1, bd2 := g.users[numExecs+4], g.users[numExecs+5]
		bd1.benignDeparting, bd1.resignDay, bd1.lwdDay = true, L-15, L+14
		bd2.benignDeparting, bd2.resignDay, bd2.lwdDay, bd2.deleteDay = true, L-18, L-4, L-3
		bd2.lastDay = L - 4
	}
	for _, u := range g.users[nBenign:] {
		switch u.plant.scenario {
		case scDepartingUSBCloud:
			u.resignDay, u.lwdDay, u.lastDay = at(14), at(1), at(1)
		case scSequence:
			u.resignDay, u.lwdDay, u.lastDay = at(12), at(1), at(1)
		case scDefenderDeparting:
			u.resignDay, u.lwdDay = at(10), at(-7)
		case scBadgeAfterTerminat:
			u.resignDay, u.lwdDay, u.lastDay, u.deleteDay = at(20), at(10), at(10), at(9)
		case scRiskySharing, scAdminHackTools:
			u.review, u.reviewDay = poorRating, at(12)
		case scFirstTimeBurst:
			u.resignDay, u.lwdDay, u.lastDay, u.deleteDay = at(15), at(1), at(1), at(0)
		case scJobSitesBurst:
			u.resignDay, u.lwdDay = at(3), at(-12)
		case scSlowExfiltration:
			u.resignDay, u.lwdDay = at(3), at(-15)
		}
	}
	if !g.realistic {
		for _, u := range g.users {
			g.slots += u.lastDay + 1
		}
	}
}

// poorRating is the planted poor review; benign ratings are 3, 4 or "Exceeds
// expectations" (and, in the realistic background, a benign "2" for a few).
const poorRating = "Below expectations"

func (g *gen) hrDate(day int) string { return g.cal.rfc3339(day, 9*3600) }

// hrEndOfDay is the last working date: the end of the working day, so that the user's
// ordinary activity on their last day (all before 18:00) is not "after termination".
func (g *gen) hrEndOfDay(day int) string { return g.cal.rfc3339(day, 18*3600) }

type hrRow struct {
	day    int
	user   string
	fields []string
	benign bool
}

// writeHR writes one CSV file series per HR scenario, each with the optional
// Department and Manager columns so every user's profile gets its department.
func (g *gen) writeHR(dir, prefix string) (files, rows int, err error) {
	L := g.opt.Days - 1
	var reviews, resigns, pips, levels []hrRow
	for _, u := range g.users {
		dm := []string{u.dept, u.manager}
		planted := u.plant != nil
		plantedReview := planted && (u.plant.scenario == scRiskySharing || u.plant.scenario == scAdminHackTools)
		remarks := "Solid year; keep it up"
		switch u.review {
		case poorRating:
			remarks = "Below expectations; missed targets in two consecutive quarters"
		case benignPoorRating:
			remarks = "Missed two objectives after the reorganisation; development plan agreed"
		}
		reviews = append(reviews, hrRow{u.reviewDay, u.upn,
			append([]string{u.upn, g.hrDate(u.reviewDay), remarks, u.review}, dm...), !plantedReview})
		if u.resignDay != noDay {
			resigns = append(resigns, hrRow{u.resignDay, u.upn,
				append([]string{u.upn, g.hrDate(u.resignDay), g.hrEndOfDay(u.lwdDay)}, dm...), !planted})
		}
		if planted && u.plant.scenario == scDefenderRisky {
			d := g.cal.at(12)
			pips = append(pips, hrRow{d, u.upn,
				append([]string{u.upn, g.hrDate(d), "Repeated policy breaches; weekly check-ins for 60 days", "1"}, dm...), false})
		}
		if u.promoted {
			d := L - 5 - len(levels)%10
			levels = append(levels, hrRow{d, u.upn,
				append([]string{u.upn, g.hrDate(d), "Promotion", "Level 61 - Senior", "Level 62 - Principal"}, dm...), true})
		}
		if h := u.h; h != nil {
			if h.pipDay >= 0 {
				pips = append(pips, hrRow{h.pipDay, u.upn,
					append([]string{u.upn, g.hrDate(h.pipDay), "Quality of deliverables below the role; 60-day plan with fortnightly reviews", "2"}, dm...), true})
			}
			if h.levelDay >= 0 {
				remarks, from, to := "Promotion", "Level 61 - Senior", "Level 62 - Principal"
				if h.levelDown {
					remarks, from, to = "Moved to an individual contributor role at own request", "Level 63 - Manager", "Level 61 - Senior"
				}
				levels = append(levels, hrRow{h.levelDay, u.upn,
					append([]string{u.upn, g.hrDate(h.levelDay), remarks, from, to}, dm...), true})
			}
		}
	}
	series := []struct {
		name, header string
		rows         []hrRow
	}{
		{"reviews", "EmailAddress,EffectiveDate,Remarks,Rating,Department,Manager", reviews},
		{"resignations", "EmailAddress,ResignationDate,LastWorkingDate,Department,Manager", resigns},
		{"improvement-plans", "EmailAddress,EffectiveDate,ImprovementRemarks,PerformanceRating,Department,Manager", pips},
		{"level-changes", "EmailAddress,EffectiveDate,Remarks,OldLevel,NewLevel,Department,Manager", levels},
	}
	for _, s := range series {
		if len(s.rows) == 0 {
			continue
		}
		slices.SortStableFunc(s.rows, func(a, b hrRow) int {
			if a.day != b.day {
				return a.day - b.day
			}
			return strings.Compare(a.user, b.user)
		})
		w := newCSVWriter(dir, prefix+"-hr-"+s.name, s.header, g.opt.FileRecords)
		for _, row := range s.rows {
			line := csvLine(g.b[:0], row.fields)
			if err := w.write(line); err != nil {
				w.abort()
				return files, rows, err
			}
			if row.benign {
				g.benignHR++
			}
		}
		if err := w.closeFile(); err != nil {
			w.abort()
			return files, rows, err
		}
		files += w.files
		rows += w.records
	}
	return files, rows, nil
}

func csvLine(b []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		if strings.ContainsAny(f, ",\"\r\n") {
			b = append(b, '"')
			b = append(b, strings.ReplaceAll(f, `"`, `""`)...)
			b = append(b, '"')
		} else {
			b = append(b, f...)
		}
	}
	return append(b, '\n')
}

// run writes the activity feeds day by day, user by user.
func (g *gen) run() error {
	for d := 0; d < g.opt.Days; d++ {
		g.day = d
		for i, u := range g.users {
			if g.realistic {
				if err := g.realisticDay(u); err != nil {
					return err
				}
			} else if d <= u.lastDay {
				if err := g.background(i, u); err != nil {
					return err
				}
			}
			// The administrator's record, not the user's: never counted as background.
			if u.deleteDay == d {
				if err := g.deleteUser(u, 11*3600+g.r.IntN(3600)); err != nil {
					return err
				}
			}
			if u.plant != nil {
				if err := g.planted(u); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (g *gen) workSecs() int { return 8*3600 + g.r.IntN(10*3600) }

func (g *gen) colleague() *user { return g.users[g.r.IntN(len(g.users))] }

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) docPath(u *user, folder, name string) string {
	return `C:\Users\` + u.first + "." + u.last + `\` + folder + `\` + name
}

// background is one user's ordinary day: steady audit activity, badging in, and the
// occasional low/medium DLP match or resolved defender alert.
func (g *gen) background(i int, u *user) error {
	k := 22 + g.r.IntN(7)
	if g.opt.AuditRecords > 0 {
		// Spread the exact total evenly: this slot gets its share of the remainder.
		n, s, o := g.opt.AuditRecords, g.slots, g.slotOrd
		k = n/s + ((o+1)*(n%s))/s - (o*(n%s))/s
		g.slotOrd++
	}
	if err := g.backgroundAudit(u, k); err != nil {
		return err
	}
	g.benignAudit += k

	main := ordinaryAssets[0]
	if err := g.badge(u, 7*3600+1800+g.r.IntN(2*3600), main[0], main[1], true); err != nil {
		return err
	}
	g.benignBadge++
	if g.r.IntN(2) == 0 {
		door := ordinaryAssets[1+g.r.IntN(len(ordinaryAssets)-1)]
		if err := g.badge(u, 9*3600+1800+g.r.IntN(7*3600), door[0], door[1], true); err != nil {
			return err
		}
		g.benignBadge++
	}

	if g.r.IntN(100) < 3 {
		if err := g.lowDLP(u, g.workSecs); err != nil {
			return err
		}
		g.benignDLP++
	}

	if u.plant == nil && i%15 == 7 && g.day == (i*5)%g.opt.Days {
		titles := []string{"'BitTorrent' potentially unwanted application was blocked", "Suspicious browser extension was removed", "'Toolbar' adware was prevented"}
		if err := g.alert(u, g.workSecs(), titles[i%3], "UnwantedSoftware", "Low", "Resolved"); err != nil {
			return err
		}
		g.benignDef++
	}
	return nil
}

// lowDLP writes a benign Low or Medium DLP match at the time when() draws.
func (g *gen) lowDLP(u *user, when func() int) error {
	m := dlpMatch{policy: dlpPolicyPII, rule: rulePIILow, severity: "Low", sensitiveType: "EU Passport Number", count: 1 + g.r.IntN(3)}
	switch g.r.IntN(3) {
	case 0:
		m.policy, m.rule, m.severity, m.sensitiveType = dlpPolicyFinancial, ruleFinLow, "Low", "Credit Card Number"
	case 1:
		m.policy, m.rule, m.severity, m.sensitiveType = dlpPolicyFinancial, ruleFinMed, "Medium", "U.S. Bank Account Number"
	}
	if g.r.IntN(2) == 0 {
		m.site, m.file = u.site, g.pick(g.pools[u.dept])
	} else {
		m.subject, m.to = "Updated figures", []string{g.colleague().upn}
		if m.severity == "Low" {
			m.rule = rulePIIMed
			m.policy, m.severity = dlpPolicyPII, "Medium"
		}
	}
	return g.dlp(u, when(), m)
}

// backgroundAudit writes exactly k ordinary audit records for u today. The risky-looking
// parts (downloads, external mail, printing...) come first at steady per-user rates; the
// rest is neutral filler, so a larger k adds only neutral activity.
func (g *gen) backgroundAudit(u *user, k int) error {
	n := 0
	var err error
	do := func(e error) bool {
		if e != nil {
			err = e
			return false
		}
		n++
		return n < k
	}
	if k == 0 {
		return nil
	}
	pool := g.pools[u.dept]
	if !do(g.signIn(u, 7*3600+2700+g.r.IntN(4500), true)) {
		return err
	}
	for range u.downloads {
		if !do(g.spFile(u, g.workSecs(), "FileDownloaded", u.site, g.pick(pool), "")) {
			return err
		}
	}
	r := g.r.IntN(1000)
	if r < 300 && !do(g.spFile(u, g.workSecs(), "FileSyncDownloadedFull", u.onedrive, g.pick(pool), "")) {
		return err
	}
	if u.extMail && g.r.IntN(2) == 0 {
		to := g.pick(firstNames) + "@" + g.pick(partnerDomains)
		if !do(g.send(u, g.workSecs(), "Re: meeting follow-up", []string{to}, nil)) {
			return err
		}
	}
	type occasional struct {
		permille int
		f        func() error
	}
	for _, o := range [...]occasional{
		{100, func() error {
			name := g.pick(pool)
			return g.endpoint(u, g.workSecs(), endpointFile{op: "FilePrinted", path: g.docPath(u, "Documents", name), size: fileSize(g.r), app: "WINWORD.EXE"})
		}},
		{100, func() error {
			name := g.pick(pool)
			return g.endpoint(u, g.workSecs(), endpointFile{op: "FileRenamed", path: g.docPath(u, "Documents", name), previous: "Draft-" + name, size: fileSize(g.r)})
		}},
		{150, func() error {
			name := g.pick(pool)
			return g.endpoint(u, g.workSecs(), endpointFile{op: "FileDownloadedFromBrowser", path: g.docPath(u, "Downloads", name), size: fileSize(g.r), targetDomain: "learn.microsoft.com", app: "msedge.exe"})
		}},
		{200, func() error {
			return g.endpoint(u, g.workSecs(), endpointFile{op: "FileCreated", path: g.docPath(u, "Documents", g.pick(pool)), size: fileSize(g.r)})
		}},
		{100, func() error {
			return g.endpoint(u, g.workSecs(), endpointFile{op: "FileDeleted", path: g.docPath(u, "Downloads", g.pick(pool)), size: fileSize(g.r)})
		}},
		{150, func() error {
			return g.spShare(u, g.workSecs(), "SharingSet", u.site, g.pick(pool), g.colleague().upn, "Member", "")
		}},
		{30, func() error { return g.signIn(u, g.workSecs(), false) }},
		{50, func() error { return g.spFile(u, g.workSecs(), "FileRecycled", u.onedrive, g.pick(pool), "") }},
	} {
		if g.r.IntN(1000) < o.permille && !do(o.f()) {
			return err
		}
	}
	for n < k {
		var e error
		switch r := g.r.IntN(100); {
		case r < 35:
			site := u.site
			if r < 10 {
				site = u.onedrive
			}
			e = g.spFile(u, g.workSecs(), "FileAccessed", site, g.pick(pool), "")
		case r < 60:
			to := []string{g.colleague().upn}
			if r < 45 {
				to = append(to, g.colleague().upn)
			}
			var att []attachment
			if r < 42 {
				att = []attachment{{name: g.pick(pool), size: fileSize(g.r)}}
			}
			e = g.send(u, g.workSecs(), "Weekly update", to, att)
		case r < 90:
			e = g.website(u, g.workSecs(), g.pick(benignSites), "/")
		default:
			e = g.spFile(u, g.workSecs(), "FileUploaded", u.onedrive, g.pick(pool), "")
		}
		if e != nil {
			return e
		}
		n++
	}
	return nil
}

func fileSize(r *rand.Rand) int64 { return int64(20_000 + r.IntN(2_000_000)) }
