package engine

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"irm/dsl"
)

// Levels of an insight.
const (
	LevelNone   = "none"
	LevelLow    = "low"
	LevelMedium = "medium"
	LevelHigh   = "high"
)

// Points per level (docs/engine.md "Scoring"): indicators by daily count against their
// thresholds, sequences by the number of files that went through the whole sequence,
// cumulative exfiltration by how far the user is above the organisation's percentile.
var (
	indicatorPoints  = map[string]float64{LevelLow: 15, LevelMedium: 30, LevelHigh: 50}
	sequencePoints   = map[string]float64{LevelLow: 20, LevelMedium: 40, LevelHigh: 60}
	cumulativePoints = map[string]float64{LevelLow: 25, LevelMedium: 40, LevelHigh: 60}
)

// Booster multipliers on an insight's points.
const (
	boostAboveUsual      = 1.5
	boostPriorityContent = 1.5
	boostUnallowed       = 1.25
	boostPriorityUser    = 1.25
	boostPreviousCase    = 1.25
	// aboveUsualFactor: a day is above the user's usual activity when its count exceeds
	// this multiple of their average daily count over the previous 30 days.
	aboveUsualFactor = 2.0
)

// Booster and risk factor names.
const (
	FactorSequence       = "sequence"
	FactorCumulative     = "cumulative_exfiltration"
	FactorPriority       = "priority_content"
	FactorUnallowed      = "unallowed_domain"
	FactorPriorityUser   = "priority_user"
	FactorAboveUsual     = "above_usual_activity"
	BoosterPreviousCase  = "previous_case"
	defaultSeqThresholds = "1,3,5"
)

// Severity cut-offs on the 0-100 score, and the score an alert needs per alert volume.
const (
	MediumScore = 40
	HighScore   = 70
)

// AlertCutoff is the score at which an alert is raised for each alert volume.
var AlertCutoff = map[string]int{VolumeFewer: 50, VolumeDefault: 25, VolumeMore: 15}

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

// CombineScore is the policy score of a set of insights: each insight independently
// adds risk, so score = 100 * (1 - prod(1 - points/100)), rounded. One high indicator
// day (50) gives 50; two give 75; it never exceeds 100.
func CombineScore(ins []Insight) int {
	rest := 1.0
	for _, in := range ins {
		p := math.Min(float64(in.Points), 100)
		rest *= 1 - p/100
	}
	return int(math.Round(100 * (1 - rest)))
}

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
	insights []Insight
}

// scope returns the windows in which the user is scored for the policy and the
// triggers that opened them. No triggers, no scope.
func (e *Engine) scope(us *userState, p *Policy, tmpl *dsl.Template) (windows, []TriggerRef) {
	s := &e.settings
	past := int64(s.PastActivityDays) * dayNanos
	act := int64(s.ActivationWindowDays) * dayNanos
	var ws []window
	var refs []TriggerRef
	add := func(t int64, name, id string) {
		ws = append(ws, window{t - past, t + act})
		refs = append(refs, TriggerRef{Name: name, Time: time.Unix(0, t).UTC(), EventID: id})
	}
	if tmpl.Priority && !p.priorityMember(us.upn, s) {
		// The priority-user templates score only members of a priority group the
		// policy targets; their triggers (rules/templates.toml) also require it.
		return nil, nil
	}
	if dataLeakTemplate(p.Template) && p.Triggers.custom() {
		if name := p.Triggers.DLPPolicy; name != "" {
			for _, d := range us.dlp {
				if d.high && slices.ContainsFunc(d.policies, func(x string) bool { return strings.EqualFold(x, name) }) {
					add(d.t, "High-severity match of DLP policy "+name, d.id)
				}
			}
		}
		for _, id := range p.Triggers.Indicators {
			ix, ok := e.indIx[id]
			ind := e.rs.Indicator(id)
			if !ok || ind == nil {
				continue
			}
			th := p.Triggers.Thresholds[id]
			if th == 0 {
				th = max(ind.Thresholds[0], 1)
			}
			var days []int32
			for k, n := range us.daily {
				if k.ind == ix && int(n) >= th {
					days = append(days, k.day)
				}
			}
			slices.Sort(days)
			for _, d := range days {
				// The trigger fires at the event that reached the threshold that day.
				n := 0
				for i := range us.hits {
					h := &us.hits[i]
					if dayOf(h.t) == d && h.has(ix) {
						if n++; n == th {
							add(h.t, fmt.Sprintf("%s reached %d events on %s", ind.Name, th, dayString(d)), h.id)
							break
						}
					}
				}
			}
		}
	} else {
		counts := map[string]int{} // trigger, day, indicator -> count-trigger events so far
		for _, tr := range us.trig {
			if tr.tmpl != tmpl.ID {
				continue
			}
			if len(tr.inds) == 0 {
				add(tr.t, tr.name, tr.id)
				continue
			}
			// A count trigger fires at the event that brings one of its indicators'
			// daily count to that indicator's trigger threshold.
			day := dayString(dayOf(tr.t))
			for _, id := range tr.inds {
				k := tr.name + "\x00" + day + "\x00" + id
				counts[k]++
				if th := max(tr.thresholds[id], 1); counts[k] == th {
					add(tr.t, fmt.Sprintf("%s: %s reached %d on %s", tr.name, id, th, day), tr.id)
				}
			}
		}
	}
	for _, m := range e.manual[us.upn] {
		ws = append(ws, window{m.Start.UnixNano() - past, m.End.UnixNano()})
		refs = append(refs, TriggerRef{Name: "scoring started by " + m.Actor + ": " + m.Reason, Time: m.Start})
	}
	if len(ws) == 0 {
		return nil, nil
	}
	return merge(ws), refs
}

func dayString(d int32) string { return time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02") }

// indicatorSet expands the policy's indicators ("template" = the template's defaults)
// and keeps the globally enabled ones.
func (e *Engine) indicatorSet(p *Policy, tmpl *dsl.Template) map[uint16]*dsl.Indicator {
	out := map[uint16]*dsl.Indicator{}
	addID := func(id string) {
		ind := e.rs.Indicator(id)
		if ind == nil || !e.settings.enabled(id) {
			return
		}
		out[e.intern(id)] = ind
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

func (e *Engine) sequenceSet(p *Policy, tmpl *dsl.Template) []*dsl.Sequence {
	var out []*dsl.Sequence
	seen := map[string]bool{}
	addID := func(id string) {
		if sq := e.rs.Sequence(id); sq != nil && !seen[id] {
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
	n, prio, unallowed int
	ids                []string
}

// evaluate scores one user against one policy from the index.
func (e *Engine) evaluate(us *userState, p *Policy, tmpl *dsl.Template) *evaluation {
	s := &e.settings
	if !p.covers(us.upn, s) {
		return nil
	}
	scope, refs := e.scope(us, p, tmpl)
	if len(scope) == 0 {
		return nil
	}
	ev := &evaluation{scope: scope, triggers: refs}
	pc := &p.PriorityContent
	hasPC := !pc.empty()
	userBoost, userBoosters := 1.0, []string(nil)
	if p.Boosters.PriorityUser && len(s.groupsOf(us.upn)) > 0 {
		userBoost *= boostPriorityUser
		userBoosters = append(userBoosters, FactorPriorityUser)
	}
	if p.Boosters.PreviousCase && e.confirmedViolation(us.upn) {
		userBoost *= boostPreviousCase
		userBoosters = append(userBoosters, BoosterPreviousCase)
	}
	scored := func(h *hit) bool { return scope.has(h.t) && (!pc.Only || pc.match(h.content)) }

	// Indicators: count per (indicator, day).
	inds := e.indicatorSet(p, tmpl)
	cells := map[dayInd]*cell{}
	for i := range us.hits {
		h := &us.hits[i]
		if !scored(h) {
			continue
		}
		prio := hasPC && pc.match(h.content)
		for _, ix := range h.inds {
			if _, ok := inds[ix]; !ok {
				continue
			}
			k := dayInd{dayOf(h.t), ix}
			c := cells[k]
			if c == nil {
				c = &cell{}
				cells[k] = c
			}
			c.n++
			if len(c.ids) < maxInsightIDs {
				c.ids = append(c.ids, h.id)
			}
			if prio {
				c.prio++
			}
			if h.unallowed {
				c.unallowed++
			}
		}
	}
	for k, c := range cells {
		ind := inds[k.ind]
		th := ind.Thresholds
		if custom, ok := p.Thresholds[ind.ID]; ok && len(custom) == 3 {
			th = [3]int{custom[0], custom[1], custom[2]}
		}
		lvl := levelOf(c.n, th)
		if lvl == LevelNone {
			continue
		}
		in := Insight{Kind: "indicator", ID: ind.ID, Name: ind.Name, Category: ind.Category, Day: dayString(k.day),
			Count: c.n, Thresholds: th, Level: lvl, BasePoints: int(indicatorPoints[lvl]), EventIDs: c.ids}
		mult := userBoost
		if p.Boosters.AboveUsual && c.n >= s.MinDailyEvents {
			base := 0
			for d := k.day - 30; d < k.day; d++ {
				base += int(us.daily[dayInd{d, k.ind}])
			}
			usual := float64(base) / 30
			if float64(c.n) > aboveUsualFactor*usual {
				mult *= boostAboveUsual
				in.Boosters = append(in.Boosters, FactorAboveUsual)
				in.Detail = fmt.Sprintf("%d events against a usual %.1f a day", c.n, usual)
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
		in.Points = points(indicatorPoints[lvl], mult)
		ev.insights = append(ev.insights, in)
	}

	// Sequences.
	for _, sq := range e.sequenceSet(p, tmpl) {
		if in, ok := e.sequence(us, sq, scored, hasPC, pc, userBoost, userBoosters); ok {
			ev.insights = append(ev.insights, in)
		}
	}

	// Cumulative exfiltration.
	if p.Cumulative {
		if in, ok := e.cumulative(us, scope, userBoost, userBoosters); ok {
			ev.insights = append(ev.insights, in)
		}
	}
	sortInsights(ev.insights)
	return ev
}

func points(base, mult float64) int { return int(math.Min(100, math.Round(base*mult))) }

// sequence finds the files (or, linked by user, the completions) that went through
// every step of sq in order, the whole chain within sq.Within.
func (e *Engine) sequence(us *userState, sq *dsl.Sequence, scored func(*hit) bool, hasPC bool, pc *PriorityContent,
	userBoost float64, userBoosters []string) (Insight, bool) {
	sets := sq.StepSets
	if len(sets) == 0 {
		for _, st := range sq.Steps {
			sets = append(sets, []string{st})
		}
	}
	steps := make([][]uint16, len(sets))
	for i, set := range sets {
		for _, id := range set {
			if ix, ok := e.indIx[id]; ok {
				steps[i] = append(steps[i], ix)
			}
		}
		if len(steps[i]) == 0 {
			return Insight{}, false
		}
	}
	if len(steps) == 0 {
		return Insight{}, false
	}
	within := sq.Within.Nanoseconds()
	if within <= 0 {
		within = 7 * dayNanos
	}
	type chain struct {
		start []int64 // latest start of a chain reaching each step; -1 none
		hits  [][]int // hit indices of that chain
	}
	chains := map[string]*chain{}
	type done struct {
		t    int64
		hits []int
	}
	var completed []done
	completedKey := map[string]bool{}
	last := len(steps) - 1
	for i := range us.hits {
		h := &us.hits[i]
		if !scored(h) {
			continue
		}
		key := ""
		if sq.Link != "user" {
			if h.file == "" {
				continue
			}
			key = h.file
		}
		c := chains[key]
		// Steps from last to first so that one event does not advance two steps.
		for k := last; k >= 0; k-- {
			if !h.hasAny(steps[k]) {
				continue
			}
			if c == nil {
				c = &chain{start: make([]int64, len(steps)), hits: make([][]int, len(steps))}
				for j := range c.start {
					c.start[j] = -1
				}
				chains[key] = c
			}
			if k == 0 {
				c.start[0] = h.t
				c.hits[0] = []int{i}
				continue
			}
			prev := c.start[k-1]
			if prev < 0 || h.t-prev > within || prev < c.start[k] {
				continue
			}
			c.start[k] = prev
			c.hits[k] = append(slices.Clone(c.hits[k-1]), i)
			if k == last {
				ck := key
				if sq.Link == "user" {
					ck = fmt.Sprint(i)
				}
				if !completedKey[ck] {
					completedKey[ck] = true
					completed = append(completed, done{t: h.t, hits: c.hits[k]})
				}
			}
		}
	}
	if len(completed) == 0 {
		return Insight{}, false
	}
	th := sq.Thresholds
	if th == [3]int{} {
		th = [3]int{1, 3, 5}
	}
	lvl := levelOf(len(completed), th)
	if lvl == LevelNone {
		return Insight{}, false
	}
	in := Insight{Kind: "sequence", ID: sq.ID, Name: sq.Name, Category: sq.Category, Day: dayString(dayOf(completed[0].t)),
		Count: len(completed), Thresholds: th, Level: lvl, BasePoints: int(sequencePoints[lvl])}
	prio, unallowed := 0, false
	var files []string
	for _, d := range completed {
		for _, hi := range d.hits {
			h := &us.hits[hi]
			if len(in.EventIDs) < maxInsightIDs && !slices.Contains(in.EventIDs, h.id) {
				in.EventIDs = append(in.EventIDs, h.id)
			}
			if hasPC && pc.match(h.content) {
				prio++
			}
			unallowed = unallowed || h.unallowed
		}
		if f := us.hits[d.hits[len(d.hits)-1]].file; f != "" && len(files) < 10 {
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
	in.Points = points(sequencePoints[lvl], mult)
	in.Detail = fmt.Sprintf("%d completed within %s: %s", len(completed), sq.Within, strings.Join(files, ", "))
	return in, true
}

type pctKey struct {
	day  int32
	dept string
}

// percentile is the configured percentile of every user's (or one department's) 30-day
// exfiltration ending on day d; -1 when the group is too small to have a norm.
func (e *Engine) percentile(d int32, dept string) int {
	if e.pctGen != e.gen || e.pctMemo == nil {
		e.pctMemo = map[pctKey]int{}
		e.pctGen = e.gen
	}
	k := pctKey{d, dept}
	if v, ok := e.pctMemo[k]; ok {
		return v
	}
	var xs []int
	for _, us := range e.users {
		if dept != "" && us.department() != dept {
			continue
		}
		xs = append(xs, us.exfilSum(d))
	}
	v := -1
	if len(xs) >= 5 {
		slices.Sort(xs)
		// Nearest rank.
		r := int(math.Ceil(float64(e.settings.CumulativePercentile)/100*float64(len(xs)))) - 1
		v = xs[max(0, min(r, len(xs)-1))]
	}
	e.pctMemo[k] = v
	return v
}

// cumulative compares the user's exfiltration over 30 days with the organisation's and
// their department's distribution, on the in-scope day where their 30-day total peaks.
func (e *Engine) cumulative(us *userState, scope windows, userBoost float64, userBoosters []string) (Insight, bool) {
	best, bestDay := 0, int32(0)
	days := make([]int32, 0, len(us.exfil))
	for d := range us.exfil {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		if !scope.has(int64(d)*dayNanos) && !scope.has(int64(d+1)*dayNanos-1) {
			continue
		}
		if n := us.exfilSum(d); n > best {
			best, bestDay = n, d
		}
	}
	if best < e.settings.CumulativeMinEvents {
		return Insight{}, false
	}
	org := e.percentile(bestDay, "")
	dept := us.department()
	dp := -1
	if dept != "" {
		dp = e.percentile(bestDay, dept)
	}
	var ref int
	var against string
	switch {
	case org >= 0 && best > org:
		ref, against = org, "organisation"
	case dp >= 0 && best > dp:
		ref, against = dp, "department "+dept
	default:
		return Insight{}, false
	}
	ratio := float64(best) / math.Max(float64(ref), 1)
	lvl := LevelLow
	switch {
	case ratio >= 4:
		lvl = LevelHigh
	case ratio >= 2:
		lvl = LevelMedium
	}
	in := Insight{Kind: "cumulative", ID: "cumulative_exfiltration", Name: "Cumulative exfiltration activities",
		Category: "exfiltration", Day: dayString(bestDay), Count: best, Level: lvl, BasePoints: int(cumulativePoints[lvl]),
		Thresholds: [3]int{max(ref+1, e.settings.CumulativeMinEvents), 2 * max(ref, 1), 4 * max(ref, 1)}}
	in.Detail = fmt.Sprintf("%d exfiltration events in the 30 days to %s; the %s's %dth percentile is %d (organisation %d, department %d)",
		best, in.Day, against, e.settings.CumulativePercentile, ref, org, dp)
	from := int64(bestDay-29) * dayNanos
	to := int64(bestDay+1) * dayNanos
	for i := range us.hits {
		h := &us.hits[i]
		if h.exfil && h.t >= from && h.t < to && len(in.EventIDs) < maxInsightIDs {
			in.EventIDs = append(in.EventIDs, h.id)
		}
	}
	in.Boosters = append(in.Boosters, userBoosters...)
	in.Points = points(cumulativePoints[lvl], userBoost)
	return in, true
}

func sortInsights(ins []Insight) {
	sort.Slice(ins, func(i, j int) bool {
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
