package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"irm/store"
)

// Alert statuses.
const (
	StatusNeedsReview = "needs_review"
	StatusConfirmed   = "confirmed"
	StatusDismissed   = "dismissed"
	StatusResolved    = "resolved"
)

// Statuses lists the alert statuses.
var Statuses = []string{StatusNeedsReview, StatusConfirmed, StatusDismissed, StatusResolved}

// Alert is one explainable alert: a user's activity under one policy.
type Alert struct {
	ID          string       `json:"id"`
	User        string       `json:"user"` // real UPN; pseudonymise when displaying
	Policy      string       `json:"policy"`
	Template    string       `json:"template"`
	Severity    string       `json:"severity"`
	Score       int          `json:"score"`
	Status      string       `json:"status"`
	Created     time.Time    `json:"created"`
	Updated     time.Time    `json:"updated"`
	RiskFactors []string     `json:"risk_factors"`
	Insights    []Insight    `json:"insights"`
	EventIDs    []string     `json:"event_ids"`
	Triggers    []TriggerRef `json:"triggers,omitempty"`
	Case        string       `json:"case,omitempty"`
	History     []AlertNote  `json:"history,omitempty"`
	// Title says in words what the alert is about: the policy and its strongest
	// insight (AlertTitle). The engine sets it whenever the alert changes.
	Title string `json:"title,omitempty"`
	// Assignee is the account that reviews the alert ("" = nobody yet).
	Assignee string `json:"assignee,omitempty"`
	// Pseudonymous is set only on copies made for a viewer (Alert.ForViewer): User is
	// then a pseudonym, and free text has the user's names replaced.
	Pseudonymous bool `json:"pseudonymous,omitempty"`

	// partial: loaded at start without the parts only a person reads (event ids,
	// details, history); fullAlert reads the rest from the store before anything
	// looks at or rewrites them.
	partial bool
}

// Insight explains one contribution to an alert's score.
type Insight struct {
	Kind       string `json:"kind"` // indicator|sequence|cumulative
	ID         string `json:"id"`   // indicator or sequence id
	Name       string `json:"name"`
	Category   string `json:"category,omitempty"`
	Day        string `json:"day"` // YYYY-MM-DD (UTC)
	Count      int    `json:"count"`
	Thresholds [3]int `json:"thresholds"`
	Level      string `json:"level"`
	BasePoints int    `json:"base_points"`
	// Boosters applied, each multiplying the points (docs/engine.md).
	Boosters      []string `json:"boosters,omitempty"`
	PriorityCount int      `json:"priority_count,omitempty"` // events with priority content
	Points        int      `json:"points"`
	Detail        string   `json:"detail,omitempty"`
	EventIDs      []string `json:"event_ids"`
	// Scored: the insight is in the week that gives the alert its score (docs/engine.md
	// "Scoring"); the others are shown for context.
	Scored bool `json:"scored"`

	day    int32 // Day as a day number, while scoring
	shared bool  // its level came from other users' statistics (see evaluation)
}

// TriggerRef is a triggering event that put the user in scope.
type TriggerRef struct {
	Name    string    `json:"name"`
	Time    time.Time `json:"time,omitzero"`
	EventID string    `json:"event_id,omitempty"`
}

// AlertNote is one entry of an alert's history.
type AlertNote struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Comment string    `json:"comment,omitempty"`
}

func (a *Alert) active() bool { return a.Status == StatusNeedsReview || a.Status == StatusConfirmed }

// evaluateUsers scores each user against every enabled policy and updates alerts.
// hold is nil in a settle pass; otherwise it names the users whose evaluation may not
// raise a new alert now (Engine.process), and for everyone a new alert needs enough
// evidence that does not depend on other users' statistics (see evaluation).
func (e *Engine) evaluateUsers(users []string, hold map[string]bool) {
	names := e.enabledPolicyNames()
	sc := e.scorer()
	for _, u := range users {
		ux := e.users[u]
		if ux == nil {
			continue
		}
		up := sc.pass(ux)
		for _, n := range names {
			p := e.policies[n]
			tmpl := e.rs.Template(p.Template)
			if tmpl == nil {
				continue
			}
			ev := up.evaluate(p, tmpl)
			k := pairKey{u, n}
			if ev == nil {
				delete(e.inScope, k)
				continue
			}
			e.inScope[k] = true
			e.apply(k, p, ev, hold != nil && (hold[u] || ev.scopeShared || !ownEvidence(ev, e.cutoff())))
		}
	}
}

// apply folds an evaluation into the pair's active alert, or raises one when the score
// reaches the alert volume's cut-off. The active alert always shows the latest
// evaluation's insights and score, but its severity never falls: when late events
// lower the score the alert keeps its severity and its history says so. Insights that a
// closed alert of the pair already showed (same day, no higher level) do not count
// again. holdNew: do not raise a new alert now (it depends on statistics a settle pass
// is about to refresh).
func (e *Engine) apply(k pairKey, p *Policy, ev *evaluation, holdNew bool) {
	covered := e.covered[k]
	var fresh []Insight
	for _, in := range ev.insights {
		if in.Points <= 0 {
			continue
		}
		if r, ok := covered[in.Kind+"/"+in.ID+"/"+in.Day]; ok && levelRank(in.Level) <= r {
			continue
		}
		fresh = append(fresh, in)
	}
	score := ev.score
	if len(fresh) != len(ev.insights) {
		score = scoreWindows(fresh)
	}
	now := e.now()
	if id, ok := e.active[k]; ok {
		if len(fresh) == 0 {
			return // nothing scores any more (e.g. raised thresholds): the alert stands as it was
		}
		a := e.alerts[id]
		if score == a.Score && reflect.DeepEqual(fresh, a.Insights) && reflect.DeepEqual(ev.triggers, a.Triggers) {
			return
		}
		before, beforeScore := a.Severity, a.Score
		a.Insights = fresh
		a.Triggers = ev.triggers
		a.Score = score
		a.RiskFactors, a.EventIDs = summarize(fresh)
		a.Updated = now
		switch sev := SeverityOf(score); {
		case levelRank(sev) > levelRank(before):
			a.Severity = sev
			a.History = append(a.History, AlertNote{Time: now, Actor: "engine", Action: fmt.Sprintf("severity rose from %s to %s (score %d)", before, sev, score)})
			e.audit("engine", "alerts", "alert severity raised", a.ID, map[string]any{"severity": before, "score": beforeScore},
				map[string]any{"severity": sev, "score": score}, a.User+" / "+a.Policy)
		case levelRank(sev) < levelRank(before) && score < beforeScore:
			// Late events can lower a score (a higher baseline, a wider organisation
			// distribution); the alert keeps its severity and says why the score fell.
			a.History = append(a.History, AlertNote{Time: now, Actor: "engine",
				Action: fmt.Sprintf("score fell from %d to %d after re-scoring with late events; severity stays %s", beforeScore, score, before)})
		}
		e.saveAlert(a)
		return
	}
	if len(fresh) == 0 || holdNew || score < e.cutoff() {
		return
	}
	n := e.alertCount[k]
	a := &Alert{
		ID: e.alertID(k.user, k.policy, n), User: k.user, Policy: k.policy, Template: p.Template,
		Score: score, Severity: SeverityOf(score), Status: StatusNeedsReview, Created: now, Updated: now,
		Insights: fresh, Triggers: ev.triggers,
	}
	a.RiskFactors, a.EventIDs = summarize(fresh)
	a.History = []AlertNote{{Time: now, Actor: "engine", Action: fmt.Sprintf("created: score %d, %s", score, a.Severity)}}

	e.alertCount[k] = n + 1
	e.alerts[a.ID] = a
	e.active[k] = a.ID
	e.saveAlert(a)
	e.audit("engine", "alerts", "alert created", a.ID, nil, map[string]any{"user": a.User, "policy": a.Policy, "severity": a.Severity, "score": a.Score, "risk_factors": a.RiskFactors}, "")
	e.log.Info("alert", "id", a.ID, "user", a.User, "policy", a.Policy, "severity", a.Severity, "score", a.Score)
}

// cutoff is the score a new alert needs at the current alert volume.
func (e *Engine) cutoff() int {
	if cut, ok := AlertCutoff[e.settings.AlertVolume]; ok {
		return cut
	}
	return AlertCutoff[VolumeDefault]
}

// ownEvidence reports whether the insights that depend only on the user's own history
// reach the cut-off by themselves: then the alert stands whatever a settle pass does to
// the others, and it can be raised at once.
func ownEvidence(ev *evaluation, cut int) bool {
	var own []Insight
	for _, in := range ev.insights {
		if !in.shared {
			own = append(own, in)
		}
	}
	return scoreWindows(own) >= cut
}

// summarize derives the risk factors and the event ids from the insights.
func summarize(ins []Insight) (factors, ids []string) {
	set := map[string]bool{}
	seen := map[string]bool{}
	for _, in := range ins {
		switch in.Kind {
		case "sequence":
			set[FactorSequence] = true
		case "cumulative":
			set[FactorCumulative] = true
		}
		for _, b := range in.Boosters {
			if b != BoosterPreviousCase {
				set[b] = true
			}
		}
		for _, id := range in.EventIDs {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	factors = []string{}
	for _, f := range []string{FactorSequence, FactorCumulative, FactorPriority, FactorUnallowed, FactorPriorityUser, FactorAboveUsual} {
		if set[f] {
			factors = append(factors, f)
		}
	}
	if ids == nil {
		ids = []string{}
	}
	return factors, ids
}

func (e *Engine) saveAlert(a *Alert) {
	a.Title = AlertTitle(a)
	e.alertIx.put(a)
	val, err := json.Marshal(a)
	if err != nil {
		e.log.Error("encode alert", "id", a.ID, "err", err)
		return
	}
	e.queueDoc(store.AlertDocKey(a.ID), val)
	e.queueDoc(alertHeadKey+a.ID, encodeHead(a))
}

// queueDoc adds a document to the pending batch, replacing an earlier version.
func (e *Engine) queueDoc(key string, val []byte) {
	for i := range e.pending {
		if e.pending[i].Key == key {
			e.pending[i].Value = val
			return
		}
	}
	e.pending = append(e.pending, store.Doc{Key: key, Value: val})
}

// transitions lists the allowed status changes.
var transitions = map[string][]string{
	StatusNeedsReview: {StatusConfirmed, StatusDismissed, StatusResolved},
	StatusConfirmed:   {StatusResolved, StatusDismissed},
	StatusDismissed:   {StatusNeedsReview},
	StatusResolved:    {},
}

// SetAlertStatus triages an alert. Dismissed and resolved alerts are closed: later
// activity raises a new alert, built only from days after the closed one.
func (e *Engine) SetAlertStatus(actor, id, status, comment string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.setAlertStatus(actor, id, status, comment)
}

func (e *Engine) setAlertStatus(actor, id, status, comment string) error {
	before, err := e.changeStatus(actor, id, status, comment)
	if err != nil || before == status {
		return err
	}
	e.syncNext = true
	if err := e.flushDocs(); err != nil {
		return err
	}
	e.audit(actor, "alerts", "alert status changed", id, map[string]string{"status": before}, map[string]string{"status": status}, comment)
	return nil
}

// changeStatus changes one alert's status and queues the document; the caller flushes
// and audits. It returns the status before the change.
func (e *Engine) changeStatus(actor, id, status, comment string) (string, error) {
	a, err := e.fullAlert(id)
	if err != nil {
		return "", err
	}
	if !slices.Contains(Statuses, status) {
		return "", fmt.Errorf("alert %s: status %q is not one of %s", id, status, strings.Join(Statuses, ", "))
	}
	if a.Status == status {
		return status, nil
	}
	if !slices.Contains(transitions[a.Status], status) {
		return "", fmt.Errorf("alert %s: cannot go from %s to %s", id, StatusWords(a.Status), StatusWords(status))
	}
	if status == StatusDismissed && strings.TrimSpace(comment) == "" {
		return "", fmt.Errorf("alert %s: dismissing needs a reason", id)
	}
	k := pairKey{a.User, a.Policy}
	if status == StatusNeedsReview {
		if other, ok := e.active[k]; ok && other != id {
			return "", fmt.Errorf("alert %s: %s is already the active alert for this user under %q", id, other, a.Policy)
		}
	}
	before := a.Status
	a.Status = status
	a.Updated = e.now()
	a.History = append(a.History, AlertNote{Time: a.Updated, Actor: actor, Action: fmt.Sprintf("status %s -> %s", before, status), Comment: comment})
	if a.active() {
		e.active[k] = id
	} else {
		if e.active[k] == id {
			delete(e.active, k)
		}
		e.cover(k, a)
	}
	e.saveAlert(a)
	return before, nil
}
