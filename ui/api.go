package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"irm/account"
	"irm/engine"
)

// The REST API under /api/v1. Its operations are declared with huma
// (github.com/danielgtaylor/huma/v2): each names its input and output Go types, from
// which huma validates requests and writes the OpenAPI 3.1 document served at
// /api/v1/openapi.json, so the document cannot drift from the handlers. Every operation
// also names the permission it needs (apiOp), and goes into the same route table and
// the same guard as the pages: a browser session (cookie, with X-CSRF-Token on
// state-changing calls) or a bearer token (apiauth.go) gets exactly the access and the
// pseudonyms its role groups give. Errors are {"error": message, "code": stable code}.

// APIVersion is the version of the API's contract in the OpenAPI document.
const APIVersion = "1.0.0"

// apiError is every error answer of the API.
type apiError struct {
	status  int
	Message string `json:"error" doc:"What went wrong, for a person."`
	Code    string `json:"code" doc:"Stable machine-readable code." enum:"bad_request,unauthorized,forbidden,not_found,conflict,too_large,too_many_requests,internal,unavailable"`
}

func (e *apiError) Error() string  { return e.Message }
func (e *apiError) GetStatus() int { return e.status }

// errorCode is the stable code of a status.
func errorCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	if status >= 500 {
		return "internal"
	}
	return "bad_request"
}

func apiErr(status int, msg string) error {
	return &apiError{status: status, Message: msg, Code: errorCode(status)}
}

func init() {
	// huma builds its own errors (validation, unreadable bodies) through NewError; they
	// take this API's one error form. 422 becomes 400: for a client, a request huma
	// cannot validate is as bad as one the engine refuses.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		var details []string
		for _, e := range errs {
			if e != nil {
				details = append(details, e.Error())
			}
		}
		if len(details) > 0 {
			msg += ": " + strings.Join(details, "; ")
		}
		return &apiError{status: status, Message: msg, Code: errorCode(status)}
	}
}

// jsonFormat writes indented JSON that escapes <, > and & (a browser sniffing an
// answer finds no markup) and is valid UTF-8 even when a raw feed record is not.
var jsonFormat = huma.Format{
	Marshal: func(w io.Writer, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(bytes.ToValidUTF8(append(b, '\n'), []byte("\uFFFD")))
		return err
	},
	Unmarshal: json.Unmarshal,
}

type reqCtxKey struct{}

// apiMux lets huma register its operations into the UI's route table, so that each
// goes through guard with the permission apiOp gave it.
type apiMux struct {
	s    *server
	perm *account.Perm
}

func (m apiMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	method, path, _ := strings.Cut(pattern, " ")
	m.s.routes = append(m.s.routes, route{Method: method, Path: path, Perm: *m.perm,
		h: func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
			h(w, r.WithContext(context.WithValue(r.Context(), reqCtxKey{}, c)))
		}})
}

func (m apiMux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.s.mux.ServeHTTP(w, r) }

// api is the REST API being declared.
type api struct {
	s    *server
	h    huma.API
	perm account.Perm
}

// newAPI declares every operation; their routes join s.routes.
func (s *server) newAPI() huma.API {
	cfg := huma.DefaultConfig("irm API", APIVersion)
	cfg.OpenAPIPath, cfg.DocsPath, cfg.SchemasPath = "", "", ""
	cfg.CreateHooks = nil // no $schema links in answers
	cfg.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	cfg.Info.Description = "The REST API of irm, the on-prem insider risk management appliance. " +
		"Authenticate with a bearer token (`irm token create -name N -role R`) or a browser session. " +
		"Each operation needs the permission named in `x-irm-permission`; the role groups that grant it are in docs/ui.md. " +
		"Users are shown as pseudonyms (Anon-XXXXXX) unless the caller may and chose to see real names. " +
		"Errors are `{\"error\": message, \"code\": stable code}`."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API token from `irm token create` or the Accounts page."},
		"session": {Type: "apiKey", In: "cookie", Name: sessionCookie,
			Description: "A browser session; state-changing calls also need the X-CSRF-Token header (GET /api/v1/me gives it)."},
	}
	a := &api{s: s}
	a.h = humago.New(apiMux{s: s, perm: &a.perm}, cfg)
	a.me()
	a.alerts()
	a.cases()
	a.users()
	a.configuration()
	a.auditLog()
	a.rules()
	a.tokens()
	a.webhooks()
	a.analytics()
	// huma documents its validation errors as 422; this API answers them 400.
	for _, pi := range a.h.OpenAPI().Paths {
		for _, op := range []*huma.Operation{pi.Get, pi.Put, pi.Post, pi.Delete, pi.Patch} {
			if op == nil {
				continue
			}
			if r, ok := op.Responses["422"]; ok {
				if _, has := op.Responses["400"]; !has {
					r.Description = http.StatusText(http.StatusBadRequest)
					op.Responses["400"] = r
				}
				delete(op.Responses, "422")
			}
		}
	}
	s.routes = append(s.routes, route{Method: "GET", Path: "/api/v1/openapi.json", h: s.openAPIDoc})
	return a.h
}

// apiOp declares one operation that needs perm; h gets the caller.
func apiOp[I, O any](a *api, perm account.Perm, op huma.Operation, h func(ctx context.Context, c *reqCtx, in *I) (*O, error)) {
	op.Security = []map[string][]string{{"bearer": {}}, {"session": {}}}
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions["x-irm-permission"] = string(perm)
	var roles []string
	for _, r := range account.Roles {
		if account.Can([]string{r}, perm) {
			roles = append(roles, r)
		}
	}
	op.Description = strings.TrimSpace(op.Description + "\n\nNeeds the permission `" + string(perm) + "` (role groups: " + strings.Join(roles, ", ") + ").")
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = 1 << 16
	}
	a.perm = perm
	huma.Register(a.h, op, func(ctx context.Context, in *I) (*O, error) {
		c, _ := ctx.Value(reqCtxKey{}).(*reqCtx)
		if c == nil {
			return nil, apiErr(http.StatusUnauthorized, "sign in or send a bearer token")
		}
		return h(ctx, c, in)
	})
}

// openAPIDoc serves the OpenAPI 3.1 document (public: it describes, it holds no data).
func (s *server) openAPIDoc(w http.ResponseWriter, r *http.Request, _ *reqCtx) {
	b, err := json.MarshalIndent(s.api.OpenAPI(), "", "  ")
	if err != nil {
		s.serverError(w, r, nil, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(append(b, '\n'))
}

// out is an answer with a JSON body.
type out[T any] struct {
	Body T
}

func reply[T any](v T) (*out[T], error) { return &out[T]{Body: v}, nil }

// ---- me ----

type meBody struct {
	Name        string         `json:"name" doc:"The account, or token:NAME for an API token."`
	Roles       []string       `json:"roles"`
	Permissions []account.Perm `json:"permissions"`
	CSRFToken   string         `json:"csrf_token,omitempty" doc:"For browser sessions: send it as X-CSRF-Token on state-changing calls."`
	RealNames   bool           `json:"real_names" doc:"Whether this caller sees real user names."`
}

func (a *api) me() {
	apiOp(a, account.PermSignedIn, huma.Operation{OperationID: "getMe", Method: "GET", Path: "/api/v1/me", Tags: []string{"me"},
		Summary: "Who the caller is", Description: "The account or token, its role groups and permissions."},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[meBody], error) {
			perms := []account.Perm{}
			for _, p := range account.AllPerms {
				if c.can(p) {
					perms = append(perms, p)
				}
			}
			return reply(meBody{Name: c.Account.Name, Roles: c.Account.Roles, Permissions: perms, CSRFToken: c.Session.CSRF,
				RealNames: a.s.showsRealNames(c)})
		})
}

// viewAlert is the alert as the caller may see it (pseudonyms, names in free text
// replaced).
func (s *server) viewAlert(c *reqCtx, a engine.Alert) engine.Alert {
	return a.ForViewer(s.who(c, a.User), s.scrubber(c, a.User))
}

// apiCase is a case as the viewer may see it.
type apiCase struct {
	engine.Case
	Pseudonymous bool `json:"pseudonymous,omitempty"`
}

func (s *server) viewCase(c *reqCtx, cs engine.Case) apiCase {
	who := s.who(c, cs.User)
	if who == cs.User {
		return apiCase{Case: cs}
	}
	scrub := s.scrubber(c, cs.User)
	cs.User, cs.Name, cs.ActionTaken = who, scrub(cs.Name), scrub(cs.ActionTaken)
	for i := range cs.Notes {
		cs.Notes[i].Text = scrub(cs.Notes[i].Text)
	}
	for i := range cs.Notices {
		n := &cs.Notices[i]
		n.To, n.Subject, n.Body = scrub(n.To), scrub(n.Subject), scrub(n.Body)
	}
	return apiCase{Case: cs, Pseudonymous: true}
}

// engineErr turns an engine refusal into a 400 (or 404 for what does not exist).
func engineErr(err error) error {
	var se huma.StatusError
	if errors.As(err, &se) {
		return err
	}
	if strings.Contains(err.Error(), "not found") {
		return apiErr(http.StatusNotFound, err.Error())
	}
	return apiErr(http.StatusBadRequest, err.Error())
}
