// Package demo generates a deterministic synthetic organisation as raw drop files in
// exactly the formats the ingest parsers accept: benign background activity for every
// feed plus planted insider cases, one distinct user per case, listed in a Manifest so
// that tests and the demo command know who should be alerted and why.
//
// Generation streams: records are built in a reused buffer and written through one
// buffered writer per feed, so memory stays flat however many records are asked for.
package demo

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"irm/event"
)

// Options say how big an organisation to generate and over which days.
type Options struct {
	// Background is "realistic" (the default: per-user habits drawn from heavy-tailed
	// distributions, weekends, holidays and vacations, so that ordinary people overlap
	// risky behaviour) or "clean" (every benign daily count stays below the low
	// threshold of every built-in indicator; every day is a working day).
	Background string
	// Users in total, planted ones included: realistic default 200, minimum 100;
	// clean default 50, minimum 20.
	Users int
	// Days of activity ending at End: realistic default 90, minimum 45 (the planted
	// timelines and 30 days of history before them); clean default 30, minimum 21. The
	// engine's user mode learns for its first 37 days (engine.LearningDays), and the slow
	// exfiltration case is measured against the month before it: 90 days show every
	// planted case.
	Days int
	Seed int64     // same seed and options give byte-identical files
	End  time.Time // last day (its date in TimeZone); zero = today
	// TimeZone is the organisation's IANA time zone (default "UTC"): working hours,
	// weekends and holidays are local to it; records are written in UTC.
	TimeZone string
	// OrgDomain is the organisation's email and web domain; default contoso.com.
	OrgDomain string
	// AuditRecords, if > 0, is the exact total of benign audit records (for the
	// benchmarks). Clean: spread evenly over every user and day. Realistic: the
	// habits keep their per-user rates and neutral filler, spread evenly over the
	// user-days with activity, makes up the rest; fewer records than the habits
	// produce is an error. Otherwise each user has a volume of their own. Planted
	// records come on top.
	AuditRecords int
	// FileRecords is the most records in one drop file; default 50,000 (the badging
	// connector's upload limit).
	FileRecords int

	// neutralScale (tests only; 0 = 1) scales each realistic user's neutral filler,
	// so that a large organisation's habits can be read back quickly. The plans,
	// and so every habit count, are the same whatever the scale.
	neutralScale float64
}

// Background modes.
const (
	Realistic = "realistic"
	Clean     = "clean"
)

// Planted is one planted insider case.
type Planted struct {
	User     string `json:"user"`
	Template string `json:"template"` // the policy template that should alert on the user
	// AlsoTemplates are further templates whose policies should alert on the user
	// because the activity clearly fits them too.
	AlsoTemplates []string `json:"also_templates,omitempty"`
	Scenario      string   `json:"scenario"`
	Expect        string   `json:"expect"` // what should be alerted
}

// Manifest describes what Generate wrote.
type Manifest struct {
	BackgroundMode string         `json:"background_mode"` // "realistic" or "clean"
	TimeZone       string         `json:"time_zone"`       // IANA name the working hours are local to
	Users          []string       `json:"users"`           // every user, sorted
	Planted        []Planted      `json:"planted"`
	Counts         map[string]int `json:"counts"` // records written per feed
	// Background is the part of Counts that is benign background activity.
	Background map[string]int `json:"background"`
	Files      int            `json:"files"`

	// BenignDeparting resigned but do nothing unusual: departing-user policies bring
	// them into scope and must not alert on them.
	BenignDeparting []string `json:"benign_departing"`
	// Suggested settings (see SettingsTOML).
	PriorityGroups    map[string][]string `json:"priority_groups"`
	PriorityAssets    []string            `json:"priority_assets"` // badging AssetIds
	UnallowedDomains  []string            `json:"unallowed_domains"`
	ThirdPartyDomains []string            `json:"third_party_domains"`
	// DefenderStatuses are the alert statuses to import: not "resolved", so the benign
	// users' resolved alerts are stored but never bring anyone into scope.
	DefenderStatuses []string `json:"defender_statuses"`
	// DLPPolicy is the DLP policy whose High-severity rule the data-leak cases match
	// (the trigger for data_leaks policies).
	DLPPolicy   string            `json:"dlp_policy"`
	OrgDomain   string            `json:"org_domain"`
	Departments map[string]string `json:"departments"` // user -> department
	Start       time.Time         `json:"start"`       // first day's date (local), as 00:00 UTC
	End         time.Time         `json:"end"`         // last day's date (local), as 00:00 UTC

	// Habits (realistic background) are each user's habit tags (see HabitTags), for
	// breaking false alerts down by habit; users without any are absent.
	Habits map[string][]string `json:"habits,omitempty"`
	// Holidays are the organisation's days off in the window (YYYY-MM-DD, local).
	Holidays []string `json:"holidays,omitempty"`
	// Vacations are each user's blocks of leave, inclusive [first, last] dates.
	Vacations map[string][][2]string `json:"vacations,omitempty"`
}

// PriorityGroupName is the demo's priority user group.
const PriorityGroupName = "Executives"

// Priority physical assets (the data centre and server room) and ordinary doors.
var (
	priorityAssets = [][2]string{{"DC-B1-01", "Data Center Building 1"}, {"SRV-B2-04", "Server Room Building 2"}}
	ordinaryAssets = [][2]string{{"HQ-MAIN-01", "HQ Main Entrance"}, {"HQ-F2-DOOR", "HQ Floor 2 Door"}, {"HQ-F3-DOOR", "HQ Floor 3 Door"}, {"HQ-GARAGE", "HQ Garage Gate"}}
)

// Domain lists. The unallowed list is the administrator's "nobody should go there":
// leak sites, piracy, paste and anonymous file drops, exploit archives. Job sites are
// not on it: job browsing is what browse_job_sites and the rule list job_sites are
// for. No benign record touches an unallowed domain.
var (
	unallowedDomains = []string{
		"wikileaks.org", "*.wikileaks.org", "thepiratebay.org", "*.thepiratebay.org",
		"pastebin.com", "*.pastebin.com", "anonfiles.com", "*.anonfiles.com", "gofile.io", "*.gofile.io",
		"exploit-db.com", "*.exploit-db.com",
	}
	thirdPartyDomains = []string{
		"dropbox.com", "*.dropbox.com", "box.com", "*.box.com", "wetransfer.com", "*.wetransfer.com",
		"drive.google.com", "mega.nz", "*.mega.nz",
	}
	riskySites = []string{"wikileaks.org", "www.wikileaks.org", "www.indeed.com", "www.glassdoor.com",
		"www.monster.com", "www.exploit-db.com", "thepiratebay.org", "pastebin.com"}
	cloudTargets = []string{"drive.google.com", "www.dropbox.com", "mega.nz", "wetransfer.com"}
	benignSites  = []string{"www.microsoft.com", "learn.microsoft.com", "www.bing.com", "www.bbc.co.uk",
		"github.com", "stackoverflow.com", "en.wikipedia.org", "www.reuters.com", "www.linkedin.com",
		"www.nytimes.com", "weather.com", "www.office.com", "news.ycombinator.com", "www.ft.com"}
	partnerDomains = []string{"fabrikam.com", "northwindtraders.com", "adventure-works.com", "tailspintoys.com", "wingtiptoys.com"}
	freeMail       = []string{"gmail.com", "outlook.com", "yahoo.com", "proton.me"}
)

// Generate writes the demo organisation's drop files into outDir/<feed>/ and returns
// what it planted. Every file is written under a dot-name and renamed into place.
func Generate(opt Options, outDir string) (Manifest, error) {
	g, end, err := newGen(opt)
	if err != nil {
		return Manifest{}, err
	}
	opt = g.opt

	prefix := fmt.Sprintf("demo-s%d-%s", opt.Seed, end.Format("20060102"))
	for _, feed := range event.Feeds {
		if err := os.MkdirAll(filepath.Join(outDir, feed), 0o755); err != nil {
			return Manifest{}, fmt.Errorf("demo: %w", err)
		}
	}
	dir := func(feed string) string { return filepath.Join(outDir, feed) }
	g.audit = newJSONWriter(dir(event.FeedAudit), prefix+"-audit", opt.FileRecords)
	g.badgeW = newJSONWriter(dir(event.FeedBadging), prefix+"-badging", opt.FileRecords)
	g.dlpW = newJSONWriter(dir(event.FeedDLP), prefix+"-dlp", opt.FileRecords)
	g.defW = newJSONWriter(dir(event.FeedDefender), prefix+"-defender", opt.FileRecords)
	writers := []*feedWriter{g.audit, g.badgeW, g.dlpW, g.defW}

	hrFiles, hrRows, err := g.writeHR(dir(event.FeedHR), prefix)
	if err == nil {
		err = g.run()
	}
	for _, w := range writers {
		if err == nil {
			err = w.closeFile()
		}
		w.abort()
	}
	if err != nil {
		return Manifest{}, err
	}
	if opt.AuditRecords > 0 && g.benignAudit != opt.AuditRecords {
		// The counting pass and the writing pass disagree: a bug, never bad input.
		return Manifest{}, fmt.Errorf("demo: internal error: wrote %d benign audit records, asked for %d", g.benignAudit, opt.AuditRecords)
	}

	m := g.manifest(end)
	m.Counts = map[string]int{
		event.FeedAudit: g.audit.records, event.FeedHR: hrRows, event.FeedBadging: g.badgeW.records,
		event.FeedDLP: g.dlpW.records, event.FeedDefender: g.defW.records,
	}
	m.Background = map[string]int{
		event.FeedAudit: g.benignAudit, event.FeedHR: g.benignHR, event.FeedBadging: g.benignBadge,
		event.FeedDLP: g.benignDLP, event.FeedDefender: g.benignDef,
	}
	m.Files = hrFiles
	for _, w := range writers {
		m.Files += w.files
	}
	return m, nil
}

// newGen checks the options, builds the organisation and plans everyone's timeline
// and habits: everything but writing.
func newGen(opt Options) (*gen, time.Time, error) {
	opt.Background = strings.ToLower(strings.TrimSpace(opt.Background))
	if opt.Background == "" {
		opt.Background = Realistic
	}
	realistic := opt.Background == Realistic
	if !realistic && opt.Background != Clean {
		return nil, time.Time{}, fmt.Errorf("demo: background %q: want %q or %q", opt.Background, Realistic, Clean)
	}
	specs := plantSpecsFor(realistic)
	minUsers, minDays, defUsers, defDays := len(specs)+minBenign, 21, 50, 30
	if realistic {
		minUsers, minDays, defUsers, defDays = MinRealisticUsers, MinRealisticDays, 200, 90
	}
	if opt.Users == 0 {
		opt.Users = defUsers
	}
	if opt.Days == 0 {
		opt.Days = defDays
	}
	if opt.OrgDomain == "" {
		opt.OrgDomain = "contoso.com"
	}
	opt.OrgDomain = strings.ToLower(opt.OrgDomain)
	if opt.FileRecords <= 0 {
		opt.FileRecords = 50000
	}
	if opt.TimeZone == "" {
		opt.TimeZone = "UTC"
	}
	loc, err := time.LoadLocation(opt.TimeZone)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("demo: time zone %q: %v", opt.TimeZone, err)
	}
	if opt.End.IsZero() {
		opt.End = time.Now().In(loc)
	}
	end := time.Date(opt.End.Year(), opt.End.Month(), opt.End.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case opt.Users < minUsers && realistic:
		return nil, time.Time{}, fmt.Errorf("demo: %d users is too few for the realistic background: it needs at least %d, so that every planted case hides among look-alikes (or use the clean background)", opt.Users, minUsers)
	case opt.Users < minUsers:
		return nil, time.Time{}, fmt.Errorf("demo: %d users is too few: the planted cases need at least %d", opt.Users, minUsers)
	case opt.Days < minDays && realistic:
		return nil, time.Time{}, fmt.Errorf("demo: %d days is too few for the realistic background: it needs at least %d (the planted timelines and 30 days of history before them; or use the clean background, 21 days)", opt.Days, minDays)
	case opt.Days < minDays:
		return nil, time.Time{}, fmt.Errorf("demo: %d days is too few: the planted timelines need at least %d", opt.Days, minDays)
	case opt.AuditRecords < 0:
		return nil, time.Time{}, errors.New("demo: negative audit record count")
	}

	g := &gen{opt: opt, realistic: realistic, specs: specs, r: rand.New(rand.NewPCG(uint64(opt.Seed), 0x5eed1e55d3a0b0c1)), neutralScale: 1}
	if opt.neutralScale > 0 {
		g.neutralScale = opt.neutralScale
	}
	g.tenant = strings.SplitN(opt.OrgDomain, ".", 2)[0]
	g.orgID = string(appendGUID(nil, g.r.Uint64(), g.r.Uint64()))
	g.start = end.AddDate(0, 0, -(opt.Days - 1))
	g.cal = newCalendar(g.start, opt.Days, loc, !realistic)
	g.users = buildOrg(g.r, opt, g.tenant, specs, realistic)
	g.planTimelines()
	if realistic {
		if err := g.planExact(); err != nil {
			return nil, time.Time{}, err
		}
	}
	return g, end, nil
}

// Minimums of the realistic background.
const (
	// MinRealisticUsers leaves about 84 benign users beside the 16 planted ones:
	// enough that every planted case has benign look-alikes (USB users, night owls,
	// job-site browsers, leavers, poor reviews...).
	MinRealisticUsers = 100
	// MinRealisticDays holds the longest planted timelines (about three weeks of
	// working days) and 30 days of history before most of them.
	MinRealisticDays = 45
)

func (g *gen) manifest(end time.Time) Manifest {
	m := Manifest{
		BackgroundMode:    g.opt.Background,
		TimeZone:          g.opt.TimeZone,
		PriorityGroups:    map[string][]string{},
		UnallowedDomains:  slices.Clone(unallowedDomains),
		ThirdPartyDomains: slices.Clone(thirdPartyDomains),
		DefenderStatuses:  []string{"new", "inprogress"},
		DLPPolicy:         dlpPolicyFinancial,
		OrgDomain:         g.opt.OrgDomain,
		Departments:       map[string]string{},
		Start:             g.start,
		End:               end,
	}
	var group []string
	for i, u := range g.users {
		m.Users = append(m.Users, u.upn)
		m.Departments[u.upn] = u.dept
		if i < numExecs || (u.plant != nil && u.plant.priority) {
			group = append(group, u.upn)
		}
		if u.benignDeparting {
			m.BenignDeparting = append(m.BenignDeparting, u.upn)
		}
		if p := u.plant; p != nil {
			m.Planted = append(m.Planted, Planted{User: u.upn, Template: p.template, AlsoTemplates: slices.Clone(p.also),
				Scenario: p.scenario, Expect: p.expect})
		}
		if h := u.h; h != nil {
			if tags := h.tagList(); len(tags) > 0 {
				if m.Habits == nil {
					m.Habits = map[string][]string{}
				}
				m.Habits[u.upn] = tags
			}
			for _, v := range h.vacations {
				if m.Vacations == nil {
					m.Vacations = map[string][][2]string{}
				}
				m.Vacations[u.upn] = append(m.Vacations[u.upn], [2]string{g.cal.date(v[0]), g.cal.date(v[1])})
			}
		}
	}
	for d := range g.opt.Days {
		if g.cal.holiday[d] {
			m.Holidays = append(m.Holidays, g.cal.date(d))
		}
	}
	slices.Sort(m.Users)
	slices.Sort(group)
	m.PriorityGroups[PriorityGroupName] = group
	for _, a := range priorityAssets {
		m.PriorityAssets = append(m.PriorityAssets, a[0])
	}
	slices.SortFunc(m.Planted, func(a, b Planted) int {
		return cmp.Or(cmp.Compare(a.Template, b.Template), cmp.Compare(a.User, b.User))
	})
	return m
}

// SettingsTOML renders the settings file for `irm settings import`: the priority user
// group, priority physical assets and the domain lists the planted cases rely on.
func (m Manifest) SettingsTOML() string {
	var b strings.Builder
	b.WriteString("# Settings for the irm demo organisation (generated by irm/demo).\n")
	b.WriteString("[settings]\nactivation_window_days = 30\npast_activity_days = 90\nalert_volume = \"default\"\npseudonymize = true\n")
	fmt.Fprintf(&b, "defender_statuses = %s\n", tomlList(m.DefenderStatuses))
	fmt.Fprintf(&b, "priority_assets = %s\n\n", tomlList(m.PriorityAssets))
	b.WriteString("[settings.domains]\n")
	fmt.Fprintf(&b, "unallowed = %s\n", tomlList(m.UnallowedDomains))
	b.WriteString("allowed = []\n")
	fmt.Fprintf(&b, "third_party = %s\n", tomlList(m.ThirdPartyDomains))
	names := make([]string, 0, len(m.PriorityGroups))
	for name := range m.PriorityGroups {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "\n[[settings.priority_group]]\nname = %q\nmembers = %s\n", name, tomlList(m.PriorityGroups[name]))
	}
	return b.String()
}

func tomlList(xs []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", x)
	}
	b.WriteByte(']')
	return b.String()
}

// PlantedFor returns the planted cases expected to alert under a template.
func (m Manifest) PlantedFor(template string) []Planted {
	var out []Planted
	for _, p := range m.Planted {
		if p.Template == template {
			out = append(out, p)
		}
	}
	return out
}
