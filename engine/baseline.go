package engine

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
)

// Baselines: what a user's day usually looks like for one indicator (docs/engine.md
// "Threshold modes"). In user mode a day's count reaches a level only when it reaches
// the fixed threshold and also stands out from the user's own history: it must exceed
// the larger of the 95th percentile and mean + 3 standard deviations of the user's daily
// counts over their active days among the previous baselineDays days. A user with fewer
// active days than Settings.BaselineMinDays is compared with their department, then the
// organisation.

const (
	// baselineDays is the history a baseline looks back over, as Purview's thresholds
	// "specific to the user's activity" and its cumulative detection do: the 30 days
	// before the week being scored (historyOf). Leaving the week out keeps a burst from
	// becoming its own baseline: with the previous 30 days, a user who copies files
	// every day of a week is "usual" by the third day.
	baselineDays = 30
	// minGroupUserDays is the smallest pooled sample (active user-days in the window)
	// for a department or the organisation to serve as a baseline: below it a handful
	// of people would define "usual" for everyone.
	minGroupUserDays = 50
)

// LearningDays is how long user mode learns before it judges volumes against habits:
// a day's baseline needs the month before its week. Novelty, unallowed domains and
// security alerts are judged from the start.
const LearningDays = baselineDays + scoreWindowDays

// historyOf is the window of days a baseline for day d looks at: the baselineDays
// days that end where the score window of d (scoreWindowDays, d included) begins.
func historyOf(d int32) (from, to int32) {
	to = d - scoreWindowDays
	return to - baselineDays + 1, to
}

// maxHistoryDays bounds how far back a user's own baseline reaches for someone who was
// away: their history is the baselineDays before the week, extended a week at a time
// until it holds enough active days. A user back from two weeks' holiday is still
// compared with their own habits, not with everyone's.
const maxHistoryDays = 90

// ownHistory is the history window of day d for a user with the given active days; it
// reaches back no further than since (the first day of data).
func ownHistory(active *dayset, d int32, minDays int, since int32) (from, to int32) {
	from, to = historyOf(d)
	for active.count(from, to) < minDays && to-from+1+7 <= maxHistoryDays && from-7 >= since {
		from -= 7
	}
	return from, to
}

// usual is a baseline: the history a day's count is compared with.
type usual struct {
	ok       bool
	group    string // "" for the user's own history, else "department X" or "organisation"
	days     int    // active days (user) or active user-days (group) in the window
	span     int    // days in the user's history window
	lo, p95  int    // the user's smallest and 95th-percentile day (own history only)
	mean, sd float64
	limit    float64 // a count must exceed this to stand out
}

// standsOut reports whether a count exceeds the baseline. Without one (no history of
// the user, their department or the organisation before the day) nothing stands out:
// user mode cannot judge the day yet.
func (u usual) standsOut(n int) bool { return u.ok && float64(n) > u.limit }

// excess is the part of a count above the usual (0 when it does not stand out): in user
// mode the fixed thresholds apply to it, so a heavy printer's 33 prints against a usual
// of up to 22 are a low day of 11, where someone who never prints reaches high with 30.
func (u usual) excess(n int) int {
	if !u.standsOut(n) {
		return 0
	}
	return n - int(math.Floor(u.limit))
}

// describe says in words what a count was compared with.
func (u usual) describe(what string) string {
	if !u.ok {
		return "no history to compare with yet"
	}
	if u.group == "" {
		return fmt.Sprintf("this user's usual is %d–%d %s a day (%d active days in the %d before this week)", u.lo, u.p95, what, u.days, max(u.span, baselineDays))
	}
	return fmt.Sprintf("too little history of this user; in the %s a day has %.1f %s on average and up to %d on 99 days in 100 (limit %.1f)", u.group, u.mean, what, u.p95, u.limit)
}

// dayCount is the number of matching events of one indicator on one day.
type dayCount struct {
	day int32
	ind uint16
	n   int32
}

// dailyTable holds a user's daily counts, sorted by (day, indicator): the engine keeps
// one per user up to date as hits arrive (userIndex.daily), so that new days append.
type dailyTable []dayCount

func (t dailyTable) search(day int32, ind uint16) int {
	return sort.Search(len(t), func(i int) bool { return t[i].day > day || (t[i].day == day && t[i].ind >= ind) })
}

// add counts one more event of the indicator on the day.
func (t *dailyTable) add(day int32, ind uint16) {
	s := *t
	// New hits are mostly of the latest day: look there before searching.
	i := len(s)
	if i == 0 || s[i-1].day > day || (s[i-1].day == day && s[i-1].ind >= ind) {
		i = s.search(day, ind)
	}
	if i < len(s) && s[i].day == day && s[i].ind == ind {
		s[i].n++
		return
	}
	s = append(s, dayCount{})
	copy(s[i+1:], s[i:])
	s[i] = dayCount{day: day, ind: ind, n: 1}
	*t = s
}

// collect appends to buf the nonzero counts of the indicator on days from..to.
func (t dailyTable) collect(ind uint16, from, to int32, buf []int32) []int32 {
	for i := t.search(from, 0); i < len(t) && t[i].day <= to; i++ {
		if t[i].ind == ind {
			buf = append(buf, t[i].n)
		}
	}
	return buf
}

func (t dailyTable) count(ind uint16, day int32) int {
	if i := t.search(day, ind); i < len(t) && t[i].day == day && t[i].ind == ind {
		return int(t[i].n)
	}
	return 0
}

// ownBaseline computes the user's own baseline from the nonzero daily counts of the
// history window and the number of active days in it.
func ownBaseline(vals []int32, active, minDays int) usual {
	if active < max(minDays, 1) {
		return usual{}
	}
	sum, sumsq := 0.0, 0.0
	for _, v := range vals {
		sum += float64(v)
		sumsq += float64(v) * float64(v)
	}
	// A day with a count is an active day; a longer list means the active-day set and
	// the counts disagree (it cannot, but the percentile below must not go negative).
	active = max(active, len(vals))
	zeros := active - len(vals)
	slices.Sort(vals)
	u := usual{ok: true, days: active}
	u.mean = sum / float64(active)
	u.sd = math.Sqrt(math.Max(0, sumsq/float64(active)-u.mean*u.mean))
	// Nearest rank over the ascending sample: zeros first, then the counts.
	r := int(math.Ceil(0.95*float64(active))) - 1
	if r >= zeros {
		u.p95 = int(vals[r-zeros])
	}
	if zeros == 0 && len(vals) > 0 {
		u.lo = int(vals[0])
	}
	u.limit = math.Max(float64(u.p95), u.mean+3*poissonFloor(u.mean, u.sd))
	return u
}

// poissonFloor is the standard deviation used for "mean + 3σ": at least √mean, because a
// daily count of events is at least as variable as a Poisson count. Without the floor a
// perfectly regular history (12 mails every day) would make 15 look extraordinary.
func poissonFloor(mean, sd float64) float64 { return math.Max(sd, math.Sqrt(mean)) }

// groupKey addresses the pooled daily statistics of a group (0 = the organisation,
// else a department) for one indicator and day.
type groupKey struct {
	group uint16
	ind   uint16
	day   int32
}

// groupAgg pools the nonzero daily counts of a group's members for one indicator and
// day: their sum and sum of squares, and a histogram for the high percentile.
type groupAgg struct {
	sum, sumsq int64
	hist       [histBuckets]uint32
}

// histBuckets: counts 1-16 have a bucket each, then one per power of two up to 2^20.
const histBuckets = 16 + 16

func histBucket(n int32) int {
	if n <= 16 {
		return int(n) - 1
	}
	b := 16 + bits.Len32(uint32(n-1)) - 5 // 17-32 -> 16, 33-64 -> 17, ...
	return min(b, histBuckets-1)
}

// histUpper is the largest count of bucket b.
func histUpper(b int) int {
	if b < 16 {
		return b + 1
	}
	return 1 << (b - 16 + 5)
}

type groupDay struct {
	group uint16
	day   int32
}

// groupStats are the department and organisation statistics, computed over every user
// by a settle pass (Engine.settle). Between passes they are not updated: evaluations
// that rely on them do not raise new alerts until the next pass (see evaluation.shared).
type groupStats struct {
	depts  map[string]uint16
	names  []string // group number -> name ("" for the organisation)
	agg    map[groupKey]*groupAgg
	active map[groupDay]int32 // active users of the group on the day
	// Cumulative exfiltration norms: per exfiltration indicator set, group and day,
	// the configured percentile of the users' 30-day totals.
	pct map[pctKey]int
	// since is the first day of data in the store (math.MaxInt32 while there is none).
	// A history window that starts before it is incomplete: in the first weeks after irm
	// is installed (or fed its backfill) no one has a month of habits yet, and user mode
	// does not judge volumes. Engine.markActive keeps it current between settle passes.
	since int32
}

// complete reports whether days from..to all lie within the stored data.
func (g *groupStats) complete(from int32) bool { return g != nil && from >= g.since }

type pctKey struct {
	set   string // exfilSet.key
	group uint16
	day   int32
}

func newGroupStats() *groupStats {
	return &groupStats{depts: map[string]uint16{}, names: []string{""}, agg: map[groupKey]*groupAgg{},
		active: map[groupDay]int32{}, pct: map[pctKey]int{}, since: math.MaxInt32}
}

func (g *groupStats) groupOf(dept string) uint16 {
	if dept == "" {
		return 0
	}
	if n, ok := g.depts[dept]; ok {
		return n
	}
	n := uint16(len(g.names))
	g.depts[dept] = n
	g.names = append(g.names, dept)
	return n
}

// addUser pools one user's daily counts and active days into their department and the
// organisation.
func (g *groupStats) addUser(ux *userIndex, t dailyTable, from, to int32) {
	groups := []uint16{0}
	if d := ux.department(); d != "" {
		groups = append(groups, g.groupOf(d))
	}
	for _, c := range t {
		if c.day < from || c.day > to {
			continue
		}
		for _, gr := range groups {
			k := groupKey{gr, c.ind, c.day}
			a := g.agg[k]
			if a == nil {
				a = &groupAgg{}
				g.agg[k] = a
			}
			a.sum += int64(c.n)
			a.sumsq += int64(c.n) * int64(c.n)
			a.hist[histBucket(c.n)]++
		}
	}
	for d := from; d <= to; d++ {
		if ux.active.has(d) {
			for _, gr := range groups {
				g.active[groupDay{gr, d}]++
			}
		}
	}
}

// baseline is a group's usual for day d: pooled over its members' active days in the
// history of d, the larger of the 99th percentile and mean + 3σ (σ at least √mean). The
// percentile matters: a few heavy users (a quarter of a department copying tens of files
// to USB on some days) barely move the pooled mean, and a new member who does the same
// is not unusual for that department. Not ok when the group has too few user-days.
func (g *groupStats) baseline(group uint16, ind uint16, d int32) usual {
	var n, sum, sumsq float64
	var hist [histBuckets]float64
	from, to := historyOf(d)
	if !g.complete(from) {
		return usual{}
	}
	for x := from; x <= to; x++ {
		n += float64(g.active[groupDay{group, x}])
		a := g.agg[groupKey{group, ind, x}]
		if a == nil {
			continue
		}
		sum += float64(a.sum)
		sumsq += float64(a.sumsq)
		for b, c := range a.hist {
			hist[b] += float64(c)
		}
	}
	if n < minGroupUserDays {
		return usual{}
	}
	u := usual{ok: true, days: int(n), group: "organisation"}
	if group != 0 {
		u.group = "department " + g.names[group]
	}
	u.mean = sum / n
	u.sd = math.Sqrt(math.Max(0, sumsq/n-u.mean*u.mean))
	// The 99th percentile: the user-days without any count are the zeros below it.
	nonzero := 0.0
	for _, c := range hist {
		nonzero += c
	}
	need := math.Ceil(0.99*n) - (n - nonzero)
	p99, seen := 0, 0.0
	for b, c := range hist {
		if need <= 0 {
			break
		}
		seen += c
		if seen >= need {
			p99 = histUpper(b)
			break
		}
	}
	u.p95 = p99
	u.limit = math.Max(float64(p99), u.mean+3*poissonFloor(u.mean, u.sd))
	return u
}
