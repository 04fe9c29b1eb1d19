package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// The realistic organisation's habits. Each user's habits are drawn once, before any
// record is written: who has which habit (an exact share of the benign users, chosen
// at random with department weights where a department makes a habit likelier), and
// that user's own rates, drawn from heavy-tailed distributions (log-normal and
// log-uniform) so that a few users do a lot. Day by day the plan (realistic.go) turns
// the rates into counts. The numbers come from what ordinary offices look like, not
// from the detector's thresholds.

// HabitTags are the tags of Manifest.Habits, in the order docs/demo.md lists them.
var HabitTags = []string{
	"usb", "self_mail", "external_mail", "job_sites", "after_hours", "night_owl", "early_bird",
	"weekend_worker", "engineer_sync", "new_laptop", "printer", "traveller", "external_sharing",
	"anonymous_links", "cloud_upload", "benign_leaver", "poor_review", "improvement_plan",
	"level_down", "defender_pua", "defender_malware", "defender_resolved", "dlp_high", "vacation",
}

// Hours kinds of the after_hours habit.
const (
	hoursRegular = iota
	hoursNightOwl
	hoursEarlyBird
	hoursWeekend
)

type trip struct {
	from, to int    // days
	ip       string // the hotel's or the customer's network
	shift    int    // hours the destination is ahead of the office
}

type benignAlert struct {
	day                               int
	title, category, severity, status string
}

type habits struct {
	tags []string

	// An ordinary working day.
	volume      float64 // median neutral records per working day
	start       int     // usual first sign-in, local seconds
	length      int     // seconds from the first sign-in to the last record
	office      float64 // share of working days in the office (badging, office IP)
	homeIP      string
	officeIP    string
	downloads   float64 // SharePoint downloads per working day (Poisson mean)
	extraSignIn float64 // further sign-ins per working day (Poisson mean)
	printP      float64 // chance of a printing day
	printMed    float64 // files printed on a printing day (median)
	renameP     float64 // chance of a day with a few device renames
	deleteP     float64 // ... device deletions
	recycleP    float64 // ... OneDrive recycles

	usbP, usbMed                  float64
	usbMaker, usbModel, usbSerial string
	selfP                         float64
	selfAddr                      string
	extRate                       float64
	contacts                      []string // regular external correspondents
	jobFrom, jobTo                int
	jobP, jobMed                  float64
	hours                         int
	hoursP                        float64
	syncP, syncMed                float64
	laptopDay, laptopFiles        int
	firstDevice                   string
	laptopDevice, travelDevice    string
	trips                         []trip
	shareP, shareMed, anonP       float64
	guests                        []string
	cloudP                        float64
	cloudDomains                  []string

	// Benign leaver: the days of the last week on which they fetch their documents.
	fetchDays                    []int
	fetchDL, fetchMail, fetchUSB int

	pipDay, levelDay int // -1 = none
	levelDown        bool
	dlpHighDay       int // -1 = none
	alerts           []benignAlert
	vacations        [][2]int // inclusive day ranges
}

func (h *habits) tag(t string) {
	if !slices.Contains(h.tags, t) {
		h.tags = append(h.tags, t)
	}
}

func (h *habits) untag(ts ...string) {
	h.tags = slices.DeleteFunc(h.tags, func(t string) bool { return slices.Contains(ts, t) })
}

func (h *habits) has(t string) bool { return slices.Contains(h.tags, t) }

func (h *habits) tagList() []string {
	out := slices.Clone(h.tags)
	slices.Sort(out)
	return out
}

func (h *habits) onVacation(d int) bool {
	for _, v := range h.vacations {
		if d >= v[0] && d <= v[1] {
			return true
		}
	}
	return false
}

func (h *habits) tripOn(d int) *trip {
	for i := range h.trips {
		if d >= h.trips[i].from && d <= h.trips[i].to {
			return &h.trips[i]
		}
	}
	return nil
}

// Distributions.

// logNormal has the given median; sigma is the spread of its logarithm.
func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// logUniform is uniform in log space between lo and hi: as many users near once a
// month as near once a week as near every day.
func logUniform(r *rand.Rand, lo, hi float64) float64 {
	return lo * math.Exp(r.Float64()*math.Log(hi/lo))
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

func clampInt(x float64, lo, hi int) int {
	return min(hi, max(lo, int(math.Round(x))))
}

func poisson(r *rand.Rand, mean float64) int {
	switch {
	case mean <= 0:
		return 0
	case mean > 30:
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	limit, p, k := math.Exp(-mean), 1.0, 0
	for {
		p *= r.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// deptWeight returns a weight function from department to weight (default 1).
func deptWeight(w map[string]float64) func(*user) float64 {
	return func(u *user) float64 {
		if x, ok := w[u.dept]; ok {
			return x
		}
		return 1
	}
}

var (
	customerDomains = []string{"litware.com", "proseware.com", "lucernepublishing.com", "woodgrovebank.com",
		"margiestravel.com", "alpineskihouse.com", "wideworldimporters.com", "fourthcoffee.com",
		"consolidatedmessenger.com", "treyresearch.net", "blueyonderairlines.com", "cohovineyard.com"}
	jobSites = []struct{ domain, path string }{
		{"www.indeed.com", "/viewjob?jk="}, {"www.glassdoor.com", "/job-listing/"}, {"www.monster.com", "/job-openings/"},
		{"www.linkedin.com", "/jobs/view/"}, {"www.ziprecruiter.com", "/jobs/"}, {"www.careerbuilder.com", "/job/"},
		{"www.stepstone.de", "/stellenangebote--"}, {"www.dice.com", "/job-detail/"},
	}
	sanctionedCloud = "app.box.com" // the company's Box tenant, for partner exchange
	personalCloud   = []string{"www.dropbox.com", "drive.google.com", "wetransfer.com"}
	usbSticks       = [][2]string{{"SanDisk", "Ultra USB 3.0"}, {"Kingston", "DataTraveler Exodia"}, {"Samsung", "BAR Plus"},
		{"Verbatim", "Store 'n' Go"}, {"Lexar", "JumpDrive S47"}, {"WD", "My Passport"}}
	homeISPs = []int{31, 62, 77, 81, 82, 86, 89, 92, 94, 95, 109, 176, 178, 188, 212, 217}
	pua      = []struct{ title, severity string }{
		{"'BitTorrent' potentially unwanted application was blocked", "Low"},
		{"'OpenCandy' adware was detected", "Low"},
		{"Suspicious browser extension was removed", "Informational"},
		{"'CCleaner' bundled software was detected", "Low"},
		{"'Toolbar' adware was prevented", "Low"},
	}
	adminPUA = []struct{ title, severity string }{
		{"'PsExec' remote administration tool was detected", "Low"},
		{"'Nmap' potentially unwanted application was detected", "Low"},
		{"'NetCat' potentially unwanted application was detected", "Medium"},
	}
	benignMalware = []string{"'EICAR_Test_File' malware was detected", "'Wacatac' trojan was blocked in a download",
		"Macro malware in an email attachment was quarantined"}
)

// publicIP draws an address that looks like a consumer broadband or hotel network.
func publicIP(r *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d.%d", homeISPs[r.IntN(len(homeISPs))], r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

// selfAddress is a personal free-mail address that resembles the user's name.
func selfAddress(r *rand.Rand, first, last string) string {
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("%s.%s%d@gmail.com", first, last, 10+r.IntN(90))
	case 1:
		return first + last + "@outlook.com"
	case 2:
		return last + "." + first + "@yahoo.com"
	case 3:
		return fmt.Sprintf("%s_%s%d@gmx.com", first, last, 1970+r.IntN(35))
	}
	return first + "." + last + "@proton.me"
}

// habitShare is one tagged habit: the share of benign users who have it (at least
// min of them), and the department weights of who gets it.
type habitShare struct {
	tag    string
	share  float64
	min    int
	weight func(*user) float64
}

// drawHabits draws every user's habits, calendar and HR look-alikes.
func (g *gen) drawHabits(nBenign int) {
	r := g.r
	L := g.opt.Days - 1
	at := g.cal.at
	g.dsrc = rand.NewPCG(0, 0)
	g.dr = rand.New(g.dsrc)
	officeIPs := []string{"198.51.100.10", "198.51.100.11"}
	for _, u := range g.users {
		h := &habits{pipDay: -1, levelDay: -1, laptopDay: -1, dlpHighDay: -1}
		u.h = h
		h.volume = min(70, max(6, logNormal(r, 18, 0.35)))
		h.start = clampInt(float64(8*3600+15*60)+35*60*r.NormFloat64(), 7*3600+15*60, 9*3600+45*60)
		h.length = 8*3600 + r.IntN(90*60)
		h.office = uniform(r, 0.3, 1)
		if u.dept == "Executive" {
			h.office = 0.9
		}
		h.homeIP = publicIP(r)
		h.officeIP = officeIPs[u.idx%len(officeIPs)]
		h.downloads = min(12, logNormal(r, 0.6, 0.9))
		h.extraSignIn = 0.3
		h.printP, h.printMed = logUniform(r, 0.01, 0.15), 1
		h.renameP, h.deleteP, h.recycleP = uniform(r, 0.02, 0.1), uniform(r, 0.02, 0.1), uniform(r, 0.01, 0.05)
		stick := usbSticks[r.IntN(len(usbSticks))]
		h.usbMaker, h.usbModel, h.usbSerial = stick[0], stick[1], fmt.Sprintf("%012X", r.Uint64()&0xFFFFFFFFFFFF)
		h.selfAddr = selfAddress(r, u.first, u.last)
		for range 2 + r.IntN(3) {
			h.contacts = append(h.contacts, g.pick(firstNames)+"."+g.pick(lastNames)+"@"+g.pick(append(slices.Clone(partnerDomains), customerDomains...)))
		}
		h.firstDevice = u.device
		h.laptopDevice = fmt.Sprintf("LAPTOP-%06X", r.Uint32()&0xFFFFFF)
		h.travelDevice = fmt.Sprintf("SURFACE-%06X", r.Uint32()&0xFFFFFF)
		u.ip = h.officeIP
	}

	benign := g.users[:nBenign]
	planted := g.users[nBenign:]
	byDept := func(depts ...string) func(*user) float64 {
		return func(u *user) float64 {
			if slices.Contains(depts, u.dept) {
				return 1
			}
			return 0
		}
	}
	shares := []habitShare{
		{"usb", 0.25, 2, deptWeight(map[string]float64{"Engineering": 1.5, "IT": 2, "Research": 1.5, "Marketing": 1.3})},
		{"self_mail", 0.10, 2, nil},
		{"external_mail", 0.33, 2, deptWeight(map[string]float64{"Sales": 3, "Executive": 3, "Legal": 3, "Marketing": 2,
			"Finance": 1.5, "Support": 1.5, "Engineering": 0.6, "HR": 0.7, "IT": 0.5})},
		{"job_sites", 0.04, 2, nil},
		{"after_hours", 0.10, 3, deptWeight(map[string]float64{"Engineering": 1.5, "IT": 2, "Support": 1.5})},
		{"engineer_sync", 0.12, 2, byDept("Engineering", "Research", "IT")},
		{"new_laptop", 0.02, 1, deptWeight(map[string]float64{"Engineering": 2, "IT": 2})},
		{"printer", 0.06, 2, deptWeight(map[string]float64{"Legal": 3, "Finance": 2, "HR": 2, "Sales": 1.5, "Engineering": 0.5})},
		{"traveller", 0.08, 2, deptWeight(map[string]float64{"Sales": 3, "Executive": 3, "Marketing": 1.5, "Engineering": 0.5, "Support": 0.7})},
		{"external_sharing", 0.12, 2, deptWeight(map[string]float64{"Sales": 3, "Legal": 3, "Marketing": 2, "Executive": 2,
			"Engineering": 0.5, "Finance": 0.7, "HR": 0.3, "IT": 0.3})},
		{"cloud_upload", 0.08, 2, deptWeight(map[string]float64{"Marketing": 2, "Sales": 1.5})},
	}
	for _, s := range shares {
		chosen := g.pickUsers(benign, s.share, s.min, s.weight)
		for _, u := range planted {
			w := 1.0
			if s.weight != nil {
				w = min(1, s.weight(u))
			}
			if r.Float64() < s.share*w {
				chosen = append(chosen, u)
			}
		}
		for i, u := range chosen {
			g.drawHabit(u, s.tag, i)
		}
	}
	// Anonymous links: most of them by people who share externally anyway.
	for _, u := range g.pickUsers(benign, 0.05, 2, func(u *user) float64 {
		if u.h.has("external_sharing") {
			return 4
		}
		return 0.3
	}) {
		u.h.tag("anonymous_links")
		u.h.anonP = uniform(r, 0.01, 0.06)
	}

	// Planted users: habits like everyone else's, except where a habit would blur the
	// case (see docs/demo.md).
	for _, u := range planted {
		h := u.h
		switch u.plant.scenario {
		case scFirstTimeBurst:
			// Never used USB, never signed in late: the burst is a first.
			h.untag("usb", "after_hours", "night_owl", "early_bird", "weekend_worker", "traveller", "new_laptop")
			h.usbP, h.hours, h.trips = 0, hoursRegular, nil
		case scSlowExfiltration:
			// A low but real history of external mail and printing, several times
			// below the planted daily counts; nothing else that exfiltrates.
			h.untag("usb", "self_mail", "cloud_upload", "external_sharing", "anonymous_links", "job_sites",
				"printer", "engineer_sync", "new_laptop")
			h.tag("external_mail")
			h.usbP, h.selfP, h.cloudP, h.shareP, h.anonP, h.jobP, h.syncP = 0, 0, 0, 0, 0, 0, 0
			h.extRate, h.printP, h.printMed, h.downloads = 0.2, 0.2, 1, 0.8
		case scJobSitesBurst:
			h.untag("job_sites")
			h.jobP = 0
		}
		if h.laptopDay >= g.limitDay(u) {
			h.untag("new_laptop")
			h.laptopDay = -1
		}
	}

	// Calendar: vacations (half the users take a block of one or two weeks, a quarter
	// of those a second one), trips, new laptops.
	for _, u := range g.users {
		g.drawTrips(u)
	}
	vac := g.pickUsers(benign, 0.5, 1, nil)
	for _, u := range planted {
		if r.IntN(2) == 0 {
			vac = append(vac, u)
		}
	}
	for i, u := range vac {
		g.drawVacation(u)
		if i%4 == 0 {
			g.drawVacation(u)
		}
		if len(u.h.vacations) > 0 {
			u.h.tag("vacation")
		}
	}

	// Reviews: everyone gets one in the review season (the first three weeks); a few
	// benign ratings are poor.
	season := min(15, len(g.cal.back))
	for _, u := range g.users {
		u.reviewDay = at(len(g.cal.back) - 1 - r.IntN(season))
		switch x := r.IntN(100); {
		case x < 55:
			u.review = "3"
		case x < 85:
			u.review = "4"
		case x < 95:
			u.review = "Exceeds expectations"
		default:
			u.review = "5"
		}
	}
	for _, u := range g.pickUsers(benign, 0.05, 2, nil) {
		u.review = benignPoorRating
		u.h.tag("poor_review")
	}
	for _, u := range g.pickUsers(benign, 0.015, 1, nil) {
		u.h.pipDay = at(5 + r.IntN(max(1, min(30, len(g.cal.back)-6))))
		u.h.tag("improvement_plan")
	}
	for _, u := range g.pickUsers(benign, 0.01, 1, nil) {
		u.h.levelDay, u.h.levelDown = at(r.IntN(len(g.cal.back))), true
		u.h.tag("level_down")
	}
	for _, u := range g.pickUsers(benign, 0.04, 1, func(u *user) float64 {
		if u.h.levelDay >= 0 {
			return 0
		}
		return 1
	}) {
		u.h.levelDay = at(r.IntN(len(g.cal.back)))
	}

	// Benign leavers: a few percent resign in the window; half leave inside it (some
	// accounts are deleted a couple of days later), the others work out a notice
	// period past its end. In their last week they fetch a few of their documents.
	for i, u := range g.pickUsers(benign, 0.03, 2, func(u *user) float64 {
		if u.idx < numExecs {
			return 0
		}
		return 1
	}) {
		h := u.h
		u.benignDeparting = true
		h.tag("benign_leaver")
		workdays := len(g.cal.back)
		if i%2 == 0 {
			k := 14 + r.IntN(max(1, min(22, workdays-15)))
			notice := 10 + r.IntN(4)
			u.resignDay, u.lwdDay = at(k), at(k-notice)
			u.lastDay = u.lwdDay
			if r.IntN(5) < 3 && k-notice-2 >= 0 {
				u.deleteDay = at(k - notice - 2)
			}
		} else {
			k := 3 + r.IntN(12)
			u.resignDay, u.lwdDay = at(k), at(k-(15+r.IntN(6)))
		}
		// Their vacations end before the resignation.
		h.vacations = slices.DeleteFunc(h.vacations, func(v [2]int) bool { return v[1] >= u.resignDay })
		if len(h.vacations) == 0 {
			h.untag("vacation")
		}
		if u.lwdDay <= L {
			var last []int
			for d := u.lwdDay; d >= 0 && len(last) < 5; d-- {
				if g.cal.work[d] {
					last = append(last, d)
				}
			}
			for len(h.fetchDays) < 2 && len(last) > 0 {
				j := r.IntN(len(last))
				h.fetchDays = append(h.fetchDays, last[j])
				last = slices.Delete(last, j, j+1)
				if r.IntN(2) == 0 {
					break
				}
			}
			if r.IntN(10) < 7 {
				h.fetchDL = 2 + r.IntN(5)
			}
			if r.IntN(10) < 6 {
				h.fetchMail = 1 + r.IntN(2)
			}
			if r.IntN(10) < 6 || h.fetchDL+h.fetchMail == 0 {
				h.fetchUSB = 1 + r.IntN(4)
			}
		}
	}

	// Benign Defender alerts (adware and PUA, admin tools flagged on IT machines, the
	// odd blocked malware) and rare benign High-severity DLP matches, on days the user
	// works. Rates are per 60 days.
	scale := float64(g.opt.Days) / 60
	for i, u := range g.pickUsers(benign, 0.05*scale, 2, deptWeight(map[string]float64{"IT": 4, "Engineering": 1.5})) {
		d := g.activeDay(u)
		if d < 0 {
			continue
		}
		t := pua[r.IntN(len(pua))]
		if u.dept == "IT" && r.IntN(3) > 0 {
			t = adminPUA[r.IntN(len(adminPUA))]
		}
		a := benignAlert{day: d, title: t.title, category: "UnwantedSoftware", severity: t.severity}
		switch x := r.IntN(100); {
		case x < 45 || i == 0: // at least one is waiting for triage in every organisation
			a.status = "New"
		case x < 60:
			a.status = "InProgress"
		default:
			a.status = "Resolved"
		}
		u.h.alerts = append(u.h.alerts, a)
	}
	for _, u := range g.pickUsers(benign, 0.01*scale, 1, nil) {
		d := g.activeDay(u)
		if d < 0 {
			continue
		}
		a := benignAlert{day: d, title: benignMalware[r.IntN(len(benignMalware))], category: "Malware", severity: "Medium", status: "Resolved"}
		if r.IntN(10) < 3 {
			a.status = "New"
		}
		u.h.alerts = append(u.h.alerts, a)
	}
	for _, u := range benign {
		for _, a := range u.h.alerts {
			switch {
			case a.status == "Resolved":
				u.h.tag("defender_resolved")
			case a.category == "Malware":
				u.h.tag("defender_malware")
			default:
				u.h.tag("defender_pua")
			}
		}
	}
	for _, u := range g.pickUsers(benign, 0.01*scale, 1, deptWeight(map[string]float64{"Finance": 4, "HR": 2, "Sales": 1.5})) {
		if d := g.activeDay(u); d >= 0 {
			u.h.dlpHighDay = d
			u.h.tag("dlp_high")
		}
	}
}

// benignPoorRating is the poor rating of a benign user's review.
const benignPoorRating = "2"

// pickUsers chooses round(share*len(from)) users (at least min), with probability
// proportional to weight (nil: equal), without replacement (Efraimidis-Spirakis keys),
// and returns them in organisation order.
func (g *gen) pickUsers(from []*user, share float64, minN int, weight func(*user) float64) []*user {
	k := max(minN, int(math.Round(share*float64(len(from)))))
	type keyed struct {
		u   *user
		key float64
	}
	var ks []keyed
	for _, u := range from {
		w := 1.0
		if weight != nil {
			w = weight(u)
		}
		e := g.r.ExpFloat64()
		if w > 0 {
			ks = append(ks, keyed{u, e / w})
		}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return a.u.idx - b.u.idx
	})
	out := make([]*user, 0, k)
	for i := 0; i < k && i < len(ks); i++ {
		out = append(out, ks[i].u)
	}
	slices.SortFunc(out, func(a, b *user) int { return a.idx - b.idx })
	return out
}

// drawHabit tags u with a habit and draws u's own rates for it; i is u's rank among
// the users with the habit (for the after-hours kinds).
func (g *gen) drawHabit(u *user, tag string, i int) {
	r, h := g.r, u.h
	h.tag(tag)
	switch tag {
	case "usb":
		// From about once a month to most days; 1-40 files on a USB day.
		h.usbP = logUniform(r, 1.0/21, 0.8)
		h.usbMed = min(15, max(1, logNormal(r, 3, 0.7)))
	case "self_mail":
		h.selfP = logUniform(r, 1.0/30, 0.25)
	case "external_mail":
		h.extRate = min(12, max(0.05, logNormal(r, 0.5, 1.0)))
	case "job_sites":
		n := g.opt.Days
		length := min(n, 15+r.IntN(31))
		h.jobFrom = r.IntN(n - length + 1)
		h.jobTo = h.jobFrom + length - 1
		h.jobP = uniform(r, 0.3, 0.8)
		h.jobMed = min(8, max(1, logNormal(r, 3, 0.5)))
	case "after_hours":
		// Consistent per user: 45% night owls, 30% early birds, 25% weekend workers
		// (i*7 mod 20 runs through every residue in any 20 consecutive users).
		switch x := (i * 7) % 20; {
		case x < 9:
			h.hours, h.hoursP = hoursNightOwl, uniform(r, 0.2, 0.7)
			h.tag("night_owl")
		case x < 15:
			h.hours, h.hoursP = hoursEarlyBird, uniform(r, 0.5, 0.9)
			h.tag("early_bird")
		default:
			h.hours, h.hoursP = hoursWeekend, uniform(r, 0.25, 0.6)
			h.tag("weekend_worker")
		}
	case "engineer_sync":
		// Hundreds of files on some days: a library synced, a repository of documents.
		h.syncP = logUniform(r, 1.0/40, 0.1)
		h.syncMed = min(500, max(40, logNormal(r, 120, 0.5)))
	case "new_laptop":
		// A hardware refresh: a new device and a full OneDrive sync on its first day.
		h.laptopDay = g.cal.at(2 + r.IntN(max(1, len(g.cal.back)-5)))
		h.laptopFiles = clampInt(logNormal(r, 250, 0.5), 100, 900)
	case "printer":
		h.printP = uniform(r, 0.15, 0.6)
		h.printMed = min(30, max(2, logNormal(r, 6, 0.5)))
	case "traveller":
		h.trips = nil // drawn with the calendar (drawTrips)
	case "external_sharing":
		h.shareP = uniform(r, 0.05, 0.4)
		h.shareMed = min(10, max(1, logNormal(r, 2, 0.5)))
		for range 1 + r.IntN(3) {
			h.guests = append(h.guests, g.pick(firstNames)+"."+g.pick(lastNames)+"@"+g.pick(customerDomains))
		}
	case "cloud_upload":
		h.cloudP = logUniform(r, 0.02, 0.12)
		if r.IntN(2) == 0 {
			h.cloudDomains = []string{sanctionedCloud}
		} else {
			h.cloudDomains = []string{personalCloud[r.IntN(len(personalCloud))]}
		}
	}
}

// drawTrips gives a traveller one or two trips of 2-5 working days, each from a new
// network and, for most, on the travel device, in a time zone up to nine hours away.
func (g *gen) drawTrips(u *user) {
	h := u.h
	if !h.has("traveller") {
		return
	}
	r := g.r
	limit := g.limitDay(u)
	for range 1 + r.IntN(2) {
		n := 2 + r.IntN(4)
		if limit-n < 1 {
			return
		}
		from := r.IntN(limit - n)
		for from < limit-n && !g.cal.work[from] {
			from++
		}
		to, left := from, n-1
		for to+1 < limit && left > 0 {
			to++
			if g.cal.work[to] {
				left--
			}
		}
		if h.tripOn(from) != nil || h.tripOn(to) != nil {
			continue
		}
		shifts := []int{0, 0, 1, 1, -5, -6, 8, 9, -8}
		h.trips = append(h.trips, trip{from: from, to: to, ip: publicIP(r), shift: shifts[r.IntN(len(shifts))]})
	}
}

// drawVacation adds a block of one or two weeks of leave (5 or 10 working days).
func (g *gen) drawVacation(u *user) {
	r, h := g.r, u.h
	limit := g.limitDay(u)
	n := 5 * (1 + r.IntN(2))
	if limit < n+2 {
		return
	}
	from := r.IntN(limit - n)
	for from < limit && !g.cal.work[from] {
		from++
	}
	to, left := from, n-1
	for to+1 < limit && left > 0 {
		to++
		if g.cal.work[to] {
			left--
		}
	}
	for _, v := range h.vacations {
		if from <= v[1]+2 && to >= v[0]-2 {
			return
		}
	}
	for _, t := range h.trips {
		if from <= t.to && to >= t.from {
			return
		}
	}
	if h.laptopDay >= from && h.laptopDay <= to {
		return
	}
	h.vacations = append(h.vacations, [2]int{from, to})
	slices.SortFunc(h.vacations, func(a, b [2]int) int { return a[0] - b[0] })
}

// limitDay is the first day a user's calendar events (vacations, trips) must not
// reach: the planted case's first event, else the end of the window.
func (g *gen) limitDay(u *user) int {
	if u.plant != nil {
		return max(0, g.cal.at(u.plant.from+2))
	}
	return g.opt.Days
}

// activeDay draws a working day of u (not on vacation, before leaving), or -1.
func (g *gen) activeDay(u *user) int {
	var days []int
	for d := range g.opt.Days {
		if g.cal.work[d] && d <= u.lastDay && !u.h.onVacation(d) && u.h.tripOn(d) == nil {
			days = append(days, d)
		}
	}
	if len(days) == 0 {
		return -1
	}
	return days[g.r.IntN(len(days))]
}

// contactAddr is one of the user's regular external correspondents.
func (h *habits) contact(r *rand.Rand) string { return h.contacts[r.IntN(len(h.contacts))] }
