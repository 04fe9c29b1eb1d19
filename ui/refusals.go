package ui

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"irm/store"
)

// refusalLog keeps anonymous sign-in failures from flooding the audit log. The first
// refusal from a client address or for a name within a window (refusalWindow, aligned
// to the clock) is written at once; every further refusal from that address or for
// that name in the window is only counted, and one summary entry per group is written
// when the window closes. At most refusalGroups groups start per window: beyond that,
// refusals (say, from an attacker rotating addresses and names) go into one overflow
// summary. So an attacker adds at most 2×refusalGroups+1 entries per window however
// many requests they send, while an auditor still sees every kind of refusal and when.
type refusalLog struct {
	db  *store.DB
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	start    time.Time // of the current window
	groups   map[string]*refusalGroup
	order    []*refusalGroup
	overflow *refusalGroup
	timer    *time.Timer
}

const (
	refusalWindow = 10 * time.Minute
	refusalGroups = 50
	summaryKeys   = 10 // names and addresses listed per summary; the rest are counted
)

type refusalGroup struct {
	name, ip  string // of the first refusal, which was written at once
	count     int    // refusals after the first
	names     map[string]int
	ips       map[string]int
	reasons   map[string]int
	otherKeys int // refusals whose name or address did not fit in the lists
}

func newRefusalLog(db *store.DB, log *slog.Logger, now func() time.Time) *refusalLog {
	return &refusalLog{db: db, log: log, now: now, groups: map[string]*refusalGroup{}}
}

// record notes one refused sign-in: name (already cut to its limit), client address,
// and reason ("wrong password", "no such account", "locked out", ...).
func (l *refusalLog) record(name, ip, reason string) {
	now := l.now()
	l.mu.Lock()
	var due []*refusalGroup
	var dueStart time.Time
	if !l.start.IsZero() && !now.Before(l.start.Add(refusalWindow)) {
		due, dueStart = l.closeLocked()
	}
	if l.start.IsZero() {
		l.start = now.Truncate(refusalWindow)
		if l.timer == nil {
			l.timer = time.AfterFunc(l.start.Add(refusalWindow).Sub(now)+time.Second, l.flush)
		} else {
			l.timer.Reset(l.start.Add(refusalWindow).Sub(now) + time.Second)
		}
	}
	g := l.groups["ip\x00"+ip]
	if g == nil {
		g = l.groups["name\x00"+name]
	}
	first := false
	switch {
	case g != nil:
		g.add(name, ip, reason)
	case len(l.order) >= refusalGroups:
		if l.overflow == nil {
			l.overflow = newGroup("", "")
		}
		l.overflow.add(name, ip, reason)
	default:
		g = newGroup(name, ip)
		l.groups["ip\x00"+ip] = g
		l.groups["name\x00"+name] = g
		l.order = append(l.order, g)
		first = true
	}
	l.mu.Unlock()
	l.write(due, dueStart)
	if first {
		activity := "Sign-in failed"
		if isTokenName(name) {
			activity = "API token refused"
		} else if reason == reasonLocked {
			activity = "Sign-in refused: too many failures"
		}
		l.audit(name, activity, name, nil,
			fmt.Sprintf("%s; from %s (further refusals from this address or for this name until %s UTC are counted in one summary entry)",
				reason, ip, l.start.Add(refusalWindow).UTC().Format("15:04")))
	}
}

// isTokenName: the refusal is of an API token (apiauth.go), not of a sign-in.
func isTokenName(name string) bool {
	return strings.HasPrefix(name, tokenActorPrefix) || name == unknownToken
}

func newGroup(name, ip string) *refusalGroup {
	return &refusalGroup{name: name, ip: ip, names: map[string]int{}, ips: map[string]int{}, reasons: map[string]int{}}
}

func (g *refusalGroup) add(name, ip, reason string) {
	g.count++
	g.reasons[reason]++
	for _, kv := range []struct {
		m map[string]int
		k string
	}{{g.names, name}, {g.ips, ip}} {
		if _, ok := kv.m[kv.k]; ok || len(kv.m) < summaryKeys {
			kv.m[kv.k]++
		} else {
			g.otherKeys++
		}
	}
}

// closeLocked ends the current window and returns its groups that have something to
// summarise.
func (l *refusalLog) closeLocked() ([]*refusalGroup, time.Time) {
	var due []*refusalGroup
	for _, g := range l.order {
		if g.count > 0 {
			due = append(due, g)
		}
	}
	if l.overflow != nil {
		due = append(due, l.overflow)
	}
	start := l.start
	l.start, l.groups, l.order, l.overflow = time.Time{}, map[string]*refusalGroup{}, nil, nil
	return due, start
}

// flush writes the summaries of the current window if it has ended, or of everything
// pending when the server stops (Handler.Close).
func (l *refusalLog) flush() {
	l.mu.Lock()
	if l.start.IsZero() {
		l.mu.Unlock()
		return
	}
	due, start := l.closeLocked()
	l.mu.Unlock()
	l.write(due, start)
}

type refusalSummary struct {
	From      time.Time      `json:"from"`
	Until     time.Time      `json:"until"`
	Count     int            `json:"count"`
	Names     map[string]int `json:"names"`
	Addresses map[string]int `json:"addresses"`
	Reasons   map[string]int `json:"reasons"`
	Unlisted  int            `json:"unlisted,omitempty"` // refusals of names or addresses beyond the lists
}

func (l *refusalLog) write(due []*refusalGroup, start time.Time) {
	for _, g := range due {
		sum := refusalSummary{From: start.UTC(), Until: start.Add(refusalWindow).UTC(), Count: g.count,
			Names: g.names, Addresses: g.ips, Reasons: g.reasons, Unlisted: g.otherKeys}
		actor, what := g.name, "for this name or from this address after the first"
		if g.name == "" && g.ip == "" {
			actor, what = "", "beyond the first "+fmt.Sprint(refusalGroups)+" names and addresses"
		}
		details := fmt.Sprintf("%d more refused sign-ins %s between %s and %s UTC; names: %s; addresses: %s; reasons: %s",
			g.count, what, sum.From.Format("2006-01-02 15:04"), sum.Until.Format("15:04"),
			counts(g.names), counts(g.ips), counts(g.reasons))
		l.audit(actor, "Repeated sign-in refusals", actor, sum, details)
	}
}

func (l *refusalLog) audit(actor, activity, target string, after any, details string) {
	if actor == "" {
		actor = "anonymous"
	}
	if _, err := l.db.Audit(actor, "signin", activity, target, nil, after, details); err != nil {
		l.log.Error("ui: audit append failed", "activity", activity, "err", err)
	}
}

// counts renders {"a": 3, "b": 1} as "a (3), b (1)", most frequent first.
func counts(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		label := k
		if label == "" {
			label = `""`
		}
		parts[i] = fmt.Sprintf("%s (%d)", label, m[k])
	}
	return strings.Join(parts, ", ")
}
