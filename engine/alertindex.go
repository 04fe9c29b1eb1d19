package engine

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"irm/store"
)

// The alert read model. Every alert has one compact entry here (the fields the queue
// filters, sorts and shows), kept up to date by saveAlert. Queries filter and sort these
// entries and copy only the alerts of the page asked for, so a queue of 100,000 alerts
// costs a scan of small structs rather than a deep copy of every alert.
//
// At start the engine decodes only what the entries and the scoring state need of the
// closed (dismissed, resolved) alerts; the rest of such an alert (event ids, details,
// history) is read from the store when someone opens or changes it (fullAlert). Active
// alerts, which evaluation rewrites, are always complete in memory.

// alertEntry is one alert in the read model.
type alertEntry struct {
	id, user, policy, template, title, assignee, caseID string
	created, updated                                    int64 // unix nanos
	score                                               int32
	severity                                            uint8 // levelRank
	status                                              uint8 // index in Statuses
	factors                                             uint8 // bit i: RiskFactors[i]
}

type alertIndex struct {
	entries []alertEntry
	pos     map[string]int
}

func (ix *alertIndex) put(a *Alert) {
	if ix.pos == nil {
		ix.pos = map[string]int{}
	}
	en := alertEntry{id: a.ID, user: a.User, policy: a.Policy, template: a.Template, title: a.Title, assignee: a.Assignee,
		caseID: a.Case, created: a.Created.UnixNano(), updated: a.Updated.UnixNano(), score: int32(a.Score),
		severity: uint8(levelRank(a.Severity)), status: uint8(max(0, slices.Index(Statuses, a.Status)))}
	for i, f := range RiskFactors {
		if slices.Contains(a.RiskFactors, f) {
			en.factors |= 1 << i
		}
	}
	if i, ok := ix.pos[a.ID]; ok {
		ix.entries[i] = en
		return
	}
	ix.pos[a.ID] = len(ix.entries)
	ix.entries = append(ix.entries, en)
}

// AlertSummary is an alert as the queue lists it.
type AlertSummary struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Policy      string    `json:"policy"`
	Template    string    `json:"template"`
	Title       string    `json:"title"`
	Severity    string    `json:"severity"`
	Score       int       `json:"score"`
	Status      string    `json:"status"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	RiskFactors []string  `json:"risk_factors"`
	Case        string    `json:"case,omitempty"`
	Assignee    string    `json:"assignee,omitempty"`
}

var severityOfRank = [4]string{"", LevelLow, LevelMedium, LevelHigh}

func (en *alertEntry) summary() AlertSummary {
	s := AlertSummary{ID: en.id, User: en.user, Policy: en.policy, Template: en.template, Title: en.title,
		Severity: severityOfRank[en.severity&3], Score: int(en.score), Status: Statuses[en.status],
		Created: time.Unix(0, en.created).UTC(), Updated: time.Unix(0, en.updated).UTC(), RiskFactors: []string{},
		Case: en.caseID, Assignee: en.assignee}
	for i, f := range RiskFactors {
		if en.factors&(1<<i) != 0 {
			s.RiskFactors = append(s.RiskFactors, f)
		}
	}
	return s
}

// AlertFilter selects alerts; empty fields match everything.
type AlertFilter struct {
	Status, Severity, Policy, User, Template string
	Since                                    time.Time // created at or after
}

func (f *AlertFilter) match(a *Alert) bool {
	return (f.Status == "" || a.Status == f.Status) && (f.Severity == "" || a.Severity == f.Severity) &&
		(f.Policy == "" || a.Policy == f.Policy) && (f.User == "" || a.User == f.User) &&
		(f.Template == "" || a.Template == f.Template) && (f.Since.IsZero() || !a.Created.Before(f.Since))
}

// Sort orders of AlertQuery.
const (
	SortTime     = "time"     // detection time (default: newest first)
	SortScore    = "score"    // score (default: highest first)
	SortSeverity = "severity" // severity, then score (default: highest first)
)

// AlertQuery asks the read model for one page of alerts.
type AlertQuery struct {
	AlertFilter
	RiskFactor string    // one of RiskFactors
	Assignee   string    // account name; "-" = nobody
	Until      time.Time // created before
	// Hidden drops users the viewer may not see (priority groups with their own
	// reviewers); nil hides nobody.
	Hidden    func(user string) bool
	Sort      string // SortTime (default), SortScore, SortSeverity
	Ascending bool   // oldest, lowest first
	Offset    int
	Limit     int // 0 = 50; at most 1000
}

// AlertPage is one page of a query's answer.
type AlertPage struct {
	Alerts []AlertSummary `json:"alerts"`
	Total  int            `json:"total"` // alerts matching the query
	// BySeverity counts the matches per severity as if no severity were chosen, so
	// the queue can offer "high 12 · medium 40 · low 300" next to the filter.
	BySeverity map[string]int `json:"by_severity"`
	Offset     int            `json:"offset"`
	Limit      int            `json:"limit"`
}

// MaxPage is the largest page QueryAlerts returns.
const MaxPage = 1000

// QueryAlerts filters, counts, sorts and pages the alerts.
func (e *Engine) QueryAlerts(q AlertQuery) (AlertPage, error) {
	if q.Status != "" && !slices.Contains(Statuses, q.Status) {
		return AlertPage{}, fmt.Errorf("status %q is not one of %s", q.Status, strings.Join(Statuses, ", "))
	}
	if q.Severity != "" && levelRank(q.Severity) == 0 {
		return AlertPage{}, fmt.Errorf("severity %q is not one of low, medium, high", q.Severity)
	}
	factor := -1
	if q.RiskFactor != "" {
		if factor = slices.Index(RiskFactors, q.RiskFactor); factor < 0 {
			return AlertPage{}, fmt.Errorf("risk factor %q is not one of %s", q.RiskFactor, strings.Join(RiskFactors, ", "))
		}
	}
	switch q.Sort {
	case "", SortTime, SortScore, SortSeverity:
	default:
		return AlertPage{}, fmt.Errorf("sort %q is not one of time, score, severity", q.Sort)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, MaxPage)
	q.Offset = max(q.Offset, 0)
	status := -1
	if q.Status != "" {
		status = slices.Index(Statuses, q.Status)
	}
	sev := levelRank(q.Severity)
	since, until := int64(0), int64(0)
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixNano()
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	page := AlertPage{BySeverity: map[string]int{LevelHigh: 0, LevelMedium: 0, LevelLow: 0}, Offset: q.Offset, Limit: q.Limit}
	var bySev [4]int
	hidden := map[string]bool{}
	var hits []*alertEntry
	for i := range e.alertIx.entries {
		en := &e.alertIx.entries[i]
		if (status >= 0 && int(en.status) != status) || (q.Policy != "" && en.policy != q.Policy) ||
			(q.User != "" && en.user != q.User) || (q.Template != "" && en.template != q.Template) ||
			(factor >= 0 && en.factors&(1<<factor) == 0) || (since != 0 && en.created < since) ||
			(until != 0 && en.created >= until) {
			continue
		}
		if q.Assignee != "" && en.assignee != q.Assignee && (q.Assignee != "-" || en.assignee != "") {
			continue
		}
		if q.Hidden != nil {
			h, ok := hidden[en.user]
			if !ok {
				h = q.Hidden(en.user)
				hidden[en.user] = h
			}
			if h {
				continue
			}
		}
		bySev[en.severity&3]++
		if sev != 0 && int(en.severity) != sev {
			continue
		}
		hits = append(hits, en)
	}
	page.BySeverity[LevelLow], page.BySeverity[LevelMedium], page.BySeverity[LevelHigh] = bySev[1], bySev[2], bySev[3]
	page.Total = len(hits)
	sortEntries(hits, q.Sort, q.Ascending)
	page.Alerts = []AlertSummary{}
	for _, en := range hits[min(q.Offset, len(hits)):min(q.Offset+q.Limit, len(hits))] {
		page.Alerts = append(page.Alerts, en.summary())
	}
	return page, nil
}

// sortEntries orders by the key (descending unless asc), then newest first, then id.
func sortEntries(es []*alertEntry, key string, asc bool) {
	slices.SortFunc(es, func(a, b *alertEntry) int {
		var c int
		switch key {
		case SortScore:
			c = cmp.Compare(a.score, b.score)
		case SortSeverity:
			if c = cmp.Compare(a.severity, b.severity); c == 0 {
				c = cmp.Compare(a.score, b.score)
			}
		}
		if c == 0 {
			c = cmp.Compare(a.created, b.created)
		}
		if !asc {
			c = -c
		}
		if c == 0 {
			c = strings.Compare(a.id, b.id)
		}
		return c
	})
}

// Alerts returns copies of the alerts matching f, newest first.
func (e *Engine) Alerts(f AlertFilter) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	var hits []*alertEntry
	sev := levelRank(f.Severity)
	for i := range e.alertIx.entries {
		en := &e.alertIx.entries[i]
		if (f.Status != "" && Statuses[en.status] != f.Status) || (f.Severity != "" && int(en.severity) != sev) ||
			(f.Policy != "" && en.policy != f.Policy) || (f.User != "" && en.user != f.User) ||
			(f.Template != "" && en.template != f.Template) || (!f.Since.IsZero() && en.created < f.Since.UnixNano()) {
			continue
		}
		hits = append(hits, en)
	}
	sortEntries(hits, SortTime, false)
	out := make([]Alert, 0, len(hits))
	for _, en := range hits {
		a, err := e.fullAlert(en.id)
		if err != nil {
			e.log.Error("alert", "id", en.id, "err", err)
			continue
		}
		out = append(out, cloneAlert(a))
	}
	return out
}

// Alert returns a copy of one alert.
func (e *Engine) Alert(id string) (Alert, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.alerts[id]; !ok {
		return Alert{}, false
	}
	a, err := e.fullAlert(id)
	if err != nil {
		e.log.Error("alert", "id", id, "err", err)
		return Alert{}, false
	}
	return cloneAlert(a), true
}

// fullAlert returns the alert with every part loaded. Call with e.mu held.
func (e *Engine) fullAlert(id string) (*Alert, error) {
	a, ok := e.alerts[id]
	if !ok {
		return nil, fmt.Errorf("alert %s: not found", id)
	}
	if !a.partial {
		return a, nil
	}
	val, ok, err := e.db.Alert(id)
	if err != nil {
		return nil, fmt.Errorf("alert %s: %w", id, err)
	}
	if !ok {
		return nil, fmt.Errorf("alert %s: not in the store", id)
	}
	var full Alert
	if err := decodeAlert(val, &full); err != nil {
		return nil, fmt.Errorf("stored alert %s: %w", id, err)
	}
	*a = full
	return a, nil
}

// decodeAlert decodes a stored alert. go-json-experiment (encoding/json/v2) decodes
// alerts about three times faster than encoding/json, which is most of start-up.
func decodeAlert(b []byte, a *Alert) error { return jsonv2.Unmarshal(b, a) }

// cloneAlert is a deep copy.
func cloneAlert(a *Alert) Alert {
	c := *a
	c.partial = false
	c.RiskFactors = slices.Clone(a.RiskFactors)
	c.EventIDs = slices.Clone(a.EventIDs)
	c.Triggers = slices.Clone(a.Triggers)
	c.History = slices.Clone(a.History)
	if a.Insights != nil {
		c.Insights = make([]Insight, len(a.Insights))
		for i, in := range a.Insights {
			in.Boosters = slices.Clone(in.Boosters)
			in.EventIDs = slices.Clone(in.EventIDs)
			in.day, in.shared = 0, false
			c.Insights[i] = in
		}
	}
	return c
}

// FilterAlerts returns the alerts matching f, newest first.
func FilterAlerts(all []Alert, f AlertFilter) []Alert {
	var out []Alert
	for i := range all {
		if f.match(&all[i]) {
			out = append(out, all[i])
		}
	}
	sortAlerts(out)
	return out
}

func sortAlerts(as []Alert) {
	sort.Slice(as, func(i, j int) bool {
		if !as[i].Created.Equal(as[j].Created) {
			return as[i].Created.After(as[j].Created)
		}
		return as[i].ID < as[j].ID
	})
}

// alertHeadKey prefixes the stored head of each alert: the read model's fields and the
// closed-alert memory of scoring, about a tenth of the alert. Start-up reads only the
// heads (alerthead.go): 100,000 alerts of 5 KB each are 560 MB of JSON, their heads
// about 25 MB.
const alertHeadKey = "eng/alert-head/"

// loadAlerts reads the alerts' heads into the engine, decoding on every core. Alerts
// stored before heads existed are read whole once and get their head.
func (e *Engine) loadAlerts() error {
	// Counting the keys first (no values) sizes the maps once instead of growing them
	// through a dozen rehashes.
	stored := 0
	if err := e.db.AlertIDs(func(string) error { stored++; return nil }); err != nil {
		return err
	}
	e.alerts = make(map[string]*Alert, stored)
	e.alertIx.pos = make(map[string]int, stored)
	e.alertIx.entries = make([]alertEntry, 0, stored)
	e.alertCount = make(map[pairKey]int, stored/2)
	type doc struct {
		name string
		val  []byte
	}
	type result struct {
		a    *Alert
		refs []coverRef
		err  error
	}
	docs := make(chan doc, 512)
	results := make(chan result, 512)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for d := range docs {
				a, refs, err := decodeHead(d.val)
				if err != nil {
					err = fmt.Errorf("stored alert head %s: %w", d.name, err)
				}
				results <- result{a: a, refs: refs, err: err}
			}
		})
	}
	readErr := make(chan error, 1)
	go func() {
		readErr <- e.db.EngineStates(strings.TrimPrefix(alertHeadKey, "eng/"), func(name string, val []byte) error {
			docs <- doc{name, val}
			return nil
		})
		close(docs)
		wg.Wait()
		close(results)
	}()
	var first error
	for r := range results {
		if r.err != nil {
			first = cmp.Or(first, r.err)
			continue
		}
		e.indexAlert(r.a)
		if !r.a.active() {
			k := pairKey{r.a.User, r.a.Policy}
			m := e.covered[k]
			if m == nil {
				m = map[string]int{}
				e.covered[k] = m
			}
			for _, c := range r.refs {
				m[c.key] = max(m[c.key], c.rank)
			}
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	if first != nil {
		return first
	}
	// Alerts without a head (stored by an older version).
	if len(e.alerts) == stored {
		return nil
	}
	var missing []string
	if err := e.db.AlertIDs(func(id string) error {
		if _, ok := e.alerts[id]; !ok {
			missing = append(missing, id)
		}
		return nil
	}); err != nil {
		return err
	}
	var heads []store.Doc
	for _, id := range missing {
		val, ok, err := e.db.Alert(id)
		if err != nil || !ok {
			return fmt.Errorf("stored alert %s: %v", id, cmp.Or(err, errors.New("vanished")))
		}
		a := &Alert{}
		if err := decodeAlert(val, a); err != nil {
			return fmt.Errorf("stored alert %s: %w", id, err)
		}
		if a.Title == "" {
			a.Title = AlertTitle(a)
		}
		e.indexAlert(a)
		heads = append(heads, store.Doc{Key: alertHeadKey + id, Value: encodeHead(a)})
	}
	if len(heads) > 0 {
		return e.db.PutDocsLazy(heads)
	}
	return nil
}

// hydrateActive makes every active alert whole before the first evaluation (which
// rewrites active alerts); called from ensureBuilt, a no-op after the first time.
func (e *Engine) hydrateActive() error {
	if e.hydrated {
		return nil
	}
	for _, id := range e.active {
		if _, err := e.fullAlert(id); err != nil {
			return err
		}
	}
	e.hydrated = true
	return nil
}

// LoadAlerts reads the stored alerts without building an engine (for the CLI).
func LoadAlerts(db *store.DB) ([]Alert, error) {
	var out []Alert
	err := db.Alerts(func(id string, val []byte) error {
		var a Alert
		if err := decodeAlert(val, &a); err != nil {
			return fmt.Errorf("stored alert %s: %w", id, err)
		}
		if a.Title == "" {
			a.Title = AlertTitle(&a)
		}
		out = append(out, a)
		return nil
	})
	sortAlerts(out)
	return out, err
}

// ForViewer returns the alert as a viewer sees it: the user shown as who (a pseudonym
// when it differs from the UPN) and free text passed through scrub (which replaces the
// user's names), for the UI and the API. The engine's JSON form is the same for
// everyone; only these fields change.
func (a Alert) ForViewer(who string, scrub func(string) string) Alert {
	c := cloneAlert(&a)
	if who == a.User {
		return c
	}
	c.User, c.Pseudonymous = who, true
	c.Title = scrub(c.Title)
	for i := range c.Insights {
		c.Insights[i].Detail = scrub(c.Insights[i].Detail)
		c.Insights[i].Name = scrub(c.Insights[i].Name)
	}
	for i := range c.History {
		c.History[i].Comment = scrub(c.History[i].Comment)
		c.History[i].Action = scrub(c.History[i].Action)
	}
	for i := range c.Triggers {
		c.Triggers[i].Name = scrub(c.Triggers[i].Name)
	}
	return c
}
