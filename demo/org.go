package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The synthetic organisation: departments, benign users, and the planted users with
// their scenario. Everything is drawn from one seeded generator in a fixed order.

type department struct {
	name   string
	topics []string // document topics for file names
}

var departments = []department{
	{"Executive", []string{"Board-Minutes", "Strategy-Plan", "Acquisition-Memo", "Investor-Update", "Org-Design"}},
	{"Sales", []string{"Pipeline-Report", "Customer-List", "Pricing-Sheet", "Quote", "Territory-Plan", "Account-Review"}},
	{"Marketing", []string{"Campaign-Brief", "Brand-Guide", "Press-Release", "Event-Plan", "Market-Study"}},
	{"Finance", []string{"Budget-Forecast", "Invoice-Register", "Payroll-Summary", "Expense-Report", "Audit-Findings", "Cash-Flow"}},
	{"Engineering", []string{"Design-Spec", "Architecture", "Release-Notes", "Test-Plan", "API-Reference", "Runbook"}},
	{"Research", []string{"Lab-Results", "Patent-Draft", "Prototype-Spec", "Formula", "Study-Protocol", "Research-Roadmap"}},
	{"Legal", []string{"Contract", "NDA", "Litigation-Memo", "Compliance-Review", "Policy-Draft"}},
	{"HR", []string{"Headcount-Plan", "Salary-Bands", "Onboarding-Guide", "Benefits-Overview", "Job-Description"}},
	{"Operations", []string{"Vendor-List", "Inventory", "Shipping-Schedule", "Facilities-Plan", "SLA-Report"}},
	{"Support", []string{"Case-Summary", "Knowledge-Article", "Escalation-Log", "Customer-Feedback", "Support-Metrics"}},
	// IT only exists in the realistic organisation (the clean one has the first ten).
	{"IT", []string{"Server-Inventory", "Firewall-Rules", "Backup-Plan", "Network-Diagram", "Admin-Runbook", "Patch-Schedule"}},
}

// cleanDepartments is how many of departments the clean organisation uses.
const cleanDepartments = 10

// realisticDeptWeights are the relative sizes of the realistic organisation's
// departments other than Executive (a mid-size company: big engineering, sales and
// support, small legal and HR).
var realisticDeptWeights = map[string]int{
	"Sales": 17, "Marketing": 8, "Finance": 8, "Engineering": 22, "Research": 8,
	"Legal": 4, "HR": 4, "Operations": 9, "Support": 13, "IT": 7,
}

var fileQualifiers = []string{"Q1", "Q2", "Q3", "Q4", "FY26", "FY27", "Draft", "Final", "v2", "v3", "Review", "2026"}
var fileExts = []string{"docx", "docx", "xlsx", "xlsx", "pptx", "pdf"}

var firstNames = strings.Fields(`adele alex amara anders aisha ben bianca carlos chen chloe daniel diego elena emma
fatima george grace hana henrik isabel jack james julia kai karin lars laura leon lucia
marco maria mateo mei mia noah olga omar paul pedro quinn rafael rosa sam sara sofia
tariq thomas uma valerie wei william xavier yara yusuf zoe hugo ivy liam nadia`)

var lastNames = strings.Fields(`adams alvarez andersen bauer becker brown campbell chen costa davies dubois evans
fischer garcia gomez hansen harris hoffmann jensen johnson kim klein kowalski lee lopez
martin meyer miller moreau murphy nielsen novak okafor olsen park patel petrov quinn reyes
richter rossi santos schmidt silva smith tanaka taylor thompson walker weber wilson wong
yamamoto young zhang`)

// Scenario ids used in Planted.Scenario.
const (
	scDepartingUSBCloud  = "departing_usb_cloud_upload"
	scRiskySharing       = "poor_review_external_sharing"
	scPriorityLeak       = "priority_user_labelled_leak"
	scDLPExfil           = "high_dlp_match_then_exfiltration"
	scSequence           = "download_rename_exfiltrate_delete"
	scDefender           = "defender_alerts"
	scDefenderDeparting  = "departing_defender_alerts"
	scDefenderPriority   = "priority_user_defender_alerts"
	scDefenderRisky      = "improvement_plan_defender_alerts"
	scBadgeAfterTerminat = "badge_after_termination"
	scRiskyBrowsing      = "unallowed_domain_browsing"

	// Realistic background only: cases defined against the user's own history and
	// hidden among benign look-alikes.
	scFirstTimeBurst   = "first_after_hours_usb_unallowed_departing"
	scJobSitesBurst    = "job_search_then_usb_cloud_burst"
	scAdminHackTools   = "poor_review_admin_hacking_tools"
	scSlowExfiltration = "slow_exfiltration_before_resignation"
	scUnallowedUpload  = "one_off_unallowed_upload"
)

// plantSpec is one planted user: a name that looks like everyone else's, a department
// and the template and scenario the engine is expected to alert on.
type plantSpec struct {
	first, last, dept          string
	template, scenario, expect string
	priority                   bool // member of the priority user group
	// from is how many working days before the last day the case's first event
	// (activity or HR) happens: the user's vacations, trips and new laptop come
	// before it, so the case runs on ordinary working days.
	from int
	also []string // further templates that fit (Planted.AlsoTemplates)
}

// The first names here are not in firstNames, so a planted UPN never collides with a
// benign one, yet nothing in it says "planted".
var plantSpecs = []plantSpec{
	{"darius", "kent", "Research", "data_theft_departing", scDepartingUSBCloud,
		"resigned; in the days before the last working day copies many files to USB and uploads to personal cloud storage, some labelled Confidential", false, 14, nil},
	{"maren", "holt", "Sales", "data_leaks_risky", scRiskySharing,
		"poor performance review, then shares many files with external guests, creates anonymous links and emails attachments to free public email domains", false, 12, nil},
	{"victor", "lang", "Executive", "data_leaks_priority", scPriorityLeak,
		"priority user group member; high-severity DLP match, then emails Confidential attachments outside the organisation", true, 9, nil},
	{"selma", "ortiz", "Finance", "data_leaks", scDLPExfil,
		"high-severity DLP match, then mass SharePoint downloads, cloud uploads and external emails with attachments", false, 10, nil},
	{"owen", "brandt", "Engineering", "data_theft_departing", scSequence,
		"resigned; sequence on the same files: download from SharePoint, rename on the device, upload to cloud or copy to USB, delete", false, 12, nil},
	{"tess", "morrow", "Engineering", "security_violations", scDefender,
		"defender alerts DefenseEvasion, UnwantedSoftware and Malware with status New/InProgress", false, 8, nil},
	{"felix", "dunmore", "Support", "security_violations_departing", scDefenderDeparting,
		"resigned; then defender alerts DefenseEvasion, UnwantedSoftware and Malware with status New/InProgress", false, 10, nil},
	{"ines", "carvalho", "Executive", "security_violations_priority", scDefenderPriority,
		"priority user group member; defender alerts DefenseEvasion, UnwantedSoftware and Malware with status New/InProgress", true, 8, nil},
	{"ralph", "kinsey", "Operations", "security_violations_risky", scDefenderRisky,
		"performance improvement plan with a poor rating, then defender alerts DefenseEvasion, UnwantedSoftware and Malware", false, 12, nil},
	{"gideon", "pratt", "Operations", "security_violations_departing", scBadgeAfterTerminat,
		"resigned and account deleted; badges in after the last working date and fails repeatedly at priority physical assets", false, 20, nil},
	{"nora", "vance", "Marketing", "risky_browsing", scRiskyBrowsing,
		"browses to unallowed domains (wikileaks, hacking, piracy and paste sites) and job sites every day", false, 7, nil},

	// Realistic background only (see plantSpecsFor).
	{"jonas", "ferreira", "Engineering", "data_theft_departing", scFirstTimeBurst,
		"resigned; never used USB nor worked late, then in one night-time burst a first 3 a.m. sign-in, a first USB mount with a handful of copies and visits to an unallowed file-drop site during the notice period; leaves", false, 15, nil},
	{"priya", "lindqvist", "Sales", "data_theft_departing", scJobSitesBurst,
		"browses job sites for weeks, then a burst of USB copies and personal cloud uploads just before resigning", false, 28, nil},
	{"anton", "kessler", "IT", "security_violations_risky", scAdminHackTools,
		"IT administrator; after a poor review downloads hacking tools from an unallowed exploit site (Defender flags them), copies them and documents to USB and sends a mass email with a Confidential attachment inside and outside the organisation", false, 12,
		[]string{"data_leaks_risky"}},
	{"lukas", "webb", "Finance", "data_theft_departing", scSlowExfiltration,
		"slow exfiltration for three weeks before resigning: every working day 2 external emails with attachments, 4 printed files and 6 SharePoint downloads, each under the built-in low threshold but several times the user's own history", false, 18, nil},
	{"irene", "castillo", "Marketing", "data_leaks", scUnallowedUpload,
		"a single upload of a customer list to an unallowed anonymous file-drop site", false, 4, nil},
}

// cleanPlants is how many of plantSpecs the clean background plants: today's cases.
const cleanPlants = 11

func plantSpecsFor(realistic bool) []plantSpec {
	if realistic {
		return plantSpecs
	}
	return plantSpecs[:cleanPlants]
}

// Number of benign users with special roles.
const (
	numExecs           = 3 // benign members of the priority group
	numBenignDeparting = 2
	minBenign          = 9
)

type user struct {
	idx              int
	upn, first, last string
	dept             string
	manager          string
	puid             string // UserKey
	ip               string // the client IP of today's records
	device           string // the device of today's records
	site             string // the department SharePoint site
	onedrive         string

	// Clean background: steady per-user daily habits, so that no benign daily count
	// reaches an indicator's low threshold.
	downloads int // SharePoint downloads per day
	extMail   bool

	// Realistic background: habits drawn once (nil in the clean background).
	h *habits

	lastDay           int // last day index with activity (last working day); days-1 when still employed
	plant             *plantSpec
	benignDeparting   bool
	resignDay, lwdDay int    // day indices (may be beyond the window) when departing
	deleteDay         int    // account deletion day index, -1 = none
	review            string // review rating
	reviewDay         int
	promoted          bool
}

const noDay = -1 << 30

// buildOrg creates the users: benign users first (executives, then the rest spread over
// departments), then the planted users, all in one deterministic order.
func buildOrg(r *rand.Rand, opt Options, tenant string, specs []plantSpec, realistic bool) []*user {
	nBenign := opt.Users - len(specs)
	used := map[string]bool{}
	var users []*user
	mk := func(first, last, dept string) *user {
		local := first + "." + last
		for n := 2; used[local]; n++ {
			local = fmt.Sprintf("%s.%s%d", first, last, n)
		}
		used[local] = true
		u := &user{
			idx: len(users), upn: local + "@" + opt.OrgDomain, first: first, last: last, dept: dept,
			puid:      fmt.Sprintf("10032%011X", r.Uint64()&0xFFFFFFFFFFF),
			ip:        fmt.Sprintf("10.%d.%d.%d", 10+r.IntN(20), r.IntN(256), 1+r.IntN(254)),
			device:    fmt.Sprintf("LAPTOP-%06X", r.Uint32()&0xFFFFFF),
			site:      "https://" + tenant + ".sharepoint.com/sites/" + dept,
			onedrive:  "https://" + tenant + "-my.sharepoint.com/personal/" + strings.ReplaceAll(local, ".", "_") + "_" + strings.ReplaceAll(opt.OrgDomain, ".", "_"),
			downloads: 1 + r.IntN(2),
			extMail:   r.IntN(2) == 0,
			lastDay:   opt.Days - 1,
			resignDay: noDay, lwdDay: noDay, deleteDay: -1,
		}
		users = append(users, u)
		return u
	}
	deptOfBenign := cleanDeptCycle
	if realistic {
		deptOfBenign = weightedDeptCycle()
	}
	for i := 0; i < nBenign; i++ {
		dept := departments[0].name
		if i >= numExecs {
			dept = deptOfBenign(i - numExecs)
		}
		mk(firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))], dept)
	}
	for i := range specs {
		p := &specs[i]
		u := mk(p.first, p.last, p.dept)
		u.plant = p
	}
	// Managers: the first benign user of each department; their manager is the first executive.
	head := map[string]string{}
	for _, u := range users[:nBenign] {
		if _, ok := head[u.dept]; !ok {
			head[u.dept] = u.upn
		}
	}
	ceo := users[0].upn
	for _, u := range users {
		switch {
		case u.upn == ceo:
		case head[u.dept] == u.upn:
			u.manager = ceo
		default:
			u.manager = head[u.dept]
		}
	}
	return users
}

// cleanDeptCycle spreads the clean organisation's users evenly over its departments.
func cleanDeptCycle(i int) string { return departments[1+i%(cleanDepartments-1)].name }

// weightedDeptCycle spreads users over the realistic departments in proportion to
// their weights, in a fixed interleaved order (smooth weighted round-robin), so that
// every prefix of the organisation has about the right mix.
func weightedDeptCycle() func(int) string {
	names := make([]string, 0, len(departments)-1)
	total := 0
	for _, d := range departments[1:] {
		names = append(names, d.name)
		total += realisticDeptWeights[d.name]
	}
	cur := make([]int, len(names))
	var seq []string
	for range total {
		best := 0
		for j, n := range names {
			cur[j] += realisticDeptWeights[n]
			if cur[j] > cur[best] {
				best = j
			}
		}
		cur[best] -= total
		seq = append(seq, names[best])
	}
	return func(i int) string { return seq[i%len(seq)] }
}

// fileName draws a plausible document name of the department.
func fileName(r *rand.Rand, dept *department) string {
	return dept.topics[r.IntN(len(dept.topics))] + "-" + fileQualifiers[r.IntN(len(fileQualifiers))] + "." + fileExts[r.IntN(len(fileExts))]
}

func deptOf(name string) *department {
	for i := range departments {
		if departments[i].name == name {
			return &departments[i]
		}
	}
	return &departments[1]
}
