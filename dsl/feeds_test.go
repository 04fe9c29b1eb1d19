package dsl

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"irm/event"
	"irm/ingest"
	"irm/rules"
)

// FeedEvents parses every file of testdata/feeds with the real parsers, in time order.
func FeedEvents(t testing.TB) []*event.Event {
	t.Helper()
	var evs []*event.Event
	for _, feed := range event.Feeds {
		files, err := filepath.Glob(filepath.Join("..", "testdata", "feeds", feed, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ingest.Parse(feed, fh, ingest.ParseOptions{}, func(ev *event.Event) error {
				c := *ev
				c.Raw = nil
				evs = append(evs, &c)
				return nil
			})
			fh.Close()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	if len(evs) == 0 {
		t.Fatal("no events in testdata/feeds")
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs
}

// FeedLists are settings lists that make the testdata stream exercise the list rules.
var FeedLists = map[string][]string{
	"unallowed_domains":   {"*.warez.example", "torrents.example"},
	"third_party_domains": {"*.salesforce.com"},
	"priority_assets":     {"DC-01"},
}

// matchAll evaluates every indicator, ignoring the index: the reference for Match.
func (rs *RuleSet) matchAll(in *Input) []string {
	a := rs.activation(in)
	defer release(a)
	var out []string
	for _, id := range rs.indOrder {
		r := rs.indicators[id]
		if r.feeds != nil && !slices.Contains(r.feeds, in.Event.Feed) {
			continue
		}
		if r.eval(a) {
			out = append(out, id)
		}
	}
	return out
}

// TestIndexMatchesBruteForce checks that the candidate index never drops a match: over
// the parsed testdata stream and every event of the built-in tests, Match must equal
// evaluating every indicator.
func TestIndexMatchesBruteForce(t *testing.T) {
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
	matched := 0
	for _, in := range inputs {
		got, want := rs.Match(in), rs.matchAll(in)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s %s: Match = %v, every rule = %v", in.Event.Feed, in.Event.Operation, in.Event.FileName, got, want)
		}
		matched += len(got)
	}
	if matched == 0 {
		t.Fatal("nothing matched at all")
	}
	// Most built-ins must be indexed by operation, or the index is not doing its job.
	indexed := 0
	for _, ind := range rs.Indicators() {
		if ind.Operations != nil {
			indexed++
		}
	}
	if indexed < len(rs.Indicators())-3 {
		t.Errorf("only %d of %d indicators are indexed by operation", indexed, len(rs.Indicators()))
	}
}

// TestFeedsMatch checks the catalog against the real parsers' output: each of these
// indicators matches at least one event of testdata/feeds.
func TestFeedsMatch(t *testing.T) {
	rs, err := Load(rules.FS, "", Options{OrgDomains: TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range FeedEvents(t) {
		for _, id := range rs.Match(&Input{Event: ev, Lists: FeedLists}) {
			seen[id]++
		}
	}
	for _, id := range []string{
		"sharepoint_download", "sharepoint_sync_download", "onedrive_download", "onedrive_sync_download",
		"share_file_external", "anonymous_link", "label_downgraded", "label_removed", "sharepoint_file_deleted",
		"email_external_attachments", "email_free_public_domain", "copy_to_usb", "usb_mount", "print_file",
		"upload_to_cloud", "copy_to_network_share", "copy_to_clipboard", "copy_to_remote_desktop",
		"file_renamed_device", "hidden_file_created", "file_deleted_device", "file_archived",
		"defender_defense_evasion", "defender_unwanted_software", "defender_malware", "dlp_high_severity",
	} {
		if seen[id] == 0 {
			t.Errorf("%s matched no event of testdata/feeds", id)
		}
	}
}
