package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"irm/demo"
	"irm/event"
	"irm/store"
)

var demoEnd = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)

// loadDemo loads settings and default policies, then commits the files in the given
// order, split into batches of at most batch events (0 = one batch per file).
func loadDemo(t testing.TB, m demo.Manifest, files []demoFile, batch int) (*Engine, *store.DB) {
	t.Helper()
	e, db := newTestEngine(t)
	mustSettings(t, e, m.SettingsTOML())
	mustPolicies(t, e, string(DefaultPolicies))
	for _, f := range files {
		evs := f.evs
		for len(evs) > 0 {
			n := len(evs)
			if batch > 0 && n > batch {
				n = batch
			}
			commit(t, e, db, evs[:n])
			evs = evs[n:]
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	return e, db
}

func policyOfTemplate(t testing.TB, e *Engine, tmpl string) string {
	for _, p := range e.Policies() {
		if p.Template == tmpl {
			return p.Name
		}
	}
	t.Fatalf("no policy for template %s", tmpl)
	return ""
}

func describe(a Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q %s score=%d %v\n", a.ID, a.User, a.Policy, a.Severity, a.Score, a.RiskFactors)
	for _, in := range a.Insights {
		fmt.Fprintf(&b, "    %s %s %s n=%d th=%v %s %d %v %s\n", in.Day, in.Kind, in.ID, in.Count, in.Thresholds, in.Level, in.Points, in.Boosters, in.Detail)
	}
	return b.String()
}

// scenarioFactors are, per planted scenario, risk factors the alert under the
// scenario's template must show whatever the seed: the ones its story is made of.
var scenarioFactors = map[string][]string{
	"priority_user_labelled_leak":       {FactorPriorityUser, FactorPriority},
	"priority_user_defender_alerts":     {FactorPriorityUser},
	"unallowed_domain_browsing":         {FactorUnallowed},
	"one_off_unallowed_upload":          {FactorUnallowed},
	"download_rename_exfiltrate_delete": {FactorSequence},
	"departing_usb_cloud_upload":        {FactorPriority},
}

// TestDemoScenarios: on the realistic organisation (three seeds), every planted case is
// alerted under its template's policy, with the risk factors its story is made of, and
// every insight names its events. How many benign users are alerted is measured by
// bench/detection (TestDetection), at a size where the share means something.
func TestDemoScenarios(t *testing.T) {
	for _, opt := range []demo.Options{
		{Users: 120, Days: 75, Seed: 7, End: demoEnd},
		{Users: 120, Days: 75, Seed: 2, End: demoEnd},
		{Users: 150, Days: 80, Seed: 11, End: demoEnd},
	} {
		t.Run(fmt.Sprintf("seed%d-users%d", opt.Seed, opt.Users), func(t *testing.T) { testDemoScenario(t, opt) })
	}
}

func testDemoScenario(t *testing.T, opt demo.Options) {
	m, files := demoData(t, opt)
	e, _ := loadDemo(t, m, files, 0)
	seenTemplates := map[string]bool{}
	severities := map[string]bool{}
	for _, p := range m.Planted {
		seenTemplates[p.Template] = true
		name := policyOfTemplate(t, e, p.Template)
		as := e.Alerts(AlertFilter{User: p.User, Policy: name})
		if len(as) != 1 {
			t.Errorf("%s (%s): want 1 alert under %q, got %d", p.User, p.Scenario, name, len(as))
			for _, a := range e.Alerts(AlertFilter{User: p.User}) {
				t.Log(describe(a))
			}
			continue
		}
		a := as[0]
		severities[a.Severity] = true
		for _, f := range scenarioFactors[p.Scenario] {
			if !slices.Contains(a.RiskFactors, f) {
				t.Errorf("%s under %q: risk factors %v lack %s\n%s", p.User, name, a.RiskFactors, f, describe(a))
			}
		}
		for _, in := range a.Insights {
			if len(in.EventIDs) == 0 {
				t.Errorf("%s: insight without events: %+v", p.User, in)
			}
		}
	}
	for _, tmpl := range []string{"data_theft_departing", "data_leaks", "data_leaks_priority", "data_leaks_risky", "security_violations",
		"security_violations_departing", "security_violations_priority", "security_violations_risky", "risky_browsing"} {
		if !seenTemplates[tmpl] {
			t.Errorf("the demo plants no case for template %s", tmpl)
		}
	}
	// Severity means something: the planted cases are not all one severity.
	if len(severities) < 2 {
		t.Errorf("every planted case has the same severity: %v", severities)
	}
}

// alertKey is what must not depend on arrival order: who, under which policy, how
// severe, why, and the events behind it (not the wall-clock times).
func alertKeys(as []Alert) []string {
	var out []string
	for _, a := range as {
		var ins []string
		for _, in := range a.Insights {
			ins = append(ins, fmt.Sprintf("%s/%s/%s/%d/%s/%d/%v/%v", in.Kind, in.ID, in.Day, in.Count, in.Level, in.Points, in.Boosters, in.EventIDs))
		}
		// Not the id: ids are keyed per installation (alertids.go), and each run has its own store.
		out = append(out, fmt.Sprintf("%s|%s|%s|%d|%s|%v|%s|%v", a.User, a.Policy, a.Severity, a.Score, a.Status, a.RiskFactors, strings.Join(ins, ";"), a.EventIDs))
	}
	sort.Strings(out)
	return out
}

func TestDeterminismAcrossOrderAndBatching(t *testing.T) {
	m, files := demoData(t, demo.Options{Users: 100, Days: 50, Seed: 3, End: demoEnd, FileRecords: 2000})
	e, _ := loadDemo(t, m, files, 0)
	want := alertKeys(e.Alerts(AlertFilter{}))
	if len(want) == 0 {
		t.Fatal("no alerts at all")
	}

	// HR last (late HR files), reversed file order, small batches.
	rev := slices.Clone(files)
	slices.Reverse(rev)
	var hrLast []demoFile
	for _, f := range rev {
		if len(f.evs) > 0 && f.evs[0].Feed != event.FeedHR {
			hrLast = append(hrLast, f)
		}
	}
	for _, f := range rev {
		if len(f.evs) > 0 && f.evs[0].Feed == event.FeedHR {
			hrLast = append(hrLast, f)
		}
	}
	// Everything interleaved: one batch with every event, shuffled deterministically.
	var mixed []event.Event
	for _, f := range files {
		mixed = append(mixed, f.evs...)
	}
	sort.Slice(mixed, func(i, j int) bool { return mixed[i].ID > mixed[j].ID })
	for name, run := range map[string]struct {
		files []demoFile
		batch int
	}{
		"reversed, HR last, batches of 500": {hrLast, 500},
		"one shuffled batch":                {[]demoFile{{name: "all", evs: mixed}}, 0},
		"shuffled, batches of 3000":         {[]demoFile{{name: "all", evs: mixed}}, 3000},
	} {
		e2, _ := loadDemo(t, m, run.files, run.batch)
		got := alertKeys(e2.Alerts(AlertFilter{}))
		if !slices.Equal(got, want) {
			t.Errorf("%s: alerts differ from the file-order run:\n%s", name, diffKeys(got, want))
		}
	}
}

// diffKeys lists, per differing alert, the insights only one side has.
func diffKeys(got, want []string) string {
	var b strings.Builder
	in := func(x string, xs []string) bool { return slices.Contains(xs, x) }
	for _, g := range got {
		if !in(g, want) {
			fmt.Fprintf(&b, "  only in this run: %s\n", shortKey(g, want))
		}
	}
	for _, w := range want {
		if !in(w, got) {
			fmt.Fprintf(&b, "  only in file order: %s\n", shortKey(w, got))
		}
	}
	return b.String()
}

func shortKey(k string, other []string) string {
	parts := strings.Split(k, "|")
	head := strings.Join(parts[:7], "|")
	var otherIns []string
	for _, o := range other {
		if strings.HasPrefix(o, parts[0]+"|") {
			otherIns = strings.Split(strings.Split(o, "|")[7], ";")
		}
	}
	var diff []string
	for _, in := range strings.Split(parts[7], ";") {
		if !slices.Contains(otherIns, in) {
			if len(in) > 160 {
				in = in[:160] + "..."
			}
			diff = append(diff, in)
		}
	}
	return head + "\n      differing insights: " + strings.Join(diff, "\n        ")
}
