package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"time"

	"irm/dsl"
	"irm/engine"
	"irm/store"
)

// Backtests of the workbench run in the background (a replay of 1,000,000 events takes
// seconds), one per account at a time and at most maxRunningBacktests at once (the
// appliance's cores are shared with ingest), each bounded by engine.RuleBacktestTimeout.
// Their results are kept in memory, visible to the account that started them only, and
// forgotten after jobKeep.

const (
	jobKeep    = time.Hour
	maxJobs    = 64
	jobTimeout = 5 * time.Minute
)

var maxRunningBacktests = max(1, min(2, runtime.GOMAXPROCS(0)))

type btJob struct {
	id, owner, target, file string
	days                    int
	started                 time.Time
	cancel                  context.CancelFunc

	mu       sync.Mutex
	progress engine.RuleBacktestProgress
	res      *engine.RuleBacktestResult
	err      error
	done     bool
	finished time.Time
}

type btJobs struct {
	mu   sync.Mutex
	jobs map[string]*btJob
}

func (j *btJob) running() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return !j.done
}

// start runs a backtest of target in rs for owner, cancelling the owner's running one.
func (s *server) startBacktest(owner string, rs *dsl.RuleSet, target, file string, days int) (*btJob, error) {
	if s.eng == nil {
		return nil, errors.New("the detection engine is not available in this process")
	}
	now := s.now()
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	if s.jobs.jobs == nil {
		s.jobs.jobs = map[string]*btJob{}
	}
	running := 0
	for id, j := range s.jobs.jobs {
		j.mu.Lock()
		done, fin := j.done, j.finished
		j.mu.Unlock()
		switch {
		case !done && j.owner == owner:
			j.cancel() // one at a time per account: the newer question wins
		case !done:
			running++
		case now.Sub(fin) > jobKeep:
			delete(s.jobs.jobs, id)
		}
	}
	if running >= maxRunningBacktests {
		return nil, fmt.Errorf("%d backtests of other accounts are running; try again when one has finished", running)
	}
	if len(s.jobs.jobs) >= maxJobs {
		// Forget the oldest finished results.
		var old []*btJob
		for _, j := range s.jobs.jobs {
			if !j.running() {
				old = append(old, j)
			}
		}
		sort.Slice(old, func(a, b int) bool { return old[a].started.Before(old[b].started) })
		for _, j := range old[:min(len(old), len(s.jobs.jobs)-maxJobs+1)] {
			delete(s.jobs.jobs, j.id)
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, jobTimeout)
	j := &btJob{id: store.NewToken()[:16], owner: owner, target: target, file: file, days: days, started: now, cancel: cancel}
	s.jobs.jobs[j.id] = j
	go func() {
		defer cancel()
		res, err := s.eng.BacktestRule(ctx, rs, target, engine.RuleBacktestOptions{Days: days, Progress: func(p engine.RuleBacktestProgress) {
			j.mu.Lock()
			j.progress = p
			j.mu.Unlock()
		}})
		if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
			err = errors.New("cancelled")
		} else if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("stopped after %s", jobTimeout)
		}
		j.mu.Lock()
		j.res, j.err, j.done, j.finished = res, err, true, s.now()
		j.mu.Unlock()
		if err != nil && err.Error() != "cancelled" {
			s.log.Warn("ui: rule backtest failed", "target", target, "err", err)
		}
	}()
	return j, nil
}

// job returns the owner's job with the id, or nil.
func (s *server) job(owner, id string) *btJob {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	if j := s.jobs.jobs[id]; j != nil && j.owner == owner {
		return j
	}
	return nil
}

// cancelJobs stops every backtest (the handler is closing).
func (s *server) cancelJobs() {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	for _, j := range s.jobs.jobs {
		j.cancel()
	}
}

// jobView is a backtest as the viewer sees it: users pseudonymised as their role
// requires.
type jobView struct {
	ID, Target, File string
	Days             int
	Running          bool
	Percent          int
	Progress         engine.RuleBacktestProgress
	Error            string
	Res              *engine.RuleBacktestResult
	Examples         []exampleView
	MaxDay           int
	Standalone       bool // on a page of its own, outside the editor's form
}

type exampleView struct {
	Time                                          time.Time
	User, Operation, Workload, File, Object, Site string
	DayCount                                      int
	Steps                                         []string
}

func (s *server) jobView(c *reqCtx, j *btJob) *jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := &jobView{ID: j.id, Target: j.target, File: j.file, Days: j.days, Running: !j.done, Progress: j.progress, Res: j.res}
	if j.progress.Users > 0 {
		v.Percent = j.progress.UsersDone * 100 / j.progress.Users
	}
	if j.err != nil {
		v.Error = j.err.Error()
	}
	if j.res != nil {
		for _, d := range j.res.PerDay {
			v.MaxDay = max(v.MaxDay, d.Matched)
		}
		for _, x := range j.res.Examples {
			v.Examples = append(v.Examples, exampleView{Time: x.Time, User: s.ruleUser(c, x.User), Operation: x.Operation,
				Workload: x.Workload, File: s.ruleScrub(c, x.User, x.FileName), Object: s.ruleScrub(c, x.User, x.Object),
				Site: x.TargetDomain, DayCount: x.DayCount, Steps: x.Steps})
		}
	}
	return v
}

// pollURL is where the running panel asks for its next state.
func (v *jobView) pollURL() string {
	u := "/rules/backtests/" + v.ID
	if v.Standalone {
		u += "?page=1"
	}
	return u
}

// backtestAction starts a backtest of the editor's draft, or reports on (or cancels)
// the viewer's job.
func (s *server) backtestAction(c *reqCtx, action, id string, rs *dsl.RuleSet, v *editorView) (*jobView, int) {
	switch action {
	case "backtest":
		if rs == nil {
			return &jobView{Error: "The file does not compile; fix the problems first."}, http.StatusBadRequest
		}
		if v.Target == "" {
			return &jobView{Error: "This file defines no indicator or sequence to backtest."}, http.StatusBadRequest
		}
		if v.Days < 1 || v.Days > engine.RuleBacktestMaxDays {
			return &jobView{Error: fmt.Sprintf("Days must be 1 to %d.", engine.RuleBacktestMaxDays)}, http.StatusBadRequest
		}
		j, err := s.startBacktest(c.Account.Name, rs, v.Target, editorName(v.Name), v.Days)
		if err != nil {
			return &jobView{Error: "Not started: " + err.Error()}, http.StatusServiceUnavailable
		}
		return s.jobView(c, j), http.StatusOK
	}
	j := s.job(c.Account.Name, id)
	if j == nil {
		return &jobView{Error: "That backtest is no longer known (results are kept for an hour, in this process). Start it again."}, http.StatusNotFound
	}
	if action == "cancel" {
		j.cancel()
		// The job notices at its next check; show it as it is when it has.
		deadline := time.Now().Add(2 * time.Second)
		for j.running() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return s.jobView(c, j), http.StatusOK
}

// showBacktest is one backtest: the panel alone for htmx's polling, or a page of its
// own (which refreshes itself without JavaScript while the backtest runs).
func (s *server) showBacktest(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	j := s.job(c.Account.Name, r.PathValue("id"))
	if j == nil {
		s.notFound(w, r)
		return
	}
	v := s.jobView(c, j)
	v.Standalone = r.URL.Query().Get("page") == "1" || r.Header.Get("HX-Request") != "true"
	if r.Header.Get("HX-Request") == "true" {
		s.render(w, r, http.StatusOK, backtestPanel(v))
		return
	}
	p := s.page(r, c, "Backtest of "+v.Target)
	if v.Running {
		p.Refresh = 2
	}
	s.render(w, r, http.StatusOK, backtestPage(p, v))
}
