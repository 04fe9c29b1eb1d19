package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"irm/account"
	"irm/engine"
)

// Cases (/cases, /cases/{id}): one user each, opened by confirming alerts; notes are
// append-only; the content explorer and notices are for investigators.

type casesView struct {
	Status string
	Rows   []caseRow
}

func (s *server) showCases(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	st := r.URL.Query().Get("status")
	v := casesView{Status: st}
	hidden := s.hiddenFor(c)
	for _, cs := range s.eng.Cases() {
		if hidden(cs.User) || (st != "" && cs.Status != st) {
			continue
		}
		cs.Name = s.scrub(c, cs.User, cs.Name)
		v.Rows = append(v.Rows, caseRow{Case: cs, Who: s.who(c, cs.User), UserRef: s.people.ref(cs.User)})
	}
	s.render(w, r, http.StatusOK, casesPage(s.page(r, c, "Cases"), v))
}

type caseView struct {
	C          engine.Case
	Who, Ref   string
	Alerts     []queueRow
	Addable    []queueRow // open alerts of the user in no case
	Notes      []engine.CaseNote
	Notices    []engine.NoticeRecord
	Timeline   timelineSVG
	CanContent bool
	Templates  []string
	Mail       bool
	Outcome    string // ", resolved as …" for a closed case
}

func (s *server) caseFor(w http.ResponseWriter, r *http.Request, c *reqCtx) (engine.Case, bool) {
	cs, ok := s.eng.Case(r.PathValue("id"))
	if !ok || !s.mayView(c, cs.User) {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Case not found"), http.StatusNotFound, "There is no case with that id."))
		return engine.Case{}, false
	}
	s.people.remember(cs.User)
	return cs, true
}

func (s *server) showCase(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	cs, ok := s.caseFor(w, r, c)
	if !ok {
		return
	}
	scrub := s.scrubber(c, cs.User)
	v := caseView{C: cs, Who: s.who(c, cs.User), Ref: s.people.ref(cs.User), CanContent: c.can(account.PermRawContent),
		Mail: s.cfg != nil && s.cfg.SMTP.Enabled()}
	v.C.Name = scrub(cs.Name)
	v.C.ActionTaken = scrub(cs.ActionTaken)
	if cs.Resolution != "" {
		v.Outcome = ", resolved as " + engine.ResolutionWords(cs.Resolution)
		if v.C.ActionTaken != "" {
			v.Outcome += " (action taken: " + v.C.ActionTaken + ")"
		}
	}
	for _, n := range cs.Notes {
		n.Text = scrub(n.Text)
		v.Notes = append(v.Notes, n)
	}
	for _, n := range cs.Notices {
		n.To, n.Subject, n.Body = scrub(n.To), scrub(n.Subject), scrub(n.Body)
		for i := range n.CC {
			n.CC[i] = scrub(n.CC[i])
		}
		v.Notices = append(v.Notices, n)
	}
	page, err := s.eng.QueryAlerts(engine.AlertQuery{AlertFilter: engine.AlertFilter{User: cs.User}, Limit: engine.MaxPage})
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	for _, a := range page.Alerts {
		row := queueRow{AlertSummary: a, Who: v.Who, UserRef: v.Ref}
		row.Title = scrub(a.Title)
		switch {
		case slices.Contains(cs.Alerts, a.ID):
			v.Alerts = append(v.Alerts, row)
		case a.Case == "" && (a.Status == engine.StatusNeedsReview || a.Status == engine.StatusConfirmed):
			v.Addable = append(v.Addable, row)
		}
	}
	tl, err := s.eng.UserTimeline(cs.User, timelineRanges["3m"])
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	v.Timeline = layoutTimeline(tl)
	if v.CanContent {
		ts, err := s.eng.NoticeTemplates()
		if err != nil {
			s.serverError(w, r, c, err)
			return
		}
		for _, t := range ts {
			v.Templates = append(v.Templates, t.Name)
		}
	}
	s.render(w, r, http.StatusOK, casePage(s.page(r, c, "Case "+cs.ID), v))
}

func (s *server) caseBack(w http.ResponseWriter, r *http.Request, c *reqCtx, id, msg string) {
	s.redirectFlash(w, r, c, "/cases/"+url.PathEscape(id), msg)
}

func (s *server) addCaseNote(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	cs, ok := s.caseFor(w, r, c)
	if !ok {
		return
	}
	if err := s.eng.AddCaseNote(c.Account.Name, cs.ID, strings.TrimSpace(r.PostFormValue("text"))); err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	s.caseBack(w, r, c, cs.ID, "Note added")
}

func (s *server) addCaseAlerts(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	cs, ok := s.caseFor(w, r, c)
	if !ok {
		return
	}
	_ = r.ParseForm()
	if err := s.eng.AddAlertsToCase(c.Account.Name, cs.ID, r.PostForm["alert"]); err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	s.caseBack(w, r, c, cs.ID, "Alerts added")
}

func (s *server) resolveCase(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	cs, ok := s.caseFor(w, r, c)
	if !ok {
		return
	}
	if err := s.eng.ResolveCase(c.Account.Name, cs.ID, r.PostFormValue("resolution"), strings.TrimSpace(r.PostFormValue("action"))); err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	s.caseBack(w, r, c, cs.ID, "Case resolved")
}

type contentView struct {
	C        engine.Case
	Who, Ref string
	X        explorerView
}

// showCaseContent is the content explorer: every event behind the case's alerts with
// its raw source record. Opening it is recorded in the audit log.
func (s *server) showCaseContent(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	cs, ok := s.caseFor(w, r, c)
	if !ok {
		return
	}
	x, err := s.explorer(r, c, cs.User, "/cases/"+url.PathEscape(cs.ID)+"/content", func(f engine.ActivityFilter) (engine.ActivityPage, error) {
		return s.eng.CaseActivity(cs.ID, f)
	}, true)
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	s.audit(c.Account.Name, "cases", "case content viewed", cs.ID, nil, nil, r.URL.RawQuery)
	v := contentView{C: cs, Who: s.who(c, cs.User), Ref: s.people.ref(cs.User), X: x}
	v.C.Name = s.scrub(c, cs.User, cs.Name)
	s.render(w, r, http.StatusOK, caseContentPage(s.page(r, c, "Content of case "+cs.ID), v))
}

func (s *server) sendNotice(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	cs, ok := s.caseFor(w, r, c)
	if !ok {
		return
	}
	if _, err := s.eng.SendNotice(r.Context(), c.Account.Name, cs.ID, r.PostFormValue("template")); err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	s.caseBack(w, r, c, cs.ID, "Notice sent")
}
