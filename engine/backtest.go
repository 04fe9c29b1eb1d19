package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// A backtest replays the stored events of the last N days through a policy — an
// existing one or a candidate — exactly as the engine scores them (the same index,
// baselines, triggers and score windows), and reports who would have been alerted,
// without raising, changing or auditing any alert. An administrator runs one before
// switching a policy on or changing its thresholds and the alert volume.

// BacktestOptions say what to replay.
type BacktestOptions struct {
	Days   int       // days replayed, ending at End: 1-365 (default 30)
	Volume string    // alert volume whose cut-off decides an alert; "" = the settings'
	End    time.Time // last day replayed; zero = the engine's clock (today)
}

// BacktestResult is what a replay found.
type BacktestResult struct {
	Policy        string          `json:"policy"`
	Template      string          `json:"template"`
	From          string          `json:"from"` // first day replayed (YYYY-MM-DD)
	To            string          `json:"to"`   // last day replayed
	Days          int             `json:"days"`
	Volume        string          `json:"volume"`
	Cutoff        int             `json:"cutoff"`
	ThresholdMode string          `json:"threshold_mode"`
	Users         int             `json:"users"`    // users the policy covers with activity in the days replayed
	InScope       int             `json:"in_scope"` // of those, brought into scope
	Alerted       []BacktestAlert `json:"alerted"`  // by severity, then score, highest first
	BySeverity    map[string]int  `json:"by_severity"`
	// AlertsPer1000 is the alert rate: alerted users per 1,000 covered users per 30 days.
	AlertsPer1000 float64          `json:"alerts_per_1000_users_per_30_days"`
	Drivers       []BacktestDriver `json:"drivers"` // the insights behind the alerts, most frequent first
	Elapsed       time.Duration    `json:"elapsed_ns"`
}

// BacktestAlert is one user who would have been alerted.
type BacktestAlert struct {
	User     string    `json:"user"`
	Severity string    `json:"severity"`
	Score    int       `json:"score"`
	Insights []Insight `json:"insights"` // the ones in the scored week
}

// BacktestDriver counts the alerts an indicator, sequence or cumulative exfiltration
// contributed to.
type BacktestDriver struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	Alerts int    `json:"alerts"`
}

// Backtest replays the last opt.Days days through policy p (validated like a policy
// being saved; it need not exist or be enabled). It builds the index if needed and
// changes nothing. ctx cancels it between users.
func (e *Engine) Backtest(ctx context.Context, p Policy, opt BacktestOptions) (*BacktestResult, error) {
	start := time.Now()
	p.normalize()
	if opt.Days == 0 {
		opt.Days = 30
	}
	if opt.Days < 1 || opt.Days > 365 {
		return nil, fmt.Errorf("backtest: days must be 1-365, not %d", opt.Days)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.ruleSet()
	if rs == nil {
		return nil, errors.New("backtest: no rule set loaded")
	}
	if err := p.validate(rs, &e.settings); err != nil {
		return nil, fmt.Errorf("backtest: policy %q: %w", p.Name, err)
	}
	volume := opt.Volume
	if volume == "" {
		volume = e.settings.AlertVolume
	}
	cut, ok := AlertCutoff[volume]
	if !ok {
		return nil, fmt.Errorf("backtest: alert volume must be fewer, default or more, not %q", volume)
	}
	if err := e.ensureBuilt(); err != nil {
		return nil, err
	}
	tmpl := e.rs.Template(p.Template)
	end := opt.End
	if end.IsZero() {
		end = e.now()
	}
	last := e.dayOf(end)
	first := last - int32(opt.Days) + 1
	res := &BacktestResult{Policy: p.Name, Template: p.Template, From: dayString(first), To: dayString(last), Days: opt.Days,
		Volume: volume, Cutoff: cut, ThresholdMode: p.thresholdMode(&e.settings), BySeverity: map[string]int{}}
	sc := e.scorer()
	// Scoping and scoring read the manual scopes by policy name: a candidate that
	// shares an existing policy's name is scored as that policy would be.
	drivers := map[string]*BacktestDriver{}
	for _, u := range e.allUsers() {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("backtest: %w", err)
		}
		ux := e.users[u]
		if !p.covers(u, &e.settings) || ux.active.count(first, last) == 0 {
			continue
		}
		res.Users++
		ev := sc.pass(ux).evaluate(&p, tmpl)
		if ev == nil {
			continue
		}
		var ins []Insight
		for _, in := range ev.insights {
			if in.day >= first && in.day <= last && in.Points > 0 {
				ins = append(ins, in)
			}
		}
		if !ev.scope.overlaps(e.dayBounds(first, last)) {
			continue
		}
		res.InScope++
		score := scoreWindows(ins)
		if score < cut {
			continue
		}
		a := BacktestAlert{User: u, Severity: SeverityOf(score), Score: score}
		for _, in := range ins {
			if !in.Scored {
				continue
			}
			a.Insights = append(a.Insights, in)
			k := in.Kind + "/" + in.ID
			d := drivers[k]
			if d == nil {
				d = &BacktestDriver{Kind: in.Kind, ID: in.ID, Name: in.Name}
				drivers[k] = d
			}
			d.Alerts++
		}
		res.Alerted = append(res.Alerted, a)
		res.BySeverity[a.Severity]++
	}
	sort.Slice(res.Alerted, func(i, j int) bool {
		a, b := res.Alerted[i], res.Alerted[j]
		if levelRank(a.Severity) != levelRank(b.Severity) {
			return levelRank(a.Severity) > levelRank(b.Severity)
		}
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.User < b.User
	})
	for _, d := range drivers {
		res.Drivers = append(res.Drivers, *d)
	}
	sort.Slice(res.Drivers, func(i, j int) bool {
		if res.Drivers[i].Alerts != res.Drivers[j].Alerts {
			return res.Drivers[i].Alerts > res.Drivers[j].Alerts
		}
		return res.Drivers[i].Kind+res.Drivers[i].ID < res.Drivers[j].Kind+res.Drivers[j].ID
	})
	if res.Users > 0 {
		res.AlertsPer1000 = float64(len(res.Alerted)) * 1000 / float64(res.Users) * 30 / float64(opt.Days)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// dayBounds is the time span of days first..last in the organisation's zone.
func (e *Engine) dayBounds(first, last int32) window {
	day := func(d int32) int64 {
		t := time.Unix(int64(d)*86400, 0).UTC()
		if e.loc != nil {
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, e.loc)
		}
		return t.UnixNano()
	}
	return window{day(first), day(last + 1)}
}

func (ws windows) overlaps(w window) bool {
	for _, x := range ws {
		if x.from < w.to && w.from < x.to {
			return true
		}
	}
	return false
}
