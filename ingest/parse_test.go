package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"irm/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the parsers' output")

// parsed is everything Parse produced for one input.
type parsed struct {
	events  []event.Event
	rejects []RecordError
	err     error
}

func parseAll(feed string, r io.Reader, opt ParseOptions) parsed {
	var p parsed
	p.rejects, p.err = Parse(feed, r, opt, func(ev *event.Event) error {
		e := *ev
		e.Raw = append(json.RawMessage(nil), ev.Raw...) // Raw is the parser's until emit returns
		p.events = append(p.events, e)
		return nil
	})
	return p
}

func parseFile(t testing.TB, feed, path string, opt ParseOptions) parsed {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return parseAll(feed, f, opt)
}

// checkEvent asserts the invariants of the event model that every feed must keep.
func checkEvent(t *testing.T, where string, ev *event.Event) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: event %s: %s", where, ev.ID, fmt.Sprintf(format, args...))
	}
	if ev.ID == "" || strings.ContainsAny(ev.ID, "/\x00") {
		fail("bad id %q", ev.ID)
	}
	// An audit label event from an unnamed workload is the one event without a workload.
	if ev.Feed == "" || ev.Operation == "" || (ev.Workload == "" && ev.LabelEvent == "") {
		fail("feed %q, operation %q, workload %q: all must be set", ev.Feed, ev.Operation, ev.Workload)
	}
	if ev.Time.IsZero() || ev.Time.Location() != time.UTC {
		fail("time %v is not UTC", ev.Time)
	}
	if ev.User == "" || ev.User != strings.ToLower(ev.User) || strings.TrimSpace(ev.User) != ev.User {
		fail("user %q is not a trimmed lower-case UPN", ev.User)
	}
	if ev.Actor != strings.ToLower(ev.Actor) {
		fail("actor %q is not lower-case", ev.Actor)
	}
	if ev.FileExt != strings.ToLower(ev.FileExt) || strings.HasPrefix(ev.FileExt, ".") {
		fail("file_ext %q", ev.FileExt)
	}
	if ev.TargetDomain != strings.ToLower(ev.TargetDomain) || strings.ContainsAny(ev.TargetDomain, "/:@ ") {
		fail("target_domain %q", ev.TargetDomain)
	}
	for _, r := range ev.Recipients {
		if r != strings.ToLower(r) || r == "" {
			fail("recipient %q", r)
		}
	}
	if ev.Severity != strings.ToLower(ev.Severity) || ev.Status != strings.ToLower(ev.Status) {
		fail("severity %q / status %q not lower-case", ev.Severity, ev.Status)
	}
	switch ev.LabelEvent {
	case "", event.LabelUpgraded, event.LabelDowngraded, event.LabelRemoved, event.LabelChanged:
	default:
		fail("label_event %q", ev.LabelEvent)
	}
	if ev.Size < 0 {
		fail("size %d", ev.Size)
	}
	if !json.Valid(ev.Raw) {
		fail("raw is not valid JSON: %.80q", ev.Raw)
	}
	if ev.Feed == event.FeedHR {
		if ev.HR == nil || ev.HR.Scenario != ev.Operation || !ev.HR.EffectiveDate.Equal(ev.Time) {
			fail("hr %+v does not match the event", ev.HR)
		}
	} else if ev.HR != nil {
		fail("hr set on a %s event", ev.Feed)
	}
	// The event must survive a JSON round trip (the UI and `irm events -json` print it).
	b, err := json.Marshal(ev)
	if err != nil {
		fail("marshal: %v", err)
		return
	}
	var back event.Event
	if err := json.Unmarshal(b, &back); err != nil {
		fail("unmarshal: %v", err)
	}
}

// TestFeedsExpected parses every sample file of every feed: all records are good, the
// events keep the model's invariants, IDs are unique, and the counts per feed are those
// in testdata/feeds/expected.json (which the pipeline tests also use).
func TestFeedsExpected(t *testing.T) {
	var want map[string]int
	b, err := os.ReadFile("../testdata/feeds/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	got := map[string]int{}
	for _, feed := range event.Feeds {
		files, _ := filepath.Glob(filepath.Join("../testdata/feeds", feed, "*"))
		if len(files) == 0 {
			t.Errorf("no sample files for feed %s", feed)
		}
		for _, path := range files {
			p := parseFile(t, feed, path, ParseOptions{})
			if p.err != nil || len(p.rejects) > 0 {
				t.Errorf("%s: rejects %v, error %v", path, p.rejects, p.err)
			}
			for i := range p.events {
				ev := &p.events[i]
				checkEvent(t, path, ev)
				// Raw is kept after the parse, so it must still be the event's own record.
				var mark string
				switch feed {
				case event.FeedAudit, event.FeedDLP, event.FeedDefender:
					mark = ev.ID
				case event.FeedBadging:
					mark = ev.Asset
				case event.FeedHR:
					mark = ev.HR.Rating + ev.HR.NewLevel
				}
				if !bytes.Contains(ev.Raw, []byte(mark)) {
					t.Errorf("%s: raw of %s is another record: %.100s", path, ev.ID, ev.Raw)
				}
				if ev.Feed != feed {
					t.Errorf("%s: event feed %q", path, ev.Feed)
				}
				if prev, dup := ids[ev.ID]; dup {
					t.Errorf("%s: id %s already used in %s", path, ev.ID, prev)
				}
				ids[ev.ID] = path
			}
			got[feed] += len(p.events)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events per feed = %v, expected.json says %v", got, want)
	}
}

// TestFeedsCoverage checks that the samples exercise what the issue lists.
func TestFeedsCoverage(t *testing.T) {
	ops := map[string]bool{}
	labelEvents := map[string]bool{}
	scenarios := map[string]bool{}
	for _, feed := range event.Feeds {
		files, _ := filepath.Glob(filepath.Join("../testdata/feeds", feed, "*"))
		for _, path := range files {
			for _, ev := range parseFile(t, feed, path, ParseOptions{}).events {
				ops[ev.Operation] = true
				labelEvents[ev.LabelEvent] = true
				if ev.HR != nil {
					scenarios[ev.HR.Scenario] = true
				}
			}
		}
	}
	for _, op := range []string{"FileDownloaded", "FileSyncDownloadedFull", "FileUploaded", "FileAccessed",
		"FileDeleted", "FileRecycled", "SharingSet", "AnonymousLinkCreated", "AddedToSecureLink",
		"FileSensitivityLabelChanged", "FileSensitivityLabelRemoved", "Send", "UserLoggedIn", "UserLoginFailed",
		"Delete user.", "FileCopiedToRemovableMedia", "FileCreatedOnRemovableMedia", "FilePrinted",
		"FileUploadedToCloud", "FileCopiedToNetworkShare", "FileCopiedToClipboard", "FileCopiedToRemoteDesktopSession",
		"FileDownloadedFromBrowser", "FileRenamed", "FileArchived", "RemovableMediaMount", "WebsiteVisited",
		"DlpRuleMatch", OperationPhysicalAccess, OperationSecurityAlert,
		event.HRResignation, event.HRJobLevelChange, event.HRPerformanceReview, event.HRImprovementPlan} {
		if !ops[op] {
			t.Errorf("no sample event with operation %q", op)
		}
	}
	for _, le := range []string{event.LabelUpgraded, event.LabelDowngraded, event.LabelRemoved, event.LabelChanged} {
		if !labelEvents[le] {
			t.Errorf("no sample label event %q", le)
		}
	}
	if len(scenarios) != 4 {
		t.Errorf("HR scenarios in samples: %v", scenarios)
	}
}

// TestReadersAgree feeds every sample and bad file through readers that return one
// byte, half a buffer, or an error with the last bytes: framing across buffer
// boundaries must not change anything.
func TestReadersAgree(t *testing.T) {
	var files [][2]string
	for _, dir := range []string{"../testdata/feeds", "../testdata/bad"} {
		for _, feed := range event.Feeds {
			paths, _ := filepath.Glob(filepath.Join(dir, feed, "*"))
			for _, p := range paths {
				files = append(files, [2]string{feed, p})
			}
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f[1])
		if err != nil {
			t.Fatal(err)
		}
		base := parseAll(f[0], bytes.NewReader(data), ParseOptions{})
		for name, r := range map[string]io.Reader{
			"onebyte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":    iotest.HalfReader(bytes.NewReader(data)),
			"dataerr": iotest.DataErrReader(bytes.NewReader(data)),
		} {
			got := parseAll(f[0], r, ParseOptions{})
			if !sameParse(base, got) {
				t.Errorf("%s with %s reader:\n got %s\nwant %s", f[1], name, summarize(got), summarize(base))
			}
		}
	}
}

func sameParse(a, b parsed) bool {
	if (a.err == nil) != (b.err == nil) || (a.err != nil && a.err.Error() != b.err.Error()) {
		return false
	}
	return reflect.DeepEqual(a.events, b.events) && reflect.DeepEqual(a.rejects, b.rejects)
}

func summarize(p parsed) string {
	return fmt.Sprintf("%d events, rejects %v, error %v", len(p.events), p.rejects, p.err)
}

// badWant is the expected outcome of one file in testdata/bad/.
type badWant struct {
	Events  int      `json:"events"`
	Rejects []string `json:"rejects,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// TestBadInput parses every file in testdata/bad/<feed>/ and compares the outcome with
// testdata/bad/expected.json (go test -run TestBadInput -update rewrites it).
func TestBadInput(t *testing.T) {
	const golden = "../testdata/bad/expected.json"
	got := map[string]badWant{}
	for _, feed := range event.Feeds {
		paths, _ := filepath.Glob(filepath.Join("../testdata/bad", feed, "*"))
		for _, path := range paths {
			p := parseFile(t, feed, path, ParseOptions{})
			w := badWant{Events: len(p.events)}
			for _, r := range p.rejects {
				w.Rejects = append(w.Rejects, r.Error())
			}
			if p.err != nil {
				w.Error = p.err.Error()
				if len(p.events) > 0 {
					t.Errorf("%s: error %v after %d events were emitted", path, p.err, len(p.events))
				}
			}
			for i := range p.events {
				checkEvent(t, path, &p.events[i])
			}
			rel, _ := filepath.Rel("../testdata/bad", path)
			got[filepath.ToSlash(rel)] = w
		}
	}
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./ingest -run TestBadInput -update)", err)
	}
	var want map[string]badWant
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range got {
		names = append(names, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		if !reflect.DeepEqual(got[k], want[k]) {
			g, _ := json.MarshalIndent(got[k], "", "  ")
			w, _ := json.MarshalIndent(want[k], "", "  ")
			t.Errorf("%s:\n got %s\nwant %s", k, g, w)
		}
	}
}

func TestUnknownFeed(t *testing.T) {
	_, err := Parse("teams", strings.NewReader("[]"), ParseOptions{}, func(*event.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "unknown feed") {
		t.Fatalf("err = %v", err)
	}
}

// TestEmitErrorStops checks that an error from emit ends the parse and is returned.
func TestEmitErrorStops(t *testing.T) {
	stop := errors.New("store is full")
	for _, feed := range event.Feeds {
		paths, _ := filepath.Glob(filepath.Join("../testdata/feeds", feed, "*"))
		f, err := os.Open(paths[0])
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		_, err = Parse(feed, f, ParseOptions{}, func(*event.Event) error { calls++; return stop })
		f.Close()
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("%s: err %v after %d calls", feed, err, calls)
		}
	}
}

func TestReadError(t *testing.T) {
	data, err := os.ReadFile("../testdata/feeds/audit/sharepoint.json")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	for _, feed := range []string{event.FeedAudit, event.FeedHR} {
		r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(boom))
		if feed == event.FeedHR {
			hr, _ := os.ReadFile("../testdata/feeds/hr/performance-review.csv")
			r = io.MultiReader(bytes.NewReader(hr[:len(hr)-10]), iotest.ErrReader(boom))
		}
		p := parseAll(feed, r, ParseOptions{})
		if !errors.Is(p.err, boom) {
			t.Errorf("%s: err = %v, want the read error", feed, p.err)
		}
	}
}

func TestRecordErrorString(t *testing.T) {
	for _, c := range []struct {
		e    RecordError
		want string
	}{
		{RecordError{Line: 12, Record: 11, Field: "CreationTime", Reason: `not a time: "x"`}, `line 12 (record 11): CreationTime: not a time: "x"`},
		{RecordError{Line: 3, Reason: "malformed JSON"}, "line 3: malformed JSON"},
		{RecordError{Record: 2, Reason: "bad"}, "record 2: bad"},
		{RecordError{Reason: "bad"}, "bad"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.e, got, c.want)
		}
	}
}

func TestParseFeedTime(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	for in, want := range map[string]time.Time{
		"2026-11-12T17:40:03":                utc("2026-11-12T17:40:03Z"),
		"2026-11-12T17:40:03Z":               utc("2026-11-12T17:40:03Z"),
		"2026-11-12T17:40:03.1234567":        utc("2026-11-12T17:40:03.1234567Z"),
		"2026-11-12T17:40:03.4675041+05:30":  utc("2026-11-12T12:10:03.4675041Z"),
		"2026-11-12T17:40:03-0500":           utc("2026-11-12T22:40:03Z"),
		"2026-11-12 17:40:03":                utc("2026-11-12T17:40:03Z"),
		"2026-11-12T17:40":                   utc("2026-11-12T17:40:00Z"),
		"2026-11-12":                         utc("2026-11-12T00:00:00Z"),
		" 2026-11-12T17:40:03Z ":             utc("2026-11-12T17:40:03Z"),
		"2024-02-29T00:00:00":                utc("2024-02-29T00:00:00Z"),
		"2026-11-12T17:40:03.441000000Z":     utc("2026-11-12T17:40:03.441Z"),
		"2026-11-12T17:40:03.4410000+00:00":  utc("2026-11-12T17:40:03.441Z"),
		"2026-11-12T23:40:03.4410000-02:00":  utc("2026-11-13T01:40:03.441Z"),
		"2026-11-12T17:40:03.000000001Z":     utc("2026-11-12T17:40:03.000000001Z"),
		"2026-11-12T17:40:03.0000000001Z":    utc("2026-11-12T17:40:03Z"),
		"1970-01-01T00:00:00Z":               utc("1970-01-01T00:00:00Z"),
		"2199-12-31T23:59:59.999999999Z":     utc("2199-12-31T23:59:59.999999999Z"),
		"2026-11-12T17:40:03.4675041+14:00":  utc("2026-11-12T03:40:03.4675041Z"),
		"2026-11-12T17:40:03.4675041 +05:30": {},
	} {
		got, err := parseFeedTime(in)
		if want.IsZero() {
			if err == nil {
				t.Errorf("%q: got %v, want an error", in, got)
			}
			continue
		}
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "12/11/2026", "2026-13-01", "2026-02-30", "2026-11-12T25:00:00",
		"1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "9999-12-31", "2026-11-12T17:40:03.", "2026-11-12T17:40:03Zjunk"} {
		if got, err := parseFeedTime(bad); err == nil {
			t.Errorf("%q: got %v, want an error", bad, got)
		}
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"https://WeTransfer.com/upload": "wetransfer.com", "wetransfer.com": "wetransfer.com",
		"http://x.example:8080/a?b": "x.example", "HTTPS://user@Host.Example./p": "host.example",
		"[2001:db8::1]:443": "[2001:db8::1]", "": "",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"Partner@Fabrikam.com": "fabrikam.com", "j.doe_fabrikam.com#EXT#@contoso.onmicrosoft.com": "fabrikam.com",
		"nobody": "", "x@": "",
	} {
		if got := emailDomain(in); got != want {
			t.Errorf("emailDomain(%q) = %q, want %q", in, got, want)
		}
	}
	for _, c := range [][3]string{
		{"", "Report.DOCX", "docx"}, {".PDF", "x", "pdf"}, {"", ".bashrc", ""}, {"", "noext", ""},
		{"", "archive.tar.gz", "gz"}, {"", "name.", ""}, {"XLSX", "", "xlsx"},
	} {
		if got := fileExt(c[0], c[1]); got != c[2] {
			t.Errorf("fileExt(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
	for in, want := range map[string]string{
		`C:\Users\a\Q4 Forecast.xlsx`: "Q4 Forecast.xlsx", "/home/a/x.txt": "x.txt", `\\nas01\public\p.zip`: "p.zip",
		"https://contoso.sharepoint.com/sites/F/Shared Documents/a.docx?web=1": "a.docx", "plain": "plain",
	} {
		if got := baseName(in); got != want {
			t.Errorf("baseName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := urlBaseName("https://x/Budget%202027.xlsx"); got != "Budget 2027.xlsx" {
		t.Errorf("urlBaseName = %q", got)
	}
	if got := normalizeToken(" In Progress "); got != "inprogress" {
		t.Errorf("normalizeToken = %q", got)
	}
	if got := accountFromObject("6cf3a41c7edf58808bb4b1e07c892a16Alice.Chen@contoso.com"); got != "alice.chen@contoso.com" {
		t.Errorf("accountFromObject = %q", got)
	}
}

// TestStreamingMemory parses a large generated file with an oversized record in the
// middle and checks that the read buffer stays bounded by the record limit, not the file.
func TestStreamingMemory(t *testing.T) {
	const max = 64 << 10
	for _, array := range []bool{true, false} {
		var b bytes.Buffer
		n := 0
		write := func(s string) {
			if array && n > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(s)
			if !array {
				b.WriteByte('\n')
			}
			n++
		}
		if array {
			b.WriteString("[\n")
		}
		for i := 0; i < 3000; i++ {
			if i == 1500 {
				// An oversized record: its fields are fine, it is just too big.
				write(fmt.Sprintf(`{"Id":"big","CreationTime":"2026-11-12T17:40:00","Operation":"FileAccessed","Workload":"SharePoint","UserId":"a@contoso.com","Pad":"%s"}`,
					strings.Repeat("x", 5*max)))
				continue
			}
			write(fmt.Sprintf(benchAuditRecord, i%60, i, i, i))
		}
		if array {
			b.WriteString("\n]\n")
		}
		jr, err := newJSONReader(bytes.NewReader(b.Bytes()), max)
		if err != nil {
			t.Fatal(err)
		}
		good, rejected, peak := 0, 0, 0
		for {
			it, ok, err := jr.next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if cap(jr.buf) > peak {
				peak = cap(jr.buf)
			}
			switch {
			case it.fatal != nil:
				t.Fatalf("fatal: %v", it.fatal)
			case it.reject != nil:
				rejected++
				if it.record != 1501 || !strings.Contains(it.reject.Reason, "longer than") {
					t.Errorf("reject %v", it.reject)
				}
			default:
				good++
			}
		}
		if good != 2999 || rejected != 1 {
			t.Errorf("array=%v: %d good, %d rejected", array, good, rejected)
		}
		if peak > 4*max {
			t.Errorf("array=%v: read buffer grew to %d bytes for a %d-byte limit", array, peak, max)
		}
	}
}

// TestLineNumbers checks that rejected records are reported on the line where they
// start, in pretty-printed arrays and across buffer refills.
func TestLineNumbers(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("[\n")
	wantLines := map[int]int{} // record -> line
	line := 2
	for i := 1; i <= 5000; i++ {
		user := `"UserId": "a@contoso.com",`
		if i%1000 == 0 {
			user = "" // rejected: missing user
			wantLines[i] = line
		}
		rec := fmt.Sprintf("  {\n    \"Id\": \"r%d\",\n    \"CreationTime\": \"2026-11-12T17:40:00\",\n    %s\n    \"Operation\": \"FileAccessed\",\n    \"Workload\": \"SharePoint\"\n  }", i, user)
		b.WriteString(rec)
		line += strings.Count(rec, "\n")
		if i < 5000 {
			b.WriteString(",\n")
			line++
		}
	}
	b.WriteString("\n]\n")
	p := parseAll(event.FeedAudit, &b, ParseOptions{})
	if p.err != nil || len(p.events) != 4995 || len(p.rejects) != 5 {
		t.Fatalf("%s", summarize(p))
	}
	for _, r := range p.rejects {
		if r.Line != wantLines[r.Record] || r.Field != "UserId" {
			t.Errorf("reject %v, want line %d", r, wantLines[r.Record])
		}
	}
}

func TestAuditOperationsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/feeds.md")
	if err != nil {
		t.Fatal(err)
	}
	for wl, ops := range AuditOperations() {
		for _, op := range ops {
			if !bytes.Contains(doc, []byte("`"+op+"`")) {
				t.Errorf("operation %q (%s) is accepted but not listed in docs/feeds.md", op, wl)
			}
		}
	}
}

// TestProfilesFromSamples folds the sample HR and account-deletion events into profiles,
// as the store does, and checks the story the samples tell.
func TestProfilesFromSamples(t *testing.T) {
	profiles := map[string]*event.Profile{}
	for _, feed := range []string{event.FeedHR, event.FeedAudit} {
		paths, _ := filepath.Glob(filepath.Join("../testdata/feeds", feed, "*"))
		for _, path := range paths {
			for _, ev := range parseFile(t, feed, path, ParseOptions{}).events {
				if ev.HR == nil && ev.Operation != "Delete user." {
					continue
				}
				p := profiles[ev.User]
				if p == nil {
					p = &event.Profile{}
					profiles[ev.User] = p
				}
				p.Apply(&ev)
			}
		}
	}
	alice := profiles["alice.chen@contoso.com"]
	if alice == nil || !alice.Departing() || alice.AccountDeleted.IsZero() ||
		!alice.LastWorkingDate.Equal(time.Date(2026, 11, 28, 11, 30, 0, 0, time.UTC)) {
		t.Errorf("alice: %+v", alice)
	}
	if bob := profiles["bob.smith@contoso.com"]; bob == nil || !bob.OnImprovementPlan() || bob.LatestRating != "1-Unsatisfactory" {
		t.Errorf("bob: %+v", bob)
	}
	if carol := profiles["carol.jones@contoso.com"]; carol == nil || len(carol.LevelChanges) != 1 || carol.Department != "HR" {
		t.Errorf("carol: %+v", carol)
	}
	if frank := profiles["frank.miller@contoso.com"]; frank == nil || frank.AccountDeleted.IsZero() || frank.ResignationDate.IsZero() {
		t.Errorf("frank: %+v", frank)
	}
	if gina := profiles["gina.park@contoso.com"]; gina == nil || gina.Manager != "henry.ng@contoso.com" || !gina.Departing() {
		t.Errorf("gina: %+v", gina)
	}
}

// TestHRRaw checks that an HR event keeps its row as a JSON object of the file's
// columns, and that the ID does not depend on the file's column names or date format.
func TestHRRaw(t *testing.T) {
	a := parseAll(event.FeedHR, strings.NewReader("EmailAddress,ResignationDate,LastWorkingDate\nIvan.Petrov@contoso.com,2026-11-21T12:00:00Z,2026-11-30\n"), ParseOptions{})
	b := parseAll(event.FeedHR, strings.NewReader("Last Day,Employee Email,Termination Date\n2026-11-30T00:00:00+00:00,ivan.petrov@contoso.com,2026-11-21T13:00:00+01:00\n"),
		ParseOptions{HRColumns: map[string]string{"EmailAddress": "Employee Email", "ResignationDate": "Termination Date", "LastWorkingDate": "Last Day"}})
	if a.err != nil || b.err != nil || len(a.events) != 1 || len(b.events) != 1 {
		t.Fatalf("%s / %s", summarize(a), summarize(b))
	}
	if a.events[0].ID != b.events[0].ID {
		t.Errorf("same row, different IDs: %s %s", a.events[0].ID, b.events[0].ID)
	}
	want := `{"Last Day":"2026-11-30T00:00:00+00:00","Employee Email":"ivan.petrov@contoso.com","Termination Date":"2026-11-21T13:00:00+01:00"}`
	if got := string(b.events[0].Raw); got != want {
		t.Errorf("raw = %s, want %s", got, want)
	}
}

// TestHRRemappedSample parses testdata/hr-remapped/ with its column map (the form of
// config [hr.columns]); without the map the same file fails as a whole.
func TestHRRemappedSample(t *testing.T) {
	b, err := os.ReadFile("../testdata/hr-remapped/columns.json")
	if err != nil {
		t.Fatal(err)
	}
	var cols map[string]string
	if err := json.Unmarshal(b, &cols); err != nil {
		t.Fatal(err)
	}
	p := parseFile(t, event.FeedHR, "../testdata/hr-remapped/terminations.csv", ParseOptions{HRColumns: cols})
	if p.err != nil || len(p.rejects) > 0 || len(p.events) != 2 {
		t.Fatalf("%s", summarize(p))
	}
	for i := range p.events {
		checkEvent(t, "terminations.csv", &p.events[i])
		if p.events[i].HR.Department == "" || p.events[i].HR.LastWorkingDate.IsZero() {
			t.Errorf("event %+v", p.events[i].HR)
		}
	}
	if p := parseFile(t, event.FeedHR, "../testdata/hr-remapped/terminations.csv", ParseOptions{}); p.err == nil {
		t.Errorf("without the column map: %s", summarize(p))
	}
}

// recordGenerator is an io.Reader that produces n audit records as a JSON array (or JSON
// lines) without holding the file in memory.
type recordGenerator struct {
	n, i  int
	array bool
	buf   []byte
	done  bool
}

func (g *recordGenerator) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.done:
			return 0, io.EOF
		case g.i == g.n:
			if g.array {
				g.buf = append(g.buf, "\n]\n"...)
			}
			g.done = true
		default:
			if g.array {
				if g.i == 0 {
					g.buf = append(g.buf, "[\n"...)
				} else {
					g.buf = append(g.buf, ",\n"...)
				}
			}
			g.buf = fmt.Appendf(g.buf, benchAuditRecord, g.i%60, g.i, g.i, g.i)
			if !g.array {
				g.buf = append(g.buf, '\n')
			}
			g.i++
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// TestParseConstantMemory streams 10,000 records through Parse and checks that the live
// heap stays far below what keeping 400 bytes per record would take.
func TestParseConstantMemory(t *testing.T) {
	for _, array := range []bool{true, false} {
		const n = 10000
		var peak uint64
		var ms runtime.MemStats
		count := 0
		rej, err := Parse(event.FeedAudit, &recordGenerator{n: n, array: array}, ParseOptions{}, func(ev *event.Event) error {
			count++
			if count%2500 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak {
					peak = ms.HeapAlloc
				}
			}
			return nil
		})
		if err != nil || len(rej) > 0 || count != n {
			t.Fatalf("array=%v: %d events, %v, %v", array, count, rej, err)
		}
		t.Logf("array=%v: peak live heap %d KiB", array, peak>>10)
		if peak > 4<<20 {
			t.Errorf("array=%v: live heap reached %d MiB while parsing", array, peak>>20)
		}
	}
}

func TestDaysIn(t *testing.T) {
	for year := 1970; year < 2200; year++ {
		for m := time.January; m <= time.December; m++ {
			if got, want := daysIn(m, year), time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("daysIn(%v, %d) = %d, want %d", m, year, got, want)
			}
		}
	}
}

// TestParsePanicIsAnError checks the safety net: a panic inside a parser fails the file,
// while a panic in emit is the caller's and propagates.
func TestParsePanicIsAnError(t *testing.T) {
	for _, feed := range event.Feeds {
		_, err := Parse(feed, panicReader{}, ParseOptions{}, func(*event.Event) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "internal parser error") {
			t.Errorf("%s: err = %v", feed, err)
		}
	}
	if _, err := Parse(event.FeedAudit, iotest.ErrReader(nil), ParseOptions{}, func(*event.Event) error { return nil }); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("a reader returning (0, nil) forever: err = %v", err)
	}
	defer func() {
		if p := recover(); p != "emit" {
			t.Errorf("recovered %v, want the emit panic", p)
		}
	}()
	f, err := os.Open("../testdata/feeds/audit/sharepoint.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	Parse(event.FeedAudit, f, ParseOptions{}, func(*event.Event) error { panic("emit") })
	t.Error("emit's panic was swallowed")
}

// panicReader stands in for a parser bug: it panics inside Parse.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("boom") }
