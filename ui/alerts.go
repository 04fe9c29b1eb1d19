package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"irm/account"
	"irm/engine"
	"irm/event"
	"irm/store"
)

// alertRow is an alert as the viewer may see it: User is the pseudonym unless the
// viewer sees real names.
type alertRow struct {
	engine.Alert
	Who string
}

type alertsView struct {
	Rows       []alertRow
	Status     string
	Severity   string
	Policy     string
	Statuses   []string
	Severities []string
	Policies   []string
}

func (s *server) rows(c *reqCtx, as []engine.Alert) []alertRow {
	out := make([]alertRow, 0, len(as))
	for _, a := range as {
		out = append(out, alertRow{Alert: a, Who: s.who(c, a.User)})
	}
	return out
}

func (s *server) showAlerts(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.eng == nil {
		s.render(w, r, http.StatusServiceUnavailable, engineMissing(s.page(r, c, "Alerts")))
		return
	}
	q := r.URL.Query()
	f := engine.AlertFilter{Status: q.Get("status"), Severity: q.Get("severity"), Policy: q.Get("policy")}
	v := alertsView{Status: f.Status, Severity: f.Severity, Policy: f.Policy, Statuses: engine.Statuses, Severities: []string{"high", "medium", "low"}}
	for _, p := range s.eng.Policies() {
		v.Policies = append(v.Policies, p.Name)
	}
	v.Rows = s.rows(c, s.visible(c, s.eng.Alerts(f)))
	s.render(w, r, http.StatusOK, alertsPage(s.page(r, c, "Alerts"), v))
}

// eventView is one event behind an alert, as the viewer may see it: free-text fields
// have the user's UPN replaced by the pseudonym when the viewer sees pseudonyms.
type eventView struct {
	ev                    *event.Event
	Who                   string
	Object, FileName, URL string
	Recipients, Raw       string // Raw only for account.PermRawContent
	Miss                  string // id of an event no longer stored (expired)
}

type alertView struct {
	A         engine.Alert
	Who       string
	Events    []eventView
	Statuses  []string
	CanRaw    bool
	Truncated int
}

const maxAlertEvents = 200

func (s *server) showAlert(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.eng == nil {
		s.render(w, r, http.StatusServiceUnavailable, engineMissing(s.page(r, c, "Alert")))
		return
	}
	a, ok := s.eng.Alert(r.PathValue("id"))
	if !ok || !s.mayView(c, a.User) {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Alert not found"), http.StatusNotFound, "There is no alert with that id."))
		return
	}
	v := alertView{A: a, Who: s.who(c, a.User), Statuses: engine.Statuses, CanRaw: c.can(account.PermRawContent)}
	ids := a.EventIDs
	if len(ids) > maxAlertEvents {
		v.Truncated = len(ids) - maxAlertEvents
		ids = ids[:maxAlertEvents]
	}
	// An alert's events are all its user's (store: an event is user, time and ID).
	evs, err := s.db.UserEvents(a.User, ids)
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	for _, id := range ids {
		ev, ok := evs[id]
		if !ok {
			v.Events = append(v.Events, eventView{Miss: id})
			continue
		}
		scrub := func(text string) string { return s.scrub(c, ev.User, text) }
		ew := eventView{ev: ev, Who: s.who(c, ev.User), Object: scrub(ev.Object), FileName: scrub(ev.FileName),
			URL: scrub(ev.URL), Recipients: scrub(strings.Join(ev.Recipients, ", "))}
		if v.CanRaw {
			ew.Raw = scrub(string(ev.Raw))
		}
		v.Events = append(v.Events, ew)
	}
	s.render(w, r, http.StatusOK, alertPage(s.page(r, c, "Alert "+a.ID), v))
}

func (s *server) setAlertStatus(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.eng == nil {
		s.render(w, r, http.StatusServiceUnavailable, engineMissing(s.page(r, c, "Alert")))
		return
	}
	id := r.PathValue("id")
	if a, ok := s.eng.Alert(id); !ok || !s.mayView(c, a.User) {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Alert not found"), http.StatusNotFound, "There is no alert with that id."))
		return
	}
	if err := s.eng.SetAlertStatus(c.Account.Name, id, r.PostFormValue("status"), strings.TrimSpace(r.PostFormValue("comment"))); err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	s.redirectFlash(w, r, c, "/alerts/"+url.PathEscape(id), "Status changed")
}

// alertCounts returns a policy's active (needs review or confirmed) and confirmed alerts.
func (s *server) alertCounts(policy string) (active, confirmed int) {
	for _, a := range s.eng.Alerts(engine.AlertFilter{Policy: policy}) {
		switch a.Status {
		case engine.StatusNeedsReview:
			active++
		case engine.StatusConfirmed:
			active++
			confirmed++
		}
	}
	return active, confirmed
}

// overviewView is the landing page; each part shows only to the roles it is for.
type overviewView struct {
	Engine     bool
	ShowAlerts bool
	BySeverity map[string]int // alerts needing review
	Open30     map[string]int // alerts created in the last 30 days, by severity
	TopUsers   []riskyUser
	ShowFeeds  bool
	Feeds      []feedHealth
	ShowAudit  bool
	Audit      []store.AuditEntry
	Policies   int
}

type riskyUser struct {
	Who      string
	Score    int
	Severity string
	Alerts   int
	AlertID  string // the highest-scoring alert
}

func (s *server) showOverview(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	v := overviewView{Engine: s.eng != nil}
	if s.eng != nil && c.can(account.PermAlerts) {
		v.ShowAlerts = true
		v.BySeverity, v.Open30 = map[string]int{}, map[string]int{}
		since := s.now().Add(-30 * 24 * time.Hour)
		users := map[string]*riskyUser{}
		for _, a := range s.visible(c, s.eng.Alerts(engine.AlertFilter{})) {
			if a.Status == engine.StatusNeedsReview {
				v.BySeverity[a.Severity]++
			}
			if a.Created.After(since) {
				v.Open30[a.Severity]++
			}
			if a.Status != engine.StatusNeedsReview && a.Status != engine.StatusConfirmed {
				continue
			}
			u := users[a.User]
			if u == nil {
				u = &riskyUser{Who: s.who(c, a.User)}
				users[a.User] = u
			}
			u.Alerts++
			if a.Score > u.Score {
				u.Score, u.Severity, u.AlertID = a.Score, a.Severity, a.ID
			}
		}
		for _, u := range users {
			v.TopUsers = append(v.TopUsers, *u)
		}
		slices.SortFunc(v.TopUsers, func(a, b riskyUser) int {
			if a.Score != b.Score {
				return b.Score - a.Score
			}
			return strings.Compare(a.Who, b.Who)
		})
		v.TopUsers = v.TopUsers[:min(len(v.TopUsers), 10)]
	}
	if s.eng != nil && c.can(account.PermConfigure) {
		v.Policies = len(s.eng.Policies())
	}
	if c.can(account.PermConnectors) {
		v.ShowFeeds = true
		var err error
		if v.Feeds, err = s.feedHealth(0); err != nil {
			s.serverError(w, r, c, err)
			return
		}
	}
	if c.can(account.PermAudit) {
		v.ShowAudit = true
		if err := s.db.AuditEntries(store.AuditFilter{Limit: 10}, func(e store.AuditEntry) error {
			v.Audit = append(v.Audit, e)
			return nil
		}); err != nil {
			s.serverError(w, r, c, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, overviewPage(s.page(r, c, "Overview"), v))
}
