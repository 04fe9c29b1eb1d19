package dsl

import (
	"fmt"

	"cel.dev/cel-go/common/types"
)

// Novelty: the engine and `irm rules test` decide first_seen indicators with the same
// code. Match returns a first_seen indicator for every event matching its When; the
// caller then evaluates the event's key (FirstSeenKey), hashes it (KeyHash) and asks the
// user's NoveltyTracker whether the event is novel, giving it the number of days the
// user was active before the event's day.

// KeyHash hashes a first_seen key: 64-bit FNV-1a, the same on every run and machine, so
// that hashes may be stored. Distinct keys of one user colliding is negligible (2^-64
// per pair).
func KeyHash(key string) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime64
	}
	return h
}

// FirstSeenKey evaluates the first_seen key of the indicator for the input. The constant
// key (first_seen without key) is "". An evaluation error also gives "" and is recorded
// in Health under the indicator.
func (rs *RuleSet) FirstSeenKey(ind *Indicator, in *Input) string {
	if ind == nil || ind.FirstSeen == nil || ind.FirstSeen.prg == nil || in == nil || in.Event == nil {
		return ""
	}
	a := rs.activation(in)
	out, _, err := ind.FirstSeen.prg.Eval(a)
	release(a)
	if err == nil {
		if s, ok := out.(types.String); ok {
			return string(s)
		}
		err = fmt.Errorf("not a string: %v", out)
	}
	if r, ok := rs.indicators[ind.ID]; ok {
		r.fail("first_seen key: " + err.Error())
	}
	return ""
}

// noneSeen marks the absence of an earlier observation.
const noneSeen = int64(-1 << 63)

// seenAt is what a NoveltyTracker keeps per key: the time of the latest observation,
// and of the latest one before that time (observations sharing a timestamp do not make
// each other old: only events strictly before an event count).
type seenAt struct{ last, prev int64 }

// NoveltyTracker decides novelty for one user and one first_seen indicator;
// observations come in time order. It remembers every observation (novel or not) as
// long as it can still make a later one not novel, in a map from key hash to two
// timestamps that Reset empties without freeing, so that re-running a user's matches
// allocates nothing once the map has grown.
type NoveltyTracker struct {
	window    int64 // Days*24h in nanoseconds
	minActive int
	seen      map[uint64]seenAt
	pruneAt   int // prune keys out of the window when the map reaches this size
}

const minPrune = 64

// NewNoveltyTracker returns a tracker for the first_seen condition fs.
func NewNoveltyTracker(fs *FirstSeen) *NoveltyTracker {
	return &NoveltyTracker{window: int64(fs.Window()), minActive: fs.MinActiveDays,
		seen: map[uint64]seenAt{}, pruneAt: minPrune}
}

// Observe reports whether a matching event at t (unix nanoseconds) with key hash k is
// novel: no observation with the same key at a time in [t - Days*24h, t), and
// activeDays (the number of distinct UTC days the user was active among the Days days
// before t's day; the caller counts them) at least MinActiveDays. Every observation is
// remembered, novel or not.
func (n *NoveltyTracker) Observe(t int64, k uint64, activeDays int) bool {
	before := noneSeen
	e, ok := n.seen[k]
	if ok {
		if e.last < t {
			before = e.last
		} else {
			before = e.prev
		}
	}
	novel := activeDays >= n.minActive && (before == noneSeen || t-before > n.window)
	switch {
	case !ok:
		n.seen[k] = seenAt{last: t, prev: noneSeen}
	case e.last < t:
		n.seen[k] = seenAt{last: t, prev: e.last}
	}
	if len(n.seen) >= n.pruneAt {
		n.prune(t)
	}
	return novel
}

// prune forgets keys whose latest observation is out of the window at t: they can make
// no later observation old. The next prune waits until the map has doubled, so pruning
// costs O(1) per observation.
func (n *NoveltyTracker) prune(t int64) {
	for k, e := range n.seen {
		if t-e.last > n.window {
			delete(n.seen, k)
		}
	}
	n.pruneAt = max(minPrune, 2*len(n.seen))
}

// Reset forgets every observation (keeping the memory for the next run).
func (n *NoveltyTracker) Reset() {
	clear(n.seen)
	n.pruneAt = minPrune
}
