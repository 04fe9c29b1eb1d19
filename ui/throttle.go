package ui

import (
	"sync"
	"time"
)

// throttle slows password guessing per (account name, client IP): after maxFailures
// failed sign-ins in a row the pair is locked out, first for baseLockout, doubling with
// each further failure up to maxLockout. A success clears the pair. Keying on the pair
// means an attacker cannot lock a real user out from another address.
//
// A client that tries many names is also locked out as a whole after maxIPFailures
// failures (each at most maxLockout after the previous one), so that one address cannot
// make the server hash passwords without end; a locked-out client costs a map lookup.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	until    time.Time // locked until
	last     time.Time
}

const (
	maxFailures    = 5
	maxIPFailures  = 20
	baseLockout    = time.Minute
	maxLockout     = 15 * time.Minute
	throttleMaxLen = 10000 // entries kept before old ones are pruned
)

func newThrottle() *throttle { return &throttle{entries: map[string]*throttleEntry{}} }

func throttleKey(user, ip string) string { return user + "\x00" + ip }

func ipKey(ip string) string { return "\x00ip\x00" + ip }

// locked reports whether the pair (or the whole client) may not try now, and until when.
func (t *throttle) locked(user, ip string, now time.Time) (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var until time.Time
	for _, k := range []string{throttleKey(user, ip), ipKey(ip)} {
		if e := t.entries[k]; e != nil && now.Before(e.until) && e.until.After(until) {
			until = e.until
		}
	}
	return !until.IsZero(), until
}

// fail records a failed attempt and returns the lockout end (zero if not locked).
func (t *throttle) fail(user, ip string, now time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) >= throttleMaxLen {
		for k, e := range t.entries {
			if now.Sub(e.last) > maxLockout && !now.Before(e.until) {
				delete(t.entries, k)
			}
		}
	}
	until := t.count(throttleKey(user, ip), maxFailures, now)
	if u := t.count(ipKey(ip), maxIPFailures, now); u.After(until) {
		until = u
	}
	return until
}

func (t *throttle) count(k string, limit int, now time.Time) time.Time {
	e := t.entries[k]
	if e == nil || (limit == maxIPFailures && now.Sub(e.last) > maxLockout && !now.Before(e.until)) {
		e = &throttleEntry{}
		t.entries[k] = e
	}
	e.failures++
	e.last = now
	if e.failures >= limit {
		d := baseLockout << min(e.failures-limit, 4)
		e.until = now.Add(min(d, maxLockout))
	}
	return e.until
}

func (t *throttle) succeed(user, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, throttleKey(user, ip))
}
