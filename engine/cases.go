package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"irm/store"
)

// Case resolutions.
const (
	ResolutionBenign    = "benign"
	ResolutionViolation = "confirmed_violation"
)

// Case is an investigation of one user, opened by confirming alerts.
type Case struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	User        string     `json:"user"`
	Alerts      []string   `json:"alerts"`
	Status      string     `json:"status"` // active|closed
	Resolution  string     `json:"resolution,omitempty"`
	ActionTaken string     `json:"action_taken,omitempty"`
	Created     time.Time  `json:"created"`
	Updated     time.Time  `json:"updated"`
	CreatedBy   string     `json:"created_by"`
	Notes       []CaseNote `json:"notes,omitempty"`
	// Notices are the notices sent to the user from this case (notice.go).
	Notices []NoticeRecord `json:"notices,omitempty"`
}

// CaseNote is an immutable case note.
type CaseNote struct {
	Time   time.Time `json:"time"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

// confirmedViolation reports whether the user has a case resolved as a violation.
func (e *Engine) confirmedViolation(user string) bool {
	for _, c := range e.cases {
		if c.User == user && c.Resolution == ResolutionViolation {
			return true
		}
	}
	return false
}

// CreateCase confirms the alerts (all of one user) and opens a case for them.
func (e *Engine) CreateCase(actor, name string, alertIDs []string, note string) (Case, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	name = strings.TrimSpace(name)
	if name == "" || len(alertIDs) == 0 {
		return Case{}, fmt.Errorf("create case: a name and at least one alert are required")
	}
	if len(name) > maxCaseName {
		return Case{}, fmt.Errorf("create case: the name is longer than %d bytes", maxCaseName)
	}
	user, err := e.caseAlerts("create case", "", alertIDs)
	if err != nil {
		return Case{}, err
	}
	now := e.now()
	c := &Case{ID: e.caseID(user, name, now.UnixNano(), len(e.cases)), Name: name, User: user, Alerts: slices.Clone(alertIDs),
		Status: "active", Created: now, Updated: now, CreatedBy: actor}
	if strings.TrimSpace(note) != "" {
		c.Notes = append(c.Notes, CaseNote{Time: now, Author: actor, Text: note})
	}
	if err := e.confirmInto(actor, c, alertIDs); err != nil {
		return Case{}, err
	}
	e.cases[c.ID] = c
	if err := e.saveCase(c); err != nil {
		return Case{}, err
	}
	e.audit(actor, "cases", "case created", c.ID, nil, c, "")
	return *c, nil
}

// maxCaseName bounds a case name (it is shown in lists and the audit log).
const maxCaseName = 200

// caseAlerts checks that the alerts exist, belong to one user (the case's, when
// caseUser is set) and are in no case yet; it returns the user.
func (e *Engine) caseAlerts(what, caseUser string, alertIDs []string) (string, error) {
	user := caseUser
	seen := map[string]bool{}
	for _, id := range alertIDs {
		if seen[id] {
			return "", fmt.Errorf("%s: alert %s is named twice", what, id)
		}
		seen[id] = true
		a, ok := e.alerts[id]
		if !ok {
			return "", fmt.Errorf("%s: alert %s not found", what, id)
		}
		if user != "" && a.User != user {
			return "", fmt.Errorf("%s: alert %s is about another user; a case is about one user", what, id)
		}
		user = a.User
		if a.Case != "" {
			return "", fmt.Errorf("%s: alert %s is already in case %s", what, id, a.Case)
		}
		if a.Status == StatusDismissed || a.Status == StatusResolved {
			return "", fmt.Errorf("%s: alert %s is %s; reopen it first", what, id, StatusWords(a.Status))
		}
	}
	return user, nil
}

// confirmInto confirms the alerts and files them under case c.
func (e *Engine) confirmInto(actor string, c *Case, alertIDs []string) error {
	for _, id := range alertIDs {
		a, err := e.fullAlert(id)
		if err != nil {
			return err
		}
		if a.Status != StatusConfirmed {
			if err := e.setAlertStatus(actor, id, StatusConfirmed, "case "+c.ID); err != nil {
				return err
			}
		}
		a.Case = c.ID
		e.saveAlert(a)
	}
	return nil
}

// AddAlertsToCase confirms more alerts of the case's user into an open case.
func (e *Engine) AddAlertsToCase(actor, id string, alertIDs []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cases[id]
	if !ok {
		return fmt.Errorf("case %s: not found", id)
	}
	if c.Status == "closed" {
		return fmt.Errorf("case %s: closed; alerts cannot be added", id)
	}
	if len(alertIDs) == 0 {
		return fmt.Errorf("case %s: no alerts to add", id)
	}
	if _, err := e.caseAlerts("case "+id, c.User, alertIDs); err != nil {
		return err
	}
	if err := e.confirmInto(actor, c, alertIDs); err != nil {
		return err
	}
	before := slices.Clone(c.Alerts)
	c.Alerts = append(c.Alerts, alertIDs...)
	c.Updated = e.now()
	if err := e.saveCase(c); err != nil {
		return err
	}
	e.audit(actor, "cases", "alerts added to case", id, map[string]any{"alerts": before}, map[string]any{"alerts": c.Alerts}, strings.Join(alertIDs, ", "))
	return nil
}

// ResolveCase closes a case as benign or a confirmed violation; its alerts are resolved.
func (e *Engine) ResolveCase(actor, id, resolution, action string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cases[id]
	if !ok {
		return fmt.Errorf("case %s: not found", id)
	}
	if c.Status == "closed" {
		return fmt.Errorf("case %s: already closed", id)
	}
	if resolution != ResolutionBenign && resolution != ResolutionViolation {
		return fmt.Errorf("case %s: resolution must be %s or %s", id, ResolutionBenign, ResolutionViolation)
	}
	if resolution == ResolutionViolation && strings.TrimSpace(action) == "" {
		return fmt.Errorf("case %s: a confirmed violation needs the action taken", id)
	}
	before := cloneCase(c)
	now := e.now()
	c.Status, c.Resolution, c.ActionTaken, c.Updated = "closed", resolution, action, now
	text := "Resolved as " + ResolutionWords(resolution) + "."
	if strings.TrimSpace(action) != "" {
		text += " Action taken: " + action
	}
	c.Notes = append(c.Notes, CaseNote{Time: now, Author: actor, Text: text})
	for _, aid := range c.Alerts {
		if a := e.alerts[aid]; a != nil && a.Status != StatusResolved && a.Status != StatusDismissed {
			if err := e.setAlertStatus(actor, aid, StatusResolved, "case "+id+" resolved"); err != nil {
				return err
			}
		}
	}
	if err := e.saveCase(c); err != nil {
		return err
	}
	e.audit(actor, "cases", "case resolved", id, before, c, "")
	return nil
}

// AddCaseNote appends a note to a case.
func (e *Engine) AddCaseNote(actor, id, text string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cases[id]
	if !ok {
		return fmt.Errorf("case %s: not found", id)
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("case %s: empty note", id)
	}
	if len(text) > maxNote {
		return fmt.Errorf("case %s: a note is at most %d bytes", id, maxNote)
	}
	c.Updated = e.now()
	c.Notes = append(c.Notes, CaseNote{Time: c.Updated, Author: actor, Text: text})
	if err := e.saveCase(c); err != nil {
		return err
	}
	e.audit(actor, "cases", "case note added", id, nil, nil, text)
	return nil
}

// Cases returns every case, newest first.
func (e *Engine) Cases() []Case {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Case, 0, len(e.cases))
	for _, c := range e.cases {
		out = append(out, cloneCase(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// maxNote bounds a case note.
const maxNote = 16 << 10

// CasesOf returns the cases about one user, newest first.
func (e *Engine) CasesOf(user string) []Case {
	var out []Case
	for _, c := range e.Cases() {
		if c.User == user {
			out = append(out, c)
		}
	}
	return out
}

// Case returns one case.
func (e *Engine) Case(id string) (Case, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cases[id]
	if !ok {
		return Case{}, false
	}
	return cloneCase(c), true
}

func (e *Engine) saveCase(c *Case) error {
	val, err := json.Marshal(c)
	if err != nil {
		return err
	}
	e.pending = append(e.pending, store.Doc{Key: store.CaseDocKey(c.ID), Value: val})
	e.syncNext = true
	return e.flushDocs()
}

func cloneCase(c *Case) Case {
	out := *c
	out.Alerts = slices.Clone(c.Alerts)
	out.Notes = slices.Clone(c.Notes)
	out.Notices = slices.Clone(c.Notices)
	return out
}
