package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"irm/dsl"
	"irm/event"
	"irm/ingest"
	"irm/rules"
)

// TestIndicatorLevels runs the demo's events through the built-in indicator catalog:
// benign users must never reach an indicator's low threshold on any day, and every
// planted user must reach at least the medium level of an indicator of their case.
func TestIndicatorLevels(t *testing.T) {
	t.Run("default rate", func(t *testing.T) { checkIndicatorLevels(t, smallOpts()) })
	// The benchmark's dense background (about 100 audit records per user-day) must stay
	// just as quiet: only neutral filler grows with the volume.
	t.Run("dense", func(t *testing.T) {
		checkIndicatorLevels(t, Options{Users: 30, Days: 21, Seed: 5, End: testEnd, AuditRecords: 30 * 21 * 100})
	})
}

func checkIndicatorLevels(t *testing.T, opt Options) {
	dir := t.TempDir()
	m, err := Generate(opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := dsl.Load(rules.FS, "", dsl.Options{OrgDomains: []string{m.OrgDomain}})
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for _, feed := range event.Feeds {
		entries, err := os.ReadDir(filepath.Join(dir, feed))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			f, err := os.Open(filepath.Join(dir, feed, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			_, err = ingest.Parse(feed, f, ingest.ParseOptions{}, func(ev *event.Event) error {
				c := *ev
				c.Raw = nil
				evs = append(evs, &c)
				return nil
			})
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	profiles := map[string]*event.Profile{}
	for _, ev := range evs {
		if ev.HR != nil || ev.Operation == "Delete user." {
			if profiles[ev.User] == nil {
				profiles[ev.User] = &event.Profile{}
			}
			profiles[ev.User].Apply(ev)
		}
	}
	lists := map[string][]string{
		"unallowed_domains": m.UnallowedDomains, "third_party_domains": m.ThirdPartyDomains,
		"allowed_domains": {}, "priority_assets": m.PriorityAssets,
	}
	// count[user][indicator][day]
	count := map[string]map[string]map[string]int{}
	for _, ev := range evs {
		if ev.Feed == event.FeedDefender && !slices.Contains(m.DefenderStatuses, ev.Status) {
			continue // not imported with the demo settings
		}
		var groups []string
		for name, members := range m.PriorityGroups {
			if slices.Contains(members, ev.User) {
				groups = append(groups, name)
			}
		}
		p := profiles[ev.User]
		if p == nil {
			p = &event.Profile{UPN: ev.User}
		}
		for _, id := range rs.Match(&dsl.Input{Event: ev, User: p, PriorityGroups: groups, Lists: lists}) {
			if count[ev.User] == nil {
				count[ev.User] = map[string]map[string]int{}
			}
			if count[ev.User][id] == nil {
				count[ev.User][id] = map[string]int{}
			}
			count[ev.User][id][ev.Time.Format("2006-01-02")]++
		}
	}
	level := func(user, id string) (best, at int) {
		ind := rs.Indicator(id)
		for _, n := range count[user][id] {
			at = max(at, n)
		}
		for i, th := range ind.Thresholds {
			if at >= th {
				best = i + 1
			}
		}
		return best, at
	}
	planted := map[string]Planted{}
	for _, p := range m.Planted {
		planted[p.User] = p
	}
	users := make([]string, 0, len(count))
	for u := range count {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		var summary []string
		top := 0
		for id := range count[u] {
			lv, n := level(u, id)
			top = max(top, lv)
			if lv > 0 {
				summary = append(summary, fmt.Sprintf("%s=%d(L%d)", id, n, lv))
			}
			if _, ok := planted[u]; !ok && lv > 0 {
				t.Errorf("benign %s reaches level %d of %s (%d in a day, thresholds %v)", u, lv, id, n, rs.Indicator(id).Thresholds)
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
		if count[p.User] == nil {
			t.Errorf("planted %s matches no indicator", p.User)
		}
	}
}
