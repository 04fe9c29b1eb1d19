package dsl

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"irm/event"
	"irm/rules"
)

// threadCPU returns the CPU time the calling OS thread has used. The benchmark machine is
// shared, so wall-clock ns/op include time spent waiting for a core; cpu-ns/op (this
// thread's CPU time per op) is the cost of evaluation itself.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD (Linux)
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs fn b.N times on one locked OS thread and reports cpu-ns/op as well, which
// it returns.
func loop(b *testing.B, fn func(i int)) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start := threadCPU()
	n := 0
	for b.Loop() {
		fn(n)
		n++
	}
	if n == 0 {
		return 0
	}
	cpu := float64(threadCPU()-start) / float64(n)
	b.ReportMetric(cpu, "cpu-ns/op")
	return cpu
}

// BenchmarkSimpleIndicatorNativeGuard: the built-in after_hours_sign_in (an operation
// test and four hour and weekday comparisons in org.timezone, here Europe/Berlin)
// through Match. Every conjunct is a native guard, so no CEL program runs: this
// measures the guard fast path (index lookup, guards on the Go struct).
func BenchmarkSimpleIndicatorNativeGuard(b *testing.B) {
	rs, err := compile([]source{{name: "simple.toml", text: `
[[indicator]]
id = "after_hours_sign_in"
name = "Signing in outside working hours"
category = "access"
feeds = ["audit"]
when = """
event.operation == "UserLoggedIn" && (
  event.time.getHours(org.timezone) < 7 || event.time.getHours(org.timezone) >= 19 ||
  event.time.getDayOfWeek(org.timezone) == 0 || event.time.getDayOfWeek(org.timezone) == 6)
"""
thresholds = [1, 3, 6]
`}}, Options{OrgDomains: TestOrgDomains, OrgTimezone: "Europe/Berlin"})
	if err != nil {
		b.Fatal(err)
	}
	if !rs.indicators["after_hours_sign_in"].exact {
		b.Fatal("not decided by guards: this benchmark would measure CEL")
	}
	in := &Input{Event: &event.Event{Feed: "audit", Operation: "UserLoggedIn", User: "a@contoso.com",
		Time: time.Date(2026, 3, 2, 22, 10, 0, 0, time.UTC)}}
	if ids := rs.Match(in); len(ids) != 1 {
		b.Fatalf("no match: %v", ids)
	}
	loop(b, func(int) { rs.Match(in) })
}

// BenchmarkSimpleIndicatorCEL: a rule of the same size whose second conjunct is no
// guard (a string function), so its CEL program runs for every matching operation:
// the guard on the operation, an activation from the pool, one interpreted evaluation.
func BenchmarkSimpleIndicatorCEL(b *testing.B) {
	rs, err := compile([]source{{name: "simple.toml", text: `
[[indicator]]
id = "zip_upload"
name = "Uploading a zip archive"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FileUploadedToCloud" && event.file_name.endsWith(".zip")'
`}}, Options{OrgDomains: TestOrgDomains})
	if err != nil {
		b.Fatal(err)
	}
	if r := rs.indicators["zip_upload"]; r.exact || len(r.guards) != 1 {
		b.Fatalf("exact %v, %d guards: want the program to run", r.exact, len(r.guards))
	}
	in := &Input{Event: &event.Event{Feed: "audit", Operation: "FileUploadedToCloud", FileName: "src.zip"}}
	if ids := rs.Match(in); len(ids) != 1 {
		b.Fatalf("no match: %v", ids)
	}
	loop(b, func(int) { rs.Match(in) })
}

// BenchmarkSimpleIndicatorOperation: the simplest kind of catalog indicator, one
// operation test (as copy_to_usb, print_file, anonymous_link are).
func BenchmarkSimpleIndicatorOperation(b *testing.B) {
	rs, err := compile([]source{{name: "simple.toml", text: `
[[indicator]]
id = "print_file"
name = "Printing files"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted"'
`}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	in := &Input{Event: &event.Event{Feed: "audit", Operation: "FilePrinted", FileName: "a.pdf"}}
	if ids := rs.Match(in); len(ids) != 1 {
		b.Fatalf("no match: %v", ids)
	}
	loop(b, func(int) { rs.Match(in) })
}

// BenchmarkTimeZoneIndicator: after-hours in a local time zone (the zone is resolved
// once, not per evaluation).
func BenchmarkTimeZoneIndicator(b *testing.B) {
	rs, err := compile([]source{{name: "tz.toml", text: `
[[indicator]]
id = "after_hours_berlin"
name = "Signing in outside working hours (Berlin)"
category = "access"
feeds = ["audit"]
when = 'event.operation == "UserLoggedIn" && (event.time.getHours("Europe/Berlin") < 7 || event.time.getHours("Europe/Berlin") >= 19)'
`}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	in := &Input{Event: &event.Event{Feed: "audit", Operation: "UserLoggedIn", Time: time.Date(2026, 3, 2, 22, 10, 0, 0, time.UTC)}}
	if ids := rs.Match(in); len(ids) != 1 {
		b.Fatalf("no match: %v", ids)
	}
	loop(b, func(int) { rs.Match(in) })
}

// BenchmarkCatalogMixed: the whole built-in catalog over the mixed stream of
// testdata/feeds (every feed, parsed by the real parsers). ns/op is per event.
func BenchmarkCatalogMixed(b *testing.B) {
	rs, err := Load(rules.FS, "", Options{OrgDomains: TestOrgDomains})
	if err != nil {
		b.Fatal(err)
	}
	evs := FeedEvents(b)
	prof := &event.Profile{UPN: "u@contoso.com", Department: "Sales"}
	inputs := make([]Input, len(evs))
	for i, ev := range evs {
		inputs[i] = Input{Event: ev, User: prof, Lists: FeedLists}
	}
	loop(b, func(i int) { rs.Match(&inputs[i%len(inputs)]) })
}

// BenchmarkCatalogMixedTriggers adds what the engine also runs per event: the triggers
// of all nine templates.
func BenchmarkCatalogMixedTriggers(b *testing.B) {
	rs, err := Load(rules.FS, "", Options{OrgDomains: TestOrgDomains})
	if err != nil {
		b.Fatal(err)
	}
	evs := FeedEvents(b)
	inputs := make([]Input, len(evs))
	for i, ev := range evs {
		inputs[i] = Input{Event: ev, Lists: FeedLists}
	}
	tmpls := rs.Templates()
	loop(b, func(i int) {
		in := &inputs[i%len(inputs)]
		rs.Match(in)
		for _, t := range tmpls {
			rs.MatchTriggers(t.ID, in)
		}
	})
}

// BenchmarkLoadCatalog: compiling the whole built-in catalog (what a reload costs).
func BenchmarkLoadCatalog(b *testing.B) {
	for b.Loop() {
		if _, err := Load(rules.FS, "", Options{OrgDomains: TestOrgDomains}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoveltyTracker: what the engine does per evaluation of one user and one
// first_seen indicator: reset the tracker and run the user's matches through it (2,000
// matches over 90 days with 40 distinct keys). cpu-ns/match is per match.
func BenchmarkNoveltyTracker(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	nt := NewNoveltyTracker(&FirstSeen{Days: 30, MinActiveDays: 10})
	const n = 2000
	type match struct {
		t int64
		k uint64
	}
	matches := make([]match, n)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range matches {
		matches[i] = match{t0 + int64(i)*int64(90*24*time.Hour)/n, KeyHash(fmt.Sprint("device-", r.IntN(40)))}
	}
	novel := 0
	cpu := loop(b, func(int) {
		nt.Reset()
		for _, m := range matches {
			if nt.Observe(m.t, m.k, 20) {
				novel++
			}
		}
	})
	b.ReportMetric(cpu/n, "cpu-ns/match")
	if novel == 0 {
		b.Fatal("nothing novel")
	}
}

// BenchmarkSequenceStep: the built-in sequences over one user's 3,000 matched events
// in a week (200 files, each event matching one or two indicators of the steps), as the
// engine feeds them per evaluation: Reset, then Step each. cpu-ns/input is per input;
// the allocations are the completions (about one in three inputs completes here).
func BenchmarkSequenceStep(b *testing.B) {
	rs, err := Load(rules.FS, "", Options{OrgDomains: TestOrgDomains})
	if err != nil {
		b.Fatal(err)
	}
	var stepInds []int
	for _, sq := range rs.Sequences() {
		for _, ix := range sq.StepIx {
			stepInds = append(stepInds, ix...)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	const n = 3000
	inputs := make([]SeqInput, n)
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range inputs {
		inds := []int{stepInds[r.IntN(len(stepInds))]}
		if r.IntN(4) == 0 {
			inds = append(inds, stepInds[r.IntN(len(stepInds))])
		}
		inputs[i] = SeqInput{Time: t0 + int64(i)*int64(7*24*time.Hour)/n, File: fmt.Sprintf("file-%d.docx", r.IntN(200)), Inds: inds, Ref: i}
	}
	st := NewSequenceTracker(rs.Sequences()...)
	completions := 0
	cpu := loop(b, func(int) {
		st.Reset()
		for _, in := range inputs {
			completions += len(st.Step(in))
		}
	})
	b.ReportMetric(cpu/n, "cpu-ns/input")
	b.ReportMetric(float64(completions)/float64(b.N), "completions/op")
}
