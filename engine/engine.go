// Package engine is the detection engine: global settings, policies built from the
// rule templates, triggers that bring a user into scope, daily indicator counts mapped
// to levels and points, boosters, sequences, cumulative exfiltration, and one
// explainable alert per (user, policy). See docs/engine.md.
//
// Design: every committed event is matched once against the rule set; the engine keeps
// a compact per-user index of the matches ("hits"), trigger events and DLP matches in
// memory, rebuilt from the store at start and whenever the rules, settings or a user's
// HR profile change. A (user, policy) score is always recomputed from that index over
// the user's whole scope, never updated incrementally, so the result depends only on
// the set of stored events, not on the order or batching in which they arrived.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"irm/config"
	"irm/dsl"
	"irm/event"
	"irm/store"
)

const (
	dayNanos = int64(24 * time.Hour)
	// maxInsightIDs caps the event ids kept per insight: the first ones in time order,
	// so the list is the same whatever order the events arrived in.
	maxInsightIDs = 50
	// settleDelay is how long after the last batch the engine re-evaluates every
	// in-scope user, for scores that depend on other users' activity (cumulative
	// exfiltration against the organisation's distribution).
	settleDelay = 2 * time.Second
	// maxSettleDelay bounds how long a steady stream of batches can put the settle pass
	// off: held-back alerts and shared statistics are at most this late.
	maxSettleDelay = 30 * time.Second
	// maxTrigOps bounds the operations per feed remembered by triggerTemplates.
	maxTrigOps = 4096
)

// Engine evaluates committed events against the policies. All methods are safe for
// concurrent use.
type Engine struct {
	db    *store.DB
	rules *dsl.Reloader
	cfg   *config.Config
	log   *slog.Logger
	now   func() time.Time

	mu       sync.Mutex
	settings Settings
	policies map[string]*Policy
	alerts   map[string]*Alert
	active   map[pairKey]string // (user, policy) -> id of the active alert
	// covered: the insights (kind/id/day -> level rank) that closed (dismissed or
	// resolved) alerts of the pair showed; they do not raise a new alert again.
	covered    map[pairKey]map[string]int
	alertCount map[pairKey]int
	cases      map[string]*Case
	manual     map[string][]ManualScope
	pseudoKey  []byte
	idKey      []byte     // keys alert and case ids (alertids.go)
	alertIx    alertIndex // the alerts' read model (alertindex.go)
	hydrated   bool       // the active alerts are whole (alertindex.go)

	// Derived state, rebuilt from the store.
	built  bool
	rs     *dsl.RuleSet
	users  map[string]*userIndex
	inds   []*dsl.Indicator  // rs.Indicators(), which allocates a new slice on each call
	indIx  map[string]uint16 // indicator id -> index in rs.Indicators()
	tmplIx map[*dsl.Template]uint16
	trigBy map[string][]*dsl.Template // feed -> templates with a plain (non-count) trigger on it
	// trigOp narrows trigBy by operation: feed -> operation -> the templates whose plain
	// triggers can fire on it (dsl.RuleSet.MayTrigger), filled as operations appear.
	trigOp map[string]map[string][]*dsl.Template
	idBuf  []string       // Match's result, reused from event to event
	counts []countTrigger // count triggers of every template; bit i of hit.ct
	// profileFeeds are the feeds of rules that read the user's HR profile: a changed
	// profile re-matches the user's stored events of these feeds.
	profileFeeds map[string]bool
	// profileFields are the user fields those rules read: a profile change that leaves
	// them all equal cannot change a match, and re-matches nothing.
	profileFields []string
	dlpSeen       map[string]bool // lower-cased DLP policy names seen
	files         *strtab         // lower-case file names of hits
	contents      *contentTab     // priority-content attributes of hits
	dlpSets       *strtab         // the policy names of DLP matches
	groups        *groupStats     // department and organisation statistics of the last settle pass
	loc           *time.Location  // the organisation's time zone: days are its dates
	inScope       map[pairKey]bool

	rematches int // users whose stored events a profile change made the engine re-match (tests)

	pending  []store.Doc
	dirty    chan struct{}
	syncNext bool // the pending documents record a person's action: sync them
}

type pairKey struct{ user, policy string }

// ManualScope is an administrator's "start scoring" of a user, bypassing triggers.
type ManualScope struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Reason string    `json:"reason"`
	Actor  string    `json:"actor"`
	// Policies are the policies the user is scored by (names); empty in scopes stored
	// before policies could be chosen, which then apply to every policy.
	Policies []string `json:"policies,omitempty"`
}

func (m *ManualScope) covers(policy string) bool {
	return len(m.Policies) == 0 || slices.Contains(m.Policies, policy)
}

// New loads settings, policies, alerts and cases from db. The per-user index is built
// on first use (Rebuild forces it).
func New(db *store.DB, rules *dsl.Reloader, cfg *config.Config, log *slog.Logger) (*Engine, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		db: db, rules: rules, cfg: cfg, log: log, now: func() time.Time { return time.Now().UTC() },
		settings: DefaultSettings(), policies: map[string]*Policy{}, alerts: map[string]*Alert{},
		active: map[pairKey]string{}, covered: map[pairKey]map[string]int{}, alertCount: map[pairKey]int{},
		cases: map[string]*Case{}, manual: map[string][]ManualScope{}, dirty: make(chan struct{}, 1),
	}
	if val, ok, err := db.Settings(); err != nil {
		return nil, err
	} else if ok {
		s := DefaultSettings()
		if err := json.Unmarshal(val, &s); err != nil {
			return nil, fmt.Errorf("stored settings: %w", err)
		}
		e.settings = s
	}
	if err := db.Policies(func(name string, val []byte) error {
		var p Policy
		if err := json.Unmarshal(val, &p); err != nil {
			return fmt.Errorf("stored policy %q: %w", name, err)
		}
		e.policies[p.Name] = &p
		return nil
	}); err != nil {
		return nil, err
	}
	key, err := db.SecretKey(idKeyName)
	if err != nil {
		return nil, err
	}
	e.idKey = key
	if err := e.loadAlerts(); err != nil {
		return nil, err
	}
	if err := db.Cases(func(id string, val []byte) error {
		var c Case
		if err := json.Unmarshal(val, &c); err != nil {
			return fmt.Errorf("stored case %s: %w", id, err)
		}
		e.cases[c.ID] = &c
		return nil
	}); err != nil {
		return nil, err
	}
	if err := db.EngineStates("manual/", func(name string, val []byte) error {
		var ms []ManualScope
		if err := json.Unmarshal(val, &ms); err != nil {
			return fmt.Errorf("stored manual scope %s: %w", name, err)
		}
		e.manual[strings.TrimPrefix(name, "manual/")] = ms
		return nil
	}); err != nil {
		return nil, err
	}
	if rules != nil {
		rules.OnReload(func(*dsl.RuleSet) { e.poke() })
	}
	return e, nil
}

func (e *Engine) indexAlert(a *Alert) {
	e.alerts[a.ID] = a
	e.alertIx.put(a)
	k := pairKey{a.User, a.Policy}
	e.alertCount[k]++
	if a.active() {
		e.active[k] = a.ID
	} else {
		e.cover(k, a)
	}
}

// cover records the insights of a closed alert: the same evidence does not raise the
// pair's next alert, new evidence (a later day, a higher level) does.
func (e *Engine) cover(k pairKey, a *Alert) {
	m := e.covered[k]
	if m == nil {
		m = map[string]int{}
		e.covered[k] = m
	}
	for _, in := range a.Insights {
		ik := in.Kind + "/" + in.ID + "/" + in.Day
		m[ik] = max(m[ik], levelRank(in.Level))
	}
}

func (e *Engine) ruleSet() *dsl.RuleSet {
	if e.rules == nil {
		return nil
	}
	return e.rules.Current()
}

// poke asks the Run loop to settle soon.
func (e *Engine) poke() {
	select {
	case e.dirty <- struct{}{}:
	default:
	}
}

// Run settles a short while after activity stops, after a rule reload, and at least
// every maxSettleDelay while batches keep coming, until ctx is done. Scores that depend
// only on the user's own complete history are final after Process; the settle pass
// (Flush) refreshes the statistics shared by everyone and raises the alerts Process
// held back.
func (e *Engine) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.dirty:
		}
		quiet := time.NewTimer(settleDelay)
		deadline := time.NewTimer(maxSettleDelay)
	wait:
		for {
			select {
			case <-ctx.Done():
				quiet.Stop()
				deadline.Stop()
				return nil
			case <-e.dirty:
				quiet.Reset(settleDelay)
			case <-quiet.C:
				break wait
			case <-deadline.C:
				break wait
			}
		}
		quiet.Stop()
		deadline.Stop()
		if err := e.Flush(); err != nil {
			e.log.Error("engine settle", "err", err)
		}
	}
}

// Flush settles the statistics every user shares (department and organisation
// baselines, cumulative exfiltration norms), re-evaluates every user against every
// policy and writes the alerts: call it after a bulk ingest (irm ingest -once) so that
// the final alerts reflect the whole data.
func (e *Engine) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensureBuilt(); err != nil {
		return err
	}
	e.settle()
	e.evaluateUsers(e.allUsers(), nil)
	return e.flushDocs()
}

// Rebuild (re)builds the per-user index from the store and re-evaluates everyone.
func (e *Engine) Rebuild() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.built = false
	if err := e.ensureBuilt(); err != nil {
		return err
	}
	e.evaluateUsers(e.allUsers(), nil)
	return e.flushDocs()
}

// Process evaluates one committed batch: the users with new events are re-scored at
// once. It is meant for Ingester.OnCommit.
func (e *Engine) Process(added []event.Event) {
	if len(added) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.process(added); err != nil {
		e.log.Error("engine: evaluating batch", "events", len(added), "err", err)
	}
	e.poke()
}

func (e *Engine) process(added []event.Event) error {
	wasBuilt := e.built && e.rs == e.ruleSet()
	if err := e.ensureBuilt(); err != nil {
		return err
	}
	if !wasBuilt {
		// The rebuild read the batch from the store.
		e.evaluateUsers(e.allUsers(), nil)
		return e.flushDocs()
	}
	profiles := map[string]bool{}
	for i := range added {
		if ev := &added[i]; ev.Feed == event.FeedHR || ev.HR != nil || ev.Operation == "Delete user." {
			profiles[ev.User] = true
		}
	}
	// A user whose batch brings an event from before a day already evaluated (a late
	// file, a backfill in any order) is evaluated on incomplete history: until a settle
	// pass sees it all, such an evaluation updates alerts but raises none. In time order
	// each evaluation sees a complete past, and what it alerts on stays true.
	hold := map[string]bool{}
	for i := range added {
		ev := &added[i]
		if ux := e.users[ev.User]; ux != nil && ux.newest != 0 && e.dayOf(ev.Time) < dayOf(e.dayStart(ux.newest)) {
			hold[ev.User] = true
		}
	}
	touched := map[string]bool{}
	rematched := map[string]bool{} // profile-reading feeds were read back from the store
	rebuilt := map[string]bool{}   // every event was read back from the store
	for u := range profiles {
		if e.users[u] == nil {
			if err := e.rebuildUser(u); err != nil {
				return err
			}
			rebuilt[u] = true
			touched[u] = true
			continue
		}
		// Rules may read the profile (e.g. badge use after the last working day), so a
		// changed profile re-matches the user's stored events of the feeds such rules
		// read: this is how a late HR record reaches back over past activity.
		changed, err := e.rematchProfile(u)
		if err != nil {
			return err
		}
		rematched[u] = changed
		touched[u] = true
	}
	lists := e.settings.lists()
	for i := range added {
		ev := &added[i]
		if ev.User == "" || rebuilt[ev.User] || (rematched[ev.User] && e.profileFeeds[ev.Feed]) {
			if ux := e.users[ev.User]; ev.User != "" && rematched[ev.User] {
				e.markActive(ux, e.dayOf(ev.Time))
				ux.newest = max(ux.newest, ev.Time.UnixNano())
			}
			continue // already read back from the store by rematchProfile
		}
		ux := e.user(ev.User)
		e.index(ux, ev, lists)
		touched[ev.User] = true
	}
	users := make([]string, 0, len(touched))
	for u := range touched {
		e.users[u].sortHits()
		users = append(users, u)
	}
	sort.Strings(users)
	e.evaluateUsers(users, hold)
	return e.flushDocs()
}

func (e *Engine) allUsers() []string {
	out := make([]string, 0, len(e.users))
	for u := range e.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// dayOf is the day number of t in the organisation's time zone: the number of days
// from 1970-01-01 to t's local date.
func (e *Engine) dayOf(t time.Time) int32 {
	if e.loc != nil && e.loc != time.UTC {
		y, m, d := t.In(e.loc).Date()
		t = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return dayOf(t.UnixNano())
}

// dayStart maps a time to the start of its day in the organisation's zone, expressed
// as a UTC time of the same date (so that dayOf of the result is the local day).
func (e *Engine) dayStart(t int64) int64 {
	return int64(e.dayOf(time.Unix(0, t))) * dayNanos
}

func dayOf(t int64) int32 {
	if t < 0 {
		return int32((t - dayNanos + 1) / dayNanos)
	}
	return int32(t / dayNanos)
}

func dayString(d int32) string { return time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02") }

// scorer returns the view of the engine that scoring reads (score.go).
func (e *Engine) scorer() *scorer {
	inds := e.inds
	sc := &scorer{rs: e.rs, s: &e.settings, cfg: e.cfg, inds: inds, indIx: e.indIx, counts: e.counts,
		files: e.files, contents: e.contents, dlpSets: e.dlpSets, groups: e.groups, manual: e.manual,
		confirmed: e.confirmedViolation, dayName: dayString, dayBounds: e.dayBounds, trigCounters: map[string][]counter{}}
	for i, ind := range inds {
		if ind.FirstSeen != nil {
			if sc.novel == nil {
				sc.novel = make([]*dsl.NoveltyTracker, len(inds))
			}
			sc.novel[i] = dsl.NewNoveltyTracker(ind.FirstSeen)
		}
	}
	return sc
}

// settle recomputes the statistics that depend on every user: the department and
// organisation daily counts behind group baselines, and the cumulative exfiltration
// norms of every exfiltration indicator set the enabled policies use.
func (e *Engine) settle() {
	start := time.Now()
	g := newGroupStats()
	sc := e.scorer()
	first, last := int32(math.MaxInt32), int32(math.MinInt32)
	for _, ux := range e.users {
		if d, ok := ux.active.first(); ok {
			first = min(first, d)
			last = max(last, ux.active.base+int32(len(ux.active.words))*64-1)
		}
	}
	if first > last {
		e.groups = g
		return
	}
	// The first day of data: before a month of history exists nothing is usual yet.
	g.since = first
	// Only the most recent days can be in anyone's scope or baseline.
	first = max(first, last-settleDays)
	sets := map[string]exfilSet{}
	for _, p := range e.policies {
		if tmpl := e.rs.Template(p.Template); p.Enabled && p.Cumulative && tmpl != nil {
			set := sc.exfilSetOf(sc.indicatorSet(p, tmpl))
			if len(set.has) > 0 {
				sets[set.key] = set
			}
		}
	}
	type pop struct {
		group uint16
		day   int32
	}
	sums := map[pctKey][]int{} // nonzero 30-day totals
	popN := map[pop]int{}      // users active in the 30 days to the day
	for _, u := range e.allUsers() {
		ux := e.users[u]
		up := sc.pass(ux)
		g.addUser(ux, up.table(nil), first, last)
		groups := []uint16{0}
		if d := ux.department(); d != "" {
			groups = append(groups, g.groupOf(d))
		}
		for d := first; d <= last; d++ {
			if ux.active.count(d-29, d) > 0 {
				for _, gr := range groups {
					popN[pop{gr, d}]++
				}
			}
		}
		for _, set := range sets {
			perDay := up.exfilDays(set, nil)
			if len(perDay) == 0 {
				continue
			}
			for d := first; d <= last; d++ {
				if n := sum30(perDay, d); n > 0 {
					for _, gr := range groups {
						k := pctKey{set.key, gr, d}
						sums[k] = append(sums[k], n)
					}
				}
			}
		}
	}
	for _, set := range sets {
		for pk, n := range popN {
			if n < 5 {
				continue // too small to have a norm
			}
			xs := sums[pctKey{set.key, pk.group, pk.day}]
			slices.Sort(xs)
			// Nearest rank over the population; the users without exfiltration are zeros.
			r := int(math.Ceil(float64(e.settings.CumulativePercentile)/100*float64(n))) - 1
			v := 0
			if zeros := n - len(xs); r >= zeros && len(xs) > 0 {
				v = xs[min(r-zeros, len(xs)-1)]
			}
			g.pct[pctKey{set.key, pk.group, pk.day}] = v
		}
	}
	e.groups = g
	e.log.Debug("engine settled", "users", len(e.users), "days", last-first+1, "took", time.Since(start).Round(time.Millisecond))
}

// settleDays bounds the days settle computes statistics for: the longest scope
// (past_activity_days 180 + activation_window_days 30) plus a baseline's history.
const settleDays = 180 + 30 + baselineDays + scoreWindowDays

// ensureBuilt builds the per-user index if it is missing or the rule set changed, and
// settles the shared statistics over it. It evaluates nobody.
func (e *Engine) ensureBuilt() error {
	rs := e.ruleSet()
	if rs == nil {
		return errors.New("engine: no rule set loaded")
	}
	if err := e.hydrateActive(); err != nil {
		return err
	}
	if e.built && e.rs == rs {
		return nil
	}
	start := time.Now()
	e.rs = rs
	e.inds = rs.Indicators()
	e.users = map[string]*userIndex{}
	e.indIx = map[string]uint16{}
	e.tmplIx = map[*dsl.Template]uint16{}
	e.dlpSeen = map[string]bool{}
	e.files = newStrtab()
	e.contents = newContentTab()
	e.dlpSets = newStrtab()
	e.inScope = map[pairKey]bool{}
	e.trigBy = map[string][]*dsl.Template{}
	e.trigOp = map[string]map[string][]*dsl.Template{}
	e.counts = nil
	e.profileFeeds = map[string]bool{}
	e.profileFields = nil
	e.loc = orgLocation(e.cfg)
	profileRule := func(when string, feeds []string) {
		fields := profileFieldsOf(when)
		if len(fields) == 0 {
			return
		}
		for _, f := range fields {
			if !slices.Contains(e.profileFields, f) {
				e.profileFields = append(e.profileFields, f)
			}
		}
		if len(feeds) == 0 {
			feeds = event.Feeds
		}
		for _, f := range feeds {
			e.profileFeeds[f] = true
		}
	}
	for i, ind := range e.inds {
		e.indIx[ind.ID] = uint16(i)
		profileRule(ind.When, ind.Feeds)
	}
	for ti, t := range rs.Templates() {
		e.tmplIx[t] = uint16(ti)
		feeds := map[string]bool{}
		for i := range t.Triggers {
			tr := &t.Triggers[i]
			profileRule(tr.When, tr.Feeds)
			if len(tr.Indicators) > 0 {
				if len(e.counts) < 32 { // hit.ct has 32 bits
					e.counts = append(e.counts, countTrigger{tmpl: t, tr: tr})
				} else {
					e.log.Error("engine: more than 32 count triggers; the rest are ignored", "template", t.ID, "trigger", tr.ID)
				}
				continue
			}
			if len(tr.Feeds) == 0 {
				for _, f := range event.Feeds {
					feeds[f] = true
				}
			}
			for _, f := range tr.Feeds {
				feeds[f] = true
			}
		}
		for f := range feeds {
			e.trigBy[f] = append(e.trigBy[f], t)
		}
	}
	var names []string
	if err := e.db.Users(func(u string) error { names = append(names, u); return nil }); err != nil {
		return fmt.Errorf("engine rebuild: %w", err)
	}
	events := 0
	for _, u := range names {
		if err := e.rebuildUser(u); err != nil {
			return err
		}
		events += len(e.users[u].hits)
	}
	e.built = true
	e.settle()
	e.log.Info("engine index built", "users", len(names), "hits", events, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// orgLocation is the organisation's time zone: days, working hours and baselines are
// counted in it. The config validates the name; an unknown one falls back to UTC.
func orgLocation(cfg *config.Config) *time.Location {
	if cfg == nil || cfg.Org.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(cfg.Org.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func (e *Engine) user(u string) *userIndex {
	ux := e.users[u]
	if ux == nil {
		ux = newUserIndex(u)
		ux.groups = e.settings.groupsOf(u)
		if p, ok, err := e.db.Profile(u); err == nil && ok {
			ux.profile = &p
		}
		e.users[ux.upn] = ux
	}
	return ux
}

// rebuildUser re-reads the user's profile and re-matches all of their stored events.
func (e *Engine) rebuildUser(u string) error {
	ux := newUserIndex(u)
	ux.groups = e.settings.groupsOf(u)
	if p, ok, err := e.db.Profile(u); err != nil {
		return fmt.Errorf("engine: profile %s: %w", u, err)
	} else if ok {
		ux.profile = &p
	}
	e.users[ux.upn] = ux
	lists := e.settings.lists()
	err := e.db.Events(store.Query{User: u}, func(ev *event.Event) error {
		e.index(ux, ev, lists)
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: events of %s: %w", u, err)
	}
	ux.sortHits()
	return nil
}

// profileRef finds rules that read the user profile ("user.x", not "event.target_user.x").
var profileRef = regexp.MustCompile(`(^|[^A-Za-z0-9_.])user\.([a-z_]+)`)

// profileFieldsOf returns the HR profile fields a condition reads (user.x; user.priority
// and user.priority_groups come from settings, which rebuild everything when they change).
func profileFieldsOf(when string) []string {
	var out []string
	for _, m := range profileRef.FindAllStringSubmatch(when, -1) {
		if m[2] != "priority" && m[2] != "priority_groups" && !slices.Contains(out, m[2]) {
			out = append(out, m[2])
		}
	}
	return out
}

// rematchProfile reloads the user's profile; if it changed, it drops the user's matches
// from the profile-reading feeds and matches those feeds' stored events again. It
// reports whether it did.
func (e *Engine) rematchProfile(u string) (bool, error) {
	ux := e.users[u]
	p, ok, err := e.db.Profile(u)
	if err != nil {
		return false, fmt.Errorf("engine: profile %s: %w", u, err)
	}
	if !ok || (ux.profile != nil && reflect.DeepEqual(*ux.profile, p)) {
		return false, nil
	}
	old := ux.profile
	ux.profile = &p
	// Matches were made with the old profile (none: the zero profile); when every field
	// the rules read is the same (an HR review changes the rating, not the end date),
	// they stand, and the user's stored events need not be read back.
	if len(e.profileFeeds) == 0 || dsl.ProfileFieldsEqual(old, &p, e.profileFields) {
		return false, nil
	}
	hits := ux.hits[:0]
	for _, h := range ux.hits {
		if !e.profileFeeds[feedName(h.feed)] {
			hits = append(hits, h)
		}
	}
	ux.hits = hits
	trig := ux.trig[:0]
	for _, t := range ux.trig {
		if !e.profileFeeds[feedName(t.feed)] {
			trig = append(trig, t)
		}
	}
	ux.trig = trig
	if e.profileFeeds[event.FeedDLP] {
		ux.dlp = nil
	}
	ux.compact()
	e.rematches++
	lists := e.settings.lists()
	feeds := make([]string, 0, len(e.profileFeeds))
	for f := range e.profileFeeds {
		feeds = append(feeds, f)
	}
	slices.Sort(feeds)
	for _, f := range feeds {
		err := e.db.Events(store.Query{User: u, Feed: f}, func(ev *event.Event) error {
			e.index(ux, ev, lists)
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("engine: events of %s: %w", u, err)
		}
	}
	ux.sorted = false
	return true, nil
}

// markActive records that the user was active on day. The first day of data moves at
// once, not at the next settle pass: judged against a first day that the data had already
// passed, the history windows of a bulk ingest looked complete before the settle pass saw
// them, and its first 30 seconds raised alerts (two of the 20,000-user bench/e2e.sh run)
// that the same data evaluated as a whole does not.
func (e *Engine) markActive(ux *userIndex, day int32) {
	ux.active.set(day)
	if e.groups != nil && day < e.groups.since {
		e.groups.since = day
	}
}

// scoredEvent reports whether the engine scores the event at all: endpoint alerts in a
// status the settings import (others are stored but not scored), no excluded file type,
// not activity only with allowed domains. The index and the rule backtest both ask.
func (e *Engine) scoredEvent(ev *event.Event, s *Settings) bool {
	if ev.Feed == event.FeedDefender {
		st := defenderStatusKey(ev.Status)
		if st == "" {
			st = "unknown"
		}
		if !slices.Contains(s.DefenderStatuses, st) {
			return false
		}
	}
	if ev.FileExt != "" && slices.Contains(s.ExcludedFileTypes, strings.ToLower(ev.FileExt)) {
		return false
	}
	return !allowedOnly(ev, s, e.cfg)
}

// statusSeparators are dropped from endpoint alert statuses: "In Progress", "in_progress"
// and "InProgress" are one status.
var statusSeparators = strings.NewReplacer(" ", "", "_", "")

func defenderStatusKey(s string) string { return statusSeparators.Replace(strings.ToLower(s)) }

// index matches one event and records what the engine needs of it.
func (e *Engine) index(ux *userIndex, ev *event.Event, lists map[string][]string) {
	s := &e.settings
	day := e.dayOf(ev.Time)
	e.markActive(ux, day)
	ux.newest = max(ux.newest, ev.Time.UnixNano())
	// Exclusions come first: an excluded file type or activity only with allowed
	// domains is not scored, and does not bring anyone into scope either.
	if !e.scoredEvent(ev, s) {
		return
	}
	in := dsl.Input{Event: ev, User: ux.profile, PriorityGroups: ux.groups, Lists: lists}
	t := ev.Time.UnixNano()
	feed := feedIndex(ev.Feed)
	for _, tmpl := range e.triggerTemplates(ev.Feed, ev.Operation) {
		for _, tr := range e.rs.MatchTriggers(tmpl.ID, &in) {
			if len(tr.Indicators) == 0 {
				th := trigHit{t: triggerTime(ev).UnixNano(), tmpl: e.tmplIx[tmpl], feed: feed}
				for i := range tmpl.Triggers {
					if &tmpl.Triggers[i] == tr {
						th.trig = uint16(i)
					}
				}
				th.idOff, th.idLen = ux.addID(ev.ID)
				ux.trig = append(ux.trig, th)
			}
		}
	}
	if ev.Feed == event.FeedDLP && len(ev.Policies) > 0 {
		low := lowerAll(ev.Policies)
		for _, p := range low {
			if !e.dlpSeen[p] {
				e.dlpSeen[strings.Clone(p)] = true
			}
		}
		d := dlpHit{t: t, policies: e.dlpSets.intern(strings.Join(low, "\x00")), high: strings.EqualFold(ev.Severity, "high")}
		d.idOff, d.idLen = ux.addID(ev.ID)
		ux.dlp = append(ux.dlp, d)
	}
	ids := e.rs.MatchAppend(e.idBuf[:0], &in)
	e.idBuf = ids[:0]
	if len(ids) == 0 {
		return
	}
	h := hit{t: t, day: day, feed: feed, indOff: uint32(len(ux.inds))}
	for _, id := range ids {
		if !s.enabled(id) {
			continue
		}
		ix, ok := e.indIx[id]
		if !ok {
			continue
		}
		ux.inds = append(ux.inds, ix)
		var key uint64
		if ind := e.inds[ix]; ind.FirstSeen != nil {
			key = dsl.KeyHash(e.rs.FirstSeenKey(ind, &in))
		}
		ux.keys = append(ux.keys, key)
		h.indN++
		if e.inds[ix].Category == "exfiltration" {
			h.flags |= hitExfil
		}
		if h.indN == 255 {
			break
		}
	}
	if h.indN == 0 {
		return
	}
	// Count triggers count events of their indicators; those with a condition of their
	// own (e.g. only for priority users) record here whether it held for this event.
	for bit, ct := range e.counts {
		match := false
		for _, id := range ids {
			if slices.Contains(ct.tr.Indicators, id) {
				match = true
				break
			}
		}
		if match && (ct.tr.When == "" || slices.ContainsFunc(e.rs.MatchTriggers(ct.tmpl.ID, &in), func(x *dsl.Trigger) bool { return x == ct.tr })) {
			h.ct |= 1 << uint(bit)
		}
	}
	h.idOff, h.idLen = ux.addID(ev.ID)
	h.file = e.files.intern(strings.ToLower(ev.FileName))
	h.content = e.contents.intern(ev)
	if unallowedDomain(ev, s) {
		h.flags |= hitUnallowed
	}
	if ev.Feed == event.FeedDefender && strings.EqualFold(ev.Severity, "high") {
		h.flags |= hitSevere
	}
	ux.add(h)
}

// triggerTemplates returns the templates with a plain trigger that can fire on an event
// of this feed and operation: most events (file access, browsing, mail) have none, and
// skip MatchTriggers altogether.
func (e *Engine) triggerTemplates(feed, op string) []*dsl.Template {
	byOp := e.trigOp[feed]
	if ts, ok := byOp[op]; ok {
		return ts
	}
	if byOp == nil {
		byOp = map[string][]*dsl.Template{}
		e.trigOp[strings.Clone(feed)] = byOp
	}
	ts := []*dsl.Template{}
	for _, t := range e.trigBy[feed] {
		if e.rs.MayTrigger(t.ID, feed, op) {
			ts = append(ts, t)
		}
	}
	if len(byOp) < maxTrigOps { // operation names come from the data: bound the cache
		byOp[strings.Clone(op)] = ts
	}
	return ts
}

// triggerTime is when a triggering event happened: for HR records the date they
// report (a resignation date, a review date), not when the file was exported.
func triggerTime(ev *event.Event) time.Time {
	if h := ev.HR; h != nil {
		if h.Scenario == event.HRResignation && !h.ResignationDate.IsZero() {
			return h.ResignationDate
		}
		if !h.EffectiveDate.IsZero() {
			return h.EffectiveDate
		}
	}
	return ev.Time
}

func lowerAll(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	return out
}

// flushDocs writes the alert and state documents changed by the last evaluation.
func (e *Engine) flushDocs() error {
	if len(e.pending) == 0 {
		return nil
	}
	docs := e.pending
	e.pending = nil
	put := e.db.PutDocsLazy
	if e.syncNext {
		put = e.db.PutDocs
		e.syncNext = false
	}
	return put(docs)
}

func (e *Engine) audit(actor, category, activity, target string, before, after any, details string) {
	if _, err := e.db.Audit(actor, category, activity, target, before, after, details); err != nil {
		e.log.Error("audit", "activity", activity, "target", target, "err", err)
	}
}
