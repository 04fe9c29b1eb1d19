package ui

import (
	"net/http"
	"strings"

	"irm/account"
	"irm/engine"
)

// The user page (/users/{pseudonym}): the user's standing under each policy, their
// alerts and cases, and their activity timeline.

type scopeRow struct {
	engine.UserScope
	Trigger, Window string
}

type caseRow struct {
	engine.Case
	Who, UserRef string
}

type userPageView struct {
	Who, Ref  string
	Range     string
	Ranges    []option
	Scopes    []scopeRow
	Alerts    []queueRow
	Cases     []caseRow
	Timeline  timelineSVG
	HR        *hrView
	HRHidden  bool
	Manual    []engine.ManualScope
	NotInData bool
}

var timelineRanges = map[string]int{"1m": 31, "3m": 92, "6m": 183}

func (s *server) userFor(w http.ResponseWriter, r *http.Request, c *reqCtx) (string, bool) {
	upn, ok := s.people.upn(r.PathValue("ref"))
	if !ok || !s.mayView(c, upn) {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "User not found"), http.StatusNotFound, "There is no user with that pseudonym."))
		return "", false
	}
	return upn, true
}

func (s *server) showUser(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	upn, ok := s.userFor(w, r, c)
	if !ok {
		return
	}
	rng := r.URL.Query().Get("range")
	if _, ok := timelineRanges[rng]; !ok {
		rng = "3m"
	}
	scrub := s.scrubber(c, upn)
	v := userPageView{Who: s.who(c, upn), Ref: s.people.ref(upn), Range: rng,
		Ranges: []option{{"1m", "1 month"}, {"3m", "3 months"}, {"6m", "6 months"}}}
	scopes, err := s.eng.UserScopes(upn)
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	for _, sc := range scopes {
		row := scopeRow{UserScope: sc}
		var trig []string
		for _, t := range sc.Triggers {
			trig = append(trig, scrub(t.Name)+" ("+fmtDate(t.Time)+")")
		}
		row.Trigger = strings.Join(trig, "; ")
		if n := len(sc.Windows); n > 0 {
			w := sc.Windows[n-1]
			row.Window = fmtDate(w.From) + " to " + fmtDate(w.To)
			if n > 1 {
				row.Window += " (and " + itoa(n-1) + " earlier)"
			}
		}
		v.Scopes = append(v.Scopes, row)
	}
	page, err := s.eng.QueryAlerts(engine.AlertQuery{AlertFilter: engine.AlertFilter{User: upn}, Limit: 200})
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	for _, a := range page.Alerts {
		row := queueRow{AlertSummary: a, Who: v.Who, UserRef: v.Ref}
		row.Title = scrub(a.Title)
		v.Alerts = append(v.Alerts, row)
	}
	for _, cs := range s.eng.CasesOf(upn) {
		cs.Name = scrub(cs.Name)
		v.Cases = append(v.Cases, caseRow{Case: cs, Who: v.Who, UserRef: v.Ref})
	}
	tl, err := s.eng.UserTimeline(upn, timelineRanges[rng])
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	v.Timeline = layoutTimeline(tl)
	if c.can(account.PermRawContent) {
		if v.HR, err = s.hrContext(c, upn); err != nil {
			s.serverError(w, r, c, err)
			return
		}
	} else {
		v.HRHidden = true
	}
	for _, m := range s.eng.ManualScopes(upn) {
		m.Reason = scrub(m.Reason)
		v.Manual = append(v.Manual, m)
	}
	s.audit(c.Account.Name, "users", "user activity viewed", upn, nil, nil, "range "+rng)
	s.render(w, r, http.StatusOK, userPage(s.page(r, c, "User "+v.Who), v))
}
