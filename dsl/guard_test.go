package dsl

import (
	"slices"
	"testing"
	"time"

	"irm/event"
	"irm/rules"
)

// TestGuardsAgreeWithPrograms checks the native guards (guard.go) against the compiled
// programs: for every built-in indicator and trigger condition and every event of the
// testdata stream and the built-in tests, plus variants of each with the guarded fields
// changed, "guards hold and (exact or the program is true)" must equal "the program is
// true".
func TestGuardsAgreeWithPrograms(t *testing.T) {
	rs, err := Load(rules.FS, "", Options{OrgDomains: TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	var inputs []*Input
	add := func(in *Input) {
		inputs = append(inputs, in)
		for _, v := range []func(*event.Event){
			func(e *event.Event) { e.LabelEvent = "downgraded" },
			func(e *event.Event) { e.LabelEvent = "removed" },
			func(e *event.Event) { e.LabelEvent = "upgraded" },
			func(e *event.Event) { e.Hidden = !e.Hidden },
			func(e *event.Event) { e.Workload = "Endpoint" },
			func(e *event.Event) { e.Workload = "SharePoint" },
			func(e *event.Event) { e.Severity = "high" },
			func(e *event.Event) { e.Category = "Malware" },
			func(e *event.Event) { e.Attachments = 0 },
			func(e *event.Event) { e.Attachments = 2 },
			func(e *event.Event) { e.TargetDomain = "www.Bet365.com" },
			func(e *event.Event) { e.TargetDomain = "x.warez.example" },
			func(e *event.Event) { e.TargetDomain = "https://exploit-db.com/x" },
			func(e *event.Event) { e.URL = "https://torrents.example/a.zip" },
			func(e *event.Event) { e.Time = time.Date(2026, 3, 2, 3, 59, 0, 0, time.UTC) },
			func(e *event.Event) { e.Time = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) },
			func(e *event.Event) { e.Time = time.Date(2026, 3, 2, 18, 30, 0, 0, time.UTC) },
			func(e *event.Event) { e.Time = time.Date(2026, 3, 2, 19, 0, 0, 0, time.FixedZone("x", 3600)) },
			func(e *event.Event) { e.Time = time.Date(2026, 3, 7, 10, 0, 0, 0, time.UTC) },  // Saturday
			func(e *event.Event) { e.Time = time.Date(2026, 3, 8, 23, 0, 0, 0, time.UTC) },  // Sunday; Monday 08:00 in Tokyo
			func(e *event.Event) { e.Time = time.Date(2026, 3, 6, 23, 0, 0, 0, time.UTC) },  // Friday; Saturday 08:00 in Tokyo
			func(e *event.Event) { e.Time = time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC) }, // 06:30 in New York
			func(e *event.Event) { e.Operation = "UserLoggedIn" },
			func(e *event.Event) { e.Size = 100 },
		} {
			ev := *in.Event
			v(&ev)
			c := *in
			c.Event = &ev
			inputs = append(inputs, &c)
		}
	}
	for _, ev := range FeedEvents(t) {
		add(&Input{Event: ev, Lists: FeedLists})
		add(&Input{Event: ev}) // no settings lists: rule-file lists, settings lists empty
	}
	for _, tc := range rs.Tests() {
		for _, ev := range tc.Events {
			add(&Input{Event: ev, User: tc.Profile, PriorityGroups: tc.PriorityGroups, Lists: tc.Lists})
		}
	}
	type cond struct {
		name string
		r    *rule
		set  *RuleSet
	}
	var conds []cond
	exact := 0
	for _, id := range rs.indOrder {
		r := rs.indicators[id]
		conds = append(conds, cond{id, r, rs})
		if r.exact {
			exact++
		}
	}
	// The built-ins with another organisation time zone: org.timezone is resolved when
	// they are compiled, in guards and programs alike.
	tokyo, err := Load(rules.FS, "", Options{OrgDomains: TestOrgDomains, OrgTimezone: "Asia/Tokyo"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"after_hours_sign_in", "sign_in_unusual_hour"} {
		r := tokyo.indicators[id]
		conds = append(conds, cond{"tokyo " + id, r, tokyo})
		zoned := 0
		var count func(gs []guard)
		count = func(gs []guard) {
			for _, g := range gs {
				if g.kind == timeCmp && g.loc != nil && g.loc.String() == "Asia/Tokyo" {
					zoned++
				}
				count(g.any)
			}
		}
		count(r.guards)
		if !r.exact || zoned < 2 {
			t.Errorf("tokyo %s: exact %v, %d guards in Asia/Tokyo", id, r.exact, zoned)
		}
	}
	// Forms the catalog does not use (literal first, zones, int fields, or-ed guards,
	// a guard next to a condition that is not one, an unknown list).
	extra, err := compile([]source{{name: "extra.toml", text: `
[[indicator]]
id = "x1"
name = "x1"
category = "access"
when = '7 > event.time.getHours("Europe/Berlin") || event.time.getHours("+05:30") >= 19 || event.time.getDayOfWeek() == 0'
[[indicator]]
id = "x2"
name = "x2"
category = "exfiltration"
when = '0 < event.attachments && event.size >= 100 && event.record_type != 15 && event.workload != "Exchange"'
[[indicator]]
id = "x3"
name = "x3"
category = "exfiltration"
when = '(event.label_event == "removed" || event.hidden) && event.file_name.endsWith(".docx")'
[[indicator]]
id = "x4"
name = "x4"
category = "browsing"
when = 'event.url.matchesDomain(lists.unallowed_domains) || event.target_domain.matchesDomain(lists.hacking_sites)'
[[indicator]]
id = "x5"
name = "x5"
category = "access"
when = 'event.time.getHours(org.timezone) < 7 && event.time.getDayOfWeek(org.timezone) != 0 && 19 > event.time.getHours(org.timezone)'
[[list]]
id = "hacking_sites"
name = "h"
items = ["*.exploit-db.com", "exploit-db.com"]
`}}, Options{OrgDomains: TestOrgDomains, OrgTimezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range extra.indOrder {
		r := extra.indicators[id]
		if len(r.guards) == 0 {
			t.Errorf("extra %s: no guards", id)
		}
		conds = append(conds, cond{"extra " + id, r, extra})
	}
	for _, id := range rs.tmplOrder {
		for i, ct := range rs.templates[id].trig {
			if ct.prg != nil {
				conds = append(conds, cond{id + "/" + rs.templates[id].t.Triggers[i].ID, &rule{prg: ct.prg, guards: ct.guards, exact: ct.exact}, rs})
			}
		}
	}
	if !extra.indicators["x5"].exact {
		t.Error("x5 (org.timezone) is not decided by its guards")
	}
	checked := 0
	for _, in := range inputs {
		acts := map[*RuleSet]*activation{}
		for _, c := range conds {
			a := acts[c.set]
			if a == nil {
				a = c.set.activation(in)
				acts[c.set] = a
			}
			want := c.r.eval(a)
			got := c.r.decide(&guardCtx{in: in, rs: c.set}, func() *activation { return a })
			if got != want {
				t.Errorf("%s on %s %s at %s (workload %q, label_event %q): guards say %v, program %v",
					c.name, in.Event.Feed, in.Event.Operation, in.Event.Time, in.Event.Workload, in.Event.LabelEvent, got, want)
			}
			checked++
		}
		for _, a := range acts {
			release(a)
		}
	}
	// The label indicators, candidates for every audit event, must be guarded, and
	// the plain operation/workload indicators decided by their guards alone.
	for _, id := range []string{"label_downgraded", "label_removed"} {
		if len(rs.indicators[id].guards) == 0 {
			t.Errorf("%s has no guard", id)
		}
	}
	for _, id := range []string{"print_file", "copy_to_usb", "sharepoint_download", "hidden_file_created", "label_removed",
		"browse_gambling_sites", "browse_unallowed_domain", "after_hours_sign_in", "sign_in_unusual_hour",
		"first_visit_domain_category", "first_usb_use", "new_device_sign_in", "new_ip_sign_in"} {
		if !rs.indicators[id].exact {
			t.Errorf("%s is not decided by its guards", id)
		}
	}
	if checked == 0 || exact < 10 {
		t.Fatalf("checked %d, exact %d", checked, exact)
	}
}

// TestDomainMatcherAgrees checks the compiled domain lists of rule-file lists against
// the list scan of MatchesDomain.
func TestDomainMatcherAgrees(t *testing.T) {
	lists := [][]string{
		{"example.com", "*.example.org", " Mixed.Case.NET ", "*.co.uk", "*.", ""},
		{},
		{"*.a.b"},
	}
	inputs := []string{"", "example.com", "www.example.com", "example.org", "x.example.org", "a.x.example.org",
		"https://X.Example.ORG:8443/path?q", "user@Sub.Example.Org", "mixed.case.net", "bbc.co.uk", "co.uk",
		".example.org", "a.b", "x.a.b", "xa.b", "a..b", "example.com.", "weird", "  example.com  "}
	for _, l := range lists {
		m := newDomainMatcher(l)
		fl := newFileList(l)
		for _, s := range inputs {
			want := MatchesDomain(s, l)
			d := hostOf(s)
			got := d != "" && m.match(d)
			if got != want || matchesDomainVal(s, fl) != want {
				t.Errorf("%q in %q: compiled %v, scan %v", s, l, got, want)
			}
		}
	}
	if !slices.Equal(newFileList([]string{"a", "b"}).Value().([]string), []string{"a", "b"}) {
		t.Error("a file list must still read as its items")
	}
}

// TestMayTrigger checks that MayTrigger never rules out a plain trigger that fires: over
// the testdata stream and the built-in tests' events, every template.
func TestMayTrigger(t *testing.T) {
	rs, err := Load(rules.FS, "", Options{OrgDomains: TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	var inputs []*Input
	for _, ev := range FeedEvents(t) {
		inputs = append(inputs, &Input{Event: ev, Lists: FeedLists})
	}
	for _, tc := range rs.Tests() {
		for _, ev := range tc.Events {
			inputs = append(inputs, &Input{Event: ev, User: tc.Profile, PriorityGroups: tc.PriorityGroups, Lists: tc.Lists})
		}
	}
	fired, ruledOut := 0, 0
	for _, in := range inputs {
		for _, tm := range rs.Templates() {
			may := rs.MayTrigger(tm.ID, in.Event.Feed, in.Event.Operation)
			if !may {
				ruledOut++
			}
			for _, tr := range rs.MatchTriggers(tm.ID, in) {
				if len(tr.Indicators) > 0 {
					continue
				}
				fired++
				if !may {
					t.Errorf("%s/%s fired on %s %s but MayTrigger says no", tm.ID, tr.ID, in.Event.Feed, in.Event.Operation)
				}
			}
			if got, want := rs.MatchAppend([]string{"x"}, in), append([]string{"x"}, rs.Match(in)...); !slices.Equal(got, want) {
				t.Errorf("MatchAppend = %v, want %v", got, want)
			}
		}
	}
	if fired == 0 || ruledOut == 0 {
		t.Fatalf("fired %d, ruled out %d", fired, ruledOut)
	}
}
