package engine

import (
	"crypto/sha256"
	"encoding/hex"
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
	if strings.TrimSpace(name) == "" || len(alertIDs) == 0 {
		return Case{}, fmt.Errorf("create case: a name and at least one alert are required")
	}
	user := ""
	for _, id := range alertIDs {
		a, ok := e.alerts[id]
		if !ok {
			return Case{}, fmt.Errorf("create case: alert %s not found", id)
		}
		if user != "" && a.User != user {
			return Case{}, fmt.Errorf("create case: alerts of different users (%s, %s); a case is about one user", user, a.User)
		}
		user = a.User
		if a.Case != "" {
			return Case{}, fmt.Errorf("create case: alert %s is already in case %s", id, a.Case)
		}
	}
	now := e.now()
	sum := sha256.Sum256([]byte(fmt.Sprint(user, name, now.UnixNano(), len(e.cases))))
	c := &Case{ID: "C" + strings.ToUpper(hex.EncodeToString(sum[:5])), Name: name, User: user, Alerts: slices.Clone(alertIDs),
		Status: "active", Created: now, Updated: now, CreatedBy: actor}
	if strings.TrimSpace(note) != "" {
		c.Notes = append(c.Notes, CaseNote{Time: now, Author: actor, Text: note})
	}
	for _, id := range alertIDs {
		a := e.alerts[id]
		if a.Status != StatusConfirmed {
			if err := e.setAlertStatus(actor, id, StatusConfirmed, "case "+c.ID); err != nil {
				return Case{}, err
			}
		}
		a.Case = c.ID
		e.saveAlert(a)
	}
	e.cases[c.ID] = c
	if err := e.saveCase(c); err != nil {
		return Case{}, err
	}
	e.audit(actor, "cases", "case created", c.ID, nil, c, "")
	return *c, nil
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
	before := *c
	now := e.now()
	c.Status, c.Resolution, c.ActionTaken, c.Updated = "closed", resolution, action, now
	c.Notes = append(c.Notes, CaseNote{Time: now, Author: actor, Text: "resolved: " + resolution + ". " + action})
	for _, aid := range c.Alerts {
		if a := e.alerts[aid]; a != nil && a.Status != StatusResolved {
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
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
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
	return *c, true
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
