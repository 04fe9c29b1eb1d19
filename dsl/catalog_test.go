package dsl_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"irm/dsl"
	"irm/event"
	"irm/rules"
)

func loadBuiltin(t testing.TB) *dsl.RuleSet {
	t.Helper()
	rs, err := dsl.Load(rules.FS, "", dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatalf("built-in rules do not load:\n%v", err)
	}
	return rs
}

// TestBuiltinRuleTests runs every [[test]] of the built-in catalog: a failing rule test
// fails go test.
func TestBuiltinRuleTests(t *testing.T) {
	rs := loadBuiltin(t)
	results := rs.RunTests()
	if len(results) == 0 {
		t.Fatal("no built-in tests")
	}
	failed := 0
	for _, r := range results {
		if !r.Pass {
			failed++
			t.Error(r.String())
		}
	}
	t.Logf("%d passed, %d failed", len(results)-failed, failed)
}

// TestCatalogCoverage: every built-in indicator, sequence and trigger has a positive
// and a negative test, and the catalog has what the templates and Purview name.
func TestCatalogCoverage(t *testing.T) {
	rs := loadBuiltin(t)
	pos, neg := map[string]int{}, map[string]int{}
	for _, tc := range rs.Tests() {
		kind, id := tc.Kind()
		if tc.Expect {
			pos[kind+":"+id]++
		} else {
			neg[kind+":"+id]++
		}
	}
	var keys []string
	for _, i := range rs.Indicators() {
		keys = append(keys, "indicator:"+i.ID)
	}
	for _, s := range rs.Sequences() {
		keys = append(keys, "sequence:"+s.ID)
	}
	for _, tp := range rs.Templates() {
		for _, tr := range tp.Triggers {
			keys = append(keys, "trigger:"+tp.ID+"/"+tr.ID)
		}
	}
	for _, k := range keys {
		if pos[k] == 0 || neg[k] == 0 {
			t.Errorf("%s: %d positive, %d negative tests; want at least one of each", k, pos[k], neg[k])
		}
	}
	for _, id := range []string{"data_theft_departing", "data_leaks", "data_leaks_priority", "data_leaks_risky",
		"security_violations", "security_violations_departing", "security_violations_priority",
		"security_violations_risky", "risky_browsing"} {
		if rs.Template(id) == nil {
			t.Errorf("template %s missing", id)
		}
	}
	for _, name := range []string{
		"Download from Microsoft 365 location then exfiltrate",
		"Download from Microsoft 365 location, obfuscate, then exfiltrate",
		"Download from Microsoft 365 location, exfiltrate, then delete",
		"Downgrade or remove label then exfiltrate",
	} {
		found := false
		for _, s := range rs.Sequences() {
			found = found || s.Name == name
		}
		if !found {
			t.Errorf("sequence %q missing", name)
		}
	}
	for _, tp := range rs.Templates() {
		if tp.Priority && tp.Category != "" {
			for _, tr := range tp.Triggers {
				if !strings.Contains(tr.When, "user.priority") {
					t.Errorf("priority template %s: trigger %s does not require user.priority", tp.ID, tr.ID)
				}
			}
		}
	}
}

// TestConcurrentMatch: one RuleSet used from many goroutines (run with -race).
func TestConcurrentMatch(t *testing.T) {
	rs := loadBuiltin(t)
	evs := dsl.FeedEvents(t)
	want := make([][]string, len(evs))
	for i, ev := range evs {
		want[i] = rs.Match(&dsl.Input{Event: ev, Lists: dsl.FeedLists})
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 20; round++ {
				for i, ev := range evs {
					got := rs.Match(&dsl.Input{Event: ev, Lists: dsl.FeedLists})
					if !slices.Equal(got, want[i]) {
						select {
						case errs <- fmt.Sprintf("%s: got %v, want %v", ev.Operation, got, want[i]):
						default:
						}
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestRunawayExpressionIsStopped: a rule whose cost grows with a list is cut off by the
// cost limit; the failure counts as no match and shows in Health.
func TestRunawayExpressionIsStopped(t *testing.T) {
	dir := writeRules(t, map[string]string{"slow.toml": `
[[indicator]]
id = "slow"
name = "slow"
category = "access"
feeds = ["audit"]
when = 'event.recipients.all(a, event.recipients.all(b, event.recipients.all(c, a + b + c != "")))'
`})
	rs, err := dsl.Load(rules.FS, dir, dsl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.Event{Feed: "audit", Operation: "Send"}
	for i := 0; i < 200; i++ {
		ev.Recipients = append(ev.Recipients, fmt.Sprintf("r%d@x.com", i))
	}
	if ids := rs.Match(&dsl.Input{Event: ev}); slices.Contains(ids, "slow") {
		t.Fatal("runaway rule matched")
	}
	h := rs.Health()
	if len(h) != 1 || h[0].ID != "slow" || !strings.Contains(h[0].LastError, "cost") {
		t.Fatalf("health = %+v", h)
	}
}
