package engine

import "sort"

// UserInScope is a user whom enabled policies are scoring now.
type UserInScope struct {
	User     string   `json:"user"`
	Policies []string `json:"policies"` // by name
}

// UsersInScope lists the users in scope of at least one enabled policy, as the last
// evaluation left them (the policies page counts the same pairs), by UPN.
func (e *Engine) UsersInScope() []UserInScope {
	e.mu.Lock()
	by := map[string][]string{}
	for k := range e.inScope {
		if p := e.policies[k.policy]; p != nil && p.Enabled {
			by[k.user] = append(by[k.user], k.policy)
		}
	}
	e.mu.Unlock()
	out := make([]UserInScope, 0, len(by))
	for u, ps := range by {
		sort.Strings(ps)
		out = append(out, UserInScope{User: u, Policies: ps})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out
}
