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

// SequenceHit is one completed instance of a sequence, as Add and FindSequences report
// it.
type SequenceHit struct {
	Sequence   string
	Key        string   // the lower-case file name for link "file", the user for link "user"
	Events     []string // event ids, one per step
	Start, End time.Time
}

// SeqInput is one matched event as SequenceTracker.Step takes it: compact, so that the
// engine can feed its per-user index (no *event.Event, no indicator id strings).
type SeqInput struct {
	Time int64  // unix nanoseconds; inputs come in time order
	File string // lower-cased file name; "" = none (takes no part in file-linked sequences)
	Inds []int  // indices (RuleSet.IndicatorIndex) of the indicators the event matched
	Ref  int    // the caller's reference to the event, handed back in completions
}

// SeqCompletion is one completed instance of a sequence, as Step reports it.
type SeqCompletion struct {
	Sequence *Sequence
	// Key is the file name for link "file"; "" for link "user" (a tracker follows one
	// user).
	Key        string
	Refs       []int // the Ref of the event that completed each step, in step order
	Start, End int64 // times of the first and the last step
}

// noChain marks a step no chain has reached.
const noChain = int64(-1 << 63)

// SequenceTracker follows one user's matched events in time order and reports every
// sequence that completes. It is the one implementation of sequences: the engine feeds
// it through Step, and Add, FindSequences and the [[test]]s of sequences go through the
// same code.
//
// Semantics: steps must happen in order (a later step may share the timestamp of the
// earlier one, never precede it); one event completes at most one step of a chain (the
// steps are walked from the last to the first, so an event matching two consecutive
// steps advances a chain by one); the whole chain must fit within the sequence's
// window. For link "file", every step must concern the same file name (the caller
// lower-cases it); events without a file name take no part. For each key (file, or the
// user for link "user") and step only the chain with the latest start is kept: it has
// the most time left to complete. A completed chain is reported once and then consumed
// together with every chain of that key that started no later, for link "user" too: a
// second last-step event needs a new first step to complete the sequence again.
type SequenceTracker struct {
	seqs []*seqState
	live int // partial chains held, over all sequences and keys

	// For Add: indicator id -> index, the index buffer, and the event ids by ref.
	ids    map[string]int
	buf    []int
	addIDs []string
}

// seqState is the tracker's state for one sequence.
type seqState struct {
	sq     *Sequence
	n      int      // steps
	words  int      // uint64 words per step in mask
	mask   []uint64 // per step, the bitset of the indicator indices it accepts
	within int64
	user   bool

	// Chains by key, in flat slabs so that following a user allocates nothing once the
	// slabs have grown: chain c has starts[c*n+k] (the start of the chain that reached
	// step k, noChain if none) and refs[(c*n+k)*n : ...+k+1] (its refs).
	chains map[string]int
	starts []int64
	refs   []int
	free   []int
}

// NewSequenceTracker tracks the given sequences. Compiled sequences carry the
// indicator indices of their steps (Sequence.StepIx); for others (built by hand) the
// tracker numbers the ids of their steps itself, which Add understands.
func NewSequenceTracker(seqs ...*Sequence) *SequenceTracker {
	st := &SequenceTracker{ids: map[string]int{}}
	next := 0
	for _, sq := range seqs {
		if len(sq.StepIx) == len(sq.StepSets) {
			for k, set := range sq.StepSets {
				for j, id := range set {
					st.ids[id] = sq.StepIx[k][j]
					next = max(next, sq.StepIx[k][j]+1)
				}
			}
		}
	}
	for _, sq := range seqs {
		steps := sq.StepIx
		if len(steps) != len(sq.StepSets) {
			steps = make([][]int, len(sq.StepSets))
			for k, set := range sq.StepSets {
				for _, id := range set {
					ix, ok := st.ids[id]
					if !ok {
						ix = next
						st.ids[id] = ix
						next++
					}
					steps[k] = append(steps[k], ix)
				}
			}
		}
		within := int64(sq.Within)
		if within <= 0 {
			within = int64(7 * 24 * time.Hour)
		}
		ss := &seqState{sq: sq, n: len(steps), within: within, user: sq.Link == "user", chains: map[string]int{}}
		for _, set := range steps {
			for _, ix := range set {
				ss.words = max(ss.words, ix/64+1)
			}
		}
		ss.mask = make([]uint64, ss.n*ss.words)
		for k, set := range steps {
			for _, ix := range set {
				ss.mask[k*ss.words+ix/64] |= 1 << (ix % 64)
			}
		}
		if ss.n > 0 {
			st.seqs = append(st.seqs, ss)
		}
	}
	return st
}

// matches reports whether one of the indicator indices is accepted by step k.
func (ss *seqState) matches(k int, inds []int) bool {
	m := ss.mask[k*ss.words : (k+1)*ss.words]
	for _, ix := range inds {
		if ix >= 0 && ix/64 < len(m) && m[ix/64]&(1<<(ix%64)) != 0 {
			return true
		}
	}
	return false
}

// alloc returns a chain with no step reached, reusing a freed one when it can.
func (ss *seqState) alloc() int {
	if k := len(ss.free); k > 0 {
		c := ss.free[k-1]
		ss.free = ss.free[:k-1]
		return c
	}
	c := len(ss.starts) / ss.n
	for range ss.n {
		ss.starts = append(ss.starts, noChain)
	}
	ss.refs = append(ss.refs, make([]int, ss.n*ss.n)...)
	return c
}

// Step feeds one matched event (inputs must come in time order) and returns the
// sequences it completes (nil when none; each completion's Refs is its own slice).
func (st *SequenceTracker) Step(in SeqInput) []SeqCompletion {
	if len(in.Inds) == 0 {
		return nil
	}
	var out []SeqCompletion
	for _, ss := range st.seqs {
		out = st.step(ss, in, out)
	}
	return out
}

func (st *SequenceTracker) step(ss *seqState, in SeqInput, out []SeqCompletion) []SeqCompletion {
	key := ""
	if !ss.user {
		if in.File == "" {
			return out
		}
		key = in.File
	}
	c, ok := ss.chains[key]
	if !ok {
		// Without a chain only a first step can start one.
		if !ss.matches(0, in.Inds) {
			return out
		}
		c = ss.alloc()
		ss.chains[key] = c
	}
	n, t := ss.n, in.Time
	starts := ss.starts[c*n : (c+1)*n]
	refs := ss.refs[c*n*n : (c+1)*n*n]
	// From the last step to the first, so that one event advances a chain by one step.
	for k := n - 1; k >= 0; k-- {
		if !ss.matches(k, in.Inds) {
			continue
		}
		if k == 0 {
			if starts[0] == noChain {
				st.live++
			}
			starts[0], refs[0] = t, in.Ref
			continue
		}
		prev := starts[k-1]
		if prev == noChain || t-prev > ss.within {
			continue
		}
		from := refs[(k-1)*n : (k-1)*n+k]
		if k == n-1 {
			done := make([]int, n)
			copy(done, from)
			done[k] = in.Ref
			out = append(out, SeqCompletion{Sequence: ss.sq, Key: key, Refs: done, Start: prev, End: t})
			// The chains that led here are used up.
			for j := range starts {
				if starts[j] != noChain && starts[j] <= prev {
					starts[j] = noChain
					st.live--
				}
			}
			continue
		}
		if cur := starts[k]; cur == noChain || cur <= prev {
			if cur == noChain {
				st.live++
			}
			starts[k] = prev
			copy(refs[k*n:], from)
			refs[k*n+k] = in.Ref
		}
	}
	st.forget(ss, key, c, t)
	return out
}

// forget drops the steps of chain c whose window has passed at now, and the chain
// itself when no step is left.
func (st *SequenceTracker) forget(ss *seqState, key string, c int, now int64) {
	starts := ss.starts[c*ss.n : (c+1)*ss.n]
	empty := true
	for j, s := range starts {
		if s != noChain && now-s > ss.within {
			starts[j] = noChain
			st.live--
		}
		empty = empty && starts[j] == noChain
	}
	if empty {
		delete(ss.chains, key)
		ss.free = append(ss.free, c)
	}
}

// Expire forgets the partial chains that can no longer complete by now (their window
// has passed), for a long-running tracker whose files stop appearing. Expiring never
// changes what completes later.
func (st *SequenceTracker) Expire(now time.Time) {
	t := now.UnixNano()
	for _, ss := range st.seqs {
		for key, c := range ss.chains {
			st.forget(ss, key, c, t)
		}
	}
}

// Reset forgets every chain (keeping the memory, for the next user or run).
func (st *SequenceTracker) Reset() {
	for _, ss := range st.seqs {
		clear(ss.chains)
		ss.starts, ss.refs, ss.free = ss.starts[:0], ss.refs[:0], ss.free[:0]
	}
	st.live = 0
	st.addIDs = st.addIDs[:0]
}

// Pending returns the number of partial chains held (for tests and metrics).
func (st *SequenceTracker) Pending() int { return st.live }

// Add feeds one matched event (events must come in time order) and returns the
// sequences it completes. It is Step for callers that have events and indicator ids.
func (st *SequenceTracker) Add(m Matched) []SequenceHit {
	if len(m.Indicators) == 0 || m.Event == nil {
		return nil
	}
	st.buf = st.buf[:0]
	for _, id := range m.Indicators {
		if ix, ok := st.ids[id]; ok {
			st.buf = append(st.buf, ix)
		}
	}
	if len(st.buf) == 0 {
		return nil
	}
	// Refs index addIDs; when no chain is held, no ref is either.
	if st.live == 0 {
		st.addIDs = st.addIDs[:0]
	}
	ref := len(st.addIDs)
	st.addIDs = append(st.addIDs, m.Event.ID)
	cs := st.Step(SeqInput{Time: m.Event.Time.UnixNano(), File: strings.ToLower(m.Event.FileName), Inds: st.buf, Ref: ref})
	if len(cs) == 0 {
		return nil
	}
	hits := make([]SequenceHit, len(cs))
	for i, c := range cs {
		h := SequenceHit{Sequence: c.Sequence.ID, Key: c.Key, Start: time.Unix(0, c.Start).UTC(), End: time.Unix(0, c.End).UTC()}
		if c.Sequence.Link == "user" {
			h.Key = m.Event.User
		}
		for _, r := range c.Refs {
			h.Events = append(h.Events, st.addIDs[r])
		}
		hits[i] = h
	}
	return hits
}

// FindSequences runs Match over one user's events (sorted by time here) and returns
// every completed instance of the given sequences (all of the set's when none given).
// It is what the [[test]]s of sequences run; the engine feeds a SequenceTracker with
// the matches it already has (Step).
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
