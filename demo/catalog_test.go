package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"irm/dsl"
	"irm/event"
	"irm/ingest"
	"irm/rules"
)

// orgRun is a generated organisation read back through the real feed parsers and
// matched against the built-in rule catalog (dsl.Load of rules.FS), as the engine
// would see it: each user's daily count of every indicator, and the events of the
// users a test asks to keep.
type orgRun struct {
	dir      string
	m        Manifest
	rs       *dsl.RuleSet
	loc      *time.Location
	profiles map[string]*event.Profile
	// count[user][indicator][local date]
	count map[string]map[string]map[string]int
	// kept[user]: every parsed event of the users in keep (Raw dropped).
	kept map[string][]event.Event
	// signIns[user]: local times of successful sign-ins; ips[user]: their client IPs.
	signIns map[string][]time.Time
	ips     map[string]map[string]bool
	// activeDays[user]: local dates with any record of the user (audit, badging,
	// DLP, defender).
	activeDays map[string]map[string]bool
	events     int
}

func generate(t testing.TB, opt Options, dir string) Manifest {
	t.Helper()
	m, err := Generate(opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runCatalog parses every file under dir. keep names users whose events are kept.
func runCatalog(t testing.TB, dir string, m Manifest, keep map[string]bool) *orgRun {
	t.Helper()
	rs, err := dsl.Load(rules.FS, "", dsl.Options{OrgDomains: []string{m.OrgDomain}})
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(m.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	o := &orgRun{dir: dir, m: m, rs: rs, loc: loc, profiles: map[string]*event.Profile{},
		count: map[string]map[string]map[string]int{}, kept: map[string][]event.Event{},
		signIns: map[string][]time.Time{}, ips: map[string]map[string]bool{}, activeDays: map[string]map[string]bool{}}
	parse := func(feed string, fn func(ev *event.Event)) {
		entries, err := os.ReadDir(filepath.Join(dir, feed))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			f, err := os.Open(filepath.Join(dir, feed, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			rejects, err := ingest.Parse(feed, f, ingest.ParseOptions{}, func(ev *event.Event) error {
				ev.Raw = nil
				o.events++
				fn(ev)
				return nil
			})
			f.Close()
			if err != nil {
				t.Fatalf("%s/%s: %v", feed, e.Name(), err)
			}
			if len(rejects) > 0 {
				t.Fatalf("%s/%s: %d rejected records, first: %v", feed, e.Name(), len(rejects), rejects[0])
			}
		}
	}
	profile := func(u string) *event.Profile {
		p := o.profiles[u]
		if p == nil {
			p = &event.Profile{UPN: u}
			o.profiles[u] = p
		}
		return p
	}
	// HR first: the profiles, as the engine has them when it scores.
	parse(event.FeedHR, func(ev *event.Event) {
		profile(ev.User).Apply(ev)
		if keep[ev.User] {
			o.kept[ev.User] = append(o.kept[ev.User], *ev)
		}
	})
	lists := map[string][]string{
		"unallowed_domains": m.UnallowedDomains, "third_party_domains": m.ThirdPartyDomains,
		"allowed_domains": {}, "priority_assets": m.PriorityAssets,
	}
	groupsOf := map[string][]string{}
	for name, members := range m.PriorityGroups {
		for _, u := range members {
			groupsOf[u] = append(groupsOf[u], name)
		}
	}
	var ids []string
	for _, feed := range event.Feeds {
		if feed == event.FeedHR {
			continue
		}
		parse(feed, func(ev *event.Event) {
			if ev.Operation == "Delete user." {
				// Only the badging indicators look at the end of employment, and the
				// audit feed (with every deletion) is read before badging.
				profile(ev.User).Apply(ev)
			}
			if keep[ev.User] {
				o.kept[ev.User] = append(o.kept[ev.User], *ev)
			}
			local := ev.Time.In(loc)
			day := local.Format("2006-01-02")
			if ev.Operation != "Delete user." {
				if o.activeDays[ev.User] == nil {
					o.activeDays[ev.User] = map[string]bool{}
				}
				o.activeDays[ev.User][day] = true
			}
			if ev.Operation == "UserLoggedIn" {
				o.signIns[ev.User] = append(o.signIns[ev.User], local)
				if o.ips[ev.User] == nil {
					o.ips[ev.User] = map[string]bool{}
				}
				o.ips[ev.User][ev.ClientIP] = true
			}
			if ev.Feed == event.FeedDefender && !slices.Contains(m.DefenderStatuses, ev.Status) {
				return // not imported with the demo settings
			}
			p := o.profiles[ev.User]
			if p == nil {
				p = &event.Profile{UPN: ev.User}
			}
			ids = rs.MatchAppend(ids[:0], &dsl.Input{Event: ev, User: p, PriorityGroups: groupsOf[ev.User], Lists: lists})
			for _, id := range ids {
				byInd := o.count[ev.User]
				if byInd == nil {
					byInd = map[string]map[string]int{}
					o.count[ev.User] = byInd
				}
				if byInd[id] == nil {
					byInd[id] = map[string]int{}
				}
				byInd[id][day]++
			}
		})
	}
	return o
}

// level is the highest level (0 none, 1 low, 2 medium, 3 high) the user's daily count
// of the indicator reaches on any day, and that count.
func (o *orgRun) level(user, id string) (lv, most int) {
	for _, n := range o.count[user][id] {
		most = max(most, n)
	}
	for i, th := range o.rs.Indicator(id).Thresholds {
		if most >= th {
			lv = i + 1
		}
	}
	return lv, most
}

func (o *orgRun) planted() map[string]Planted {
	out := map[string]Planted{}
	for _, p := range o.m.Planted {
		out[p.User] = p
	}
	return out
}

func (o *orgRun) benign() []string {
	pl := o.planted()
	var out []string
	for _, u := range o.m.Users {
		if _, ok := pl[u]; !ok {
			out = append(out, u)
		}
	}
	return out
}

// bigOrg is the 1,000-user, 60-day realistic organisation several tests measure,
// generated and read once per test binary.
var bigOrg struct {
	once sync.Once
	run  *orgRun
	err  error
}

const bigUsers, bigDays = 1000, 60

func bigRealisticOrg(t *testing.T) *orgRun {
	t.Helper()
	bigOrg.once.Do(func() {
		dir, err := os.MkdirTemp("", "irm-demo-big-")
		if err != nil {
			bigOrg.err = err
			return
		}
		tempDirs = append(tempDirs, dir)
		// A tenth of the neutral filler: the habits (and every indicator count) are the
		// same, and the catalog pass is four times faster.
		m, err := Generate(Options{Users: bigUsers, Days: bigDays, Seed: 42, End: testEnd, neutralScale: 0.1}, dir)
		if err != nil {
			bigOrg.err = err
			return
		}
		keep := map[string]bool{}
		for _, p := range m.Planted {
			keep[p.User] = true
		}
		bigOrg.run = runCatalog(t, dir, m, keep)
	})
	if bigOrg.err != nil {
		t.Fatal(bigOrg.err)
	}
	if bigOrg.run == nil {
		t.Fatal("the 1,000-user organisation failed to load in an earlier test")
	}
	return bigOrg.run
}

var tempDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func pct(n, of int) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(max(1, of))) }
