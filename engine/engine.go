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
	"os"
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
	// closedThrough: insights on or before this day are covered by a closed
	// (dismissed/resolved) alert of the pair and do not raise a new one.
	closedThrough map[pairKey]int32
	alertCount    map[pairKey]int
	cases         map[string]*Case
	manual        map[string][]ManualScope
	pseudoKey     []byte

	// Derived state, rebuilt from the store.
	built  bool
	rs     *dsl.RuleSet
	users  map[string]*userState
	ind    []string // interned indicator ids
	indIx  map[string]uint16
	trigBy map[string][]*dsl.Template // feed -> templates with a plain (non-count) trigger on it
	// trigOp narrows trigBy by operation: feed -> operation -> the templates whose plain
	// triggers can fire on it (dsl.RuleSet.MayTrigger), filled as operations appear.
	trigOp map[string]map[string][]*dsl.Template
	idBuf  []string       // Match's result, reused from event to event
	counts []countTrigger // count triggers of every template
	// profileFeeds are the feeds of rules that read the user's HR profile: a changed
	// profile re-matches the user's stored events of these feeds.
	profileFeeds map[string]bool
	// profileFields are the user fields those rules read: a profile change that leaves
	// them all equal cannot change a match, and re-matches nothing.
	profileFields []string
	dlpSeen       map[string]bool // lower-cased DLP policy names seen
	// interned holds the strings shared by the index (see str).
	interned map[string]string
	gen      uint64
	pctGen   uint64
	pctMemo  map[pctKey]int
	inScope  map[pairKey]bool

	rematches int // users whose stored events a profile change made the engine re-match (tests)

	pending  []store.Doc
	dirty    chan struct{}
	snapshot string // alerts mirror file; "" = none
	syncNext bool   // the pending documents record a person's action: sync them
}

type pairKey struct{ user, policy string }

// ManualScope is an administrator's "start scoring" of a user, bypassing triggers.
type ManualScope struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Reason string    `json:"reason"`
	Actor  string    `json:"actor"`
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
		active: map[pairKey]string{}, closedThrough: map[pairKey]int32{}, alertCount: map[pairKey]int{},
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
	if err := db.Alerts(func(id string, val []byte) error {
		var a Alert
		if err := json.Unmarshal(val, &a); err != nil {
			return fmt.Errorf("stored alert %s: %w", id, err)
		}
		e.indexAlert(&a)
		return nil
	}); err != nil {
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

// LoadAlerts reads the stored alerts without building an engine (for the CLI).
func LoadAlerts(db *store.DB) ([]Alert, error) {
	var out []Alert
	err := db.Alerts(func(id string, val []byte) error {
		var a Alert
		if err := json.Unmarshal(val, &a); err != nil {
			return fmt.Errorf("stored alert %s: %w", id, err)
		}
		out = append(out, a)
		return nil
	})
	sortAlerts(out)
	return out, err
}

func (e *Engine) indexAlert(a *Alert) {
	e.alerts[a.ID] = a
	k := pairKey{a.User, a.Policy}
	e.alertCount[k]++
	if a.active() {
		e.active[k] = a.ID
	} else if d := a.lastDay(); d > e.closedThrough[k] {
		e.closedThrough[k] = d
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

// Run re-evaluates every in-scope user a short while after activity stops and after a
// rule reload, until ctx is done. Scores that depend only on the user's own events are
// final after Process; this pass settles those that depend on other users' activity.
func (e *Engine) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.dirty:
		}
		t := time.NewTimer(settleDelay)
	wait:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-e.dirty:
				t.Reset(settleDelay)
			case <-t.C:
				break wait
			}
		}
		if err := e.Flush(); err != nil {
			e.log.Error("engine settle", "err", err)
		}
	}
}

// Flush re-evaluates every user against every policy and writes the alerts: call it
// after a bulk ingest (irm ingest -once) so that the final alerts reflect the whole data.
func (e *Engine) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensureBuilt(); err != nil {
		return err
	}
	e.gen++
	e.evaluateUsers(e.allUsers())
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
		// The rebuild read the batch from the store and evaluated everyone.
		return e.flushDocs()
	}
	e.gen++
	profiles := map[string]bool{}
	for i := range added {
		if ev := &added[i]; ev.Feed == event.FeedHR || ev.HR != nil || ev.Operation == "Delete user." {
			profiles[ev.User] = true
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
			continue // already read back from the store by rematchProfile
		}
		us := e.user(ev.User)
		e.index(us, ev, lists)
		touched[ev.User] = true
	}
	users := make([]string, 0, len(touched))
	for u := range touched {
		e.users[u].sortHits()
		users = append(users, u)
	}
	sort.Strings(users)
	e.evaluateUsers(users)
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

// ensureBuilt builds the per-user index if it is missing or the rule set changed.
func (e *Engine) ensureBuilt() error {
	rs := e.ruleSet()
	if rs == nil {
		return errors.New("engine: no rule set loaded")
	}
	if e.built && e.rs == rs {
		return nil
	}
	start := time.Now()
	e.rs = rs
	e.users = map[string]*userState{}
	e.ind = nil
	e.indIx = map[string]uint16{}
	e.dlpSeen = map[string]bool{}
	e.interned = map[string]string{}
	e.inScope = map[pairKey]bool{}
	e.trigBy = map[string][]*dsl.Template{}
	e.trigOp = map[string]map[string][]*dsl.Template{}
	e.counts = nil
	e.profileFeeds = map[string]bool{}
	e.profileFields = nil
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
	for _, ind := range rs.Indicators() {
		profileRule(ind.When, ind.Feeds)
	}
	for _, t := range rs.Templates() {
		feeds := map[string]bool{}
		for i := range t.Triggers {
			tr := &t.Triggers[i]
			profileRule(tr.When, tr.Feeds)
			if len(tr.Indicators) > 0 {
				e.counts = append(e.counts, countTrigger{tmpl: t, tr: tr})
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
	for _, ind := range rs.Indicators() {
		e.intern(ind.ID)
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
	e.gen++
	e.evaluateUsers(e.allUsers())
	e.log.Info("engine index built", "users", len(names), "hits", events, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (e *Engine) intern(id string) uint16 {
	if ix, ok := e.indIx[id]; ok {
		return ix
	}
	ix := uint16(len(e.ind))
	e.ind = append(e.ind, id)
	e.indIx[id] = ix
	return ix
}

// str returns a shared copy of s: the index holds each file name, site, label and feed
// name once, however many events repeat it.
func (e *Engine) str(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := e.interned[s]; ok {
		return v
	}
	v := strings.Clone(s)
	e.interned[v] = v
	return v
}

func (e *Engine) strs(xs []string) []string {
	for i, x := range xs {
		xs[i] = e.str(x)
	}
	return xs
}

func (e *Engine) user(u string) *userState {
	us := e.users[u]
	if us == nil {
		u = strings.Clone(u)
		us = newUserState(u)
		us.groups = e.settings.groupsOf(u)
		if p, ok, err := e.db.Profile(u); err == nil && ok {
			us.profile = &p
		}
		e.users[u] = us
	}
	return us
}

// rebuildUser re-reads the user's profile and re-matches all of their stored events.
func (e *Engine) rebuildUser(u string) error {
	us := newUserState(u)
	us.groups = e.settings.groupsOf(u)
	if p, ok, err := e.db.Profile(u); err != nil {
		return fmt.Errorf("engine: profile %s: %w", u, err)
	} else if ok {
		us.profile = &p
	}
	e.users[strings.Clone(u)] = us
	lists := e.settings.lists()
	err := e.db.Events(store.Query{User: u}, func(ev *event.Event) error {
		e.index(us, ev, lists)
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: events of %s: %w", u, err)
	}
	us.sortHits()
	return nil
}

type countTrigger struct {
	tmpl *dsl.Template
	tr   *dsl.Trigger
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
	us := e.users[u]
	p, ok, err := e.db.Profile(u)
	if err != nil {
		return false, fmt.Errorf("engine: profile %s: %w", u, err)
	}
	if !ok || (us.profile != nil && reflect.DeepEqual(*us.profile, p)) {
		return false, nil
	}
	old := us.profile
	us.profile = &p
	// Matches were made with the old profile (none: the zero profile); when every field
	// the rules read is the same (an HR review changes the rating, not the end date),
	// they stand, and the user's stored events need not be read back.
	if len(e.profileFeeds) == 0 || dsl.ProfileFieldsEqual(old, &p, e.profileFields) {
		return false, nil
	}
	hits := us.hits[:0]
	for _, h := range us.hits {
		if !e.profileFeeds[h.feed] {
			hits = append(hits, h)
		}
	}
	us.hits = hits
	trig := us.trig[:0]
	for _, t := range us.trig {
		if !e.profileFeeds[t.feed] {
			trig = append(trig, t)
		}
	}
	us.trig = trig
	if e.profileFeeds[event.FeedDLP] {
		us.dlp = nil
	}
	us.recount()
	e.rematches++
	lists := e.settings.lists()
	for f := range e.profileFeeds {
		err := e.db.Events(store.Query{User: u, Feed: f}, func(ev *event.Event) error {
			e.index(us, ev, lists)
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("engine: events of %s: %w", u, err)
		}
	}
	us.sorted = false
	return true, nil
}

// index matches one event and records what the engine needs of it.
func (e *Engine) index(us *userState, ev *event.Event, lists map[string][]string) {
	s := &e.settings
	if ev.Feed == event.FeedDefender {
		st := strings.NewReplacer(" ", "", "_", "").Replace(strings.ToLower(ev.Status))
		if st == "" {
			st = "unknown"
		}
		if !slices.Contains(s.DefenderStatuses, st) {
			return // stored, but the administrator does not import alerts in this status
		}
	}
	in := dsl.Input{Event: ev, User: us.profile, PriorityGroups: us.groups, Lists: lists}
	t := ev.Time.UnixNano()
	ids := e.rs.MatchAppend(e.idBuf[:0], &in)
	e.idBuf = ids[:0]
	for _, tmpl := range e.triggerTemplates(ev.Feed, ev.Operation) {
		for _, tr := range e.rs.MatchTriggers(tmpl.ID, &in) {
			if len(tr.Indicators) == 0 {
				us.trig = append(us.trig, trigHit{t: triggerTime(ev).UnixNano(), tmpl: tmpl.ID, name: tr.Name, id: strings.Clone(ev.ID), feed: e.str(ev.Feed)})
			}
		}
	}
	// Count triggers count events of their indicators, which Match already found; only
	// those with an extra condition need the rule set, and only for such events.
	if len(ids) > 0 {
		for _, ct := range e.counts {
			var inds []string
			for _, id := range ids {
				if slices.Contains(ct.tr.Indicators, id) {
					inds = append(inds, id)
				}
			}
			if len(inds) == 0 || (ct.tr.When != "" && !slices.ContainsFunc(e.rs.MatchTriggers(ct.tmpl.ID, &in), func(x *dsl.Trigger) bool { return x.ID == ct.tr.ID })) {
				continue
			}
			us.trig = append(us.trig, trigHit{t: triggerTime(ev).UnixNano(), tmpl: ct.tmpl.ID, name: ct.tr.Name, id: strings.Clone(ev.ID), feed: e.str(ev.Feed),
				inds: inds, thresholds: ct.tr.Thresholds})
		}
	}
	if ev.Feed == event.FeedDLP && len(ev.Policies) > 0 {
		for _, p := range ev.Policies {
			e.dlpSeen[e.str(strings.ToLower(p))] = true
		}
		pols := make([]string, len(ev.Policies))
		for i, p := range ev.Policies {
			pols[i] = e.str(p)
		}
		us.dlp = append(us.dlp, dlpHit{t: t, id: strings.Clone(ev.ID), policies: pols, high: strings.EqualFold(ev.Severity, "high")})
	}
	if len(ids) == 0 {
		return
	}
	if ev.FileExt != "" && slices.Contains(s.ExcludedFileTypes, ev.FileExt) {
		return
	}
	if allowedOnly(ev, s, e.cfg) {
		return
	}
	// Strings kept in the index are copied (or shared through e.str): parsers may hand
	// out substrings of the whole record, which would keep every record alive.
	h := hit{t: t, id: strings.Clone(ev.ID), file: e.str(strings.ToLower(ev.FileName)), feed: e.str(ev.Feed)}
	for _, id := range ids {
		if !s.enabled(id) {
			continue
		}
		ix := e.intern(id)
		h.inds = append(h.inds, ix)
		if ind := e.rs.Indicator(id); ind != nil && ind.Category == "exfiltration" {
			h.exfil = true
		}
	}
	if len(h.inds) == 0 {
		return
	}
	if ev.FileExt != "" || ev.Site != "" || len(ev.Labels) > 0 || len(ev.SensitiveTypes) > 0 {
		h.content = &content{ext: e.str(ev.FileExt), site: e.str(strings.ToLower(ev.Site)), labels: e.strs(lowerAll(ev.Labels)), sits: e.strs(lowerAll(ev.SensitiveTypes))}
	}
	h.unallowed = unallowedDomain(ev, s)
	us.add(h)
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
	if err := put(docs); err != nil {
		return err
	}
	return e.writeSnapshot()
}

// writeSnapshot writes every alert to the snapshot file (temporary file, then rename,
// so a reader never sees half a file).
func (e *Engine) writeSnapshot() error {
	if e.snapshot == "" {
		return nil
	}
	all := make([]Alert, 0, len(e.alerts))
	for _, a := range e.alerts {
		all = append(all, *a)
	}
	sortAlerts(all)
	b, err := json.Marshal(all)
	if err != nil {
		return err
	}
	tmp := e.snapshot + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("alert snapshot: %w", err)
	}
	if err := os.Rename(tmp, e.snapshot); err != nil {
		return fmt.Errorf("alert snapshot: %w", err)
	}
	return nil
}

// ReadSnapshot reads an alert snapshot file written by a running engine.
func ReadSnapshot(path string) ([]Alert, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Alert
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("alert snapshot %s: %w", path, err)
	}
	sortAlerts(out)
	return out, nil
}

func (e *Engine) audit(actor, category, activity, target string, before, after any, details string) {
	if _, err := e.db.Audit(actor, category, activity, target, before, after, details); err != nil {
		e.log.Error("audit", "activity", activity, "target", target, "err", err)
	}
}

// SetSnapshot makes the engine mirror every alert change into a JSON file at path, so
// that `irm alerts` can read alerts while another process holds the database.
// It writes the snapshot at once, so that a serve with no alerts yet still has one.
func (e *Engine) SetSnapshot(path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.snapshot = path
	if err := e.writeSnapshot(); err != nil {
		e.log.Error("alert snapshot", "err", err)
	}
}
