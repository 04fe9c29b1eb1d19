package dsl_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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

// TestStepOneEventTwoConsecutiveSteps: an event that matches two consecutive steps
// advances a chain by one step only, so it cannot complete a chain that had only
// reached the step before them.
func TestStepOneEventTwoConsecutiveSteps(t *testing.T) {
	sq := &dsl.Sequence{ID: "abc", StepSets: [][]string{{"a"}, {"b"}, {"c"}}, StepIx: [][]int{{0}, {1}, {2}}, Within: time.Hour, Link: "file"}
	st := dsl.NewSequenceTracker(sq)
	if c := st.Step(dsl.SeqInput{Time: 1, File: "f", Inds: []int{0}, Ref: 10}); c != nil {
		t.Fatalf("completed after step a: %+v", c)
	}
	if c := st.Step(dsl.SeqInput{Time: 2, File: "f", Inds: []int{1, 2}, Ref: 11}); c != nil {
		t.Fatalf("one event completed both b and c: %+v", c)
	}
	c := st.Step(dsl.SeqInput{Time: 2, File: "f", Inds: []int{2}, Ref: 12}) // may share b's timestamp
	if len(c) != 1 || !slices.Equal(c[0].Refs, []int{10, 11, 12}) || c[0].Start != 1 || c[0].End != 2 || c[0].Key != "f" || c[0].Sequence != sq {
		t.Fatalf("completion = %+v, want refs 10, 11, 12 from 1 to 2", c)
	}
	if st.Pending() != 0 {
		t.Fatalf("%d chains left after the completion", st.Pending())
	}
}

// TestStepUserLinkConsumesChain: for link "user" as for "file", a completed chain is
// used up; another last-step event needs a new first step.
func TestStepUserLinkConsumesChain(t *testing.T) {
	sq := &dsl.Sequence{ID: "ab", StepSets: [][]string{{"a"}, {"b"}}, StepIx: [][]int{{3}, {7}}, Within: time.Hour, Link: "user"}
	st := dsl.NewSequenceTracker(sq)
	steps := []struct {
		t    int64
		file string
		ind  int
		want []int // refs of the completion, nil for none
	}{
		{1, "x.docx", 3, nil},
		{2, "y.docx", 7, []int{0, 1}}, // other files: linked by user
		{3, "", 7, nil},               // chain consumed: no second completion
		{4, "", 7, nil},
		{5, "z.docx", 3, nil},
		{6, "", 7, []int{4, 5}},
	}
	for i, s := range steps {
		c := st.Step(dsl.SeqInput{Time: s.t, File: s.file, Inds: []int{s.ind}, Ref: i})
		if s.want == nil && c != nil || s.want != nil && (len(c) != 1 || !slices.Equal(c[0].Refs, s.want) || c[0].Key != "") {
			t.Fatalf("step %d: completions %+v, want refs %v", i, c, s.want)
		}
	}
}

// TestStepLatestStartAndWindow: per key and step the chain with the latest start is
// kept, and the whole chain must fit the window.
func TestStepLatestStartAndWindow(t *testing.T) {
	sq := &dsl.Sequence{ID: "ab", StepSets: [][]string{{"a"}, {"b"}}, StepIx: [][]int{{0}, {1}}, Within: 10, Link: "file"}
	st := dsl.NewSequenceTracker(sq)
	st.Step(dsl.SeqInput{Time: 0, File: "f", Inds: []int{0}, Ref: 1})
	st.Step(dsl.SeqInput{Time: 5, File: "f", Inds: []int{0}, Ref: 2})
	c := st.Step(dsl.SeqInput{Time: 15, File: "f", Inds: []int{1}, Ref: 3}) // 15 after the first a, 10 after the second
	if len(c) != 1 || !slices.Equal(c[0].Refs, []int{2, 3}) {
		t.Fatalf("completion = %+v, want refs 2, 3", c)
	}
	st.Step(dsl.SeqInput{Time: 20, File: "f", Inds: []int{0}, Ref: 4})
	if c := st.Step(dsl.SeqInput{Time: 31, File: "f", Inds: []int{1}, Ref: 5}); c != nil {
		t.Fatalf("completed 11 after the start with a window of 10: %+v", c)
	}
	// Step ignores inputs without indicators or without a file for link "file".
	if st.Step(dsl.SeqInput{Time: 32, File: "f"}) != nil || st.Step(dsl.SeqInput{Time: 33, Inds: []int{0}}) != nil || st.Pending() != 0 {
		t.Fatalf("pending %d", st.Pending())
	}
	st.Step(dsl.SeqInput{Time: 40, File: "g", Inds: []int{0}})
	st.Reset()
	if st.Pending() != 0 || st.Step(dsl.SeqInput{Time: 41, File: "g", Inds: []int{1}}) != nil {
		t.Fatal("Reset kept a chain")
	}
}

// TestIndicatorIndexAndStepIx: indices are positions in Indicators(), and every
// sequence's StepIx holds the indices of its StepSets.
func TestIndicatorIndexAndStepIx(t *testing.T) {
	rs := loadBuiltin(t)
	for i, ind := range rs.Indicators() {
		if ix, ok := rs.IndicatorIndex(ind.ID); !ok || ix != i {
			t.Errorf("IndicatorIndex(%s) = %d, %v; want %d", ind.ID, ix, ok, i)
		}
	}
	if _, ok := rs.IndicatorIndex("nope"); ok {
		t.Error("unknown id has an index")
	}
	for _, sq := range rs.Sequences() {
		if len(sq.StepIx) != len(sq.StepSets) {
			t.Fatalf("%s: %d StepIx for %d steps", sq.ID, len(sq.StepIx), len(sq.StepSets))
		}
		for k, set := range sq.StepSets {
			for j, id := range set {
				if ix, _ := rs.IndicatorIndex(id); sq.StepIx[k][j] != ix {
					t.Errorf("%s step %d: %s has index %d, StepIx says %d", sq.ID, k, id, ix, sq.StepIx[k][j])
				}
			}
		}
	}
}

// refTracker is the sequence tracker as it was before Step (events and id strings,
// a map of pointers per key), kept as an independent statement of the semantics.
type refTracker struct {
	seqs  []*dsl.Sequence
	state map[string]map[string][]*refPartial
}

type refPartial struct {
	start  int64
	events []int
}

func (rt *refTracker) add(tm int64, file, user string, ref int, inds []string) []dsl.SequenceHit {
	var hits []dsl.SequenceHit
	for _, sq := range rt.seqs {
		key := user
		if sq.Link != "user" {
			if key = file; key == "" {
				continue
			}
		}
		byKey := rt.state[sq.ID]
		if byKey == nil {
			byKey = map[string][]*refPartial{}
			rt.state[sq.ID] = byKey
		}
		parts := byKey[key]
		if parts == nil {
			parts = make([]*refPartial, len(sq.StepSets))
		}
		for i := len(sq.StepSets) - 1; i >= 0; i-- {
			if !slices.ContainsFunc(inds, func(id string) bool { return slices.Contains(sq.StepSets[i], id) }) {
				continue
			}
			if i == 0 {
				parts[0] = &refPartial{start: tm, events: []int{ref}}
				continue
			}
			prev := parts[i-1]
			if prev == nil || tm-prev.start > int64(sq.Within) {
				continue
			}
			next := &refPartial{start: prev.start, events: append(slices.Clip(prev.events), ref)}
			if i == len(sq.StepSets)-1 {
				var evs []string
				for _, e := range next.events {
					evs = append(evs, fmt.Sprint(e))
				}
				hits = append(hits, dsl.SequenceHit{Sequence: sq.ID, Key: key, Events: evs, Start: time.Unix(0, next.start).UTC(), End: time.Unix(0, tm).UTC()})
				for k := range parts {
					if parts[k] != nil && parts[k].start <= next.start {
						parts[k] = nil
					}
				}
				continue
			}
			if cur := parts[i]; cur == nil || cur.start <= next.start {
				parts[i] = next
			}
		}
		byKey[key] = parts
	}
	return hits
}

// TestTrackerAgreesWithReference: random streams of one user's matches through Add
// (hence Step) and through refTracker give the same completions.
func TestTrackerAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ids := []string{"a", "b", "c", "d", "e", "f"}
	for round := range 300 {
		var seqs []*dsl.Sequence
		for s := range 1 + r.IntN(4) {
			sq := &dsl.Sequence{ID: fmt.Sprint("s", s), Within: time.Duration(1+r.IntN(50)) * time.Minute, Link: []string{"file", "user"}[r.IntN(2)]}
			for range 2 + r.IntN(3) {
				var set []string
				for _, id := range ids {
					if r.IntN(3) == 0 {
						set = append(set, id)
					}
				}
				if set == nil {
					set = []string{ids[r.IntN(len(ids))]}
				}
				sq.StepSets = append(sq.StepSets, set)
			}
			seqs = append(seqs, sq)
		}
		st := dsl.NewSequenceTracker(seqs...)
		ref := &refTracker{seqs: seqs, state: map[string]map[string][]*refPartial{}}
		tm := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		for i := range 200 {
			if r.IntN(3) > 0 {
				tm = tm.Add(time.Duration(r.IntN(10)) * time.Minute)
			}
			var inds []string
			for _, id := range ids {
				if r.IntN(4) == 0 {
					inds = append(inds, id)
				}
			}
			file := []string{"", "x.docx", "X.DOCX", "y.docx", "z.zip"}[r.IntN(5)]
			ev := &event.Event{ID: fmt.Sprint(i), User: "u@contoso.com", FileName: file, Time: tm}
			got := st.Add(dsl.Matched{Event: ev, Indicators: inds})
			want := ref.add(tm.UnixNano(), strings.ToLower(file), ev.User, i, inds)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("round %d, event %d (%v at %s, file %q): tracker %+v, reference %+v", round, i, inds, tm.Format("15:04"), file, got, want)
			}
		}
	}
}
