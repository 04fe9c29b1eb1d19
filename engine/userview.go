package engine

import (
	"slices"
	"sort"
	"time"
)

// What the user page shows of one user: their scope per policy and their activity over
// time. Both are read from the in-memory index (no store reads), so a user with six
// months of activity is shown in milliseconds.

// ScopeWindow is a period in which the user was in a policy's scope.
type ScopeWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// UserScope is the user's standing under one policy.
type UserScope struct {
	Policy   string        `json:"policy"`
	Template string        `json:"template"`
	Triggers []TriggerRef  `json:"triggers"`
	Windows  []ScopeWindow `json:"windows"`
	Score    int           `json:"score"`
	Severity string        `json:"severity"`
	Alert    string        `json:"alert,omitempty"` // the pair's active alert
}

// UserScopes evaluates the user against every enabled policy and reports the policies
// whose scope the user is in.
func (e *Engine) UserScopes(upn string) ([]UserScope, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensureBuilt(); err != nil {
		return nil, err
	}
	ux := e.users[upn]
	if ux == nil {
		return nil, nil
	}
	up := e.scorer().pass(ux)
	var out []UserScope
	for _, name := range e.enabledPolicyNames() {
		p := e.policies[name]
		tmpl := e.rs.Template(p.Template)
		if tmpl == nil {
			continue
		}
		ev := up.evaluate(p, tmpl)
		if ev == nil {
			continue
		}
		us := UserScope{Policy: name, Template: p.Template, Triggers: slices.Clone(ev.triggers), Score: ev.score,
			Severity: SeverityOf(ev.score), Alert: e.active[pairKey{upn, name}]}
		for _, w := range ev.scope {
			us.Windows = append(us.Windows, ScopeWindow{From: time.Unix(0, w.from).UTC(), To: time.Unix(0, w.to).UTC()})
		}
		out = append(out, us)
	}
	return out, nil
}

func (e *Engine) enabledPolicyNames() []string {
	var names []string
	for n, p := range e.policies {
		if p.Enabled {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Timeline is a user's activity per day: events per indicator category, the risk
// score, and the days an indicator crossed a threshold.
type Timeline struct {
	Days       []string `json:"days"`       // YYYY-MM-DD, oldest first, in the organisation's zone
	Categories []string `json:"categories"` // indicator categories with any activity
	Counts     [][]int  `json:"counts"`     // [category][day]: events that matched an indicator of the category
	Active     []bool   `json:"active"`     // [day]: any stored event at all
	Score      []int    `json:"score"`      // [day]: the highest score of a week ending that day, over the policies
	Marks      []Mark   `json:"marks"`      // thresholds crossed
}

// Mark is an indicator, sequence or cumulative insight that reached a level on a day.
type Mark struct {
	Day    int    `json:"day"` // index in Timeline.Days
	Name   string `json:"name"`
	Level  string `json:"level"`
	Points int    `json:"points"`
}

// UserTimeline returns the user's last days of activity, ending today (or on the
// user's last active day when that is older).
func (e *Engine) UserTimeline(upn string, days int) (Timeline, error) {
	days = min(max(days, 1), 366)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensureBuilt(); err != nil {
		return Timeline{}, err
	}
	end := e.dayOf(e.now())
	ux := e.users[upn]
	if ux != nil && ux.newest != 0 {
		if last := e.dayOf(time.Unix(0, ux.newest)); last < end-int32(days)+1 {
			end = last
		}
	}
	first := end - int32(days) + 1
	tl := Timeline{Days: make([]string, days), Active: make([]bool, days), Score: make([]int, days), Categories: []string{}, Counts: [][]int{}, Marks: []Mark{}}
	for i := range days {
		tl.Days[i] = dayString(first + int32(i))
	}
	if ux == nil {
		return tl, nil
	}
	for i := range days {
		tl.Active[i] = ux.active.has(first + int32(i))
	}
	inds := e.inds
	catIx := map[string]int{}
	var seen []int
	for i := range ux.hits {
		h := &ux.hits[i]
		if h.day < first || h.day > end {
			continue
		}
		seen = seen[:0]
		for _, ix := range ux.hitInds(h) {
			cat := inds[ix].Category
			if cat == "" {
				cat = "other"
			}
			c, ok := catIx[cat]
			if !ok {
				c = len(tl.Categories)
				catIx[cat] = c
				tl.Categories = append(tl.Categories, cat)
				tl.Counts = append(tl.Counts, make([]int, days))
			}
			if !slices.Contains(seen, c) {
				seen = append(seen, c)
				tl.Counts[c][h.day-first]++
			}
		}
	}
	// The score line and the marks come from the same evaluations as the alerts.
	up := e.scorer().pass(ux)
	marks := map[[2]string]*Mark{}
	for _, name := range e.enabledPolicyNames() {
		p := e.policies[name]
		tmpl := e.rs.Template(p.Template)
		if tmpl == nil {
			continue
		}
		ev := up.evaluate(p, tmpl)
		if ev == nil {
			continue
		}
		byDay := map[int32][]Insight{}
		for _, in := range ev.insights {
			if in.Points <= 0 {
				continue
			}
			byDay[in.day] = append(byDay[in.day], in)
			if in.day < first || in.day > end || in.Level == LevelNone {
				continue
			}
			k := [2]string{in.Day, in.Name}
			if m := marks[k]; m == nil || levelRank(in.Level) > levelRank(m.Level) || in.Points > m.Points {
				marks[k] = &Mark{Day: int(in.day - first), Name: in.Name, Level: in.Level, Points: in.Points}
			}
		}
		if len(byDay) == 0 {
			continue
		}
		for d := first; d <= end; d++ {
			strongest := map[string]Insight{}
			for w := d - scoreWindowDays + 1; w <= d; w++ {
				for _, in := range byDay[w] {
					k := in.Kind + "/" + in.ID
					if s, ok := strongest[k]; !ok || in.Points > s.Points {
						strongest[k] = in
					}
				}
			}
			if len(strongest) == 0 {
				continue
			}
			picked := make([]Insight, 0, len(strongest))
			for _, in := range strongest {
				picked = append(picked, in)
			}
			tl.Score[d-first] = max(tl.Score[d-first], CombineScore(picked))
		}
	}
	for _, m := range marks {
		tl.Marks = append(tl.Marks, *m)
	}
	sort.Slice(tl.Marks, func(i, j int) bool {
		if tl.Marks[i].Day != tl.Marks[j].Day {
			return tl.Marks[i].Day < tl.Marks[j].Day
		}
		return tl.Marks[i].Name < tl.Marks[j].Name
	})
	return tl, nil
}

// KnownUsers calls fn for every user with stored events (for mapping pseudonyms back to
// users; the list is the store's).
func (e *Engine) KnownUsers(fn func(upn string) error) error { return e.db.Users(fn) }

// Pseudonymize reports whether the settings ask for pseudonyms (cheaper than Settings,
// which copies everything).
func (e *Engine) Pseudonymize() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.settings.Pseudonymize
}

// RestrictedGroups returns the priority user groups that name their own viewers.
func (e *Engine) RestrictedGroups() []PriorityGroup {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []PriorityGroup
	for _, g := range e.settings.PriorityGroups {
		if len(g.Viewers) > 0 {
			out = append(out, PriorityGroup{Name: g.Name, Members: slices.Clone(g.Members), Viewers: slices.Clone(g.Viewers)})
		}
	}
	return out
}
