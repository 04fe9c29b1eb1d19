package engine

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// MaxBulk is the most alerts one bulk action may change (as in Purview).
const MaxBulk = 400

// BulkSetStatus dismisses or resolves up to MaxBulk alerts with one reason: every alert
// is checked first (all or nothing), the changes are written in one synced batch, and
// the audit log gets one entry listing them.
func (e *Engine) BulkSetStatus(actor string, ids []string, status, reason string) error {
	if status != StatusDismissed && status != StatusResolved {
		return fmt.Errorf("bulk: only dismiss or resolve, not %q", status)
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("bulk: a reason is required")
	}
	if len(ids) == 0 {
		return errors.New("bulk: no alerts chosen")
	}
	if len(ids) > MaxBulk {
		return fmt.Errorf("bulk: %d alerts chosen; at most %d at once", len(ids), MaxBulk)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[string]bool{}
	var errs []error
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		a, ok := e.alerts[id]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("alert %s: not found", id))
		case a.Status != status && !slices.Contains(transitions[a.Status], status):
			errs = append(errs, fmt.Errorf("alert %s: cannot go from %s to %s", id, StatusWords(a.Status), StatusWords(status)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var changed []string
	before := map[string]string{}
	for id := range seen {
		was, err := e.changeStatus(actor, id, status, reason)
		if err != nil {
			return err // checked above; only a store read can fail here
		}
		if was != status {
			changed = append(changed, id)
			before[id] = was
		}
	}
	sort.Strings(changed)
	e.syncNext = true
	if err := e.flushDocs(); err != nil {
		return err
	}
	if len(changed) > 0 {
		e.audit(actor, "alerts", fmt.Sprintf("%d alerts %s in bulk", len(changed), status), strings.Join(changed, ","),
			before, map[string]any{"status": status, "alerts": changed}, reason)
	}
	return nil
}

// AssignAlerts gives alerts to a reviewer ("" unassigns), audited once.
func (e *Engine) AssignAlerts(actor string, ids []string, assignee string) error {
	if len(ids) == 0 {
		return errors.New("assign: no alerts chosen")
	}
	if len(ids) > MaxBulk {
		return fmt.Errorf("assign: %d alerts chosen; at most %d at once", len(ids), MaxBulk)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		if _, ok := e.alerts[id]; !ok {
			return fmt.Errorf("alert %s: not found", id)
		}
	}
	before := map[string]string{}
	var changed []string
	now := e.now()
	for _, id := range ids {
		a, err := e.fullAlert(id)
		if err != nil {
			return err
		}
		if a.Assignee == assignee {
			continue
		}
		before[id] = a.Assignee
		a.Assignee = assignee
		a.Updated = now
		action := "assigned to " + assignee
		if assignee == "" {
			action = "unassigned"
		}
		a.History = append(a.History, AlertNote{Time: now, Actor: actor, Action: action})
		e.saveAlert(a)
		changed = append(changed, id)
	}
	if len(changed) == 0 {
		return nil
	}
	e.syncNext = true
	if err := e.flushDocs(); err != nil {
		return err
	}
	e.audit(actor, "alerts", "alerts assigned", strings.Join(changed, ","), before, map[string]any{"assignee": assignee, "alerts": changed}, "")
	return nil
}

// AlertOverview is what the landing page shows of the alerts.
type AlertOverview struct {
	NeedsReview map[string]int // by severity
	Recent      map[string]int // created since the given time, by severity
	TopUsers    []UserRisk     // users with active alerts, highest score first
}

// UserRisk is one user's strongest active alert.
type UserRisk struct {
	User     string
	Score    int
	Severity string
	Alerts   int    // active alerts
	AlertID  string // the highest-scoring one
}

// Overview counts the alerts for the landing page from the read model.
func (e *Engine) Overview(hidden func(string) bool, since time.Time, top int) AlertOverview {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := AlertOverview{NeedsReview: map[string]int{}, Recent: map[string]int{}}
	users := map[string]*UserRisk{}
	skip := map[string]bool{}
	for i := range e.alertIx.entries {
		en := &e.alertIx.entries[i]
		if hidden != nil {
			h, ok := skip[en.user]
			if !ok {
				h = hidden(en.user)
				skip[en.user] = h
			}
			if h {
				continue
			}
		}
		sev := severityOfRank[en.severity&3]
		st := Statuses[en.status]
		if st == StatusNeedsReview {
			o.NeedsReview[sev]++
		}
		if en.created >= since.UnixNano() {
			o.Recent[sev]++
		}
		if st != StatusNeedsReview && st != StatusConfirmed {
			continue
		}
		u := users[en.user]
		if u == nil {
			u = &UserRisk{User: en.user}
			users[en.user] = u
		}
		u.Alerts++
		if int(en.score) > u.Score || (int(en.score) == u.Score && en.id < u.AlertID) {
			u.Score, u.Severity, u.AlertID = int(en.score), sev, en.id
		}
	}
	for _, u := range users {
		o.TopUsers = append(o.TopUsers, *u)
	}
	sort.Slice(o.TopUsers, func(i, j int) bool {
		if o.TopUsers[i].Score != o.TopUsers[j].Score {
			return o.TopUsers[i].Score > o.TopUsers[j].Score
		}
		return o.TopUsers[i].AlertID < o.TopUsers[j].AlertID
	})
	o.TopUsers = o.TopUsers[:min(len(o.TopUsers), top)]
	return o
}

// PolicyAlertCounts is a policy's active (needs review or confirmed) and confirmed alerts.
type PolicyAlertCounts struct{ Active, Confirmed int }

// AlertCountsByPolicy counts active and confirmed alerts per policy.
func (e *Engine) AlertCountsByPolicy() map[string]PolicyAlertCounts {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]PolicyAlertCounts{}
	for i := range e.alertIx.entries {
		en := &e.alertIx.entries[i]
		c := out[en.policy]
		switch Statuses[en.status] {
		case StatusNeedsReview:
			c.Active++
		case StatusConfirmed:
			c.Active++
			c.Confirmed++
		}
		out[en.policy] = c
	}
	return out
}

// ScoredUser is one user an administrator started scoring, with the periods.
type ScoredUser struct {
	User   string
	Scopes []ManualScope
}

// ScoredUsers lists the users whose "start scoring" period has not ended, by UPN.
func (e *Engine) ScoredUsers() []ScoredUser {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var out []ScoredUser
	for u, ms := range e.manual {
		var live []ManualScope
		for _, m := range ms {
			if m.End.After(now) {
				live = append(live, m)
			}
		}
		if len(live) > 0 {
			out = append(out, ScoredUser{User: u, Scopes: live})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out
}
