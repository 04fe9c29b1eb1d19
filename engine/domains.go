package engine

import (
	"slices"
	"strings"

	"irm/config"
	"irm/event"
)

// Domain lists and priority content: what the index records of an event's
// destinations and content.

// matchDomain reports whether domain d matches a pattern of the list: "*.x.com" matches
// subdomains of x.com, a bare name matches exactly (case-insensitive; lists are lower).
func matchDomain(d string, list []string) bool {
	if d == "" {
		return false
	}
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	for _, p := range list {
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if strings.HasSuffix(d, "."+rest) {
				return true
			}
		} else if d == p {
			return true
		}
	}
	return false
}

func addrDomain(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(a[i+1:])
	}
	return strings.ToLower(a)
}

func urlHost(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndexByte(u, ':'); i >= 0 && !strings.Contains(u[i:], "]") {
		u = u[:i]
	}
	return strings.ToLower(u)
}

// destinations are the domains an event sends to or fetches from.
func destinations(ev *event.Event) []string {
	var out []string
	if ev.TargetDomain != "" {
		out = append(out, ev.TargetDomain)
	}
	for _, r := range ev.Recipients {
		out = append(out, addrDomain(r))
	}
	if ev.URL != "" {
		out = append(out, urlHost(ev.URL))
	}
	return out
}

func unallowedDomain(ev *event.Event, s *Settings) bool {
	if len(s.Domains.Unallowed) == 0 {
		return false
	}
	for _, d := range destinations(ev) {
		if matchDomain(d, s.Domains.Unallowed) {
			return true
		}
	}
	return false
}

// allowedOnly reports whether every outside destination of the event is an allowed
// domain: such activity is treated as internal and not scored.
func allowedOnly(ev *event.Event, s *Settings, cfg *config.Config) bool {
	if len(s.Domains.Allowed) == 0 {
		return false
	}
	var org []string
	if cfg != nil {
		org = cfg.Org.Domains
	}
	allowed := false
	for _, d := range destinations(ev) {
		switch {
		case matchDomain(d, s.Domains.Allowed):
			allowed = true
		case matchDomain(d, org) || matchDomain(d, orgSubs(org)):
		default:
			return false
		}
	}
	return allowed
}

func orgSubs(org []string) []string {
	out := make([]string, 0, len(org))
	for _, d := range org {
		if !strings.HasPrefix(d, "*.") {
			out = append(out, "*."+d)
		}
	}
	return out
}

// match reports whether the content is priority content of the policy.
func (pc *PriorityContent) match(c *content) bool {
	if c == nil {
		return false
	}
	if c.ext != "" && slices.Contains(pc.Extensions, strings.ToLower(c.ext)) {
		return true
	}
	for _, s := range pc.Sites {
		if c.site != "" && strings.HasPrefix(c.site, strings.ToLower(s)) {
			return true
		}
	}
	for _, l := range c.labels {
		if slices.Contains(pc.Labels, l) {
			return true
		}
	}
	for _, t := range c.sits {
		if slices.Contains(pc.SensitiveTypes, t) {
			return true
		}
	}
	return false
}
