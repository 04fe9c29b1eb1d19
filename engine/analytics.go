package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"irm/dsl"
)

// Analytics is Purview's "scan for insider risks": before any policy exists, how much
// of the organisation's recent activity each policy template would look at. It is read
// from the per-user index (the indicators every stored event matched, whatever the
// policies), over a rolling window of AnalyticsDays, and holds aggregates only: counts
// of users, never a user, and no count of fewer than AnalyticsMinGroup users.

const (
	// AnalyticsDays is the rolling window, ending today (the organisation's zone).
	AnalyticsDays = 10
	// AnalyticsMinGroup is the smallest number of users shown: a smaller group could
	// point at a person.
	AnalyticsMinGroup = 5
	// departingLookback: a resignation, last working day or deleted account this long
	// before the window (or any time after its start) makes a user "departing".
	departingLookback = 90 * 24 * time.Hour
)

// analyticsArea is one insight: the template it recommends and the indicator
// categories that count as risky activity for it (nil: every indicator of the template).
type analyticsArea struct {
	id, name, template string
	categories         []string
	departing          bool // only users leaving the organisation count
}

var analyticsAreas = []analyticsArea{
	{id: "data_leaks", name: "Data leaks", template: "data_leaks", categories: []string{"exfiltration", "data_leaks"}},
	{id: "data_theft_departing", name: "Data theft by departing users", template: "data_theft_departing", categories: []string{"exfiltration", "data_theft"}, departing: true},
	{id: "security_violations", name: "Security policy violations", template: "security_violations"},
	{id: "risky_browsing", name: "Risky browsing", template: "risky_browsing"},
}

// AnalyticsReport is one computation of the analytics.
type AnalyticsReport struct {
	Computed    time.Time          `json:"computed"`
	From        string             `json:"from" doc:"First day of the window (YYYY-MM-DD, the organisation's zone)."`
	To          string             `json:"to" doc:"Last day of the window."`
	Days        int                `json:"days"`
	MinGroup    int                `json:"min_group" doc:"Groups of fewer users are not shown."`
	ActiveUsers int                `json:"active_users" doc:"Users with any activity in the window (0 when fewer than min_group)."`
	Policies    int                `json:"policies" doc:"Policies that exist now."`
	Insights    []AnalyticsInsight `json:"insights"`
	// Recommended is the template of the insight with the largest share of users (""
	// when none is shown).
	Recommended string `json:"recommended,omitempty"`
}

// AnalyticsInsight is one area: how many users had activity its template scores.
type AnalyticsInsight struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Template     string  `json:"template" doc:"The policy template that covers this activity: /policies/new?template=<it> starts the wizard with it."`
	TemplateName string  `json:"template_name"`
	Shown        bool    `json:"shown" doc:"False when fewer than min_group users had such activity: no counts are given then."`
	Users        int     `json:"users" doc:"Users with such activity (0 unless shown)."`
	Share        float64 `json:"share" doc:"Users / active users, 0 to 1."`
	// TopIndicators and TopSequences are the most common ones among those users, each
	// with the users who did it (only those done by at least min_group users).
	TopIndicators []AnalyticsCount `json:"top_indicators"`
	TopSequences  []AnalyticsCount `json:"top_sequences"`
	Recommended   bool             `json:"recommended"`
}

// AnalyticsCount is how many users did one thing.
type AnalyticsCount struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Users int    `json:"users"`
}

// topAnalytics is how many indicators and sequences an insight lists.
const topAnalytics = 5

// Analytics computes the report for the window ending on now's day.
func (e *Engine) Analytics(now time.Time) (AnalyticsReport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensureBuilt(); err != nil {
		return AnalyticsReport{}, err
	}
	to := e.dayOf(now)
	from := to - AnalyticsDays + 1
	rep := AnalyticsReport{Computed: now.UTC(), From: dayString(from), To: dayString(to), Days: AnalyticsDays, MinGroup: AnalyticsMinGroup,
		Policies: len(e.policies), Insights: []AnalyticsInsight{}}
	inds := e.rs.Indicators()
	winStart, winEnd := int64(from)*dayNanos, int64(to+1)*dayNanos

	type areaState struct {
		area    analyticsArea
		tmpl    *dsl.Template
		tmplIx  uint16
		scored  map[uint16]bool // indicator index -> counts for the area
		seqs    []*dsl.Sequence
		users   int
		byInd   map[uint16]int
		bySeq   map[string]int
		enabled bool
	}
	var states []*areaState
	for _, a := range analyticsAreas {
		t := e.rs.Template(a.template)
		if t == nil {
			continue
		}
		st := &areaState{area: a, tmpl: t, tmplIx: e.tmplIx[t], scored: map[uint16]bool{}, byInd: map[uint16]int{}, bySeq: map[string]int{}}
		for _, id := range t.Indicators {
			ix, ok := e.indIx[id]
			if !ok {
				continue
			}
			if a.categories == nil || slices.Contains(a.categories, inds[ix].Category) {
				st.scored[ix] = true
			}
		}
		for _, id := range t.Sequences {
			if sq := e.rs.Sequence(id); sq != nil {
				st.seqs = append(st.seqs, sq)
			}
		}
		states = append(states, st)
	}

	active := 0
	var window []*hit
	for _, ux := range e.users {
		if ux.active.count(from, to) == 0 {
			continue
		}
		active++
		window = window[:0]
		for i := range ux.hits {
			if h := &ux.hits[i]; h.day >= from && h.day <= to {
				window = append(window, h)
			}
		}
		if len(window) == 0 {
			continue
		}
		for _, st := range states {
			if st.area.departing && !e.departing(ux, st.tmplIx, winStart, winEnd) {
				continue
			}
			seen := map[uint16]bool{}
			for _, h := range window {
				for _, ix := range ux.hitInds(h) {
					if st.scored[ix] {
						seen[ix] = true
					}
				}
			}
			if len(seen) == 0 {
				continue
			}
			st.users++
			for ix := range seen {
				st.byInd[ix]++
			}
			for _, sq := range st.seqs {
				if completes(sq, inds, ux, window) {
					st.bySeq[sq.ID]++
				}
			}
		}
	}
	if active >= AnalyticsMinGroup {
		rep.ActiveUsers = active
	}
	best := -1
	for _, st := range states {
		in := AnalyticsInsight{ID: st.area.id, Name: st.area.name, Template: st.tmpl.ID, TemplateName: st.tmpl.Name,
			TopIndicators: []AnalyticsCount{}, TopSequences: []AnalyticsCount{}}
		if st.users >= AnalyticsMinGroup && active >= AnalyticsMinGroup {
			in.Shown, in.Users = true, st.users
			in.Share = float64(st.users) / float64(active)
			for ix, n := range st.byInd {
				if n >= AnalyticsMinGroup {
					in.TopIndicators = append(in.TopIndicators, AnalyticsCount{ID: inds[ix].ID, Name: inds[ix].Name, Users: n})
				}
			}
			for _, sq := range st.seqs {
				if n := st.bySeq[sq.ID]; n >= AnalyticsMinGroup {
					in.TopSequences = append(in.TopSequences, AnalyticsCount{ID: sq.ID, Name: sq.Name, Users: n})
				}
			}
			in.TopIndicators = topCounts(in.TopIndicators)
			in.TopSequences = topCounts(in.TopSequences)
			if best < 0 || in.Share > rep.Insights[best].Share {
				best = len(rep.Insights)
			}
		}
		rep.Insights = append(rep.Insights, in)
	}
	if best >= 0 {
		rep.Insights[best].Recommended = true
		rep.Recommended = rep.Insights[best].Template
	}
	return rep, nil
}

func topCounts(cs []AnalyticsCount) []AnalyticsCount {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Users != cs[j].Users {
			return cs[i].Users > cs[j].Users
		}
		return cs[i].ID < cs[j].ID
	})
	return cs[:min(len(cs), topAnalytics)]
}

// departing reports whether the user is leaving: an HR resignation or last working
// day, or a trigger of the departing template (resignation, deleted account), from
// departingLookback before the window on.
func (e *Engine) departing(ux *userIndex, tmplIx uint16, winStart, winEnd int64) bool {
	since := winStart - int64(departingLookback)
	if p := ux.profile; p != nil {
		for _, t := range []time.Time{p.ResignationDate, p.LastWorkingDate, p.AccountDeleted} {
			if !t.IsZero() && t.UnixNano() >= since {
				return true
			}
		}
	}
	for i := range ux.trig {
		if tr := &ux.trig[i]; tr.tmpl == tmplIx && tr.t >= since && tr.t < winEnd {
			return true
		}
	}
	return false
}

// completes reports whether the user's hits in the window run through the sequence's
// steps in order, each within the sequence's time limit of the first (the scoring's
// sequence tracker also links steps by file; for a count of users this is enough).
func completes(sq *dsl.Sequence, inds []*dsl.Indicator, ux *userIndex, window []*hit) bool {
	if len(sq.StepSets) == 0 {
		return false
	}
	steps := make([]map[string]bool, len(sq.StepSets))
	for i, set := range sq.StepSets {
		steps[i] = map[string]bool{}
		for _, id := range set {
			steps[i][id] = true
		}
	}
	for start := range window {
		if !hitIn(steps[0], inds, ux, window[start]) {
			continue
		}
		step, t0 := 1, window[start].t
		for _, h := range window[start+1:] {
			if step == len(steps) {
				break
			}
			if sq.Within > 0 && h.t-t0 > int64(sq.Within) {
				break
			}
			if hitIn(steps[step], inds, ux, h) {
				step++
			}
		}
		if step == len(steps) {
			return true
		}
	}
	return false
}

func hitIn(step map[string]bool, inds []*dsl.Indicator, ux *userIndex, h *hit) bool {
	for _, ix := range ux.hitInds(h) {
		if step[inds[ix].ID] {
			return true
		}
	}
	return false
}

// analyticsState is where the last report is kept (engine state).
const analyticsState = "analytics"

// RefreshAnalytics computes the report and keeps it as the latest.
func (e *Engine) RefreshAnalytics(now time.Time) (AnalyticsReport, error) {
	rep, err := e.Analytics(now)
	if err != nil {
		return rep, err
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return rep, err
	}
	if err := e.db.PutEngineState(analyticsState, b); err != nil {
		return rep, fmt.Errorf("keep analytics: %w", err)
	}
	return rep, nil
}

// LatestAnalytics returns the last report kept (false: none yet).
func (e *Engine) LatestAnalytics() (AnalyticsReport, bool, error) {
	b, ok, err := e.db.EngineState(analyticsState)
	if err != nil || !ok {
		return AnalyticsReport{}, false, err
	}
	var rep AnalyticsReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return AnalyticsReport{}, false, fmt.Errorf("stored analytics: %w", err)
	}
	return rep, true, nil
}
