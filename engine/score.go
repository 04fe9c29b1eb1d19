package engine

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"irm/config"
	"irm/dsl"
)

// Scoring is a pure function of one user's index, the settings, the rule set and the
// settled organisation statistics (docs/engine.md "Scoring"): scorer.pass builds what
// every policy shares for one user, userPass.evaluate scores one policy. Nothing here
// reads the store or changes an alert.

// Levels of an insight.
const (
	LevelNone   = "none"
	LevelLow    = "low"
	LevelMedium = "medium"
	LevelHigh   = "high"
)

// Threshold modes (Settings.ThresholdMode, Policy.ThresholdMode).
const (
	ThresholdUser  = "user"
	ThresholdFixed = "fixed"
)

// Points per level (index: levelRank). The reasons for each number are in
// docs/engine.md "Scoring"; in short: one high indicator day (35) is below the default
// cut-off, so an alert needs a second piece of evidence within a week; a high sequence
// (45) — files taken through every step — or a boosted high day is enough alone.
var (
	indicatorPoints  = [4]float64{0, 10, 20, 35}
	sequencePoints   = [4]float64{0, 15, 30, 45}
	cumulativePoints = [4]float64{0, 10, 20, 30}
)

// categoryWeight multiplies the points of indicators that report a violation in itself
// rather than a volume of ordinary work: an endpoint security alert, a badge used after
// termination. Their high day (35 x 1.25 = 44) reaches the default cut-off alone, where
// a high day of downloads or USB copies needs a second piece of evidence.
var categoryWeight = map[string]float64{"security": 1.3, "physical": 1.3}

// aboveUsualFactor: the above-usual-activity booster needs a day at least this many
// times the user's usual limit (Purview shows it as "100% above usual activity"). In user
// mode every insight already stands out; the booster is for the days far above it.
const aboveUsualFactor = 2

// Booster multipliers on an insight's points.
const (
	boostAboveUsual      = 1.5
	boostPriorityContent = 1.5
	boostUnallowed       = 1.5
	boostPriorityUser    = 1.25
	boostPreviousCase    = 1.25
)

// scoreWindowDays: a score combines the insights of one week at most. Insider incidents
// are bursts (the days before leaving, the week after a review); isolated days spread
// over a 120-day scope are ordinary variation and must not add up to an alert.
const scoreWindowDays = 7

// Booster and risk factor names.
const (
	FactorSequence      = "sequence"
	FactorCumulative    = "cumulative_exfiltration"
	FactorPriority      = "priority_content"
	FactorUnallowed     = "unallowed_domain"
	FactorPriorityUser  = "priority_user"
	FactorAboveUsual    = "above_usual_activity"
	BoosterPreviousCase = "previous_case"
)

// Severity cut-offs on the 0-100 score, and the score an alert needs per alert volume:
// "fewer" raises only medium and high alerts, "default" low ones from 40, "more" from 25.
const (
	MediumScore = 55
	HighScore   = 75
)

// AlertCutoff is the score at which an alert is raised for each alert volume.
var AlertCutoff = map[string]int{VolumeFewer: 60, VolumeDefault: 45, VolumeMore: 25}

// SeverityOf maps a score to low, medium or high.
func SeverityOf(score int) string {
	switch {
	case score >= HighScore:
		return LevelHigh
	case score >= MediumScore:
		return LevelMedium
	}
	return LevelLow
}

// levelOf maps a daily count to a level: count >= high -> high, >= medium -> medium,
// >= low -> low. A zero threshold is never reached.
func levelOf(n int, th [3]int) string {
	switch {
	case th[2] > 0 && n >= th[2]:
		return LevelHigh
	case th[1] > 0 && n >= th[1]:
		return LevelMedium
	case th[0] > 0 && n >= th[0]:
		return LevelLow
	}
	return LevelNone
}

func levelRank(l string) int {
	switch l {
	case LevelLow:
		return 1
	case LevelMedium:
		return 2
	case LevelHigh:
		return 3
	}
	return 0
}

// CombineScore is the score of a set of insights: each adds risk independently, so
// score = 100 * (1 - prod(1 - points/100)), rounded; it never exceeds 100.
func CombineScore(ins []Insight) int {
	rest := 1.0
	for _, in := range ins {
		p := math.Min(float64(in.Points), 100)
		rest *= 1 - p/100
	}
	return int(math.Round(100 * (1 - rest)))
}

func points(base, mult float64) int { return int(math.Min(100, math.Round(base*mult))) }

// window is a half-open [from, to) interval of unix nanos.
type window struct{ from, to int64 }

func (w window) has(t int64) bool { return t >= w.from && t < w.to }

type windows []window

func (ws windows) has(t int64) bool {
	for _, w := range ws {
		if w.has(t) {
			return true
		}
	}
	return false
}

func merge(ws []window) windows {
	sort.Slice(ws, func(i, j int) bool { return ws[i].from < ws[j].from })
	var out windows
	for _, w := range ws {
		if n := len(out); n > 0 && w.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, w.to)
			continue
		}
		out = append(out, w)
	}
	return out
}

// evaluation is the outcome of scoring one (user, policy).
type evaluation struct {
	scope    windows
	triggers []TriggerRef
	insights []Insight // every insight of the scope, by day
	score    int       // of the best window (insights with Scored set)
	// scopeShared: deciding the scope used statistics of other users (a department or
	// organisation baseline) that a settle pass recomputes. Insights that did are marked
	// (Insight.shared), and a cumulative insight that could not be judged yet sets
	// pending. Between passes such evaluations raise no new alert on that part alone
	// (Engine.apply).
	scopeShared bool
	pending     bool
}

type countTrigger struct {
	tmpl *dsl.Template
	tr   *dsl.Trigger
}

// scorer is everything scoring reads besides the user's own index.
type scorer struct {
	rs        *dsl.RuleSet
	s         *Settings
	cfg       *config.Config
	inds      []*dsl.Indicator // by index (catalog order)
	indIx     map[string]uint16
	counts    []countTrigger // bit i of hit.ct
	files     *strtab
	contents  *contentTab
	dlpSets   *strtab // "\x00"-joined lower-cased DLP policy names of a match
	groups    *groupStats
	manual    map[string][]ManualScope
	confirmed func(user string) bool
	dayName   func(day int32) string
	dayBounds func(first, last int32) window // the time span of days first..last

	trigCounters map[string][]counter // per count trigger (see userPass.counters)
	scratch      []counter
	novel        []*dsl.NoveltyTracker // by indicator index; nil for indicators without first_seen
	seqInds      []int                 // scratch for SeqInput.Inds
}

func (sc *scorer) ind(id string) (uint16, *dsl.Indicator) {
	ix, ok := sc.indIx[id]
	if !ok {
		return 0, nil
	}
	return ix, sc.inds[ix]
}

// userPass holds what one user's evaluation computes once for every policy.
type userPass struct {
	sc     *scorer
	ux     *userIndex
	tables map[*PriorityContent]dailyTable
	seqs   map[seqKey][]seqDone
	// stale marks, parallel to ux.inds, the first_seen matches that are not new (the
	// user had a match with the same key within the indicator's days); nil: none.
	stale []bool
}

// counter follows one indicator of a count trigger through a day.
type counter struct {
	ix            uint16
	th, n         int
	fired, judged bool
	hasLimit      bool
	limit         float64 // the day's baseline limit (user mode), once judged
}

// counters returns fresh counters for a count trigger's indicators (the scorer keeps
// the list per trigger: it is the same for every user).
func (up *userPass) counters(key string, ids []string, threshold func(id string, ind *dsl.Indicator) int) []counter {
	sc := up.sc
	base, ok := sc.trigCounters[key]
	if !ok {
		for _, id := range ids {
			if ix, ind := sc.ind(id); ind != nil && sc.s.enabled(id) {
				base = append(base, counter{ix: ix, th: max(threshold(id, ind), 1)})
			}
		}
		sc.trigCounters[key] = base
	}
	sc.scratch = append(sc.scratch[:0], base...)
	return sc.scratch
}

type seqKey struct {
	seq    string
	filter *PriorityContent
}

func (sc *scorer) pass(ux *userIndex) *userPass {
	up := &userPass{sc: sc, ux: ux, tables: map[*PriorityContent]dailyTable{}, seqs: map[seqKey][]seqDone{}}
	up.novelty()
	return up
}

// counts reports whether an indicator entry of a hit counts (a first_seen indicator's
// event counts only when it is new).
func (up *userPass) counts(i uint32) bool { return up.stale == nil || !up.stale[i] }

// novelty decides, in time order, which first_seen matches are new, with the rule set's
// own NoveltyTracker (the one `irm rules test` checks). The history is every stored
// event of the user, so the answer does not depend on arrival order.
func (up *userPass) novelty() {
	sc, ux := up.sc, up.ux
	if len(sc.novel) == 0 {
		return
	}
	for _, nt := range sc.novel {
		if nt != nil {
			nt.Reset()
		}
	}
	for i := range ux.hits {
		h := &ux.hits[i]
		for j, ix := range ux.hitInds(h) {
			nt := sc.novel[ix]
			if nt == nil {
				continue
			}
			days := int32(sc.inds[ix].FirstSeen.Days)
			k := h.indOff + uint32(j)
			if !nt.Observe(h.t, ux.keys[k], ux.active.count(h.day-days, h.day-1)) {
				if up.stale == nil {
					up.stale = make([]bool, len(ux.inds))
				}
				up.stale[k] = true
			}
		}
	}
}

// keep reports whether a hit passes a policy's priority-only filter.
func (up *userPass) keep(h *hit, filter *PriorityContent) bool {
	return filter == nil || filter.match(up.sc.contents.get(h.content))
}

// table returns the user's daily counts over all their hits (every day, in scope or
// not: baselines look at the history), under a policy's priority-only filter. Without
// a filter it is the index's own table.
func (up *userPass) table(filter *PriorityContent) dailyTable {
	if filter == nil {
		return up.ux.daily
	}
	if t, ok := up.tables[filter]; ok {
		return t
	}
	var t dailyTable
	for i := range up.ux.hits {
		h := &up.ux.hits[i]
		if !up.keep(h, filter) {
			continue
		}
		for _, ix := range up.ux.hitInds(h) {
			t.add(h.day, ix)
		}
	}
	up.tables[filter] = t
	return t
}

type dayInd struct {
	day int32
	ind uint16
}

// baseline is the usual for indicator ix on day d; shared reports that it came from
// (or needed) the settled group statistics.
func (up *userPass) baseline(t dailyTable, ix uint16, d int32) (u usual, shared bool) {
	s := up.sc.s
	g := up.sc.groups
	if g == nil {
		return usual{}, true // no settle pass yet: nothing known of the data
	}
	from, to := ownHistory(&up.ux.active, d, s.BaselineMinDays, g.since)
	if !g.complete(from) {
		// The learning month: no complete history for anyone. That follows from the
		// first day of data, which Engine.markActive keeps current, so it is the user's
		// own answer and need not wait for a settle pass.
		return usual{}, false
	}
	active := up.ux.active.count(from, to)
	var buf [maxHistoryDays]int32
	if u := ownBaseline(t.collect(ix, from, to, buf[:0]), active, s.BaselineMinDays); u.ok {
		u.span = int(to - from + 1)
		return u, false
	}
	if dept := up.ux.department(); dept != "" {
		if n, ok := g.depts[dept]; ok {
			if u := g.baseline(n, ix, d); u.ok {
				return u, true
			}
		}
	}
	return g.baseline(0, ix, d), true
}

func (p *Policy) thresholdMode(s *Settings) string {
	if p.ThresholdMode != "" {
		return p.ThresholdMode
	}
	if s.ThresholdMode != "" {
		return s.ThresholdMode
	}
	return ThresholdUser
}

// userRelative reports whether user mode compares the indicator with the user's history.
// Novelty is already relative to it (a first_seen indicator keeps its fixed thresholds);
// an endpoint security alert or a badge used after termination is a violation in
// itself, not a volume of ordinary work that habits could explain.
func userRelative(ind *dsl.Indicator) bool {
	return ind.FirstSeen == nil && ind.Category != "security" && ind.Category != "physical"
}

// thresholdsOf returns the policy's thresholds for the indicator, else its own.
func thresholdsOf(p *Policy, ind *dsl.Indicator) [3]int {
	if custom, ok := p.Thresholds[ind.ID]; ok && len(custom) == 3 {
		return [3]int{custom[0], custom[1], custom[2]}
	}
	return ind.Thresholds
}

// scope returns the windows in which the user is scored for the policy, the triggers
// that opened them, and whether deciding them used settled group statistics.
func (up *userPass) scope(p *Policy, tmpl *dsl.Template, mode string) (windows, []TriggerRef, bool) {
	sc, ux := up.sc, up.ux
	s := sc.s
	past := int64(s.PastActivityDays) * dayNanos
	act := int64(s.ActivationWindowDays) * dayNanos
	var ws []window
	var refs []TriggerRef
	shared := false
	add := func(t int64, name, id string) {
		ws = append(ws, window{t - past, t + act})
		refs = append(refs, TriggerRef{Name: name, Time: time.Unix(0, t).UTC(), EventID: id})
	}
	if tmpl.Priority && !p.priorityMember(ux.upn, s) {
		// The priority-user templates score only members of a priority group the
		// policy targets; their triggers (rules/templates.toml) also require it.
		return nil, nil, false
	}
	// countFires walks the user's hits in time order and calls fire at the event that
	// brings the day's count of one of the indicators to its threshold — in user mode
	// only once the count also stands out from the user's usual — or at once for an
	// event involving an unallowed domain.
	countFires := func(key string, ids []string, threshold func(id string, ind *dsl.Indicator) int, bit int, fire func(h *hit, ind *dsl.Indicator, n int, why string)) {
		want := up.counters(key, ids, threshold)
		if len(want) == 0 {
			return
		}
		t := up.table(nil)
		day := int32(math.MinInt32)
		for i := range ux.hits {
			h := &ux.hits[i]
			if bit >= 0 && h.ct&(1<<uint(bit)) == 0 {
				continue
			}
			if h.day != day { // hits are in time order: a new day starts every count again
				day = h.day
				for j := range want {
					want[j].n, want[j].fired, want[j].judged = 0, false, false
				}
			}
			for j, ix := range ux.hitInds(h) {
				c := slices.IndexFunc(want, func(c counter) bool { return c.ix == ix })
				if c < 0 || !up.counts(h.indOff+uint32(j)) {
					continue
				}
				w := &want[c]
				w.n++
				if w.fired {
					continue
				}
				switch {
				case h.flags&hitUnallowed != 0:
					w.fired = true
					fire(h, sc.inds[ix], w.n, "an unallowed domain")
				case w.n >= w.th:
					if mode == ThresholdUser && userRelative(sc.inds[ix]) {
						if !w.judged { // the day's baseline, once
							u, sh := up.baseline(t, ix, h.day)
							shared = shared || sh
							w.limit, w.hasLimit, w.judged = u.limit, u.ok, true
						}
						// The part of the day's count above the user's usual must reach the
						// trigger threshold (usual.excess).
						if !w.hasLimit || float64(w.n) <= w.limit || w.n-int(math.Floor(w.limit)) < w.th {
							continue
						}
					}
					w.fired = true
					fire(h, sc.inds[ix], w.n, "")
				}
			}
		}
	}
	fireName := func(prefix string, ind *dsl.Indicator, n int, day int32, why string) string {
		if why != "" {
			return fmt.Sprintf("%s: %s involving %s on %s", prefix, ind.Name, why, sc.dayName(day))
		}
		return fmt.Sprintf("%s: %s reached %d on %s", prefix, ind.Name, n, sc.dayName(day))
	}
	if dataLeakTemplate(p.Template) && p.Triggers.custom() {
		if name := p.Triggers.DLPPolicy; name != "" {
			low := strings.ToLower(name)
			for _, d := range ux.dlp {
				if d.high && slices.Contains(strings.Split(sc.dlpSets.get(d.policies), "\x00"), low) {
					add(d.t, "High-severity match of DLP policy "+name, ux.id(d.idOff, d.idLen))
				}
			}
		}
		countFires("policy:"+p.Name, p.Triggers.Indicators, func(id string, ind *dsl.Indicator) int {
			if th := p.Triggers.Thresholds[id]; th > 0 {
				return th
			}
			return ind.Thresholds[2] // the high threshold, as for the templates' count triggers
		}, -1, func(h *hit, ind *dsl.Indicator, n int, why string) {
			add(h.t, fireName("Exfiltration trigger", ind, n, h.day, why), ux.hitID(h))
		})
	} else {
		for _, tr := range ux.trig {
			if sc.rs.Templates()[tr.tmpl] == tmpl {
				add(tr.t, tmpl.Triggers[tr.trig].Name, ux.id(tr.idOff, tr.idLen))
			}
		}
		for bit, ct := range sc.counts {
			if ct.tmpl != tmpl {
				continue
			}
			countFires("trigger:"+ct.tmpl.ID+"/"+ct.tr.ID, ct.tr.Indicators, func(id string, ind *dsl.Indicator) int { return ct.tr.Thresholds[id] }, bit,
				func(h *hit, ind *dsl.Indicator, n int, why string) {
					add(h.t, fireName(ct.tr.Name, ind, n, h.day, why), ux.hitID(h))
				})
		}
	}
	for _, m := range sc.manual[ux.upn] {
		if !m.covers(p.Name) {
			continue
		}
		ws = append(ws, window{m.Start.UnixNano() - past, m.End.UnixNano()})
		refs = append(refs, TriggerRef{Name: "scoring started by " + m.Actor + ": " + m.Reason, Time: m.Start})
	}
	if len(ws) == 0 {
		return nil, nil, shared
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].Time.Before(refs[j].Time) })
	return merge(ws), refs, shared
}

// indicatorSet expands the policy's indicators ("template" = the template's defaults)
// and keeps the globally enabled ones.
func (sc *scorer) indicatorSet(p *Policy, tmpl *dsl.Template) map[uint16]*dsl.Indicator {
	out := map[uint16]*dsl.Indicator{}
	addID := func(id string) {
		if ix, ind := sc.ind(id); ind != nil && sc.s.enabled(id) {
			out[ix] = ind
		}
	}
	for _, id := range p.Indicators {
		if id == TemplateToken {
			for _, t := range tmpl.Indicators {
				addID(t)
			}
			continue
		}
		addID(id)
	}
	return out
}

func (sc *scorer) sequenceSet(p *Policy, tmpl *dsl.Template) []*dsl.Sequence {
	var out []*dsl.Sequence
	seen := map[string]bool{}
	addID := func(id string) {
		if sq := sc.rs.Sequence(id); sq != nil && !seen[id] {
			seen[id] = true
			out = append(out, sq)
		}
	}
	for _, id := range p.Sequences {
		if id == TemplateToken {
			for _, t := range tmpl.Sequences {
				addID(t)
			}
			continue
		}
		addID(id)
	}
	return out
}

type cell struct {
	n, prio, unallowed, severe int
	ids                        []string
}

// evaluate scores the user against one policy. nil: the user is not in its scope.
func (up *userPass) evaluate(p *Policy, tmpl *dsl.Template) *evaluation {
	sc, ux := up.sc, up.ux
	s := sc.s
	if !p.covers(ux.upn, s) {
		return nil
	}
	mode := p.thresholdMode(s)
	scope, refs, shared := up.scope(p, tmpl, mode)
	if len(scope) == 0 {
		return nil
	}
	ev := &evaluation{scope: scope, triggers: refs, scopeShared: shared}
	pc := &p.PriorityContent
	hasPC := !pc.empty()
	var filter *PriorityContent
	if pc.Only {
		filter = pc
	}
	table := up.table(filter)
	userBoost, userBoosters := 1.0, []string(nil)
	if p.Boosters.PriorityUser && len(s.groupsOf(ux.upn)) > 0 {
		userBoost *= boostPriorityUser
		userBoosters = append(userBoosters, FactorPriorityUser)
	}
	if p.Boosters.PreviousCase && sc.confirmed != nil && sc.confirmed(ux.upn) {
		userBoost *= boostPreviousCase
		userBoosters = append(userBoosters, BoosterPreviousCase)
	}

	// Indicators: count per (indicator, day) of the in-scope events.
	inds := sc.indicatorSet(p, tmpl)
	cells := map[dayInd]*cell{}
	for i := range ux.hits {
		h := &ux.hits[i]
		if !scope.has(h.t) || !up.keep(h, filter) {
			continue
		}
		prio := hasPC && pc.match(sc.contents.get(h.content))
		for j, ix := range ux.hitInds(h) {
			if _, ok := inds[ix]; !ok || !up.counts(h.indOff+uint32(j)) {
				continue
			}
			k := dayInd{h.day, ix}
			c := cells[k]
			if c == nil {
				c = &cell{}
				cells[k] = c
			}
			c.n++
			if len(c.ids) < maxInsightIDs {
				c.ids = append(c.ids, ux.hitID(h))
			}
			if prio {
				c.prio++
			}
			if h.flags&hitUnallowed != 0 {
				c.unallowed++
			}
			if h.flags&hitSevere != 0 {
				c.severe++
			}
		}
	}
	keys := make([]dayInd, 0, len(cells))
	for k := range cells {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].day != keys[j].day {
			return keys[i].day < keys[j].day
		}
		return keys[i].ind < keys[j].ind
	})
	for _, k := range keys {
		c := cells[k]
		ind := inds[k.ind]
		th := thresholdsOf(p, ind)
		lvl := levelOf(c.n, th)
		var usualDay usual
		haveUsual, sharedUsual := false, false
		getBase := func() usual {
			if !haveUsual {
				usualDay, sharedUsual = up.baseline(table, k.ind, k.day)
				haveUsual = true
			}
			return usualDay
		}
		compared := mode == ThresholdUser && userRelative(ind)
		if lvl != LevelNone && compared {
			lvl = levelOf(getBase().excess(c.n), th)
		}
		if c.unallowed > 0 || c.severe > 0 {
			// Activity with an unallowed domain, and an endpoint alert its source rated
			// High, are high-weight signals from the first event, whatever the count and
			// the user's habits.
			lvl = LevelHigh
		}
		if lvl == LevelNone {
			continue
		}
		base := indicatorPoints[levelRank(lvl)]
		if w, ok := categoryWeight[ind.Category]; ok {
			base *= w
		}
		in := Insight{Kind: "indicator", ID: ind.ID, Name: ind.Name, Category: ind.Category, Day: sc.dayName(k.day),
			Count: c.n, Thresholds: th, Level: lvl, BasePoints: int(math.Round(base)), EventIDs: c.ids, day: k.day}
		mult := userBoost
		if compared {
			in.Detail = fmt.Sprintf("%d %s; %s", c.n, unitOf(ind), getBase().describe(unitOf(ind)))
		} else if fs := ind.FirstSeen; fs != nil {
			in.Detail = noveltyDetail(c.n, fs)
		} else {
			in.Detail = fmt.Sprintf("%d %s; thresholds %d/%d/%d", c.n, unitOf(ind), th[0], th[1], th[2])
		}
		if c.unallowed > 0 {
			in.Detail += fmt.Sprintf("; %d with an unallowed domain", c.unallowed)
		}
		if c.severe > 0 {
			in.Detail += fmt.Sprintf("; %d rated High by the endpoint", c.severe)
		}
		// In user mode the level already measures the day against the user's usual;
		// the booster is fixed mode's way to tell a habit from an unusual day.
		if p.Boosters.AboveUsual && !compared && c.n >= s.MinDailyEvents && userRelative(ind) {
			if b := getBase(); b.ok && float64(c.n) > aboveUsualFactor*b.limit {
				mult *= boostAboveUsual
				in.Boosters = append(in.Boosters, FactorAboveUsual)
				if !compared {
					in.Detail += "; " + b.describe(unitOf(ind))
				}
			}
		}
		if c.prio > 0 {
			mult *= boostPriorityContent
			in.Boosters = append(in.Boosters, FactorPriority)
			in.PriorityCount = c.prio
		}
		if c.unallowed > 0 {
			mult *= boostUnallowed
			in.Boosters = append(in.Boosters, FactorUnallowed)
		}
		in.Boosters = append(in.Boosters, userBoosters...)
		in.Points = points(base, mult)
		in.shared = sharedUsual
		ev.insights = append(ev.insights, in)
	}

	// Sequences: completions per day, levels by the sequence's thresholds.
	for _, sq := range sc.sequenceSet(p, tmpl) {
		ev.insights = append(ev.insights, up.sequence(sq, filter, scope, mode, hasPC, pc, userBoost, userBoosters)...)
	}

	// Cumulative exfiltration.
	if p.Cumulative {
		flagged := map[int32]bool{}
		for _, in := range ev.insights {
			if in.Kind == "indicator" && in.Category == "exfiltration" {
				flagged[in.day] = true
			}
		}
		in, ok, pending, shared := up.cumulative(inds, filter, scope, mode, flagged, userBoost, userBoosters)
		ev.pending = ev.pending || pending
		if ok {
			in.shared = shared
			ev.insights = append(ev.insights, in)
		}
	}
	sortInsights(ev.insights)
	ev.score = scoreWindows(ev.insights)
	return ev
}

// noveltyDetail says what made first_seen events new.
func noveltyDetail(n int, fs *dsl.FirstSeen) string {
	switch field, plain := strings.CutPrefix(fs.Key, "event."); {
	case fs.Key == "":
		return fmt.Sprintf("%d new: no such event in the previous %d days", n, fs.Days)
	case plain && !strings.ContainsAny(field, ".( "):
		return fmt.Sprintf("%d new: a %s not seen in the previous %d days", n, strings.ReplaceAll(field, "_", " "), fs.Days)
	}
	return fmt.Sprintf("%d new: not seen in the previous %d days", n, fs.Days)
}

// unitOf names what an indicator counts, for insight details.
func unitOf(ind *dsl.Indicator) string {
	if ind.Category == "browsing" {
		return "visits"
	}
	return "events"
}

// scoreWindows sets Scored on the insights of the best window of scoreWindowDays
// days and returns its score. In a window each indicator or sequence counts fully once,
// with its strongest day, and its other days at a quarter (a habit repeated every day
// is not seven pieces of evidence).
// Cumulative exfiltration measures a month: it joins any window inside the 30 days it
// covers, and only beside another insight there — alone it says that a user moved more
// data than usual over a month, which is not yet a reason to alert.
func scoreWindows(ins []Insight) int {
	best, bestSet := 0, []int(nil)
	for end := range ins {
		if ins[end].Kind == "cumulative" {
			continue
		}
		d := ins[end].day
		strongest := map[string]int{}
		var inWindow []int
		other := false
		for i := range ins {
			first := ins[i].day
			if ins[i].Kind == "cumulative" {
				first = ins[i].day - 29
			}
			if first > d || ins[i].day <= d-scoreWindowDays {
				continue
			}
			inWindow = append(inWindow, i)
			k := ins[i].Kind + "/" + ins[i].ID
			if j, ok := strongest[k]; !ok || ins[i].Points > ins[j].Points {
				strongest[k] = i
			}
			other = other || ins[i].Kind != "cumulative"
		}
		var set []int
		for _, i := range strongest {
			if ins[i].Kind == "cumulative" && !other {
				continue
			}
			set = append(set, i)
		}
		sort.Ints(set)
		counted := oneEvidence(ins, set)
		// The same indicator or sequence on further days of the week is the same
		// evidence again: each further day adds a quarter of its points. (In user mode
		// each of those days stood out from the month before the week: a deviation
		// sustained for days, as slow exfiltration is, adds up a little.)
		var repeats []int
		for _, i := range inWindow {
			if k := ins[i].Kind + "/" + ins[i].ID; ins[i].Kind != "cumulative" && strongest[k] != i {
				counted = append(counted, Insight{Points: int(math.Round(float64(ins[i].Points) / 4))})
				repeats = append(repeats, i)
			}
		}
		if sc := CombineScore(counted); sc > best {
			best, bestSet = sc, append(set, repeats...)
		}
	}
	for i := range ins {
		ins[i].Scored = false
	}
	for _, i := range bestSet {
		ins[i].Scored = true
	}
	return best
}

// oneEvidence returns the insights of set as they count towards a score: insights of
// the same day that share an event are one piece of evidence seen from several sides
// (an email to the user's own free-mail address matches both "free public domain" and
// "to self"; a 3 a.m. sign-in from a new network is after hours, at an unusual hour and
// from a new IP; a sequence ends with one of the day's USB copies), so the strongest
// counts fully and each other one at a quarter of its points. Cumulative exfiltration sums a
// month and counts on its own.
func oneEvidence(ins []Insight, set []int) []Insight {
	group := make([]int, len(set)) // union-find over positions in set
	for i := range group {
		group[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for group[i] != i {
			group[i] = group[group[i]]
			i = group[i]
		}
		return i
	}
	for a := range set {
		for b := a + 1; b < len(set); b++ {
			x, y := &ins[set[a]], &ins[set[b]]
			if x.Kind != "cumulative" && y.Kind != "cumulative" && x.day == y.day && shareEvent(x.EventIDs, y.EventIDs) {
				group[find(b)] = find(a)
			}
		}
	}
	members := map[int][]int{}
	for a := range set {
		members[find(a)] = append(members[find(a)], set[a])
	}
	out := make([]Insight, 0, len(members))
	for _, m := range members {
		sort.Slice(m, func(i, j int) bool { return ins[m[i]].Points > ins[m[j]].Points })
		rest := 1.0
		for k, i := range m {
			p := math.Min(float64(ins[i].Points), 100) / 100
			if k > 0 {
				p /= 4
			}
			rest *= 1 - p
		}
		out = append(out, Insight{Points: int(math.Round(100 * (1 - rest)))})
	}
	return out
}

func shareEvent(a, b []string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// seqDone is one completed sequence: its last step's time and day, and the hits.
type seqDone struct {
	t    int64
	day  int32
	hits []int
}

// completions runs the rule set's sequence tracker (dsl.SequenceTracker, the one the
// rule tests check) over all the user's hits, history included: user mode compares a
// day's completions with the user's usual. A first_seen indicator stands in a step for
// every event matching its condition, new or not.
func (up *userPass) completions(sq *dsl.Sequence, filter *PriorityContent) []seqDone {
	k := seqKey{sq.ID, filter}
	if d, ok := up.seqs[k]; ok {
		return d
	}
	ux, sc := up.ux, up.sc
	st := dsl.NewSequenceTracker(sq)
	var out []seqDone
	for i := range ux.hits {
		h := &ux.hits[i]
		if !up.keep(h, filter) {
			continue
		}
		sc.seqInds = sc.seqInds[:0]
		for _, ix := range ux.hitInds(h) {
			sc.seqInds = append(sc.seqInds, int(ix))
		}
		for _, done := range st.Step(dsl.SeqInput{Time: h.t, File: sc.files.get(h.file), Inds: sc.seqInds, Ref: i}) {
			out = append(out, seqDone{t: h.t, day: h.day, hits: done.Refs})
		}
	}
	up.seqs[k] = out
	return out
}

// sequence returns the sequence's insights: one per day with completions inside the
// scope, at the level its daily count reaches (in user mode: standing out from the
// user's own daily completions, when they have the history).
func (up *userPass) sequence(sq *dsl.Sequence, filter *PriorityContent, scope windows, mode string, hasPC bool, pc *PriorityContent,
	userBoost float64, userBoosters []string) []Insight {
	done := up.completions(sq, filter)
	if len(done) == 0 {
		return nil
	}
	ux := up.ux
	th := sq.Thresholds
	if th == [3]int{} {
		th = [3]int{1, 2, 3}
	}
	perDay := map[int32][]seqDone{}
	var days []int32
	for _, d := range done {
		if !scope.has(d.t) {
			continue
		}
		if perDay[d.day] == nil {
			days = append(days, d.day)
		}
		perDay[d.day] = append(perDay[d.day], d)
	}
	var hist dailyTable // completions per day, for the user's baseline
	for _, d := range done {
		hist.add(d.day, 0)
	}
	var out []Insight
	for _, day := range days {
		ds := perDay[day]
		lvl := levelOf(len(ds), th)
		detail := ""
		if lvl != LevelNone && mode == ThresholdUser {
			var u usual
			if g := up.sc.groups; g != nil {
				from, to := ownHistory(&ux.active, day, up.sc.s.BaselineMinDays, g.since)
				if g.complete(from) {
					u = ownBaseline(hist.collect(0, from, to, nil), ux.active.count(from, to), up.sc.s.BaselineMinDays)
					u.span = int(to - from + 1)
				}
			}
			if lvl = levelOf(u.excess(len(ds)), th); lvl != LevelNone {
				detail = "; " + u.describe("completions")
			}
		}
		if lvl == LevelNone {
			continue
		}
		in := Insight{Kind: "sequence", ID: sq.ID, Name: sq.Name, Category: sq.Category, Day: up.sc.dayName(day),
			Count: len(ds), Thresholds: th, Level: lvl, BasePoints: int(seqPoints(sq)[levelRank(lvl)]), day: day}
		prio, unallowed := 0, false
		var files []string
		for _, d := range ds {
			for _, hi := range d.hits {
				h := &ux.hits[hi]
				if id := ux.hitID(h); len(in.EventIDs) < maxInsightIDs && !slices.Contains(in.EventIDs, id) {
					in.EventIDs = append(in.EventIDs, id)
				}
				if hasPC && pc.match(up.sc.contents.get(h.content)) {
					prio++
				}
				unallowed = unallowed || h.flags&hitUnallowed != 0
			}
			if f := up.sc.files.get(ux.hits[d.hits[len(d.hits)-1]].file); f != "" && len(files) < 10 && !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
		mult := userBoost
		if prio > 0 {
			mult *= boostPriorityContent
			in.Boosters = append(in.Boosters, FactorPriority)
			in.PriorityCount = prio
		}
		if unallowed {
			mult *= boostUnallowed
			in.Boosters = append(in.Boosters, FactorUnallowed)
		}
		in.Boosters = append(in.Boosters, userBoosters...)
		in.Points = points(seqPoints(sq)[levelRank(lvl)], mult)
		what := "completed"
		if len(files) > 0 {
			what += ": " + strings.Join(files, ", ")
		}
		in.Detail = fmt.Sprintf("%d %s within %s%s", len(ds), what, humanDuration(sq.Within), detail)
		out = append(out, in)
	}
	return out
}

// humanDuration says a sequence window in words: "7 days", "36 hours", "90 minutes".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// seqPoints are a sequence's points per level. A two-step chain (download, then
// exfiltrate) is what everyday work looks like when sending files out is the work, and
// it re-states the exfiltration insight of its last step: it scores as an indicator. A
// chain through obfuscation or deletion is the one people take to hide what they do.
func seqPoints(sq *dsl.Sequence) [4]float64 {
	if len(sq.StepSets) <= 2 {
		return indicatorPoints
	}
	return sequencePoints
}

// exfilSet is a policy's selection of exfiltration indicators: cumulative detection
// sums these, for the user and for the organisation's norm alike.
type exfilSet struct {
	key string // the sorted indices, for caching the norms
	has map[uint16]bool
}

func (sc *scorer) exfilSetOf(inds map[uint16]*dsl.Indicator) exfilSet {
	set := exfilSet{has: map[uint16]bool{}}
	var ixs []int
	for ix, ind := range inds {
		if ind.Category == "exfiltration" {
			set.has[ix] = true
			ixs = append(ixs, int(ix))
		}
	}
	slices.Sort(ixs)
	set.key = fmt.Sprint(ixs)
	return set
}

// exfilDays counts, per day, the user's events that matched an indicator of the set.
func (up *userPass) exfilDays(set exfilSet, filter *PriorityContent) map[int32]int {
	out := map[int32]int{}
	ux := up.ux
	for i := range ux.hits {
		h := &ux.hits[i]
		if h.flags&hitExfil == 0 || !up.keep(h, filter) {
			continue
		}
		for j, ix := range ux.hitInds(h) {
			if set.has[ix] && up.counts(h.indOff+uint32(j)) {
				out[h.day]++
				break
			}
		}
	}
	return out
}

func sum30(days map[int32]int, d int32) int {
	n := 0
	for x := d - 29; x <= d; x++ {
		n += days[x]
	}
	return n
}

// cumulative compares the user's exfiltration over 30 days with the organisation's
// and their department's norm, on the in-scope day where their 30-day total peaks.
// pending: the norms of that day are not settled yet.
func (up *userPass) cumulative(inds map[uint16]*dsl.Indicator, filter *PriorityContent, scope windows, mode string, flagged map[int32]bool,
	userBoost float64, userBoosters []string) (in Insight, ok, pending, shared bool) {
	sc, ux := up.sc, up.ux
	set := sc.exfilSetOf(inds)
	if len(set.has) == 0 {
		return Insight{}, false, false, false
	}
	perDay := up.exfilDays(set, filter)
	best, bestDay := 0, int32(0)
	days := make([]int32, 0, len(perDay))
	for d := range perDay {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		if !scope.overlaps(sc.dayBounds(d, d)) {
			continue
		}
		if n := sum30(perDay, d); n > best {
			best, bestDay = n, d
		}
	}
	if best < sc.s.CumulativeMinEvents {
		return Insight{}, false, false, false
	}
	// The norms. In user mode: the user's own previous 30 days, when they were active
	// enough then to have a habit (slow exfiltration stays under every daily threshold
	// but is several times the user's habit: at least double counts); without that
	// history, like a day's baseline, the department's and then the organisation's
	// percentile. In fixed mode: the organisation's and the department's percentile, as
	// Purview's cumulative exfiltration detection does.
	type norm struct {
		ref     int
		against string
		ratio   float64
		shared  bool
	}
	var norms []norm
	own := -1
	if prevActive := ux.active.count(bestDay-59, bestDay-30); prevActive >= sc.s.BaselineMinDays && sc.groups.complete(bestDay-59) {
		// Rates per active day, so that a holiday in either month does not look like a
		// change of habit; days already flagged (an exfiltration insight of their own)
		// are evidence counted once, and leave the current month's rate.
		own = 0
		for d := bestDay - 59; d <= bestDay-30; d++ {
			own += perDay[d]
		}
		cur, curDays := 0, 0
		for d := bestDay - 29; d <= bestDay; d++ {
			if ux.active.has(d) && !flagged[d] {
				cur += perDay[d]
				curDays++
			}
		}
		prevRate := math.Max(float64(own)/float64(prevActive), cumulativeOwnFloor/30.0)
		if curDays > 0 {
			if r := float64(cur) / float64(curDays) / prevRate; r >= 2 {
				// The reference is what the user's previous rate gives over this month's
				// active days.
				norms = append(norms, norm{int(math.Round(prevRate * float64(ux.active.count(bestDay-29, bestDay)))),
					"what this user's previous 30 days give", r, false})
			}
		}
	}
	org, dp := -1, -1
	if mode == ThresholdFixed || (own < 0 && sc.groups.complete(bestDay-29)) {
		if g := sc.groups; g == nil {
			pending = true
		} else {
			v, ok := g.pct[pctKey{set.key, 0, bestDay}]
			pending = !ok
			if ok {
				org = v
				if best > v {
					norms = append(norms, norm{v, "the organisation's " + ordinal(sc.s.CumulativePercentile) + " percentile", float64(best) / math.Max(float64(v), 1), true})
				}
			}
			if n, ok := g.depts[ux.department()]; ok && ux.department() != "" {
				if v, ok := g.pct[pctKey{set.key, n, bestDay}]; ok {
					dp = v
					if best > v {
						norms = append(norms, norm{v, "the department's " + ordinal(sc.s.CumulativePercentile) + " percentile", float64(best) / math.Max(float64(v), 1), true})
					}
				}
			}
		}
	}
	if mode == ThresholdFixed {
		// Fixed mode compares with the organisation only.
		kept := norms[:0]
		for _, n := range norms {
			if n.shared {
				kept = append(kept, n)
			}
		}
		norms = kept
	}
	if len(norms) == 0 {
		return Insight{}, false, pending, false
	}
	// The strongest comparison decides; the user's own history wins a tie (it does
	// not depend on anyone else).
	sort.SliceStable(norms, func(i, j int) bool {
		return norms[i].ratio > norms[j].ratio || (norms[i].ratio == norms[j].ratio && !norms[i].shared)
	})
	n := norms[0]
	lvl := LevelLow
	switch {
	case n.ratio >= 4:
		lvl = LevelHigh
	case n.ratio >= 2:
		lvl = LevelMedium
	}
	ref := n.ref
	in = Insight{Kind: "cumulative", ID: "cumulative_exfiltration", Name: "Cumulative exfiltration activities",
		Category: "exfiltration", Day: sc.dayName(bestDay), Count: best, Level: lvl, BasePoints: int(cumulativePoints[levelRank(lvl)]),
		day: bestDay}
	// The 30-day totals at which this comparison reaches each level (own history has no
	// low level: it must at least double).
	minEv := sc.s.CumulativeMinEvents
	low := ref + 1
	if !n.shared {
		low = 2 * max(ref, 1)
	}
	in.Thresholds = [3]int{max(low, minEv), max(2*max(ref, 1), minEv), max(4*max(ref, 1), minEv)}
	in.Detail = fmt.Sprintf("%d exfiltration events in the 30 days to %s, %.1f times %s (%d); the previous 30 days had %s, the organisation's and department's %s percentiles are %s and %s",
		best, in.Day, n.ratio, n.against, ref, orUnknown(own), ordinal(sc.s.CumulativePercentile), orUnknown(org), orUnknown(dp))
	for i := range ux.hits {
		h := &ux.hits[i]
		if h.flags&hitExfil != 0 && h.day > bestDay-30 && h.day <= bestDay && len(in.EventIDs) < maxInsightIDs && up.keep(h, filter) {
			for _, ix := range ux.hitInds(h) {
				if set.has[ix] {
					in.EventIDs = append(in.EventIDs, ux.hitID(h))
					break
				}
			}
		}
	}
	in.Boosters = append(in.Boosters, userBoosters...)
	in.Points = points(cumulativePoints[levelRank(lvl)], userBoost)
	return in, true, pending, n.shared
}

// cumulativeOwnFloor is the smallest "usual" month (at 30 active days) a user's own
// comparison divides by: someone who sent 2 attachments in a month and 8 in the next
// has not quadrupled anything worth a look.
const cumulativeOwnFloor = 10

func orUnknown(n int) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}

func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return fmt.Sprintf("%dth", n)
	case n%10 == 1:
		return fmt.Sprintf("%dst", n)
	case n%10 == 2:
		return fmt.Sprintf("%dnd", n)
	case n%10 == 3:
		return fmt.Sprintf("%drd", n)
	}
	return fmt.Sprintf("%dth", n)
}

func sortInsights(ins []Insight) {
	sort.SliceStable(ins, func(i, j int) bool {
		a, b := &ins[i], &ins[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.ID < b.ID
	})
}
