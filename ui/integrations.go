package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"irm/account"
	"irm/engine"
	"irm/integrations"
	"irm/store"
)

// Integrations in the UI and the API: webhooks with their delivery log (admins), and
// API tokens on the accounts page. The webhooks' secrets are shown once, when made.

// integrationViewer sees alerts and cases as an integration may: pseudonyms unless
// realNames, and none of the users of priority groups that name their own viewers.
func (s *server) integrationViewer(realNames bool) *reqCtx {
	real := realNames || !s.pseudonymizing()
	return &reqCtx{Account: store.Account{Name: "integrations"}, real: &real}
}

// ViewAlert is an alert as an integration sees it (integrations.Viewer).
func (h *Handler) ViewAlert(id string, realNames bool) (engine.Alert, bool) {
	s := h.s
	a, ok := s.eng.Alert(id)
	c := s.integrationViewer(realNames)
	if !ok || !s.mayView(c, a.User) {
		return engine.Alert{}, false
	}
	return s.viewAlert(c, a), true
}

// ViewCase is a case as an integration sees it (integrations.Viewer).
func (h *Handler) ViewCase(id string, realNames bool) (engine.Case, bool) {
	s := h.s
	cs, ok := s.eng.Case(id)
	c := s.integrationViewer(realNames)
	if !ok || !s.mayView(c, cs.User) {
		return engine.Case{}, false
	}
	return s.viewCase(c, cs).Case, true
}

// ---- /webhooks ----

type webhooksView struct {
	Hooks      []integrations.Webhook
	Events     []string
	Created    *integrations.Webhook
	Secret     string
	Error      string
	SIEM       string
	Stats      integrations.Stats
	Configured bool
}

type webhookView struct {
	Hook       integrations.Webhook
	Deliveries []integrations.Delivery
}

func (s *server) showWebhooks(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.renderWebhooks(w, r, c, http.StatusOK, webhooksView{})
}

func (s *server) renderWebhooks(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, v webhooksView) {
	v.Events = integrations.EventTypes
	if s.integ != nil {
		v.Configured = true
		hooks, err := s.integ.Webhooks()
		if err != nil {
			s.serverError(w, r, c, err)
			return
		}
		v.Hooks, v.Stats = hooks, s.integ.Stats()
		if s.integ.SIEMEnabled() && s.cfg != nil {
			v.SIEM = s.cfg.SIEM.Address
		}
	}
	s.render(w, r, status, webhooksPage(s.page(r, c, "Webhooks and SIEM export"), v))
}

func (s *server) createWebhook(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.integ == nil {
		s.badRequest(w, r, c, "Integrations do not run in this process.")
		return
	}
	_ = r.ParseForm()
	h, secret, err := s.integ.CreateWebhook(c.Account.Name, integrations.WebhookSpec{Name: r.PostFormValue("name"), URL: r.PostFormValue("url"),
		Events: r.PostForm["event"], RealNames: r.PostFormValue("real_names") == "on" && c.can(account.PermRealNames)})
	if err != nil {
		s.renderWebhooks(w, r, c, http.StatusBadRequest, webhooksView{Error: err.Error()})
		return
	}
	// The secret is shown in this answer only (not a redirect: it must not sit in the
	// session or a URL).
	s.renderWebhooks(w, r, c, http.StatusOK, webhooksView{Created: &h, Secret: secret})
}

func (s *server) webhookFor(w http.ResponseWriter, r *http.Request, c *reqCtx) (integrations.Webhook, bool) {
	if s.integ == nil {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Not found"), http.StatusNotFound, "There is no such webhook."))
		return integrations.Webhook{}, false
	}
	h, ok, err := s.integ.Webhook(r.PathValue("id"))
	if err != nil {
		s.serverError(w, r, c, err)
		return h, false
	}
	if !ok {
		s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Not found"), http.StatusNotFound, "There is no such webhook."))
	}
	return h, ok
}

func (s *server) showWebhook(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h, ok := s.webhookFor(w, r, c)
	if !ok {
		return
	}
	ds, err := s.integ.Deliveries(h.ID, 200)
	if err != nil {
		s.serverError(w, r, c, err)
		return
	}
	s.render(w, r, http.StatusOK, webhookPage(s.page(r, c, "Webhook "+h.Name), webhookView{Hook: h, Deliveries: ds}))
}

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h, ok := s.webhookFor(w, r, c)
	if !ok {
		return
	}
	if err := s.integ.DeleteWebhook(c.Account.Name, h.ID); err != nil {
		s.serverError(w, r, c, err)
		return
	}
	s.redirectFlash(w, r, c, "/webhooks", "Removed webhook "+h.Name)
}

func (s *server) pingWebhook(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	h, ok := s.webhookFor(w, r, c)
	if !ok {
		return
	}
	if _, err := s.integ.Ping(c.Account.Name, h.ID); err != nil {
		s.serverError(w, r, c, err)
		return
	}
	s.redirectFlash(w, r, c, "/webhooks/"+url.PathEscape(h.ID), "Sent a ping to "+h.Name+"; its delivery is below")
}

// ---- tokens on the accounts page ----

func (s *server) createTokenForm(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	_ = r.ParseForm()
	now := s.now()
	exp, err := account.ParseExpiry(r.PostFormValue("expires"), now)
	if err == nil {
		var secret string
		var t store.APIToken
		secret, t, err = account.CreateToken(s.db, c.Account.Name, account.TokenSpec{Name: strings.TrimSpace(r.PostFormValue("name")),
			Roles: account.CanonicalRoles(r.PostForm["role"]), Expires: exp, RealNames: r.PostFormValue("real_names") == "on"}, now)
		if err == nil {
			s.renderUsersWith(w, r, c, http.StatusOK, usersView{NewToken: &t, Secret: secret})
			return
		}
	}
	s.renderUsersWith(w, r, c, http.StatusBadRequest, usersView{Error: err.Error()})
}

func (s *server) revokeTokenForm(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("name")
	if err := account.RevokeToken(s.db, c.Account.Name, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.renderUsersWith(w, r, c, http.StatusNotFound, usersView{Error: "No token " + name})
			return
		}
		s.serverError(w, r, c, err)
		return
	}
	s.redirectFlash(w, r, c, "/admin/users", "Revoked token "+name)
}

// ---- /api/v1/webhooks ----

type webhookCreateIn struct {
	Body struct {
		Name      string   `json:"name" minLength:"1" maxLength:"64"`
		URL       string   `json:"url" minLength:"8" maxLength:"2048" doc:"http:// or https:// URL that receives the POSTs."`
		Events    []string `json:"events,omitempty" doc:"Event types to send (default all): alert.created, alert.severity_raised, alert.status_changed, case.created, case.alerts_added, case.note_added, case.resolved."`
		RealNames bool     `json:"real_names,omitempty" doc:"Send UPNs even when the settings pseudonymise (needs the real_names permission)."`
		Secret    string   `json:"secret,omitempty" minLength:"16" maxLength:"256" doc:"The signing secret; default a random one, returned once."`
	}
}

type webhookCreated struct {
	integrations.Webhook
	Secret string `json:"secret" doc:"The signing secret: shown this once."`
}

type deliveriesIn struct {
	ID    string `path:"id" maxLength:"64"`
	Limit int    `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many, newest first (default 100)."`
}

func (a *api) webhooks() {
	s := a.s
	tags := []string{"webhooks"}
	none := func() error { return apiErr(http.StatusServiceUnavailable, "integrations do not run in this process") }
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "listWebhooks", Method: "GET", Path: "/api/v1/webhooks", Tags: tags, Summary: "List webhooks",
		Description: "Webhooks without their secrets."},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[[]integrations.Webhook], error) {
			if s.integ == nil {
				return nil, none()
			}
			hs, err := s.integ.Webhooks()
			if err != nil {
				return nil, err
			}
			return reply(hs)
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "createWebhook", Method: "POST", Path: "/api/v1/webhooks", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Add a webhook", Description: "Events are POSTed as JSON signed with X-Irm-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>; see docs/api.md. Audited without the secret or the URL's path.",
		Errors: []int{400}},
		func(_ context.Context, c *reqCtx, in *webhookCreateIn) (*out[webhookCreated], error) {
			if s.integ == nil {
				return nil, none()
			}
			if in.Body.RealNames && !c.can(account.PermRealNames) {
				return nil, apiErr(http.StatusForbidden, "sending real names needs the real_names permission")
			}
			h, secret, err := s.integ.CreateWebhook(c.Account.Name, integrations.WebhookSpec{Name: in.Body.Name, URL: in.Body.URL, Events: in.Body.Events,
				RealNames: in.Body.RealNames, Secret: in.Body.Secret})
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			return reply(webhookCreated{Webhook: h, Secret: secret})
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "deleteWebhook", Method: "DELETE", Path: "/api/v1/webhooks/{id}", Tags: tags, DefaultStatus: http.StatusNoContent,
		Summary: "Remove a webhook", Description: "With its deliveries, pending ones included. Audited.", Errors: []int{404}},
		func(_ context.Context, c *reqCtx, in *idPath) (*struct{}, error) {
			if s.integ == nil {
				return nil, none()
			}
			if err := s.integ.DeleteWebhook(c.Account.Name, in.ID); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil, apiErr(http.StatusNotFound, "no such webhook")
				}
				return nil, err
			}
			return nil, nil
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "listWebhookDeliveries", Method: "GET", Path: "/api/v1/webhooks/{id}/deliveries", Tags: tags,
		Summary: "A webhook's delivery log", Description: "Deliveries newest first: state, attempts, the last answer or error, the next try, the body sent.", Errors: []int{404}},
		func(_ context.Context, c *reqCtx, in *deliveriesIn) (*out[[]integrations.Delivery], error) {
			if s.integ == nil {
				return nil, none()
			}
			if _, ok, err := s.integ.Webhook(in.ID); err != nil || !ok {
				return nil, apiErr(http.StatusNotFound, "no such webhook")
			}
			limit := in.Limit
			if limit <= 0 {
				limit = 100
			}
			ds, err := s.integ.Deliveries(in.ID, limit)
			if err != nil {
				return nil, err
			}
			return reply(ds)
		})
	apiOp(a, account.PermConfigure, huma.Operation{OperationID: "pingWebhook", Method: "POST", Path: "/api/v1/webhooks/{id}/ping", Tags: tags, DefaultStatus: http.StatusAccepted,
		Summary: "Send a ping", Description: "Queues a signed ping event to the webhook; its delivery shows in the log.", Errors: []int{404}},
		func(_ context.Context, c *reqCtx, in *idPath) (*out[integrations.Delivery], error) {
			if s.integ == nil {
				return nil, none()
			}
			d, err := s.integ.Ping(c.Account.Name, in.ID)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil, apiErr(http.StatusNotFound, "no such webhook")
				}
				return nil, err
			}
			return reply(d)
		})
}

func deliveryState(d integrations.Delivery) string {
	switch d.State {
	case integrations.Delivered:
		return "badge ok"
	case integrations.Failed:
		return "badge bad"
	}
	return "badge warn"
}

func fmtNext(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return fmtSeconds(t)
}
