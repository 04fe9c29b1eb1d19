package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"irm/dsl"
	"irm/event"
	"irm/store"
)

// A rule backtest answers the security engineer's question before a rule ships: what
// would this indicator (or sequence) have matched in our own data? It replays the
// stored events of the last N days through one indicator or sequence of a rule set —
// usually a candidate that is not in force, compiled from the file being edited
// together with the rules in force — with the engine's filters (endpoint alert
// statuses, excluded file types, activity only with allowed domains), first_seen
// novelty through dsl.NoveltyTracker and sequences through dsl.SequenceTracker, and
// counts matches per day and user. It raises, changes and audits nothing, and holds
// the engine's lock only to copy the settings: ingest goes on meanwhile.

// Rule backtest bounds.
const (
	RuleBacktestMaxDays     = 90
	RuleBacktestDefaultDays = 30
	// RuleBacktestExamples is the most example events a result carries.
	RuleBacktestExamples = 20
	// RuleBacktestTimeout bounds a backtest whatever its context says.
	RuleBacktestTimeout = 10 * time.Minute
)

// RuleBacktestOptions say what to replay.
type RuleBacktestOptions struct {
	Days int       // days replayed, ending at End: 1 to RuleBacktestMaxDays (default 30)
	End  time.Time // last day replayed; zero = the engine's clock (today)
	// Progress, if set, is called about four times a second while the backtest runs and
	// once at the end (from a goroutine of the backtest).
	Progress func(RuleBacktestProgress)
	// Workers replaying users in parallel; 0 = up to 2 (the appliance's cores are
	// shared with ingest).
	Workers int
}

// RuleBacktestProgress is how far a backtest is.
type RuleBacktestProgress struct {
	Users     int   `json:"users"`      // users with stored events, all to be replayed
	UsersDone int   `json:"users_done"` // replayed so far
	Events    int64 `json:"events"`     // events read so far (the look-back included)
	Done      bool  `json:"done"`
}

// RuleBacktestResult is what a rule backtest found. Users are UPNs: the caller
// pseudonymises them as its viewer requires.
type RuleBacktestResult struct {
	Kind       string `json:"kind"` // "indicator" or "sequence"
	ID         string `json:"id"`
	Name       string `json:"name"`
	File       string `json:"file"`
	Line       int    `json:"line"`
	Thresholds [3]int `json:"thresholds"` // daily counts for low, medium, high
	FirstSeen  bool   `json:"first_seen,omitempty"`
	// NotEnabled: the settings enable a list of indicators that does not hold this one
	// (or, for a sequence, one of its steps' indicators): it would not score as it is.
	NotEnabled []string `json:"not_enabled,omitempty"`
	From       string   `json:"from"` // first day replayed (YYYY-MM-DD, organisation's zone)
	To         string   `json:"to"`
	Days       int      `json:"days"`

	Events      int64 `json:"events"`       // stored events in the days replayed
	UsersActive int   `json:"users_active"` // users with events in the days replayed
	// Matched counts what the engine would count: for an indicator the matching events
	// (for a first_seen indicator the novel ones), for a sequence its completions.
	Matched int `json:"matched"`
	// WhenMatched is, for a first_seen indicator, the events that matched its when
	// condition, novel or not.
	WhenMatched int `json:"when_matched,omitempty"`
	Users       int `json:"users"` // users with at least one match
	// Levels are the users whose highest daily count reached low, medium and high
	// (each user counted once, at their highest level).
	Levels   RuleBacktestLevels    `json:"levels"`
	PerDay   []RuleBacktestDay     `json:"per_day"`  // every day replayed, oldest first
	Examples []RuleBacktestExample `json:"examples"` // newest first
	Elapsed  time.Duration         `json:"elapsed_ns"`
}

// RuleBacktestLevels counts users by the highest threshold level they reached.
type RuleBacktestLevels struct {
	Low    int `json:"low"`
	Medium int `json:"medium"`
	High   int `json:"high"`
}

// RuleBacktestDay is one day of a rule backtest.
type RuleBacktestDay struct {
	Day     string `json:"day"`
	Matched int    `json:"matched"`
	Users   int    `json:"users"`
}

// RuleBacktestExample is one matching event (for a sequence, the event completing it).
type RuleBacktestExample struct {
	Time         time.Time `json:"time"`
	User         string    `json:"user"`
	EventID      string    `json:"event_id"`
	Feed         string    `json:"feed"`
	Operation    string    `json:"operation"`
	Workload     string    `json:"workload,omitempty"`
	Object       string    `json:"object,omitempty"`
	FileName     string    `json:"file_name,omitempty"`
	TargetDomain string    `json:"target_domain,omitempty"`
	Device       string    `json:"device,omitempty"`
	// DayCount is the user's count that day, with it.
	DayCount int `json:"day_count"`
	// Steps, for a sequence, are the operations and times of the chain's steps.
	Steps []string `json:"steps,omitempty"`
}

// BacktestRule replays the last opt.Days days of stored events through the indicator
// or sequence id of rs (any compiled rule set: the rules in force, or a candidate with
// a rule file being edited). ctx cancels it; it stops by itself after
// RuleBacktestTimeout.
func (e *Engine) BacktestRule(ctx context.Context, rs *dsl.RuleSet, id string, opt RuleBacktestOptions) (*RuleBacktestResult, error) {
	start := time.Now()
	if rs == nil {
		return nil, errors.New("rule backtest: no rule set")
	}
	if opt.Days == 0 {
		opt.Days = RuleBacktestDefaultDays
	}
	if opt.Days < 1 || opt.Days > RuleBacktestMaxDays {
		return nil, fmt.Errorf("rule backtest: days must be 1-%d, not %d", RuleBacktestMaxDays, opt.Days)
	}
	ctx, cancel := context.WithTimeout(ctx, RuleBacktestTimeout)
	defer cancel()
	// A worker's error stops the others.
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)

	e.mu.Lock()
	s := e.settings // replaced wholesale on update, never changed in place
	now := e.now
	e.mu.Unlock()
	loc := orgLocation(e.cfg)
	end := opt.End
	if end.IsZero() {
		end = now()
	}
	last := localDay(end, loc)
	first := last - int32(opt.Days) + 1
	res := &RuleBacktestResult{ID: id, From: dayString(first), To: dayString(last), Days: opt.Days}
	rb := &ruleBacktest{e: e, rs: rs, s: &s, lists: s.lists(), loc: loc, first: first, last: last, res: res}
	if err := rb.target(id); err != nil {
		return nil, err
	}
	// History before the window decides novelty and sequences that end inside it.
	rb.from = first - int32(rb.lookback)
	since, until := localDayStart(rb.from, loc), localDayStart(last+1, loc)

	var users []string
	if err := e.db.Users(func(u string) error { users = append(users, u); return nil }); err != nil {
		return nil, fmt.Errorf("rule backtest: %w", err)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = min(2, runtime.GOMAXPROCS(0))
	}
	var done atomic.Int64
	var read atomic.Int64
	progress := func(final bool) {
		if opt.Progress != nil {
			opt.Progress(RuleBacktestProgress{Users: len(users), UsersDone: int(done.Load()), Events: read.Load(), Done: final})
		}
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				progress(false)
			}
		}
	}()

	next := make(chan string)
	parts := make([]*ruleBacktestPart, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = rb.newPart()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := parts[w]
			for u := range next {
				if err := p.user(ctx, u, since, until, &read); err != nil {
					errs[w] = err
					fail(err)
				}
				done.Add(1)
			}
		}()
	}
feed:
	for _, u := range users {
		select {
		case next <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(stopProgress)
	<-progressDone
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("rule backtest: stopped after %s", RuleBacktestTimeout)
		}
		return nil, fmt.Errorf("rule backtest: %w", err)
	}
	rb.merge(parts)
	res.Elapsed = time.Since(start)
	progress(true)
	return res, nil
}

// ruleBacktest is one backtest's fixed inputs.
type ruleBacktest struct {
	e           *Engine
	rs          *dsl.RuleSet
	s           *Settings
	lists       map[string][]string
	loc         *time.Location
	first, last int32 // days replayed
	from        int32 // first day read (history before first included)
	lookback    int   // days read before first
	res         *RuleBacktestResult

	ind   *dsl.Indicator // the indicator, or nil for a sequence
	seq   *dsl.Sequence
	steps []int // the sequence's step indicators (indices)
}

// target resolves id in the rule set.
func (rb *ruleBacktest) target(id string) error {
	rs, res := rb.rs, rb.res
	enabled := func(ids ...string) {
		for _, x := range ids {
			if !rb.s.enabled(x) {
				res.NotEnabled = append(res.NotEnabled, x)
			}
		}
	}
	if ind := rs.Indicator(id); ind != nil {
		rb.ind = ind
		res.Kind, res.Name, res.File, res.Line, res.Thresholds = "indicator", ind.Name, ind.File, ind.Line, ind.Thresholds
		if ind.FirstSeen != nil {
			res.FirstSeen = true
			// Novelty needs the key's history and the active days before the first day
			// (one day more: a day is not 24 h when the clocks change).
			rb.lookback = ind.FirstSeen.Days + 1
		}
		enabled(id)
		return nil
	}
	if sq := rs.Sequence(id); sq != nil {
		rb.seq = sq
		res.Kind, res.Name, res.File, res.Line, res.Thresholds = "sequence", sq.Name, sq.File, sq.Line, sq.Thresholds
		if res.Thresholds == [3]int{} {
			res.Thresholds = [3]int{1, 2, 3}
		}
		rb.lookback = int((sq.Within+24*time.Hour-1)/(24*time.Hour)) + 1
		seen := map[int]bool{}
		var ids []string
		for k, set := range sq.StepIx {
			for j, ix := range set {
				if !seen[ix] {
					seen[ix] = true
					rb.steps = append(rb.steps, ix)
					ids = append(ids, sq.StepSets[k][j])
				}
			}
		}
		sort.Ints(rb.steps)
		enabled(ids...)
		return nil
	}
	return fmt.Errorf("rule backtest: no indicator or sequence %q in the rules", id)
}

// ruleBacktestPart is one worker's tallies and reusable state.
type ruleBacktestPart struct {
	rb       *ruleBacktest
	perDay   []int // matches per day of the window
	usersDay []int // users with a match per day
	res      RuleBacktestResult
	top      []userExamples // the users with the highest peaks, with their latest matches

	novelty  *dsl.NoveltyTracker
	seq      *dsl.SequenceTracker
	active   map[int32]bool
	userDay  []int
	inds     []int
	stepEvs  []stepEvent
	ops      map[string]string     // operation names, interned: stepEvs outlive the events
	examples []RuleBacktestExample // the current user's latest matches (a ring)
	exNext   int
}

// stepEvent is what a sequence example shows of one step.
type stepEvent struct {
	t  time.Time
	op string
}

// userExamples is one user's peak and latest matches.
type userExamples struct {
	user    string
	peak    int
	matched int
	evs     []RuleBacktestExample // newest first
}

func (rb *ruleBacktest) newPart() *ruleBacktestPart {
	p := &ruleBacktestPart{rb: rb, perDay: make([]int, rb.res.Days), usersDay: make([]int, rb.res.Days),
		userDay: make([]int, rb.res.Days), active: map[int32]bool{}, ops: map[string]string{}}
	if rb.ind != nil && rb.ind.FirstSeen != nil {
		p.novelty = dsl.NewNoveltyTracker(rb.ind.FirstSeen)
	}
	if rb.seq != nil {
		p.seq = dsl.NewSequenceTracker(rb.seq)
	}
	return p
}

// user replays one user's events.
func (p *ruleBacktestPart) user(ctx context.Context, u string, since, until time.Time, read *atomic.Int64) error {
	rb := p.rb
	var prof *event.Profile
	if pr, ok, err := rb.e.db.Profile(u); err != nil {
		return fmt.Errorf("rule backtest: %w", err)
	} else if ok {
		prof = &pr
	}
	in := dsl.Input{User: prof, PriorityGroups: rb.s.groupsOf(u), Lists: rb.lists}
	if p.novelty != nil {
		p.novelty.Reset()
	}
	if p.seq != nil {
		p.seq.Reset()
	}
	clear(p.active)
	clear(p.userDay)
	p.stepEvs = p.stepEvs[:0]
	p.examples, p.exNext = p.examples[:0], 0
	inWindow, matched := false, 0
	n := 0
	err := rb.e.db.Events(store.Query{User: u, Since: since, Until: until}, func(ev *event.Event) error {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		read.Add(1)
		day := localDay(ev.Time, rb.loc)
		p.active[day] = true
		if day >= rb.first {
			if !inWindow {
				inWindow = true
				p.res.UsersActive++
			}
			p.res.Events++
		}
		if !rb.e.scoredEvent(ev, rb.s) {
			return nil
		}
		in.Event = ev
		if rb.ind != nil {
			if !rb.rs.MatchIndicator(rb.ind.ID, &in) {
				return nil
			}
			if fs := rb.ind.FirstSeen; fs != nil {
				if day >= rb.first {
					p.res.WhenMatched++
				}
				key := dsl.KeyHash(rb.rs.FirstSeenKey(rb.ind, &in))
				if !p.novelty.Observe(ev.Time.UnixNano(), key, p.activeDays(day-int32(fs.Days), day-1)) {
					return nil
				}
			}
			if day >= rb.first {
				matched++
				p.count(day, u, ev, nil)
			}
			return nil
		}
		p.inds = rb.rs.MatchAmong(p.inds[:0], &in, rb.steps)
		if len(p.inds) == 0 {
			return nil
		}
		ref := len(p.stepEvs)
		op, ok := p.ops[ev.Operation]
		if !ok && len(p.ops) < 4096 {
			op = strings.Clone(ev.Operation)
			p.ops[op] = op
		} else if !ok {
			op = strings.Clone(ev.Operation)
		}
		p.stepEvs = append(p.stepEvs, stepEvent{t: ev.Time, op: op})
		for _, c := range p.seq.Step(dsl.SeqInput{Time: ev.Time.UnixNano(), File: strings.ToLower(ev.FileName), Inds: p.inds, Ref: ref}) {
			if day < rb.first {
				continue
			}
			matched++
			steps := make([]string, len(c.Refs))
			for i, r := range c.Refs {
				se := p.stepEvs[r]
				steps[i] = se.op + " " + se.t.UTC().Format("2006-01-02 15:04")
			}
			p.count(day, u, ev, steps)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("rule backtest: %w", err)
	}
	if matched == 0 {
		return nil
	}
	p.res.Matched += matched
	p.res.Users++
	peak := 0
	for d, n := range p.userDay {
		if n > 0 {
			p.usersDay[d]++
			peak = max(peak, n)
		}
	}
	switch levelOf(peak, rb.res.Thresholds) {
	case LevelHigh:
		p.res.Levels.High++
	case LevelMedium:
		p.res.Levels.Medium++
	case LevelLow:
		p.res.Levels.Low++
	}
	p.keepTop(userExamples{user: u, peak: peak, matched: matched, evs: p.latest()})
	return nil
}

// count records one match on day.
func (p *ruleBacktestPart) count(day int32, u string, ev *event.Event, steps []string) {
	d := int(day - p.rb.first)
	p.perDay[d]++
	p.userDay[d]++
	ex := RuleBacktestExample{Time: ev.Time, User: u, EventID: ev.ID, Feed: ev.Feed, Operation: ev.Operation,
		Workload: ev.Workload, Object: ev.Object, FileName: ev.FileName, TargetDomain: ev.TargetDomain, Device: ev.Device,
		DayCount: p.userDay[d], Steps: steps}
	if len(p.examples) < RuleBacktestExamples {
		p.examples = append(p.examples, ex)
		return
	}
	p.examples[p.exNext] = ex
	p.exNext = (p.exNext + 1) % RuleBacktestExamples
}

// latest returns the user's latest matches, newest first.
func (p *ruleBacktestPart) latest() []RuleBacktestExample {
	out := make([]RuleBacktestExample, 0, len(p.examples))
	for i := range p.examples {
		out = append(out, p.examples[(p.exNext+len(p.examples)-1-i)%len(p.examples)])
	}
	return out
}

// activeDays counts the user's days with any event among from..to.
func (p *ruleBacktestPart) activeDays(from, to int32) int {
	n := 0
	if int(to-from) >= len(p.active) {
		for d := range p.active {
			if d >= from && d <= to {
				n++
			}
		}
		return n
	}
	for d := from; d <= to; d++ {
		if p.active[d] {
			n++
		}
	}
	return n
}

// keepTop keeps the RuleBacktestExamples users with the highest peak daily count.
func (p *ruleBacktestPart) keepTop(ue userExamples) {
	p.top = append(p.top, ue)
	if len(p.top) > 2*RuleBacktestExamples {
		sortTop(p.top)
		p.top = p.top[:RuleBacktestExamples]
	}
}

func sortTop(top []userExamples) {
	sort.Slice(top, func(i, j int) bool {
		a, b := top[i], top[j]
		if a.peak != b.peak {
			return a.peak > b.peak
		}
		if a.matched != b.matched {
			return a.matched > b.matched
		}
		return a.user < b.user
	})
}

// merge adds up the workers' tallies and picks the examples: the latest match of each
// of the users with the highest peaks, then their next latest, up to
// RuleBacktestExamples, newest first.
func (rb *ruleBacktest) merge(parts []*ruleBacktestPart) {
	res := rb.res
	perDay := make([]int, res.Days)
	usersDay := make([]int, res.Days)
	var top []userExamples
	for _, p := range parts {
		for d := range perDay {
			perDay[d] += p.perDay[d]
			usersDay[d] += p.usersDay[d]
		}
		res.Events += p.res.Events
		res.UsersActive += p.res.UsersActive
		res.Matched += p.res.Matched
		res.WhenMatched += p.res.WhenMatched
		res.Users += p.res.Users
		res.Levels.Low += p.res.Levels.Low
		res.Levels.Medium += p.res.Levels.Medium
		res.Levels.High += p.res.Levels.High
		top = append(top, p.top...)
	}
	for d := range perDay {
		res.PerDay = append(res.PerDay, RuleBacktestDay{Day: dayString(rb.first + int32(d)), Matched: perDay[d], Users: usersDay[d]})
	}
	sortTop(top)
	top = top[:min(len(top), RuleBacktestExamples)]
	res.Examples = []RuleBacktestExample{}
	for k := 0; len(res.Examples) < RuleBacktestExamples; k++ {
		added := false
		for _, ue := range top {
			if k < len(ue.evs) && len(res.Examples) < RuleBacktestExamples {
				res.Examples = append(res.Examples, ue.evs[k])
				added = true
			}
		}
		if !added {
			break
		}
	}
	sort.SliceStable(res.Examples, func(i, j int) bool { return res.Examples[i].Time.After(res.Examples[j].Time) })
}

// localDay is the day number of t's date in loc (days since 1970-01-01).
func localDay(t time.Time, loc *time.Location) int32 {
	if loc != nil && loc != time.UTC {
		y, m, d := t.In(loc).Date()
		t = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return dayOf(t.UnixNano())
}

// localDayStart is the instant day d begins in loc.
func localDayStart(d int32, loc *time.Location) time.Time {
	t := time.Unix(int64(d)*86400, 0).UTC()
	if loc == nil {
		return t
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// RuleBacktestTargets resolves what `irm rules backtest ID|FILE` replays: an indicator
// or sequence id of the rules in force, or every indicator and sequence a rule file
// defines, compiled with the rules directory as if the file were saved there (under its
// base name, replacing a file of that name). It returns the rule set to replay and the
// ids.
func RuleBacktestTargets(r *dsl.Reloader, arg string, readFile func(string) ([]byte, error)) (*dsl.RuleSet, []string, error) {
	rs := r.Current()
	if rs.Indicator(arg) != nil || rs.Sequence(arg) != nil {
		return rs, []string{arg}, nil
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	text, err := readFile(arg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%q is neither an indicator or sequence (irm rules list) nor a rule file", arg)
		}
		return nil, nil, err
	}
	name := filepath.Base(arg)
	cand, err := r.Draft(name, text, false)
	if err != nil {
		return nil, nil, err
	}
	path := r.Path(name)
	var ids []string
	for _, ind := range cand.Indicators() {
		if ind.File == path {
			ids = append(ids, ind.ID)
		}
	}
	for _, sq := range cand.Sequences() {
		if sq.File == path {
			ids = append(ids, sq.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("%s defines no indicator or sequence", arg)
	}
	return cand, ids, nil
}

// WriteText prints the result for people (irm rules backtest).
func (r *RuleBacktestResult) WriteText(w io.Writer) error {
	kind := r.Kind
	if r.FirstSeen {
		kind = "novelty indicator"
	}
	fmt.Fprintf(w, "%s %s %q (%s:%d), thresholds %d/%d/%d\n", strings.ToUpper(kind[:1])+kind[1:], r.ID, r.Name, r.File, r.Line,
		r.Thresholds[0], r.Thresholds[1], r.Thresholds[2])
	fmt.Fprintf(w, "Replayed %s to %s (%d days): %d events of %d users in %s\n", r.From, r.To, r.Days, r.Events, r.UsersActive,
		r.Elapsed.Round(time.Millisecond))
	what := "matching events"
	if r.Kind == "sequence" {
		what = "completions"
	}
	fmt.Fprintf(w, "Matched: %d %s of %d users", r.Matched, what, r.Users)
	if r.FirstSeen {
		fmt.Fprintf(w, " (new keys only; %d events matched its when)", r.WhenMatched)
	}
	fmt.Fprintf(w, "\nUsers by the highest level their daily count reached: high %d, medium %d, low %d\n", r.Levels.High, r.Levels.Medium, r.Levels.Low)
	if len(r.NotEnabled) > 0 {
		fmt.Fprintf(w, "Not enabled in the settings (would not score as they are): %s\n", strings.Join(r.NotEnabled, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nDAY\tMATCHED\tUSERS")
	for _, d := range r.PerDay {
		if d.Matched > 0 {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", d.Day, d.Matched, d.Users)
		}
	}
	if len(r.Examples) > 0 {
		fmt.Fprintf(tw, "\nEXAMPLE (%d)\tUSER\tOPERATION\tDAY COUNT\tOBJECT\n", len(r.Examples))
		for _, x := range r.Examples {
			obj := x.Object
			if obj == "" {
				obj = x.TargetDomain
			}
			if len(x.Steps) > 0 {
				obj = strings.Join(x.Steps, " → ") + " " + x.FileName
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", x.Time.UTC().Format("2006-01-02 15:04"), x.User, x.Operation, x.DayCount, obj)
		}
	}
	return tw.Flush()
}
