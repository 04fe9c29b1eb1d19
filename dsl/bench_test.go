package dsl

import (
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

// loop runs fn b.N times on one locked OS thread and reports cpu-ns/op as well.
func loop(b *testing.B, fn func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start := threadCPU()
	n := 0
	for b.Loop() {
		fn(n)
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(threadCPU()-start)/float64(n), "cpu-ns/op")
	}
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
