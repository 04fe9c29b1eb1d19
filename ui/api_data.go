package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"irm/account"
	"irm/engine"
	"irm/event"
	"irm/store"
)

// Users in scope, their events, policies, settings and the audit log.

type apiUser struct {
	User         string   `json:"user" doc:"The pseudonym, or the UPN for callers who see real names."`
	Ref          string   `json:"ref" doc:"The pseudonym: the user's handle in /api/v1/users/{user}/events and in UI links."`
	Pseudonymous bool     `json:"pseudonymous,omitempty"`
	Policies     []string `json:"policies" doc:"Enabled policies scoring the user now."`
	ActiveAlerts int      `json:"active_alerts" doc:"Alerts needing review or confirmed."`
	Score        int      `json:"score" doc:"Score of the user's strongest active alert (0: none)."`
	Severity     string   `json:"severity,omitempty"`
}

type usersIn struct {
	Offset int `query:"offset" minimum:"0"`
	Limit  int `query:"limit" minimum:"0" maximum:"5000" doc:"Page size (default 500)."`
}

type userList struct {
	Users  []apiUser `json:"users"`
	Total  int       `json:"total"`
	Offset int       `json:"offset"`
	Limit  int       `json:"limit"`
}

type eventsIn struct {
	User   string `path:"user" maxLength:"320" doc:"The pseudonym (Anon-XXXXXX), or the UPN for callers who see real names."`
	Since  string `query:"since" doc:"From this time (RFC 3339) or day (YYYY-MM-DD, UTC), inclusive. Default: 30 days ago."`
	Until  string `query:"until" doc:"Before this time (RFC 3339) or up to and including this day (YYYY-MM-DD). Default: now."`
	Feed   string `query:"feed" enum:"audit,hr,badging,dlp,defender"`
	Offset int    `query:"offset" minimum:"0"`
	Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 100)."`
}

// apiEvent is a stored event as the caller may see it: free text with the user's names
// replaced for callers who see pseudonyms, the raw record only for raw_content.
type apiEvent struct {
	ID             string    `json:"id"`
	Time           time.Time `json:"time"`
	Feed           string    `json:"feed"`
	Operation      string    `json:"operation"`
	Workload       string    `json:"workload,omitempty"`
	What           string    `json:"what" doc:"The operation in words."`
	File           string    `json:"file,omitempty"`
	Object         string    `json:"object,omitempty"`
	Destination    string    `json:"destination,omitempty"`
	Detail         string    `json:"detail,omitempty"`
	TargetDomain   string    `json:"target_domain,omitempty"`
	Device         string    `json:"device,omitempty"`
	Labels         []string  `json:"labels,omitempty"`
	SensitiveTypes []string  `json:"sensitive_types,omitempty"`
	Severity       string    `json:"severity,omitempty"`
	Status         string    `json:"status,omitempty"`
	Size           int64     `json:"size,omitempty"`
	Raw            string    `json:"raw,omitempty" doc:"The source record; only for callers with raw_content."`
}

type eventList struct {
	User       string     `json:"user"`
	Events     []apiEvent `json:"events"`
	Offset     int        `json:"offset"`
	Limit      int        `json:"limit"`
	NextOffset int        `json:"next_offset,omitempty" doc:"Offset of the next page; absent on the last."`
}

// apiTime reads an RFC 3339 time or a day; a day given as the end of a range (until)
// includes that day.
func apiTime(name, v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: use RFC 3339 (2026-03-01T09:00:00Z) or YYYY-MM-DD", name, v)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// userOf finds the user a path names: a pseudonym, or a UPN for a caller who sees real
// names; a hidden or unknown one is 404.
func (s *server) userOf(c *reqCtx, ref string) (string, error) {
	upn, ok := s.people.upn(ref)
	if !ok && s.showsRealNames(c) && strings.Contains(ref, "@") {
		upn, ok = strings.ToLower(ref), true
	}
	if !ok || !s.mayView(c, upn) {
		return "", apiErr(http.StatusNotFound, "no such user (give the pseudonym)")
	}
	return upn, nil
}

func (s *server) apiEventOf(c *reqCtx, scrub func(string) string, ev *event.Event) apiEvent {
	out := apiEvent{ID: ev.ID, Time: ev.Time, Feed: ev.Feed, Operation: ev.Operation, Workload: ev.Workload, What: opWords(ev),
		File: scrub(ev.FileName), Object: scrub(ev.Object), Destination: scrub(eventDestination(ev)), Detail: scrub(eventDetail(ev)),
		TargetDomain: ev.TargetDomain, Device: scrub(ev.Device), Labels: ev.Labels, SensitiveTypes: ev.SensitiveTypes,
		Severity: ev.Severity, Status: ev.Status, Size: ev.Size}
	if c.can(account.PermRawContent) {
		out.Raw = scrub(string(ev.Raw))
	}
	return out
}

func (a *api) users() {
	s := a.s
	tags := []string{"users"}
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "listUsersInScope", Method: "GET", Path: "/api/v1/users", Tags: tags,
		Summary: "List users in scope", Description: "The users whom enabled policies are scoring now, with their active alerts."},
		func(_ context.Context, c *reqCtx, in *usersIn) (*out[userList], error) {
			limit := in.Limit
			if limit <= 0 {
				limit = 500
			}
			hidden := s.hiddenFor(c)
			risk := map[string]engine.UserRisk{}
			for _, u := range s.eng.Overview(hidden, time.Now(), 1<<30).TopUsers {
				risk[u.User] = u
			}
			var all []apiUser
			for _, u := range s.eng.UsersInScope() {
				if hidden(u.User) {
					continue
				}
				r := risk[u.User]
				who := s.who(c, u.User)
				all = append(all, apiUser{User: who, Ref: s.people.ref(u.User), Pseudonymous: who != u.User, Policies: u.Policies,
					ActiveAlerts: r.Alerts, Score: r.Score, Severity: r.Severity})
			}
			res := userList{Users: []apiUser{}, Total: len(all), Offset: in.Offset, Limit: limit}
			if in.Offset < len(all) {
				res.Users = all[in.Offset:min(in.Offset+limit, len(all))]
			}
			return reply(res)
		})
	apiOp(a, account.PermAlerts, huma.Operation{OperationID: "listUserEvents", Method: "GET", Path: "/api/v1/users/{user}/events", Tags: tags,
		Summary: "List a user's events", Description: "The user's stored events in a time range, oldest first, paged. Each call is recorded in the audit log (users / user activity viewed).",
		Errors: []int{400, 404}},
		func(ctx context.Context, c *reqCtx, in *eventsIn) (*out[eventList], error) {
			upn, err := s.userOf(c, in.User)
			if err != nil {
				return nil, err
			}
			since, err := apiTime("since", in.Since, false)
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			until, err := apiTime("until", in.Until, true)
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			if since.IsZero() {
				since = time.Now().UTC().AddDate(0, 0, -30)
			}
			limit := in.Limit
			if limit <= 0 {
				limit = 100
			}
			scrub := s.scrubber(c, upn)
			res := eventList{User: s.who(c, upn), Events: []apiEvent{}, Offset: in.Offset, Limit: limit}
			skip := in.Offset
			err = s.db.Events(store.Query{User: upn, Feed: in.Feed, Since: since, Until: until}, func(ev *event.Event) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				if skip > 0 {
					skip--
					return nil
				}
				if len(res.Events) == limit {
					res.NextOffset = in.Offset + limit
					return store.ErrStop
				}
				res.Events = append(res.Events, s.apiEventOf(c, scrub, ev))
				return nil
			})
			if err != nil && !errors.Is(err, store.ErrStop) {
				return nil, err
			}
			s.audit(c.Account.Name, "users", "user activity viewed", upn, nil, nil,
				fmt.Sprintf("API events %s to %s, offset %d", since.Format(time.RFC3339), cmpOr(in.Until, "now"), in.Offset))
			return reply(res)
		})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// apiPolicy is a policy with its standing.
type apiPolicy struct {
	engine.Policy
	UsersInScope    int                    `json:"users_in_scope"`
	ActiveAlerts    int                    `json:"active_alerts"`
	ConfirmedAlerts int                    `json:"confirmed_alerts"`
	Health          []engine.HealthWarning `json:"health"`
}

type nameIn struct {
	Name string `path:"name" maxLength:"200"`
}

type policyPutIn struct {
	Name string `path:"name" maxLength:"200"`
	Body engine.Policy
}

type settingsPutIn struct {
	Body engine.Settings
}

func (a *api) configuration() {
	s := a.s
	view := func(p engine.Policy) apiPolicy {
		counts := s.eng.AlertCountsByPolicy()[p.Name]
		ap := apiPolicy{Policy: p, UsersInScope: s.eng.InScope()[p.Name], ActiveAlerts: counts.Active, ConfirmedAlerts: counts.Confirmed,
			Health: s.eng.PolicyHealth(p.Name)}
		if ap.Health == nil {
			ap.Health = []engine.HealthWarning{}
		}
		return ap
	}
	tags := []string{"policies"}
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "listPolicies", Method: "GET", Path: "/api/v1/policies", Tags: tags, Summary: "List policies",
		Description: "Every policy with users in scope, active and confirmed alerts, and health warnings."},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[[]apiPolicy], error) {
			res := []apiPolicy{}
			for _, p := range s.eng.Policies() {
				res = append(res, view(p))
			}
			return reply(res)
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "getPolicy", Method: "GET", Path: "/api/v1/policies/{name}", Tags: tags, Summary: "Get a policy", Errors: []int{404}},
		func(_ context.Context, c *reqCtx, in *nameIn) (*out[apiPolicy], error) {
			p, ok := s.eng.Policy(in.Name)
			if !ok {
				return nil, apiErr(http.StatusNotFound, "no such policy")
			}
			return reply(view(p))
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "putPolicy", Method: "PUT", Path: "/api/v1/policies/{name}", Tags: tags,
		Summary: "Create or replace a policy", Description: "Validated by the engine as a whole (the template of an existing policy cannot change); every user is scored against it; audited.",
		Errors: []int{400}},
		func(_ context.Context, c *reqCtx, in *policyPutIn) (*out[apiPolicy], error) {
			p := in.Body
			if p.Name != "" && p.Name != in.Name {
				return nil, apiErr(http.StatusBadRequest, fmt.Sprintf("the body names policy %q, the path %q", p.Name, in.Name))
			}
			p.Name = in.Name
			if err := s.eng.SavePolicy(c.Account.Name, p); err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			saved, _ := s.eng.Policy(in.Name)
			return reply(view(saved))
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "deletePolicy", Method: "DELETE", Path: "/api/v1/policies/{name}", Tags: tags,
		Summary: "Delete a policy", Description: "Its alerts are kept; audited.", DefaultStatus: http.StatusNoContent, Errors: []int{404}},
		func(_ context.Context, c *reqCtx, in *nameIn) (*struct{}, error) {
			if _, ok := s.eng.Policy(in.Name); !ok {
				return nil, apiErr(http.StatusNotFound, "no such policy")
			}
			if err := s.eng.DeletePolicy(c.Account.Name, in.Name); err != nil {
				return nil, engineErr(err)
			}
			return nil, nil
		})
	stags := []string{"settings"}
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "getSettings", Method: "GET", Path: "/api/v1/settings", Tags: stags, Summary: "Get the global settings"},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[engine.Settings], error) {
			return reply(s.eng.Settings())
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "putSettings", Method: "PUT", Path: "/api/v1/settings", Tags: stags,
		Summary: "Replace the global settings", Description: "Validated as a whole; every user is scored again; audited with before and after.", Errors: []int{400}},
		func(_ context.Context, c *reqCtx, in *settingsPutIn) (*out[engine.Settings], error) {
			if err := s.eng.UpdateSettings(c.Account.Name, in.Body); err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			return reply(s.eng.Settings())
		})
}

type auditIn struct {
	Category string `query:"category" enum:"policies,settings,rules,alerts,cases,notices,users,signin,export,backup,audit"`
	Actor    string `query:"actor" maxLength:"256"`
	Target   string `query:"target" maxLength:"1024"`
	From     string `query:"from" pattern:"^\\d{4}-\\d{2}-\\d{2}$" doc:"From this day (UTC), inclusive."`
	To       string `query:"to" pattern:"^\\d{4}-\\d{2}-\\d{2}$" doc:"Up to this day (UTC), inclusive."`
	Text     string `query:"q" maxLength:"256" doc:"Case-insensitive text in actor, activity, target, details, before or after."`
	Offset   int    `query:"offset" minimum:"0"`
	Limit    int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 100)."`
}

type auditList struct {
	Entries    []store.AuditEntry `json:"entries" doc:"Newest first."`
	Offset     int                `json:"offset"`
	Limit      int                `json:"limit"`
	NextOffset int                `json:"next_offset,omitempty"`
}

func (a *api) auditLog() {
	s := a.s
	apiOp(a, account.PermAudit, huma.Operation{OperationID: "listAuditEntries", Method: "GET", Path: "/api/v1/audit", Tags: []string{"audit"},
		Summary: "List audit log entries", Description: "The insider risk audit log, newest first, filtered; each entry with its chain hash.", Errors: []int{400}},
		func(_ context.Context, c *reqCtx, in *auditIn) (*out[auditList], error) {
			q := url.Values{"category": {in.Category}, "actor": {in.Actor}, "from": {in.From}, "to": {in.To}, "q": {in.Text}}
			_, f, err := parseAuditQuery(q)
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			f.Target = in.Target
			limit := in.Limit
			if limit <= 0 {
				limit = 100
			}
			f.Offset, f.Limit = in.Offset, limit+1
			res := auditList{Entries: []store.AuditEntry{}, Offset: in.Offset, Limit: limit}
			if err := s.db.AuditEntries(f, func(e store.AuditEntry) error { res.Entries = append(res.Entries, e); return nil }); err != nil {
				return nil, err
			}
			if len(res.Entries) > limit {
				res.Entries, res.NextOffset = res.Entries[:limit], in.Offset+limit
			}
			return reply(res)
		})
}
