package demo

import (
	"fmt"
	"slices"
)

// The realistic background, day by day. planDay turns a user's habits into the day's
// counts with a generator seeded by (seed, user, day) alone, so the same plan comes
// out however often it is drawn: exact mode (Options.AuditRecords) draws every plan
// once to count the habits' records before writing anything, then again to write.

type dayPlan struct {
	active  bool
	weekend bool // a weekend worker's day at home
	office  bool // in the office: badging and the office network
	trip    *trip
	device  string

	start, end int // local seconds of the first sign-in and the last record
	evening    int // local seconds of an evening sign-in, 0 = none

	signIns, downloads, prints, renames, deletes, recycles int
	usb, selfMail, extMail, jobVisits, syncs, laptop       int
	shares, anon, uploads                                  int
	dlp                                                    bool
	filler                                                 int // neutral records (not in exact mode)
}

// habitRecords is how many audit records the plan's habits write (filler aside).
func (p *dayPlan) habitRecords() int {
	n := 1 + p.signIns + p.downloads + p.prints + p.renames + p.deletes + p.recycles + p.usb + p.selfMail +
		p.extMail + p.jobVisits + p.syncs + p.laptop + p.shares + p.anon + p.uploads
	if p.usb > 0 {
		n++ // the mount
	}
	if p.evening > 0 {
		n++
	}
	return n
}

// The slow exfiltration case's working days, counted back from the last day: three
// weeks, ending the day before the resignation.
const slowFrom, slowTo = 18, 4

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// planDay draws u's plan for day d into g.plan.
func (g *gen) planDay(u *user, d int) *dayPlan {
	p := &g.plan
	*p = dayPlan{}
	h := u.h
	if d > u.lastDay || h.onVacation(d) {
		return p
	}
	g.dsrc.Seed(splitmix(uint64(g.opt.Seed)^0x6a09e667f3bcc908)^splitmix(uint64(u.idx)), splitmix(uint64(d)^0xbb67ae8584caa73b))
	r := g.dr
	p.device = u.h.device(d)
	if !g.cal.work[d] {
		if h.hours == hoursWeekend && g.cal.weekend(d) && r.Float64() < h.hoursP {
			p.active, p.weekend = true, true
			p.start = 10*3600 + r.IntN(5*3600)
			p.end = p.start + 3600 + r.IntN(3*3600)
			p.downloads = poisson(r, h.downloads/2)
			p.filler = clampInt(h.volume*uniform(r, 0.15, 0.4)*g.neutralScale, 1, 1000)
		}
		return p
	}
	p.active = true
	p.trip = h.tripOn(d)
	p.office = p.trip == nil && r.Float64() < h.office
	p.start = max(7*3600+5*60, h.start+r.IntN(40*60)-20*60)
	if h.hours == hoursEarlyBird && r.Float64() < h.hoursP {
		p.start = 5*3600 + 30*60 + r.IntN(80*60)
	}
	length := h.length
	if p.trip != nil {
		// Working from the destination's morning: the office clock says otherwise.
		p.device = h.travelDevice
		p.start = min(86100-3600, max(300, p.start-p.trip.shift*3600))
		length = min(length, 86100-p.start)
	}
	p.end = p.start + length
	last := d == u.lwdDay
	if last {
		p.end = min(p.end, 17*3600+45*60) // the last working date ends at 18:00
	}
	if h.hours == hoursNightOwl && r.Float64() < h.hoursP && !last {
		p.evening = 20*3600 + r.IntN(210*60)
	}
	p.signIns = poisson(r, h.extraSignIn)
	p.downloads = poisson(r, h.downloads)
	if r.Float64() < h.printP {
		p.prints = clampInt(h.printMed*logNormal(r, 1, 0.8), 1, 80)
	}
	if r.Float64() < h.renameP {
		p.renames = 1 + r.IntN(3)
	}
	if r.Float64() < h.deleteP {
		p.deletes = 1 + r.IntN(4)
	}
	if r.Float64() < h.recycleP {
		p.recycles = 1 + r.IntN(3)
	}
	if h.usbP > 0 && r.Float64() < h.usbP {
		p.usb = clampInt(h.usbMed*logNormal(r, 1, 0.75), 1, 40)
	}
	if h.selfP > 0 && r.Float64() < h.selfP {
		p.selfMail = 1 + r.IntN(2)
	}
	p.extMail = poisson(r, h.extRate)
	if h.jobP > 0 && d >= h.jobFrom && d <= h.jobTo && r.Float64() < h.jobP {
		p.jobVisits = clampInt(h.jobMed*logNormal(r, 1, 0.7), 1, 30)
	}
	if h.syncP > 0 && r.Float64() < h.syncP {
		p.syncs = clampInt(h.syncMed*logNormal(r, 1, 0.5), 40, 900)
	}
	if d == h.laptopDay {
		p.laptop = h.laptopFiles
	}
	if h.shareP > 0 && r.Float64() < h.shareP {
		p.shares = clampInt(h.shareMed*logNormal(r, 1, 0.7), 1, 25)
	}
	if h.anonP > 0 && r.Float64() < h.anonP {
		p.anon = 1 + r.IntN(2)
	}
	if h.cloudP > 0 && r.Float64() < h.cloudP {
		p.uploads = 1 + r.IntN(4)
	}
	if slices.Contains(h.fetchDays, d) {
		p.downloads += h.fetchDL
		p.selfMail += h.fetchMail
		p.usb += h.fetchUSB
	}
	p.dlp = r.IntN(100) < 3
	p.filler = clampInt(h.volume*uniform(r, 0.75, 1.25)*g.neutralScale, 1, 1000)
	if u.plant != nil && u.plant.scenario == scSlowExfiltration && d >= g.cal.at(slowFrom) && d <= g.cal.at(slowTo) {
		// The planted daily counts replace these habits on the case's days.
		p.extMail, p.prints, p.downloads = 0, 0, 0
	}
	return p
}

// device is the user's laptop on day d: a new one from a hardware refresh on.
func (h *habits) device(d int) string {
	if h.laptopDay >= 0 && d >= h.laptopDay {
		return h.laptopDevice
	}
	return h.firstDevice
}

// planExact counts the habits' records of every user-day (exact mode) and spreads the
// rest of Options.AuditRecords as neutral filler over the user-days with activity.
func (g *gen) planExact() error {
	if g.opt.AuditRecords == 0 {
		return nil
	}
	habitTotal, slots := 0, 0
	for d := range g.opt.Days {
		for _, u := range g.users {
			if p := g.planDay(u, d); p.active {
				slots++
				habitTotal += p.habitRecords()
			}
		}
	}
	if habitTotal > g.opt.AuditRecords {
		return fmt.Errorf("demo: %d audit records is fewer than the realistic habits of %d users over %d days write on their own (%d): ask for more records, fewer users or days, or use the clean background",
			g.opt.AuditRecords, g.opt.Users, g.opt.Days, habitTotal)
	}
	g.slots, g.filler = slots, g.opt.AuditRecords-habitTotal
	return nil
}

// realisticDay writes one user's ordinary day: the habits of the plan, neutral filler,
// badging on office days, the odd DLP match and Defender alert.
func (g *gen) realisticDay(u *user) error {
	p := g.planDay(u, g.day)
	if !p.active {
		return nil
	}
	h := u.h
	u.device = p.device
	switch {
	case p.trip != nil:
		u.ip = p.trip.ip
	case p.office:
		u.ip = h.officeIP
	default:
		u.ip = h.homeIP
	}
	k := p.filler
	if g.opt.AuditRecords > 0 {
		// This slot's even share of the filler.
		n, s, o := g.filler, g.slots, g.slotOrd
		k = n/s + ((o+1)*(n%s))/s - (o*(n%s))/s
		g.slotOrd++
	}
	g.benignAudit += p.habitRecords() + k
	if err := g.habitRecords(u, p); err != nil {
		return err
	}
	if p.evening > 0 {
		if err := g.signIn(u, p.evening, true); err != nil {
			return err
		}
		late := min(k, 2+g.r.IntN(4))
		if err := g.neutral(u, late, p.evening+60, min(86100, p.evening+50*60)); err != nil {
			return err
		}
		k -= late
	}
	if err := g.neutral(u, k, p.start+5*60, p.end); err != nil {
		return err
	}

	if p.office {
		main := ordinaryAssets[0]
		if err := g.badge(u, max(60, p.start-10*60-g.r.IntN(15*60)), main[0], main[1], true); err != nil {
			return err
		}
		g.benignBadge++
		if g.r.IntN(2) == 0 {
			door := ordinaryAssets[1+g.r.IntN(len(ordinaryAssets)-1)]
			if err := g.badge(u, g.between(p.start, p.end), door[0], door[1], true); err != nil {
				return err
			}
			g.benignBadge++
		}
	}
	if p.dlp {
		if err := g.lowDLP(u, func() int { return g.between(p.start, p.end) }); err != nil {
			return err
		}
		g.benignDLP++
	}
	if h.dlpHighDay == g.day {
		to := h.contact(g.r)
		m := dlpMatch{policy: dlpPolicyFinancial, rule: ruleFinHigh, severity: "High", sensitiveType: "U.S. Bank Account Number",
			count: 12 + g.r.IntN(30), to: []string{to}, subject: "Year-end reconciliation for the auditors"}
		if err := g.dlp(u, g.between(p.start, p.end), m); err != nil {
			return err
		}
		g.benignDLP++
	}
	for _, a := range h.alerts {
		if a.day == g.day {
			if err := g.alert(u, g.between(p.start, p.end), a.title, a.category, a.severity, a.status); err != nil {
				return err
			}
			g.benignDef++
		}
	}
	return nil
}

// between draws a local time in [from, to).
func (g *gen) between(from, to int) int { return from + g.r.IntN(max(1, to-from)) }

var printApps = []string{"WINWORD.EXE", "EXCEL.EXE", "POWERPNT.EXE", "Acrobat.exe"}

// habitRecords writes exactly p.habitRecords() records but the evening sign-in.
func (g *gen) habitRecords(u *user, p *dayPlan) error {
	h, pool := u.h, g.pools[u.dept]
	// Choices that decide which indicator a record counts for come from the day's own
	// generator (dr, still seeded by user and day), so that they do not depend on how
	// many neutral records came before: exact mode keeps every habit count.
	dr := g.dr
	in := func() int { return g.between(p.start+10*60, p.end) }
	var err error
	do := func(e error) bool {
		err = e
		return e == nil
	}
	if !do(g.signIn(u, p.start, true)) {
		return err
	}
	for range p.signIns {
		if !do(g.signIn(u, in(), true)) {
			return err
		}
	}
	for range p.downloads {
		if !do(g.spFile(u, in(), "FileDownloaded", u.site, g.pick(pool), "")) {
			return err
		}
	}
	// A burst starts early enough to end the same day.
	burst := func(n, spacing int) int { return min(in(), 86100-n*spacing) }
	if p.prints > 0 {
		t := burst(p.prints, 50)
		for i := range p.prints {
			name := g.pick(pool)
			f := endpointFile{op: "FilePrinted", path: g.docPath(u, "Documents", name), size: fileSize(g.r), app: g.pick(printApps)}
			if !do(g.endpoint(u, t+i*50, f)) {
				return err
			}
		}
	}
	for range p.renames {
		name := g.pick(pool)
		f := endpointFile{op: "FileRenamed", path: g.docPath(u, "Documents", name), previous: "Draft-" + name, size: fileSize(g.r)}
		if !do(g.endpoint(u, in(), f)) {
			return err
		}
	}
	for range p.deletes {
		if !do(g.endpoint(u, in(), endpointFile{op: "FileDeleted", path: g.docPath(u, "Downloads", g.pick(pool)), size: fileSize(g.r)})) {
			return err
		}
	}
	for range p.recycles {
		if !do(g.spFile(u, in(), "FileRecycled", u.onedrive, g.pick(pool), "")) {
			return err
		}
	}
	if p.usb > 0 {
		t := burst(p.usb+1, 40)
		if !do(g.endpoint(u, t, endpointFile{op: "RemovableMediaMount", path: `E:\`, usb: true})) {
			return err
		}
		for i := range p.usb {
			name := g.pick(pool)
			f := endpointFile{op: "FileCopiedToRemovableMedia", path: g.docPath(u, "Documents", name), dest: `E:\` + name,
				size: fileSize(g.r), usb: true}
			if !do(g.endpoint(u, t+30+i*40, f)) {
				return err
			}
		}
	}
	for range p.selfMail {
		att := []attachment{{name: g.pick(pool), size: fileSize(g.r)}}
		for range g.r.IntN(3) {
			att = append(att, attachment{name: g.pick(pool), size: fileSize(g.r)})
		}
		if !do(g.send(u, in(), "to read at home", []string{h.selfAddr}, att)) {
			return err
		}
	}
	for range p.extMail {
		to := []string{h.contact(g.r)}
		if g.r.IntN(3) == 0 {
			to = append(to, g.colleague().upn)
		}
		att := []attachment{{name: g.pick(pool), size: fileSize(g.r)}}
		if g.r.IntN(3) == 0 {
			att = append(att, attachment{name: g.pick(pool), size: fileSize(g.r)})
		}
		if !do(g.send(u, in(), "Documents as discussed", to, att)) {
			return err
		}
	}
	for range p.jobVisits {
		s := jobSites[dr.IntN(len(jobSites))]
		if !do(g.website(u, in(), s.domain, s.path+fmt.Sprint(1000000+g.r.IntN(9000000)))) {
			return err
		}
	}
	if p.syncs > 0 {
		site := u.site
		if dr.IntN(10) < 3 {
			site = u.onedrive
		}
		t := burst(p.syncs, 3)
		for i := range p.syncs {
			if !do(g.spFile(u, t+i*3, "FileSyncDownloadedFull", site, g.pick(pool), "")) {
				return err
			}
		}
	}
	t := min(p.start+20*60, 86100-p.laptop*4)
	for i := range p.laptop {
		if !do(g.spFile(u, t+i*4, "FileSyncDownloadedFull", u.onedrive, g.pick(pool), "")) {
			return err
		}
	}
	for range p.shares {
		if !do(g.spShare(u, in(), "SharingSet", u.site, g.pick(pool), g.pick(h.guests), "Guest", "")) {
			return err
		}
	}
	for range p.anon {
		if !do(g.spShare(u, in(), "AnonymousLinkCreated", u.onedrive, g.pick(pool), "", "", "")) {
			return err
		}
	}
	for range p.uploads {
		dom := g.pick(h.cloudDomains)
		f := endpointFile{op: "FileUploadedToCloud", path: g.docPath(u, "Documents", g.pick(pool)), size: fileSize(g.r),
			targetDomain: dom, targetURL: "https://" + dom + "/upload", app: "msedge.exe"}
		if !do(g.endpoint(u, in(), f)) {
			return err
		}
	}
	return nil
}

// neutral writes n records that no built-in indicator counts: reading files, internal
// mail, ordinary browsing, OneDrive uploads, internal sharing, mail without
// attachments to partners, the odd failed sign-in.
func (g *gen) neutral(u *user, n, from, to int) error {
	pool := g.pools[u.dept]
	for range n {
		t := g.between(from, to)
		var e error
		switch r := g.r.IntN(100); {
		case r < 30:
			e = g.spFile(u, t, "FileAccessed", u.site, g.pick(pool), "")
		case r < 38:
			e = g.spFile(u, t, "FileAccessed", u.onedrive, g.pick(pool), "")
		case r < 58:
			to := []string{g.colleague().upn}
			if r < 44 {
				to = append(to, g.colleague().upn)
			}
			var att []attachment
			if r < 48 {
				att = []attachment{{name: g.pick(pool), size: fileSize(g.r)}}
			}
			e = g.send(u, t, "Weekly update", to, att)
		case r < 83:
			e = g.website(u, t, g.pick(benignSites), "/")
		case r < 88:
			e = g.spFile(u, t, "FileUploaded", u.onedrive, g.pick(pool), "")
		case r < 91:
			e = g.endpoint(u, t, endpointFile{op: "FileCreated", path: g.docPath(u, "Documents", g.pick(pool)), size: fileSize(g.r)})
		case r < 94:
			e = g.spShare(u, t, "SharingSet", u.site, g.pick(pool), g.colleague().upn, "Member", "")
		case r < 96:
			name := g.pick(pool)
			e = g.endpoint(u, t, endpointFile{op: "FileDownloadedFromBrowser", path: g.docPath(u, "Downloads", name), size: fileSize(g.r),
				targetDomain: "learn.microsoft.com", app: "msedge.exe"})
		case r < 99:
			e = g.send(u, t, "Re: meeting follow-up", []string{u.h.contact(g.r)}, nil)
		default:
			e = g.signIn(u, t, false)
		}
		if e != nil {
			return e
		}
	}
	return nil
}
