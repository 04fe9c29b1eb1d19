package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"irm/account"
	"irm/engine"
	"irm/event"
	"irm/store"
)

// ---- the queue (/alerts) ----

// queueForm is the queue's filter, sort and page, as the form and links carry them.
type queueForm struct {
	Status, Severity, Policy, Template, Factor, User, From, To, Assignee, Sort, Order string
	Page                                                                              int
}

func (f queueForm) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"status": f.Status, "severity": f.Severity, "policy": f.Policy, "template": f.Template,
		"factor": f.Factor, "user": f.User, "from": f.From, "to": f.To, "assignee": f.Assignee, "sort": f.Sort, "order": f.Order} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// with returns the queue's URL with one field changed.
func (f queueForm) with(k, x string) string {
	v := f.values()
	if x == "" {
		v.Del(k)
	} else {
		v.Set(k, x)
	}
	if k != "page" {
		v.Del("page")
	}
	if enc := v.Encode(); enc != "" {
		return "/alerts?" + enc
	}
	return "/alerts"
}

type option struct{ Value, Label string }

type queueRow struct {
	engine.AlertSummary
	Who, UserRef string
	Factors      []string // in words
}

type queueView struct {
	F          queueForm
	Rows       []queueRow
	Total      int
	Pages      int
	BySeverity map[string]int
	Statuses   []option
	Factors    []option
	Policies   []string
	Templates  []string
	Reviewers  []string
	Prev, Next string
	Error      string
	MaxBulk    int
}

const queuePage = 50

func parseQueue(r *http.Request) queueForm {
	q := r.URL.Query()
	f := queueForm{Status: q.Get("status"), Severity: q.Get("severity"), Policy: q.Get("policy"), Template: q.Get("template"),
		Factor: q.Get("factor"), User: strings.TrimSpace(q.Get("user")), From: q.Get("from"), To: q.Get("to"),
		Assignee: q.Get("assignee"), Sort: q.Get("sort"), Order: q.Get("order")}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	f.Page = max(f.Page, 1)
	return f
}

// alertQuery turns the form into an engine query; problems are the viewer's to fix.
func (s *server) alertQuery(c *reqCtx, f queueForm, limit int) (engine.AlertQuery, error) {
	q := engine.AlertQuery{RiskFactor: f.Factor, Assignee: f.Assignee, Sort: f.Sort, Ascending: f.Order == "asc",
		Hidden: s.hiddenFor(c), Offset: (f.Page - 1) * limit, Limit: limit}
	q.Status, q.Severity, q.Policy, q.Template = f.Status, f.Severity, f.Policy, f.Template
	if f.User != "" {
		upn, ok := s.people.upn(f.User)
		if !ok && s.showsRealNames(c) && strings.Contains(f.User, "@") {
			upn, ok = strings.ToLower(f.User), true
		}
		if !ok {
			return q, fmt.Errorf("user %q: no such user (give the pseudonym shown in the list)", f.User)
		}
		q.User = upn
	}
	for _, d := range []struct {
		text string
		to   *time.Time
		end  bool
	}{{f.From, &q.Since, false}, {f.To, &q.Until, true}} {
		if d.text == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", d.text)
		if err != nil {
			return q, fmt.Errorf("detection date %q: use YYYY-MM-DD", d.text)
		}
		if d.end {
			t = t.AddDate(0, 0, 1) // the To day is included
		}
		*d.to = t
	}
	return q, nil
}

func (s *server) showAlerts(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	f := parseQueue(r)
	v := queueView{F: f, MaxBulk: engine.MaxBulk, BySeverity: map[string]int{}}
	for _, st := range engine.Statuses {
		v.Statuses = append(v.Statuses, option{st, engine.StatusWords(st)})
	}
	for _, rf := range engine.RiskFactors {
		v.Factors = append(v.Factors, option{rf, engine.FactorWords(rf)})
	}
	for _, p := range s.eng.Policies() {
		v.Policies = append(v.Policies, p.Name)
		if !slices.Contains(v.Templates, p.Template) {
			v.Templates = append(v.Templates, p.Template)
		}
	}
	slices.Sort(v.Templates)
	v.Reviewers = s.reviewers()
	status := http.StatusOK
	q, err := s.alertQuery(c, f, queuePage)
	var page engine.AlertPage
	if err == nil {
		page, err = s.eng.QueryAlerts(q)
	}
	if err != nil {
		v.Error, status = err.Error(), http.StatusBadRequest
	}
	v.Total, v.BySeverity = page.Total, page.BySeverity
	v.Pages = max(1, (page.Total+queuePage-1)/queuePage)
	if f.Page > 1 {
		v.Prev = f.with("page", strconv.Itoa(f.Page-1))
	}
	if f.Page < v.Pages {
		v.Next = f.with("page", strconv.Itoa(f.Page+1))
	}
	for _, a := range page.Alerts {
		row := queueRow{AlertSummary: a, Who: s.who(c, a.User), UserRef: s.people.ref(a.User)}
		row.Title = s.scrub(c, a.User, a.Title)
		for _, rf := range a.RiskFactors {
			row.Factors = append(row.Factors, engine.FactorWords(rf))
		}
		v.Rows = append(v.Rows, row)
	}
	s.render(w, r, status, alertsPage(s.page(r, c, "Alerts"), v))
}

// reviewers are the enabled accounts that may review alerts (to assign to).
func (s *server) reviewers() []string {
	accts, err := s.db.Accounts()
	if err != nil {
		s.log.Error("ui: accounts", "err", err)
		return nil
	}
	var out []string
	for _, a := range accts {
		if !a.Disabled && account.Can(a.Roles, account.PermAlerts) {
			out = append(out, a.Name)
		}
	}
	return out
}

// bulkAlerts dismisses, resolves or assigns the alerts ticked in the queue.
func (s *server) bulkAlerts(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	_ = r.ParseForm()
	ids := r.PostForm["id"]
	for _, id := range ids {
		if a, ok := s.eng.Alert(id); !ok || !s.mayView(c, a.User) {
			s.badRequest(w, r, c, "alert "+id+" not found")
			return
		}
	}
	back := safeNext(r.PostFormValue("back"))
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	var err error
	var msg string
	switch action := r.PostFormValue("action"); action {
	case "dismiss", "resolve":
		status := map[string]string{"dismiss": engine.StatusDismissed, "resolve": engine.StatusResolved}[action]
		err = s.eng.BulkSetStatus(c.Account.Name, ids, status, reason)
		msg = fmt.Sprintf("%d alerts %s", len(ids), engine.StatusWords(status))
	case "assign":
		assignee := r.PostFormValue("assignee")
		if assignee != "" && !slices.Contains(s.reviewers(), assignee) {
			err = fmt.Errorf("%q cannot review alerts", assignee)
			break
		}
		err = s.eng.AssignAlerts(c.Account.Name, ids, assignee)
		msg = fmt.Sprintf("%d alerts assigned", len(ids))
	default:
		err = fmt.Errorf("choose dismiss, resolve or assign")
	}
	if err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	s.redirectFlash(w, r, c, back, msg)
}

// ---- one alert (/alerts/{id}) ----

type triggerView struct {
	Time       time.Time
	Name, What string
}

type insightView struct {
	engine.Insight
	Sentence string
}

type eventRow struct {
	Time                                time.Time
	Day, What, File, Dest, Detail, Feed string
	Indicators, Categories              []string
	Raw                                 string
}

type explorerView struct {
	Events                   []eventRow
	Total, All               int
	Category, Indicator, Day string
	Days, Categories         []string
	Indicators               []option
	Page, Pages              int
	Prev, Next               string
	Base                     string // path the filter form submits to
	Missing                  []string
}

type hrView struct {
	Department, Manager, ManagerRef          string
	Resignation, LastWorking, Review, Rating string
	ReviewRemarks, ImprovementPlan, Deleted  string
}

type alertPageView struct {
	A            engine.Alert
	Who, UserRef string
	Summary      string
	Top          string
	Factors      []string
	Triggers     []triggerView
	Insights     []insightView
	HR           *hrView
	HRHidden     bool
	X            explorerView
	OpenCases    []engine.Case
	Reviewers    []string
	CanRaw       bool
	History      []engine.AlertNote
	CaseName     string
	Why          string
	MoreTriggers int
}

func (s *server) alertFor(w http.ResponseWriter, r *http.Request, c *reqCtx) (engine.Alert, bool) {
	a, ok := s.eng.Alert(r.PathValue("id"))
	if !ok || !s.mayView(c, a.User) {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Alert not found"), http.StatusNotFound, "There is no alert with that id."))
		return engine.Alert{}, false
	}
	s.people.remember(a.User)
	return a, true
}

func (s *server) showAlert(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	a, ok := s.alertFor(w, r, c)
	if !ok {
		return
	}
	scrub := s.scrubber(c, a.User)
	va := a.ForViewer(s.who(c, a.User), scrub)
	v := alertPageView{A: va, Who: va.User, UserRef: s.people.ref(a.User), CanRaw: c.can(account.PermRawContent), Reviewers: s.reviewers()}
	for _, f := range a.RiskFactors {
		v.Factors = append(v.Factors, engine.FactorWords(f))
	}
	if n := len(v.Factors); n > 0 {
		v.Why = "The score was raised for " + v.Factors[0]
		for i := 1; i < n; i++ {
			v.Why += listSep(i, n) + v.Factors[i]
		}
		v.Why += "."
	}
	// The summary: what, when, how strong, why.
	top := engine.TopInsight(&va)
	v.Summary = fmt.Sprintf("%s alert under %q: score %d of 100, detected %s, %s.", capitalize(a.Severity),
		a.Policy, a.Score, fmtTime(a.Created), engine.StatusWords(a.Status))
	if top != nil {
		v.Top = engine.InsightSentence(top)
	}
	trig, err := s.eng.TriggerEvents(&a)
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	shown := a.Triggers
	if len(shown) > maxTriggersShown {
		v.MoreTriggers = len(shown) - maxTriggersShown
		shown = shown[:maxTriggersShown]
	}
	for _, t := range shown {
		tv := triggerView{Time: t.Time, Name: scrub(t.Name)}
		if ev, ok := trig[t.EventID]; ok {
			tv.What = scrub(eventSentence(ev))
		} else if t.EventID == "" {
			tv.What = "Started by an administrator (start scoring), not by an event."
		} else {
			tv.What = "The triggering event is no longer stored (retention)."
		}
		v.Triggers = append(v.Triggers, tv)
	}
	ins := slices.Clone(va.Insights)
	slices.SortStableFunc(ins, func(x, y engine.Insight) int {
		if x.Scored != y.Scored {
			if x.Scored {
				return -1
			}
			return 1
		}
		return y.Points - x.Points
	})
	for _, in := range ins {
		v.Insights = append(v.Insights, insightView{Insight: in, Sentence: engine.InsightSentence(&in)})
	}
	if v.CanRaw {
		v.HR, err = s.hrContext(c, a.User)
		if err != nil {
			s.serverError(w, r, c, err)
			return
		}
	} else {
		v.HRHidden = true
	}
	v.X, err = s.explorer(r, c, a.User, "/alerts/"+url.PathEscape(a.ID), func(f engine.ActivityFilter) (engine.ActivityPage, error) {
		return s.eng.AlertActivity(a.ID, f)
	}, v.CanRaw)
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	for _, cs := range s.eng.CasesOf(a.User) {
		if cs.Status != "closed" {
			cs.Name = scrub(cs.Name)
			v.OpenCases = append(v.OpenCases, cs)
		}
	}
	if a.Case != "" {
		if cs, ok := s.eng.Case(a.Case); ok {
			v.CaseName = scrub(cs.Name)
		}
	}
	v.History = va.History
	// Who looked at whose activity is for auditors to see, as with real names.
	s.audit(c.Account.Name, "alerts", "alert viewed", a.ID, nil, nil, r.URL.RawQuery)
	s.render(w, r, http.StatusOK, alertPage(s.page(r, c, "Alert "+a.ID), v))
}

// hrContext is the user's HR profile as the viewer may see it.
func (s *server) hrContext(c *reqCtx, upn string) (*hrView, error) {
	p, ok, err := s.eng.UserProfile(upn)
	if err != nil || !ok {
		return nil, err
	}
	h := &hrView{Department: p.Department, Resignation: fmtDate(p.ResignationDate), LastWorking: fmtDate(p.LastWorkingDate),
		Review: fmtDate(p.LatestReviewDate), Rating: p.LatestRating, ReviewRemarks: s.scrub(c, upn, p.LatestReviewRemarks),
		ImprovementPlan: fmtDate(p.ImprovementPlan), Deleted: fmtDate(p.AccountDeleted)}
	if p.Manager != "" {
		h.Manager, h.ManagerRef = s.who(c, p.Manager), s.people.ref(p.Manager)
	}
	return h, nil
}

const explorerPage = 50

// maxTriggersShown: the summary names the first triggering events; later ones only
// kept the user in scope.
const maxTriggersShown = 3

// explorer renders one page of an activity explorer from the request's filter.
func (s *server) explorer(r *http.Request, c *reqCtx, upn, base string, load func(engine.ActivityFilter) (engine.ActivityPage, error), raw bool) (explorerView, error) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	f := engine.ActivityFilter{Category: q.Get("category"), Indicator: q.Get("indicator"), Day: q.Get("day"),
		Offset: (page - 1) * explorerPage, Limit: explorerPage}
	p, err := load(f)
	if err != nil {
		return explorerView{}, err
	}
	scrub := s.scrubber(c, upn)
	x := explorerView{Total: p.Total, All: p.All, Category: f.Category, Indicator: f.Indicator, Day: f.Day, Days: p.Days,
		Categories: p.Categories, Missing: p.Missing, Page: page, Pages: max(1, (p.Total+explorerPage-1)/explorerPage), Base: base}
	for id, name := range p.Indicators {
		x.Indicators = append(x.Indicators, option{id, scrub(name)})
	}
	slices.SortFunc(x.Indicators, func(a, b option) int { return strings.Compare(a.Label, b.Label) })
	link := func(n int) string {
		v := url.Values{}
		for k, val := range map[string]string{"category": f.Category, "indicator": f.Indicator, "day": f.Day} {
			if val != "" {
				v.Set(k, val)
			}
		}
		v.Set("page", strconv.Itoa(n))
		return base + "?" + v.Encode() + "#explorer"
	}
	if page > 1 {
		x.Prev = link(page - 1)
	}
	if page < x.Pages {
		x.Next = link(page + 1)
	}
	for _, ae := range p.Events {
		x.Events = append(x.Events, s.eventRow(c, scrub, ae.Event, ae, raw))
	}
	return x, nil
}

func (s *server) eventRow(c *reqCtx, scrub func(string) string, ev *event.Event, ae engine.ActivityEvent, raw bool) eventRow {
	row := eventRow{Time: ev.Time, Day: ae.Day, Feed: ev.Feed, What: opWords(ev), File: scrub(ev.FileName),
		Dest: scrub(eventDestination(ev)), Detail: scrub(eventDetail(ev)), Categories: ae.Categories}
	if row.File == "" && ev.Object != "" {
		row.File = scrub(ev.Object)
	} else if ev.Object != "" && ev.Object != ev.FileName && ev.Feed == event.FeedAudit {
		row.File = scrub(ev.Object)
	}
	for _, n := range ae.Indicators {
		row.Indicators = append(row.Indicators, scrub(n))
	}
	if raw && c.can(account.PermRawContent) {
		row.Raw = scrub(string(ev.Raw))
	}
	return row
}

func (s *server) setAlertStatus(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	a, ok := s.alertFor(w, r, c)
	if !ok {
		return
	}
	status := r.PostFormValue("status")
	if err := s.eng.SetAlertStatus(c.Account.Name, a.ID, status, strings.TrimSpace(r.PostFormValue("comment"))); err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	s.redirectFlash(w, r, c, "/alerts/"+url.PathEscape(a.ID), "Alert "+engine.StatusWords(status))
}

func (s *server) assignAlert(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	a, ok := s.alertFor(w, r, c)
	if !ok {
		return
	}
	assignee := r.PostFormValue("assignee")
	if assignee != "" && !slices.Contains(s.reviewers(), assignee) {
		s.badRequest(w, r, c, fmt.Sprintf("%q cannot review alerts", assignee))
		return
	}
	if err := s.eng.AssignAlerts(c.Account.Name, []string{a.ID}, assignee); err != nil {
		s.badRequest(w, r, c, err.Error())
		return
	}
	s.redirectFlash(w, r, c, "/alerts/"+url.PathEscape(a.ID), "Assignment saved")
}

// confirmAlert confirms the alert into a new case or an open case of the same user.
func (s *server) confirmAlert(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	a, ok := s.alertFor(w, r, c)
	if !ok {
		return
	}
	var id string
	if existing := r.PostFormValue("case"); existing != "" {
		if err := s.eng.AddAlertsToCase(c.Account.Name, existing, []string{a.ID}); err != nil {
			s.badRequest(w, r, c, err.Error())
			return
		}
		id = existing
	} else {
		cs, err := s.eng.CreateCase(c.Account.Name, r.PostFormValue("name"), []string{a.ID}, strings.TrimSpace(r.PostFormValue("note")))
		if err != nil {
			s.badRequest(w, r, c, err.Error())
			return
		}
		id = cs.ID
	}
	s.redirectFlash(w, r, c, "/cases/"+url.PathEscape(id), "Alert confirmed into case "+id)
}

// ---- the overview (/) ----

type overviewView struct {
	ShowAlerts bool
	BySeverity map[string]int // alerts needing review
	Open30     map[string]int // alerts created in the last 30 days, by severity
	TopUsers   []riskyUser
	ShowFeeds  bool
	Feeds      []feedHealth
	ShowAudit  bool
	Audit      []store.AuditEntry
	Policies   int
	ShowConfig bool
}

type riskyUser struct {
	Who, UserRef string
	Score        int
	Severity     string
	Alerts       int
	AlertID      string // the highest-scoring alert
}

func (s *server) showOverview(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	var v overviewView
	if c.can(account.PermAlerts) {
		v.ShowAlerts = true
		o := s.eng.Overview(s.hiddenFor(c), s.now().Add(-30*24*time.Hour), 10)
		v.BySeverity, v.Open30 = o.NeedsReview, o.Recent
		for _, u := range o.TopUsers {
			v.TopUsers = append(v.TopUsers, riskyUser{Who: s.who(c, u.User), UserRef: s.people.ref(u.User), Score: u.Score,
				Severity: u.Severity, Alerts: u.Alerts, AlertID: u.AlertID})
		}
	}
	if c.can(account.PermConfigure) {
		v.ShowConfig = true
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
