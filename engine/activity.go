package engine

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"irm/dsl"
	"irm/event"
	"irm/store"
)

// The activity explorer: every stored event behind an alert (or every alert of a
// case), in time order. An insight keeps only its first 50 event ids, so the explorer
// does not read the ids alone: it reads the user's events of each insight's day and
// matches them again, and adds the events named by sequences and cumulative insights.
// So no event that counted is out of reach, however many there were.

// ActivityFilter narrows and pages the explorer.
type ActivityFilter struct {
	Category  string // indicator category
	Indicator string // indicator id (or the name of a sequence or cumulative insight)
	Day       string // YYYY-MM-DD
	Offset    int
	Limit     int // 0 = 50; at most 500
}

// ActivityEvent is one event with the indicators it matched.
type ActivityEvent struct {
	Event      *event.Event `json:"event"`
	Indicators []string     `json:"indicators"` // names
	Categories []string     `json:"categories"`
	Day        string       `json:"day"` // in the organisation's zone
}

// ActivityPage is one page of the explorer, with the values each filter offers.
type ActivityPage struct {
	Events     []ActivityEvent   `json:"events"`
	Total      int               `json:"total"` // matching the filter
	All        int               `json:"all"`   // behind the alerts, unfiltered
	Days       []string          `json:"days"`
	Categories []string          `json:"categories"`
	Indicators map[string]string `json:"indicators"` // id -> name
	// Missing are evidence event ids no longer stored (past retention).
	Missing []string `json:"missing,omitempty"`
	Offset  int      `json:"offset"`
	Limit   int      `json:"limit"`
}

// AlertActivity is the explorer of one alert.
func (e *Engine) AlertActivity(id string, f ActivityFilter) (ActivityPage, error) {
	e.mu.Lock()
	a, err := e.fullAlert(id)
	if err != nil {
		e.mu.Unlock()
		return ActivityPage{}, err
	}
	c := cloneAlert(a)
	e.mu.Unlock()
	return e.activity(c.User, []Alert{c}, f)
}

// CaseActivity is the explorer over every alert of a case.
func (e *Engine) CaseActivity(id string, f ActivityFilter) (ActivityPage, error) {
	e.mu.Lock()
	cs, ok := e.cases[id]
	if !ok {
		e.mu.Unlock()
		return ActivityPage{}, fmt.Errorf("case %s: not found", id)
	}
	var as []Alert
	for _, aid := range cs.Alerts {
		a, err := e.fullAlert(aid)
		if err != nil {
			e.mu.Unlock()
			return ActivityPage{}, err
		}
		as = append(as, cloneAlert(a))
	}
	user := cs.User
	e.mu.Unlock()
	return e.activity(user, as, f)
}

func (e *Engine) activity(user string, alerts []Alert, f ActivityFilter) (ActivityPage, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	f.Offset = max(f.Offset, 0)

	// What counted: indicator ids per day, and events named outright.
	want := map[string]map[string]bool{} // day -> indicator id
	named := map[string][]string{}       // event id -> insight names (sequences, cumulative)
	for _, a := range alerts {
		// Alerts keep the ids of their evidence too (older alerts may have only these).
		for _, id := range a.EventIDs {
			if _, ok := named[id]; !ok {
				named[id] = nil
			}
		}
		for _, in := range a.Insights {
			if in.Kind == "indicator" {
				if want[in.Day] == nil {
					want[in.Day] = map[string]bool{}
				}
				want[in.Day][in.ID] = true
				continue
			}
			for _, id := range in.EventIDs {
				if !slices.Contains(named[id], in.Name) {
					named[id] = append(named[id], in.Name)
				}
			}
		}
	}

	e.mu.Lock()
	rs := e.ruleSet()
	loc := orgLocation(e.cfg)
	settings := &e.settings
	lists := settings.lists()
	groups := settings.groupsOf(user)
	var enabled = map[string]bool{}
	if rs != nil {
		for _, ind := range rs.Indicators() {
			enabled[ind.ID] = settings.enabled(ind.ID)
		}
	}
	e.mu.Unlock()
	if rs == nil {
		return ActivityPage{}, fmt.Errorf("activity: no rule set loaded")
	}
	prof, hasProf, err := e.db.Profile(user)
	if err != nil {
		return ActivityPage{}, err
	}
	in := dsl.Input{PriorityGroups: groups, Lists: lists}
	if hasProf {
		in.User = &prof
	}
	byID := map[string]*ActivityEvent{}
	var buf []string
	tag := func(ev *event.Event, only map[string]bool) *ActivityEvent {
		in.Event = ev
		buf = rs.MatchAppend(buf[:0], &in)
		ae := &ActivityEvent{Event: ev, Day: dayIn(ev.Time, loc)}
		for _, id := range buf {
			if !enabled[id] || (only != nil && !only[id]) {
				continue
			}
			ind := rs.Indicator(id)
			if ind == nil {
				continue
			}
			ae.Indicators = append(ae.Indicators, ind.Name)
			if ind.Category != "" && !slices.Contains(ae.Categories, ind.Category) {
				ae.Categories = append(ae.Categories, ind.Category)
			}
		}
		return ae
	}
	ids := map[string]string{} // indicator name -> id, for the filter
	for id := range enabled {
		if ind := rs.Indicator(id); ind != nil {
			ids[ind.Name] = id
		}
	}
	days := make([]string, 0, len(want))
	for d := range want {
		days = append(days, d)
	}
	sort.Strings(days)
	for _, d := range days {
		start, err := time.ParseInLocation("2006-01-02", d, loc)
		if err != nil {
			continue
		}
		err = e.db.Events(store.Query{User: user, Since: start, Until: start.AddDate(0, 0, 1)}, func(ev *event.Event) error {
			if ae := tag(ev, want[d]); len(ae.Indicators) > 0 {
				byID[ev.ID+"\x00"+ev.Time.String()] = ae
			}
			return nil
		})
		if err != nil {
			return ActivityPage{}, err
		}
	}
	var missing []string
	if len(named) > 0 {
		list := make([]string, 0, len(named))
		for id := range named {
			list = append(list, id)
		}
		evs, err := e.db.UserEvents(user, list)
		if err != nil {
			return ActivityPage{}, err
		}
		for _, id := range list {
			if _, ok := evs[id]; !ok {
				missing = append(missing, id)
			}
		}
		sort.Strings(missing)
		for id, ev := range evs {
			k := ev.ID + "\x00" + ev.Time.String()
			ae := byID[k]
			if ae == nil {
				ae = tag(ev, nil)
				byID[k] = ae
			}
			for _, n := range named[id] {
				if !slices.Contains(ae.Indicators, n) {
					ae.Indicators = append(ae.Indicators, n)
				}
			}
		}
	}
	all := make([]*ActivityEvent, 0, len(byID))
	for _, ae := range byID {
		all = append(all, ae)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].Event.Time.Equal(all[j].Event.Time) {
			return all[i].Event.Time.Before(all[j].Event.Time)
		}
		return all[i].Event.ID < all[j].Event.ID
	})
	page := ActivityPage{All: len(all), Missing: missing, Indicators: map[string]string{}, Days: []string{}, Categories: []string{}, Events: []ActivityEvent{},
		Offset: f.Offset, Limit: f.Limit}
	var hits []*ActivityEvent
	for _, ae := range all {
		if !slices.Contains(page.Days, ae.Day) {
			page.Days = append(page.Days, ae.Day)
		}
		for _, c := range ae.Categories {
			if !slices.Contains(page.Categories, c) {
				page.Categories = append(page.Categories, c)
			}
		}
		for _, n := range ae.Indicators {
			page.Indicators[cmpOr(ids[n], n)] = n
		}
		if (f.Day != "" && ae.Day != f.Day) || (f.Category != "" && !slices.Contains(ae.Categories, f.Category)) {
			continue
		}
		if f.Indicator != "" {
			name := f.Indicator
			if ind := rs.Indicator(f.Indicator); ind != nil {
				name = ind.Name
			}
			if !slices.Contains(ae.Indicators, name) {
				continue
			}
		}
		hits = append(hits, ae)
	}
	sort.Strings(page.Categories)
	page.Total = len(hits)
	for _, ae := range hits[min(f.Offset, len(hits)):min(f.Offset+f.Limit, len(hits))] {
		page.Events = append(page.Events, *ae)
	}
	return page, nil
}

func dayIn(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01-02") }

// UserProfile returns the user's HR profile (found = false without HR records).
func (e *Engine) UserProfile(upn string) (event.Profile, bool, error) { return e.db.Profile(upn) }

// TriggerEvents returns the stored events behind the alert's triggers, by event id.
func (e *Engine) TriggerEvents(a *Alert) (map[string]*event.Event, error) {
	var ids []string
	for _, t := range a.Triggers {
		if t.EventID != "" {
			ids = append(ids, t.EventID)
		}
	}
	return e.db.UserEvents(a.User, ids)
}
