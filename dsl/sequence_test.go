package dsl_test

import (
	"testing"
	"time"

	"irm/dsl"
	"irm/event"
)

func TestSequenceTracker(t *testing.T) {
	sq := &dsl.Sequence{ID: "s", StepSets: [][]string{{"a"}, {"b"}, {"c"}}, Within: 24 * time.Hour, Link: "file"}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ev := func(id, file string, min int) *event.Event {
		return &event.Event{ID: id, User: "u@contoso.com", FileName: file, Time: t0.Add(time.Duration(min) * time.Minute)}
	}
	st := dsl.NewSequenceTracker(sq)
	add := func(e *event.Event, ids ...string) []dsl.SequenceHit {
		return st.Add(dsl.Matched{Event: e, Indicators: ids})
	}
	if h := add(ev("1", "F.docx", 0), "a"); h != nil {
		t.Fatal("hit after one step")
	}
	add(ev("2", "other.docx", 1), "b") // another file: no progress
	add(ev("3", "f.docx", 2), "b")     // same file, other case
	// One event matching both b and c advances by one step only.
	if h := add(ev("4", "f.docx", 3), "b", "c"); len(h) != 1 || h[0].Key != "f.docx" || len(h[0].Events) != 3 {
		t.Fatalf("hits = %+v, want one 3-step hit for f.docx", h)
	}
	// The chain is used up: another c does not complete it again.
	if h := add(ev("5", "f.docx", 4), "c"); h != nil {
		t.Fatalf("completed twice: %+v", h)
	}
	// Window: a then b then c more than 24h after a does not complete.
	add(ev("6", "g.docx", 10), "a")
	add(ev("7", "g.docx", 20), "b")
	if h := add(ev("8", "g.docx", 25*60), "c"); h != nil {
		t.Fatalf("completed outside the window: %+v", h)
	}
	// A newer start restarts the window.
	add(ev("9", "g.docx", 26*60), "a")
	add(ev("10", "g.docx", 27*60), "b")
	if h := add(ev("11", "g.docx", 28*60), "c"); len(h) != 1 {
		t.Fatalf("hits = %+v, want one", h)
	}
	// Events without a file name take no part in file-linked sequences.
	add(ev("12", "", 30*60), "a")
	if h := add(ev("13", "", 30*60+1), "b"); h != nil {
		t.Fatal("empty file names linked")
	}

	// Expire drops chains whose window has passed.
	add(ev("14", "h.docx", 40*60), "a")
	if st.Pending() == 0 {
		t.Fatal("no pending chain")
	}
	st.Expire(t0.Add(100 * time.Hour))
	if n := st.Pending(); n != 0 {
		t.Fatalf("%d chains pending after Expire", n)
	}

	// Link "user": different files chain.
	us := &dsl.Sequence{ID: "u", StepSets: [][]string{{"a"}, {"b"}}, Within: time.Hour, Link: "user"}
	st = dsl.NewSequenceTracker(us)
	st.Add(dsl.Matched{Event: ev("1", "x", 0), Indicators: []string{"a"}})
	if h := st.Add(dsl.Matched{Event: ev("2", "y", 5), Indicators: []string{"b"}}); len(h) != 1 || h[0].Key != "u@contoso.com" {
		t.Fatalf("user-linked hits = %+v", h)
	}
}

func TestFindSequencesCountsFiles(t *testing.T) {
	rs := loadBuiltin(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var evs []*event.Event
	for i, f := range []string{"a.docx", "b.docx", "c.docx"} {
		evs = append(evs,
			&event.Event{ID: "d" + f, Feed: "audit", Operation: "FileDownloaded", Workload: "SharePoint", FileName: f, Time: t0.Add(time.Duration(i) * time.Minute)},
			&event.Event{ID: "u" + f, Feed: "audit", Operation: "FileCopiedToRemovableMedia", Workload: "Endpoint", FileName: f, Time: t0.Add(time.Hour + time.Duration(i)*time.Minute)},
		)
	}
	hits := rs.FindSequences(evs, nil, nil, nil, rs.Sequence("download_then_exfiltrate"))
	if len(hits) != 3 {
		t.Fatalf("%d hits, want 3 (one per file): %+v", len(hits), hits)
	}
	seq := rs.Sequence("download_then_exfiltrate")
	if seq.Within != 7*24*time.Hour || seq.Link != "file" || seq.Thresholds[0] < 1 {
		t.Errorf("sequence fields: %+v", seq)
	}
}
