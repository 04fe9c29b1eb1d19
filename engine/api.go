package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"irm/store"
)

// Settings returns the current global settings.
func (e *Engine) Settings() Settings {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s Settings
	b, _ := json.Marshal(e.settings)
	_ = json.Unmarshal(b, &s)
	return s
}

// UpdateSettings validates, stores and audits new global settings, then rebuilds the
// index (enabled indicators, exclusions and domain lists change what matches).
func (e *Engine) UpdateSettings(actor string, s Settings) error {
	s.normalize()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := s.Validate(e.ruleSet()); err != nil {
		return err
	}
	// A priority group still named by a policy cannot disappear silently.
	for _, p := range e.policies {
		for _, u := range p.Users {
			if u != "*" && !strings.Contains(u, "@") && s.group(u) == nil {
				return fmt.Errorf("priority group %q is used by policy %q; remove it from the policy first", u, p.Name)
			}
		}
	}
	val, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := e.db.PutSettings(val); err != nil {
		return err
	}
	before := e.settings
	e.settings = s
	e.audit(actor, "settings", "settings updated", "settings", before, s, "")
	if e.built {
		e.built = false
		if err := e.ensureBuilt(); err != nil {
			return err
		}
		e.evaluateUsers(e.allUsers(), nil)
		return e.flushDocs()
	}
	return nil
}

// Policies returns every policy, by name.
func (e *Engine) Policies() []Policy {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Policy, 0, len(e.policies))
	for _, p := range e.policies {
		out = append(out, clonePolicy(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Policy returns one policy.
func (e *Engine) Policy(name string) (Policy, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.policies[name]
	if !ok {
		return Policy{}, false
	}
	return clonePolicy(p), true
}

func clonePolicy(p *Policy) Policy {
	var c Policy
	b, _ := json.Marshal(p)
	_ = json.Unmarshal(b, &c)
	return c
}

// SavePolicy creates a policy or updates one with the same name (the template cannot
// change), then scores every user against it.
func (e *Engine) SavePolicy(actor string, p Policy) error {
	p.normalize()
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.ruleSet()
	if rs == nil {
		return errors.New("no rule set loaded")
	}
	if err := p.validate(rs, &e.settings); err != nil {
		return fmt.Errorf("policy %q: %w", p.Name, err)
	}
	old, exists := e.policies[p.Name]
	if exists && old.Template != p.Template {
		return fmt.Errorf("policy %q: the template of a policy cannot change (%s -> %s); create a new policy", p.Name, old.Template, p.Template)
	}
	if p.Users == nil {
		p.Users = []string{}
	}
	val, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := e.db.PutPolicy(p.Name, val); err != nil {
		return err
	}
	np := p
	e.policies[p.Name] = &np
	activity := "policy created"
	var before any
	if exists {
		activity = "policy updated"
		before = old
	}
	e.audit(actor, "policies", activity, p.Name, before, p, "")
	if e.built {
		// The policy's exfiltration selection may be new to cumulative detection.
		e.settle()
		e.evaluateUsers(e.allUsers(), nil)
		return e.flushDocs()
	}
	return nil
}

// DeletePolicy removes a policy; its alerts stay.
func (e *Engine) DeletePolicy(actor, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.policies[name]
	if !ok {
		return fmt.Errorf("policy %q: not found", name)
	}
	if err := e.db.PutPolicy(name, nil); err != nil {
		return err
	}
	delete(e.policies, name)
	for k := range e.inScope {
		if k.policy == name {
			delete(e.inScope, k)
		}
	}
	e.audit(actor, "policies", "policy deleted", name, p, nil, "")
	return nil
}

// StartScoring puts users in scope of the chosen policies for days (5-30) from now,
// plus the past activity window, without a triggering event. Every user and policy is
// checked before anything is stored: it saves all or nothing.
func (e *Engine) StartScoring(actor string, users, policies []string, days int, reason string) error {
	if days < 5 || days > 30 {
		return fmt.Errorf("start scoring: days must be 5-30, not %d", days)
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("start scoring: a reason is required")
	}
	if len(users) == 0 {
		return errors.New("start scoring: no users")
	}
	if len(policies) == 0 {
		return errors.New("start scoring: choose at least one policy")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var pols []string
	for _, name := range policies {
		if _, ok := e.policies[name]; !ok {
			return fmt.Errorf("start scoring: policy %q not found", name)
		}
		if !slices.Contains(pols, name) {
			pols = append(pols, name)
		}
	}
	sort.Strings(pols)
	var norm []string
	for _, u := range users {
		u = strings.ToLower(strings.TrimSpace(u))
		if !strings.Contains(u, "@") {
			return fmt.Errorf("start scoring: %q is not a UPN", u)
		}
		if !slices.Contains(norm, u) {
			norm = append(norm, u)
		}
	}
	now := e.now()
	var docs []store.Doc
	next := map[string][]ManualScope{}
	for _, u := range norm {
		ms := append(slices.Clone(e.manual[u]), ManualScope{Start: now, End: now.Add(time.Duration(days) * 24 * time.Hour),
			Reason: reason, Actor: actor, Policies: pols})
		val, err := json.Marshal(ms)
		if err != nil {
			return err
		}
		next[u] = ms
		docs = append(docs, store.Doc{Key: "eng/manual/" + u, Value: val})
	}
	if err := e.db.PutDocs(docs); err != nil {
		return err
	}
	for u, ms := range next {
		e.manual[u] = ms
	}
	e.audit(actor, "policies", "scoring started", strings.Join(norm, ","), nil, map[string]any{"users": norm, "policies": pols, "days": days}, reason)
	if e.built {
		var present []string
		for _, u := range norm {
			if e.users[u] != nil {
				present = append(present, u)
			}
		}
		e.evaluateUsers(present, nil)
		return e.flushDocs()
	}
	return nil
}

// ManualScopes returns the administrators' "start scoring" periods of a user.
func (e *Engine) ManualScopes(user string) []ManualScope {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.manual[strings.ToLower(user)])
}

// Pseudonym is the stable pseudonym shown for a user when pseudonymisation is on,
// e.g. "Anon-4F2A9C": a keyed hash, so it cannot be reversed without the database.
func (e *Engine) Pseudonym(upn string) string {
	e.mu.Lock()
	if e.pseudoKey == nil {
		k, err := e.db.SecretKey("pseudonym")
		if err != nil {
			e.log.Error("pseudonym key", "err", err)
			k = []byte("irm")
		}
		e.pseudoKey = k
	}
	key := e.pseudoKey
	e.mu.Unlock()
	return PseudonymOf(key, upn)
}

// PseudonymOf returns the stable pseudonym of a UPN under key: "Anon-" and six upper-case
// hex digits of HMAC-SHA256(key, lower-cased UPN). Keyed, so nobody without the database
// can map a pseudonym back by hashing guessed UPNs. The UI and the CLI both use it.
func PseudonymOf(key []byte, upn string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(upn)))
	return "Anon-" + strings.ToUpper(hex.EncodeToString(m.Sum(nil)[:3]))
}

// DisplayUser is the name to show for a user under the current privacy setting.
func (e *Engine) DisplayUser(upn string) string {
	e.mu.Lock()
	pseudo := e.settings.Pseudonymize
	e.mu.Unlock()
	if pseudo {
		return e.Pseudonym(upn)
	}
	return upn
}

// InScope returns, per policy, the number of users currently in scope.
func (e *Engine) InScope() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for k := range e.inScope {
		out[k.policy]++
	}
	return out
}

// ParsePolicyFile parses a policy file against the current rule set without saving
// anything (for a backtest of a candidate policy).
func (e *Engine) ParsePolicyFile(name string, data []byte) ([]Policy, error) {
	rs := e.ruleSet()
	if rs == nil {
		return nil, errors.New("no rule set loaded")
	}
	return ParsePolicies(name, data, rs)
}

// ImportPolicies parses a policy file and saves every policy in it (create or update).
// All of them are validated first: one bad policy saves none.
func (e *Engine) ImportPolicies(actor, name string, data []byte) (int, error) {
	rs := e.ruleSet()
	if rs == nil {
		return 0, errors.New("no rule set loaded")
	}
	ps, err := ParsePolicies(name, data, rs)
	if err != nil {
		return 0, err
	}
	var errs []error
	seen := map[string]bool{}
	e.mu.Lock()
	for i := range ps {
		p := &ps[i]
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("%s: policy %q is defined twice", name, p.Name))
		}
		seen[p.Name] = true
		if err := p.validate(rs, &e.settings); err != nil {
			errs = append(errs, fmt.Errorf("%s: policy %q: %w", name, p.Name, err))
		}
		if old, ok := e.policies[p.Name]; ok && old.Template != p.Template {
			errs = append(errs, fmt.Errorf("%s: policy %q: the template cannot change (%s -> %s)", name, p.Name, old.Template, p.Template))
		}
	}
	e.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	for _, p := range ps {
		if err := e.SavePolicy(actor, p); err != nil {
			return 0, err
		}
	}
	return len(ps), nil
}
