package ui

import (
	"sync"
	"time"

	"irm/account"
	"irm/engine"
)

// people maps pseudonyms back to users for the user page (/users/{pseudonym}) and the
// queue's user filter. URLs always name a user by pseudonym, whoever looks: a link
// copied into a ticket then gives nobody's name away.
type people struct {
	eng *engine.Engine
	key []byte

	mu     sync.Mutex
	byRef  map[string]string
	loaded time.Time
}

func newPeople(eng *engine.Engine, key []byte) *people {
	return &people{eng: eng, key: key, byRef: map[string]string{}}
}

// ref is the user's handle in URLs.
func (p *people) ref(upn string) string { return account.Pseudonym(p.key, upn) }

// upn finds the user behind a pseudonym. An unknown one re-reads the store's users,
// at most every 5 seconds.
func (p *people) upn(ref string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u, ok := p.byRef[ref]; ok {
		return u, true
	}
	if time.Since(p.loaded) < 5*time.Second {
		return "", false
	}
	p.loaded = time.Now()
	m := map[string]string{}
	if err := p.eng.KnownUsers(func(u string) error { m[account.Pseudonym(p.key, u)] = u; return nil }); err != nil {
		return "", false
	}
	p.byRef = m
	u, ok := m[ref]
	return u, ok
}

// remember adds a user seen elsewhere (an alert's user may have no stored events left).
func (p *people) remember(upn string) {
	p.mu.Lock()
	p.byRef[account.Pseudonym(p.key, upn)] = upn
	p.mu.Unlock()
}
