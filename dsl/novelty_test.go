package dsl_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"irm/dsl"
	"irm/event"
	"irm/rules"
)

// obs is one observation of a first_seen indicator: time, key hash, active days.
type obs struct {
	t      int64
	k      uint64
	active int
}

// bruteNovel is the definition of novelty, checked the slow way: enough active days,
// and no observation with the same key strictly before t and at most window earlier.
func bruteNovel(all []obs, i int, window int64, minActive int) bool {
	o := all[i]
	if o.active < minActive {
		return false
	}
	for _, p := range all {
		if p.k == o.k && p.t < o.t && o.t-p.t <= window {
			return false
		}
	}
	return true
}

// checkAgainstBrute feeds the observations (in time order) to a tracker and compares
// every answer with the definition.
func checkAgainstBrute(t *testing.T, nt *dsl.NoveltyTracker, fs *dsl.FirstSeen, all []obs) {
	t.Helper()
	window := int64(fs.Window())
	for i, o := range all {
		got := nt.Observe(o.t, o.k, o.active)
		if want := bruteNovel(all, i, window, fs.MinActiveDays); got != want {
			t.Fatalf("observation %d of %d (t=%d key=%d active=%d, days %d, min %d): tracker says %v, definition %v",
				i, len(all), o.t, o.k, o.active, fs.Days, fs.MinActiveDays, got, want)
		}
	}
}

// randomObs draws n observations in time order on a coarse grid (hours), so that equal
// timestamps and differences of exactly the window happen often.
func randomObs(r *rand.Rand, n, keys, days int) []obs {
	const hour = int64(time.Hour)
	var out []obs
	t := int64(1_700_000_000) * int64(time.Second)
	for range n {
		switch r.IntN(4) {
		case 0: // same time as the previous observation
		case 1:
			t += int64(days) * 24 * hour // exactly one window later
		default:
			t += int64(r.IntN(24*days/2)) * hour
		}
		out = append(out, obs{t: t, k: uint64(r.IntN(keys)), active: r.IntN(days + 1)})
	}
	return out
}

func TestNoveltyTrackerMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 400 {
		days := 1 + r.IntN(40)
		fs := &dsl.FirstSeen{Days: days, MinActiveDays: r.IntN(days + 1)}
		nt := dsl.NewNoveltyTracker(fs)
		// Many keys in some rounds, so that the tracker prunes keys out of the window.
		keys := []int{1, 3, 20, 300}[round%4]
		all := randomObs(r, 50+r.IntN(600), keys, days)
		checkAgainstBrute(t, nt, fs, all)
		// Reset forgets everything: the same observations give the same answers again.
		nt.Reset()
		checkAgainstBrute(t, nt, fs, all)
	}
}

// FuzzNoveltyTracker compares the tracker with the definition on arbitrary
// observation streams: each 4 bytes are a time step in hours, a key, an active-day
// count and the kind of step (the same time, exactly one window, or the hours). At
// most 250 observations: 250 windows of 365 days stay far from int64 overflow.
func FuzzNoveltyTracker(f *testing.F) {
	f.Add(uint8(30), uint8(10), []byte{0, 1, 0, 30, 0, 1, 0, 30, 0xff, 1, 0, 30, 0, 2, 0, 9})
	f.Add(uint8(1), uint8(0), []byte{24, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0})
	f.Fuzz(func(t *testing.T, days, minActive uint8, data []byte) {
		fs := &dsl.FirstSeen{Days: 1 + int(days)%365}
		fs.MinActiveDays = int(minActive) % (fs.Days + 1)
		var all []obs
		ts := int64(0)
		for i := 0; i+4 <= len(data) && len(all) < 250; i += 4 {
			switch data[i+3] % 4 {
			case 0:
			case 1:
				ts += int64(fs.Window())
			default:
				ts += int64(data[i]) * int64(time.Hour)
			}
			all = append(all, obs{t: ts, k: uint64(data[i+1] % 97), active: int(data[i+2]) % (fs.Days + 2)})
		}
		checkAgainstBrute(t, dsl.NewNoveltyTracker(fs), fs, all)
	})
}

func TestKeyHashIsFNV1a(t *testing.T) {
	// Reference values of 64-bit FNV-1a: stored hashes must stay valid across versions.
	for key, want := range map[string]uint64{"": 0xcbf29ce484222325, "a": 0xaf63dc4c8601ec8c, "foobar": 0x85944171f73967e8} {
		if got := dsl.KeyHash(key); got != want {
			t.Errorf("KeyHash(%q) = %#x, want %#x", key, got, want)
		}
	}
	if dsl.KeyHash("LAPTOP-7") == dsl.KeyHash("laptop-7") {
		t.Error("keys are compared exactly")
	}
}

func TestFirstSeenKey(t *testing.T) {
	dir := writeRules(t, map[string]string{"n.toml": `
[[indicator]]
id = "new_upload_domain"
name = "Upload to a domain not used in 60 days"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FileUploadedToCloud"'
first_seen = { key = 'event.target_domain.host()', days = 60 }

[[indicator]]
id = "first_print"
name = "First print"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted"'
first_seen = {}

[[indicator]]
id = "bad_key"
name = "A key that fails at run time"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FileUploadedToCloud"'
first_seen = { key = 'event.recipients[3]', min_active_days = 0 }
`})
	rs, err := dsl.Load(rules.FS, dir, dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	up := rs.Indicator("new_upload_domain")
	if fs := up.FirstSeen; fs == nil || fs.Days != 60 || fs.MinActiveDays != 10 || fs.Window() != 60*24*time.Hour {
		t.Fatalf("first_seen = %+v", up.FirstSeen)
	}
	if fs := rs.Indicator("first_print").FirstSeen; fs == nil || fs.Key != "" || fs.Days != 30 || fs.MinActiveDays != 10 {
		t.Fatalf("defaults: %+v", fs)
	}
	in := &dsl.Input{Event: &event.Event{Feed: "audit", Operation: "FileUploadedToCloud", TargetDomain: "https://WWW.Dropbox.com/x"}}
	if k := rs.FirstSeenKey(up, in); k != "www.dropbox.com" {
		t.Errorf("key = %q", k)
	}
	// Match still returns the indicator for every event matching when.
	if ids := rs.Match(in); !slices.Contains(ids, "new_upload_domain") {
		t.Errorf("Match = %v", ids)
	}
	if k := rs.FirstSeenKey(rs.Indicator("first_print"), in); k != "" {
		t.Errorf("constant key = %q", k)
	}
	if k := rs.FirstSeenKey(rs.Indicator("bad_key"), in); k != "" {
		t.Errorf("failing key = %q", k)
	}
	h := rs.Health()
	if len(h) != 1 || h[0].ID != "bad_key" || h[0].Errors != 1 || !strings.HasPrefix(h[0].LastError, "first_seen key:") {
		t.Fatalf("health = %+v", h)
	}
	if k := rs.FirstSeenKey(rs.Indicator("copy_to_usb"), in); k != "" {
		t.Errorf("an ordinary indicator has no key: %q", k)
	}
}

func TestFirstSeenLintErrors(t *testing.T) {
	// Key of the wrong type: at the key, inline.
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n"+`first_seen = { days = 7, key = 'event.size' }`+"\n"),
		"7:26: first_seen.key must be a string expression, but it is int")
	// A CEL error inside the key points into the expression.
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n"+`first_seen = { key = 'event.nosuch' }`+"\n"),
		"7:28: undefined field 'nosuch'")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n"+`first_seen = { key = "event.device", days = 0 }`+"\n"),
		"7:38: indicator x: first_seen.days must be 1 to 365, not 0")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n"+`first_seen = { days = 400 }`+"\n"), "first_seen.days must be 1 to 365, not 400")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n"+`first_seen = { days = 7, min_active_days = 8 }`+"\n"),
		"7:26: indicator x: first_seen.min_active_days must be 0 to days (7), not 8")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n"+`first_seen = { dayz = 7 }`+"\n"),
		`7:16: indicator x: first_seen: unknown key "dayz" (allowed: key, days, min_active_days)`)
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n"+`first_seen = { key = 5 }`+"\n"), "first_seen.key must be a CEL expression in a string")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n"+`first_seen = { days = "30" }`+"\n"), "first_seen.days must be a whole number")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\nfirst_seen = 30\n"), "7:1: indicator x: first_seen must be a table")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\nfirst_seen = 'event.device'\n"), "7:1: indicator x: first_seen must be a table")
	// As a table after the indicator, and as dotted keys: positions at the keys.
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n[indicator.first_seen]\nkey = 'event.size'\n"),
		"8:1: first_seen.key must be a string expression")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n[indicator.first_seen]\nwindow = 3\n"), `8:1: indicator x: first_seen: unknown key "window"`)
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\nfirst_seen.key = 'event.size'\n"), "7:1: first_seen.key must be a string expression")
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\n[[indicator.first_seen]]\nkey = 'event.device'\n"), "7:1: [[indicator.first_seen]] must be a single table")
	// A list the key uses must exist.
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A"'`+"\nfirst_seen = { key = 'event.target_domain.matchesDomain(lists.nope) ? \"a\" : \"b\"' }\n"),
		`7:57: unknown list "nope"`)
}

func TestFirstSeenTestErrors(t *testing.T) {
	const fsInd = indHead + `when = 'event.operation == "A"'` + "\nfirst_seen = { key = 'event.device', days = 20 }\n"
	wantDiag(t, loadErr(t, fsInd+"[[test]]\nindicator = \"x\"\nexpect = true\n"), "test of first_seen indicator x needs event = { ... } or events = [ {...}, ... ]")
	wantDiag(t, loadErr(t, fsInd+"[[test]]\nindicator = \"x\"\nevent = { operation = \"A\" }\nactive_days = 21\nexpect = true\n"),
		"11:1: active_days must be 0 to the indicator's days (20), not 21")
	wantDiag(t, loadErr(t, indHead+"when = 'event.operation == \"A\"'\n[[test]]\nindicator = \"x\"\nevent = { operation = \"A\" }\nactive_days = 3\nexpect = true\n"),
		"10:1: active_days applies only to tests of first_seen indicators")
	wantDiag(t, loadErr(t, indHead+"when = 'event.operation == \"A\"'\n[[test]]\nindicator = \"x\"\nevents = [{ operation = \"A\" }]\nexpect = true\n"),
		"a history of events is for first_seen indicators")
	wantDiag(t, loadErr(t, indHead+"when = 'event.operation == \"A\"'\n[[test]]\nindicator = \"x\"\nevent = { operation = \"A\" }\norg_timezone = \"Mars/Olympus\"\nexpect = true\n"),
		`10:1: test org_timezone "Mars/Olympus"`)
}

// TestFirstSeenRuleTests runs first_seen [[test]]s of a user file: passing ones pass,
// and failing ones say which condition decided.
func TestFirstSeenRuleTests(t *testing.T) {
	dir := writeRules(t, map[string]string{"n.toml": `
[[indicator]]
id = "new_upload_domain"
name = "Upload to a domain not used in 60 days"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FileUploadedToCloud"'
first_seen = { key = 'event.target_domain', days = 60, min_active_days = 20 }

[[test]]
indicator = "new_upload_domain"
name = "listed out of order: the latest event is judged"
events = [
  { operation = "FileUploadedToCloud", target_domain = "mega.nz", time = "2026-03-20T10:00:00Z" },
  { operation = "FileUploadedToCloud", target_domain = "box.com", time = "2026-03-01T10:00:00Z" },
]
expect = true

[[test]]
indicator = "new_upload_domain"
name = "wrong: seen before"
events = [
  { operation = "FileUploadedToCloud", target_domain = "box.com", time = "2026-03-01T10:00:00Z" },
  { operation = "FileUploadedToCloud", target_domain = "box.com", time = "2026-03-20T10:00:00Z" },
]
expect = true

[[test]]
indicator = "new_upload_domain"
name = "wrong: too little history"
event = { operation = "FileUploadedToCloud", target_domain = "box.com" }
active_days = 19
expect = true

[[test]]
indicator = "new_upload_domain"
name = "wrong: the latest event does not match"
events = [
  { operation = "FileUploadedToCloud", target_domain = "box.com", time = "2026-03-01T10:00:00Z" },
  { operation = "FilePrinted", time = "2026-03-20T10:00:00Z" },
]
expect = true

[[test]]
indicator = "new_upload_domain"
name = "wrong: new"
event = { operation = "FileUploadedToCloud", target_domain = "box.com" }
expect = false

[[test]]
indicator = "new_upload_domain"
name = "the same timestamp does not count as before"
events = [
  { operation = "FileUploadedToCloud", target_domain = "box.com", time = "2026-03-20T10:00:00Z" },
  { operation = "FileUploadedToCloud", target_domain = "box.com", time = "2026-03-20T10:00:00Z" },
]
expect = true
`})
	rs, err := dsl.Load(rules.FS, dir, dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"listed out of order: the latest event is judged": "",
		"wrong: seen before":                              `the latest event's key "box.com" was seen at 2026-03-01 10:00 UTC, 456h0m0s before (within 60 days)`,
		"wrong: too little history":                       "too little history: active_days 19 < min_active_days 20",
		"wrong: the latest event does not match":          "the latest event (FilePrinted at 2026-03-20 10:00 UTC) does not match when",
		"wrong: new":                                      `the latest event's key "box.com" was not seen in the 60 days before it (60 active days)`,
		"the same timestamp does not count as before":     "",
	}
	n := 0
	for _, r := range rs.RunTests() {
		w, ok := want[r.Test.Name]
		if !ok {
			continue
		}
		n++
		if w == "" {
			if !r.Pass {
				t.Errorf("%s", r)
			}
			continue
		}
		if r.Pass || !strings.HasSuffix(r.String(), ": "+w) {
			t.Errorf("%q: pass %v, message\n  %s\nwant it to end with\n  %s", r.Test.Name, r.Pass, r, w)
		}
	}
	if n != len(want) {
		t.Fatalf("ran %d of %d tests", n, len(want))
	}
}
