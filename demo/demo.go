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
	Users int       // total users, planted ones included; default 50, minimum 20
	Days  int       // days of activity ending at End; default 30, minimum 21
	Seed  int64     // same seed and options give byte-identical files
	End   time.Time // last day; zero = today UTC
	// OrgDomain is the organisation's email and web domain; default contoso.com.
	OrgDomain string
	// AuditRecords, if > 0, is the exact total of benign audit records, spread evenly
	// over every user and day (for the 1,000,000-record benchmark); otherwise each
	// user has a realistic 22-28 audit records a day. Planted records come on top.
	AuditRecords int
	// FileRecords is the most records in one drop file; default 50,000 (the badging
	// connector's upload limit).
	FileRecords int
}

// Planted is one planted insider case.
type Planted struct {
	User     string `json:"user"`
	Template string `json:"template"` // the policy template that should alert on the user
	Scenario string `json:"scenario"`
	Expect   string `json:"expect"` // what should be alerted
}

// Manifest describes what Generate wrote.
type Manifest struct {
	Users   []string       `json:"users"` // every user, sorted
	Planted []Planted      `json:"planted"`
	Counts  map[string]int `json:"counts"` // records written per feed
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
	Start       time.Time         `json:"start"`       // first day, 00:00 UTC
	End         time.Time         `json:"end"`         // last day, 00:00 UTC
}

// PriorityGroupName is the demo's priority user group.
const PriorityGroupName = "Executives"

// Priority physical assets (the data centre and server room) and ordinary doors.
var (
	priorityAssets = [][2]string{{"DC-B1-01", "Data Center Building 1"}, {"SRV-B2-04", "Server Room Building 2"}}
	ordinaryAssets = [][2]string{{"HQ-MAIN-01", "HQ Main Entrance"}, {"HQ-F2-DOOR", "HQ Floor 2 Door"}, {"HQ-F3-DOOR", "HQ Floor 3 Door"}, {"HQ-GARAGE", "HQ Garage Gate"}}
)

// Domain lists. Benign browsing never touches unallowed or third-party domains.
var (
	unallowedDomains = []string{
		"wikileaks.org", "*.wikileaks.org",
		"indeed.com", "*.indeed.com", "glassdoor.com", "*.glassdoor.com", "monster.com", "*.monster.com",
		"exploit-db.com", "*.exploit-db.com", "thepiratebay.org", "*.thepiratebay.org",
		"pastebin.com", "*.pastebin.com",
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
	if opt.Users == 0 {
		opt.Users = 50
	}
	if opt.Days == 0 {
		opt.Days = 30
	}
	if opt.OrgDomain == "" {
		opt.OrgDomain = "contoso.com"
	}
	opt.OrgDomain = strings.ToLower(opt.OrgDomain)
	if opt.FileRecords <= 0 {
		opt.FileRecords = 50000
	}
	if opt.End.IsZero() {
		opt.End = time.Now().UTC()
	}
	end := time.Date(opt.End.Year(), opt.End.Month(), opt.End.Day(), 0, 0, 0, 0, time.UTC)
	minUsers := len(plantSpecs) + minBenign
	switch {
	case opt.Users < minUsers:
		return Manifest{}, fmt.Errorf("demo: %d users is too few: the planted cases need at least %d", opt.Users, minUsers)
	case opt.Days < 21:
		return Manifest{}, fmt.Errorf("demo: %d days is too few: the planted timelines need at least 21", opt.Days)
	case opt.AuditRecords < 0:
		return Manifest{}, errors.New("demo: negative audit record count")
	}

	g := &gen{opt: opt, r: rand.New(rand.NewPCG(uint64(opt.Seed), 0x5eed1e55d3a0b0c1))}
	g.tenant = strings.SplitN(opt.OrgDomain, ".", 2)[0]
	g.orgID = string(appendGUID(nil, g.r.Uint64(), g.r.Uint64()))
	g.start = end.AddDate(0, 0, -(opt.Days - 1))
	// Day prefixes for timestamps, with room for timelines that run past the window.
	for d := 0; d < opt.Days+2; d++ {
		g.dayPrefix = append(g.dayPrefix, []byte(g.start.AddDate(0, 0, d).Format("2006-01-02T")))
	}
	g.users = buildOrg(g.r, opt, g.tenant)
	g.plan()

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

func (g *gen) manifest(end time.Time) Manifest {
	m := Manifest{
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
			m.Planted = append(m.Planted, Planted{User: u.upn, Template: p.template, Scenario: p.scenario, Expect: p.expect})
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
