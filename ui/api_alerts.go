package ui

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"irm/account"
	"irm/engine"
)

// Alerts and cases: the engine's one read model (engine.QueryAlerts, engine.Alert,
// engine.Case), as the caller may see them.

type alertsIn struct {
	Status   string `query:"status" enum:"needs_review,confirmed,dismissed,resolved" doc:"Only alerts in this status."`
	Severity string `query:"severity" enum:"low,medium,high" doc:"Only alerts of this severity (by_severity still counts all)."`
	Policy   string `query:"policy" doc:"Only alerts of this policy (its name)."`
	Template string `query:"template" doc:"Only alerts of policies from this template, e.g. data_theft_departing."`
	Factor   string `query:"factor" doc:"Only alerts with this risk factor, e.g. sequence, cumulative_exfiltration."`
	User     string `query:"user" doc:"Only alerts of this user: the pseudonym (Anon-XXXXXX), or the UPN for callers who see real names."`
	From     string `query:"from" pattern:"^\\d{4}-\\d{2}-\\d{2}$" doc:"Detected on or after this day (YYYY-MM-DD, UTC)."`
	To       string `query:"to" pattern:"^\\d{4}-\\d{2}-\\d{2}$" doc:"Detected on or before this day (YYYY-MM-DD, UTC)."`
	Assignee string `query:"assignee" doc:"Only alerts assigned to this account; - for unassigned ones."`
	Sort     string `query:"sort" enum:"time,score,severity" doc:"Order: detection time (default), score or severity."`
	Order    string `query:"order" enum:"asc,desc" doc:"asc for oldest or lowest first."`
	Offset   int    `query:"offset" minimum:"0" doc:"Alerts to skip."`
	Limit    int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 100, at most 1000)."`
}

type alertList struct {
	Alerts     []engine.Alert `json:"alerts" doc:"The page: the engine's alert form, as the caller may see it."`
	Total      int            `json:"total" doc:"Alerts matching the filter."`
	BySeverity map[string]int `json:"by_severity" doc:"Matches per severity, as if no severity were chosen."`
	Offset     int            `json:"offset"`
	Limit      int            `json:"limit"`
}

type idPath struct {
	ID string `path:"id" maxLength:"64"`
}

type statusIn struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Status  string `json:"status" enum:"needs_review,confirmed,dismissed,resolved"`
		Comment string `json:"comment,omitempty" maxLength:"4096" doc:"Required to dismiss."`
	}
}

type bulkIn struct {
	Body struct {
		IDs    []string `json:"ids" minItems:"1" maxItems:"400"`
		Status string   `json:"status" enum:"dismissed,resolved"`
		Reason string   `json:"reason" minLength:"1" maxLength:"4096"`
	}
}

type bulkBody struct {
	Changed int    `json:"changed"`
	Status  string `json:"status"`
}

func (a *api) alerts() {
	s := a.s
	tags := []string{"alerts"}
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "listAlerts", Method: "GET", Path: "/api/v1/alerts", Tags: tags,
		Summary: "List alerts", Description: "One page of the alert queue, filtered and sorted, with the count per severity."},
		func(_ context.Context, c *reqCtx, in *alertsIn) (*out[alertList], error) {
			limit := in.Limit
			if limit <= 0 {
				limit = 100
			}
			f := queueForm{Status: in.Status, Severity: in.Severity, Policy: in.Policy, Template: in.Template, Factor: in.Factor,
				User: strings.TrimSpace(in.User), From: in.From, To: in.To, Assignee: in.Assignee, Sort: in.Sort, Order: in.Order, Page: 1}
			q, err := s.alertQuery(c, f, limit)
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			q.Offset = in.Offset
			page, err := s.eng.QueryAlerts(q)
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			res := alertList{Alerts: []engine.Alert{}, Total: page.Total, BySeverity: page.BySeverity, Offset: page.Offset, Limit: page.Limit}
			for _, sum := range page.Alerts {
				if al, ok := s.eng.Alert(sum.ID); ok {
					res.Alerts = append(res.Alerts, s.viewAlert(c, al))
				}
			}
			return reply(res)
		})
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "getAlert", Method: "GET", Path: "/api/v1/alerts/{id}", Tags: tags,
		Summary: "Get an alert", Errors: []int{404}},
		func(_ context.Context, c *reqCtx, in *idPath) (*out[engine.Alert], error) {
			al, ok := s.eng.Alert(in.ID)
			if !ok || !s.mayView(c, al.User) {
				return nil, apiErr(http.StatusNotFound, "no such alert")
			}
			return reply(s.viewAlert(c, al))
		})
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "setAlertStatus", Method: "POST", Path: "/api/v1/alerts/{id}/status", Tags: tags,
		Summary: "Change an alert's status", Description: "Confirm, dismiss (with a reason), resolve or reopen an alert; audited.", Errors: []int{400, 404}},
		func(_ context.Context, c *reqCtx, in *statusIn) (*out[engine.Alert], error) {
			if al, ok := s.eng.Alert(in.ID); !ok || !s.mayView(c, al.User) {
				return nil, apiErr(http.StatusNotFound, "no such alert")
			}
			if err := s.eng.SetAlertStatus(c.Account.Name, in.ID, in.Body.Status, in.Body.Comment); err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			al, _ := s.eng.Alert(in.ID)
			return reply(s.viewAlert(c, al))
		})
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "bulkAlertStatus", Method: "POST", Path: "/api/v1/alerts/bulk", Tags: tags,
		Summary: "Dismiss or resolve alerts in bulk", Description: "Up to 400 alerts with one reason: all are checked first, then changed in one batch and audited once.", Errors: []int{400, 404}},
		func(_ context.Context, c *reqCtx, in *bulkIn) (*out[bulkBody], error) {
			for _, id := range in.Body.IDs {
				if al, ok := s.eng.Alert(id); !ok || !s.mayView(c, al.User) {
					return nil, apiErr(http.StatusNotFound, "no such alert: "+id)
				}
			}
			if err := s.eng.BulkSetStatus(c.Account.Name, in.Body.IDs, in.Body.Status, in.Body.Reason); err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			return reply(bulkBody{Changed: len(in.Body.IDs), Status: in.Body.Status})
		})
}

type caseCreateIn struct {
	Body struct {
		Name   string   `json:"name" minLength:"1" maxLength:"200"`
		Alerts []string `json:"alerts" minItems:"1" maxItems:"400" doc:"Alerts of one user, confirmed into the case."`
		Note   string   `json:"note,omitempty" maxLength:"16384"`
	}
}

type caseNoteIn struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Text string `json:"text" minLength:"1" maxLength:"16384"`
	}
}

type caseResolveIn struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Resolution string `json:"resolution" enum:"benign,confirmed_violation"`
		Action     string `json:"action,omitempty" maxLength:"4096" doc:"The action taken; required for a confirmed violation."`
	}
}

func (a *api) cases() {
	s := a.s
	tags := []string{"cases"}
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "listCases", Method: "GET", Path: "/api/v1/cases", Tags: tags, Summary: "List cases", Description: "Every case the caller may see, newest first."},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[[]apiCase], error) {
			res := []apiCase{}
			hidden := s.hiddenFor(c)
			for _, cs := range s.eng.Cases() {
				if !hidden(cs.User) {
					res = append(res, s.viewCase(c, cs))
				}
			}
			return reply(res)
		})
	get := func(c *reqCtx, id string) (*out[apiCase], error) {
		cs, ok := s.eng.Case(id)
		if !ok || !s.mayView(c, cs.User) {
			return nil, apiErr(http.StatusNotFound, "no such case")
		}
		return reply(s.viewCase(c, cs))
	}
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "getCase", Method: "GET", Path: "/api/v1/cases/{id}", Tags: tags, Summary: "Get a case", Errors: []int{404}},
		func(_ context.Context, c *reqCtx, in *idPath) (*out[apiCase], error) { return get(c, in.ID) })
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "createCase", Method: "POST", Path: "/api/v1/cases", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Open a case", Description: "Confirms the alerts (all of one user) into a new case; audited.", Errors: []int{400, 404}},
		func(_ context.Context, c *reqCtx, in *caseCreateIn) (*out[apiCase], error) {
			for _, id := range in.Body.Alerts {
				if al, ok := s.eng.Alert(id); !ok || !s.mayView(c, al.User) {
					return nil, apiErr(http.StatusNotFound, "no such alert: "+id)
				}
			}
			cs, err := s.eng.CreateCase(c.Account.Name, in.Body.Name, in.Body.Alerts, strings.TrimSpace(in.Body.Note))
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			return get(c, cs.ID)
		})
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "addCaseNote", Method: "POST", Path: "/api/v1/cases/{id}/notes", Tags: tags,
		Summary: "Add a note to a case", Errors: []int{400, 404}},
		func(_ context.Context, c *reqCtx, in *caseNoteIn) (*out[apiCase], error) {
			if _, err := get(c, in.ID); err != nil {
				return nil, err
			}
			if err := s.eng.AddCaseNote(c.Account.Name, in.ID, strings.TrimSpace(in.Body.Text)); err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			return get(c, in.ID)
		})
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "resolveCase", Method: "POST", Path: "/api/v1/cases/{id}/resolve", Tags: tags,
		Summary: "Resolve a case", Description: "Closes the case as benign or a confirmed violation; its alerts are resolved.", Errors: []int{400, 404}},
		func(_ context.Context, c *reqCtx, in *caseResolveIn) (*out[apiCase], error) {
			if _, err := get(c, in.ID); err != nil {
				return nil, err
			}
			if err := s.eng.ResolveCase(c.Account.Name, in.ID, in.Body.Resolution, strings.TrimSpace(in.Body.Action)); err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			return get(c, in.ID)
		})
}
