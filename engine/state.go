package engine

import (
	"slices"
	"sort"
	"strings"

	"irm/config"
	"irm/event"
)

// hit is one stored event that matched at least one enabled indicator.
type hit struct {
	t         int64 // unix nanos
	id        string
	inds      []uint16 // interned indicator ids
	file      string   // lower-case file name, for sequences linked by file
	content   *content // nil when the event names no content
	unallowed bool     // involves an unallowed domain
	exfil     bool     // matched an exfiltration indicator
	feed      string
}

// content is what priority content is matched against.
type content struct {
	ext, site    string
	labels, sits []string
}

func (h *hit) has(ix uint16) bool { return slices.Contains(h.inds, ix) }

func (h *hit) hasAny(ixs []uint16) bool {
	for _, ix := range ixs {
		if slices.Contains(h.inds, ix) {
			return true
		}
	}
	return false
}

type trigHit struct {
	t              int64
	tmpl, name, id string
	// A count trigger: the trigger's indicators this event matched, and the daily
	// count of each at which it fires. Empty for a trigger that fires at once.
	inds       []string
	thresholds map[string]int
	feed       string
}

type dlpHit struct {
	t        int64
	id       string
	policies []string
	high     bool
}

// userState is the engine's index of one user's matched activity.
type userState struct {
	upn     string
	profile *event.Profile
	groups  []string // priority groups (from settings; a settings change rebuilds the index)
	hits    []hit    // by (t, id) after sortHits
	sorted  bool
	trig    []trigHit
	dlp     []dlpHit
	// daily counts every hit per (indicator, day), for baselines and trigger thresholds.
	daily map[dayInd]int32
	// exfil counts events per day that matched an exfiltration indicator.
	exfil map[int32]int32
}

type dayInd struct {
	day int32
	ind uint16
}

func newUserState(u string) *userState {
	return &userState{upn: strings.Clone(u), sorted: true, daily: map[dayInd]int32{}, exfil: map[int32]int32{}}
}

func dayOf(t int64) int32 {
	if t < 0 {
		return int32((t - dayNanos + 1) / dayNanos)
	}
	return int32(t / dayNanos)
}

func (us *userState) add(h hit) {
	if n := len(us.hits); n > 0 {
		last := &us.hits[n-1]
		if h.t < last.t || (h.t == last.t && h.id < last.id) {
			us.sorted = false
		}
	}
	us.hits = append(us.hits, h)
	d := dayOf(h.t)
	for _, ix := range h.inds {
		us.daily[dayInd{d, ix}]++
	}
	if h.exfil {
		us.exfil[d]++
	}
}

// recount rebuilds the daily and exfiltration counts from the hits.
func (us *userState) recount() {
	us.daily = map[dayInd]int32{}
	us.exfil = map[int32]int32{}
	for i := range us.hits {
		h := &us.hits[i]
		d := dayOf(h.t)
		for _, ix := range h.inds {
			us.daily[dayInd{d, ix}]++
		}
		if h.exfil {
			us.exfil[d]++
		}
	}
}

// sortHits restores (time, id) order after late or out-of-order events, so that every
// derived list (event ids, sequences) is the same whatever the arrival order.
func (us *userState) sortHits() {
	if !us.sorted {
		sort.Slice(us.hits, func(i, j int) bool {
			a, b := &us.hits[i], &us.hits[j]
			if a.t != b.t {
				return a.t < b.t
			}
			return a.id < b.id
		})
		us.sorted = true
	}
	sort.Slice(us.trig, func(i, j int) bool {
		a, b := us.trig[i], us.trig[j]
		if a.t != b.t {
			return a.t < b.t
		}
		if a.id != b.id {
			return a.id < b.id
		}
		return a.tmpl+a.name < b.tmpl+b.name
	})
	sort.Slice(us.dlp, func(i, j int) bool {
		if us.dlp[i].t != us.dlp[j].t {
			return us.dlp[i].t < us.dlp[j].t
		}
		return us.dlp[i].id < us.dlp[j].id
	})
}

func (us *userState) department() string {
	if us.profile == nil {
		return ""
	}
	return us.profile.Department
}

// exfilSum is the user's exfiltration events over the 30 days ending on day d.
func (us *userState) exfilSum(d int32) int {
	if len(us.exfil) == 0 {
		return 0
	}
	n := 0
	for x := d - 29; x <= d; x++ {
		n += int(us.exfil[x])
	}
	return n
}

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
