package dsl

import (
	"slices"
	"sort"
	"strings"
	"time"

	"irm/event"
)

// Matched is one event with the ids of the indicators it matched (from Match).
type Matched struct {
	Event      *event.Event
	Indicators []string
}

// SequenceHit is one completed instance of a sequence.
type SequenceHit struct {
	Sequence   string
	Key        string   // the lower-case file name for link "file", the user for link "user"
	Events     []string // event ids, one per step
	Start, End time.Time
}

// partial is a chain that has completed steps [0, step].
type partial struct {
	step   int
	start  time.Time
	events []string
}

// SequenceTracker follows one user's matched events in time order and reports every
// sequence that completes. Steps must happen in order (a later step may share the
// timestamp of the earlier one, never precede it), one event completes at most one step
// of a chain, and the whole chain must fit within the sequence's window. For link
// "file", every step must concern the same file name (case-insensitive); events without
// a file name take no part. Per key and step only the chain with the latest start is
// kept: it has the most time left to complete. A completed chain is reported once and
// then forgotten, so the same file can complete the sequence again later.
type SequenceTracker struct {
	seqs  []*Sequence
	state map[string]map[string][]*partial // sequence id -> key -> partial per step
}

// NewSequenceTracker tracks the given sequences.
func NewSequenceTracker(seqs ...*Sequence) *SequenceTracker {
	return &SequenceTracker{seqs: seqs, state: map[string]map[string][]*partial{}}
}

// Add feeds one matched event (events must come in time order) and returns the
// sequences it completes.
func (st *SequenceTracker) Add(m Matched) []SequenceHit {
	if len(m.Indicators) == 0 || m.Event == nil {
		return nil
	}
	var hits []SequenceHit
	for _, sq := range st.seqs {
		key := m.Event.User
		if sq.Link != "user" {
			key = strings.ToLower(m.Event.FileName)
			if key == "" {
				continue
			}
		}
		byKey := st.state[sq.ID]
		if byKey == nil {
			byKey = map[string][]*partial{}
			st.state[sq.ID] = byKey
		}
		parts := byKey[key]
		if parts == nil {
			parts = make([]*partial, len(sq.StepSets))
		}
		t := m.Event.Time
		// Walk steps backwards so that one event advances a chain by one step only.
		for i := len(sq.StepSets) - 1; i >= 0; i-- {
			if !matchesStep(sq.StepSets[i], m.Indicators) {
				continue
			}
			if i == 0 {
				parts[0] = &partial{step: 0, start: t, events: []string{m.Event.ID}}
				continue
			}
			prev := parts[i-1]
			if prev == nil || t.Sub(prev.start) > sq.Within || slices.Contains(prev.events, m.Event.ID) {
				continue
			}
			next := &partial{step: i, start: prev.start, events: append(slices.Clip(prev.events), m.Event.ID)}
			if i == len(sq.StepSets)-1 {
				hits = append(hits, SequenceHit{Sequence: sq.ID, Key: key, Events: next.events, Start: next.start, End: t})
				// The chains that led here are used up.
				for k := range parts {
					if parts[k] != nil && !parts[k].start.After(next.start) {
						parts[k] = nil
					}
				}
				continue
			}
			if cur := parts[i]; cur == nil || !cur.start.After(next.start) {
				parts[i] = next
			}
		}
		// Forget chains whose window has passed.
		empty := true
		for k, p := range parts {
			if p != nil && t.Sub(p.start) > sq.Within {
				parts[k] = nil
			}
			if parts[k] != nil {
				empty = false
			}
		}
		if empty {
			delete(byKey, key)
		} else {
			byKey[key] = parts
		}
	}
	return hits
}

// Expire forgets the partial chains that can no longer complete by now (their window
// has passed), for a long-running tracker whose files stop appearing.
func (st *SequenceTracker) Expire(now time.Time) {
	for _, sq := range st.seqs {
		byKey := st.state[sq.ID]
		for key, parts := range byKey {
			live := false
			for k, p := range parts {
				if p != nil && now.Sub(p.start) > sq.Within {
					parts[k] = nil
				}
				live = live || parts[k] != nil
			}
			if !live {
				delete(byKey, key)
			}
		}
	}
}

// Pending returns the number of partial chains held (for tests and metrics).
func (st *SequenceTracker) Pending() int {
	n := 0
	for _, byKey := range st.state {
		for _, parts := range byKey {
			for _, p := range parts {
				if p != nil {
					n++
				}
			}
		}
	}
	return n
}

func matchesStep(set, matched []string) bool {
	for _, id := range matched {
		if slices.Contains(set, id) {
			return true
		}
	}
	return false
}

// FindSequences runs Match over one user's events (sorted by time here) and returns
// every completed instance of the given sequences (all of the set's when none given).
// It is the reference the [[test]] runner uses; the engine may use SequenceTracker
// directly with matches it already has.
func (rs *RuleSet) FindSequences(evs []*event.Event, profile *event.Profile, groups []string, lists map[string][]string, seqs ...*Sequence) []SequenceHit {
	if len(seqs) == 0 {
		seqs = rs.Sequences()
	}
	sorted := slices.Clone(evs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	st := NewSequenceTracker(seqs...)
	var hits []SequenceHit
	for _, ev := range sorted {
		ids := rs.Match(&Input{Event: ev, User: profile, PriorityGroups: groups, Lists: lists})
		hits = append(hits, st.Add(Matched{Event: ev, Indicators: ids})...)
	}
	return hits
}
