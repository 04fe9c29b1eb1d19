package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"irm/account"
	"irm/store"
)

// Bearer tokens on the API. A request to /api/ with "Authorization: Bearer irm_…" is
// the token's, whatever cookies it carries: it acts with the token's role groups as a
// session of those roles would, and needs no CSRF token (a browser cannot be made to
// send that header to another site: there is no CORS). A token that is unknown,
// revoked or expired gets 401; refusals go to the audit log through the same
// collapsing log as refused sign-ins, and an address that keeps presenting bad tokens
// is locked out like one guessing passwords.

const (
	tokenActorPrefix = "token:"
	unknownToken     = "(unknown token)"
)

// bearer returns the token of the Authorization header, and whether the header asks
// for bearer authentication at all.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// tokenSession authenticates a bearer token; nil means the answer (401 or 429) is
// written.
func (s *server) tokenSession(w http.ResponseWriter, r *http.Request, secret string) *reqCtx {
	now := s.now()
	ip := clientIP(r)
	if locked, until := s.throttle.locked("\x00token", ip, now); locked {
		w.Header().Set("Retry-After", fmt.Sprint(int(until.Sub(now).Seconds())+1))
		writeJSONError(w, http.StatusTooManyRequests, "too many refused tokens from this address; try again later")
		return nil
	}
	t, reason, err := account.CheckToken(s.db, secret, now)
	if err != nil {
		s.log.Error("ui: token lookup", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return nil
	}
	if reason != "" {
		s.throttle.fail("\x00token", ip, now)
		name := t.Name
		if name == "" {
			name = unknownToken
		} else {
			name = tokenActorPrefix + name
		}
		s.refusals.record(name, ip, reason)
		writeJSONError(w, http.StatusUnauthorized, "the bearer token is not valid: "+reason)
		return nil
	}
	if now.Sub(t.LastUsed) > touchGranularity {
		if err := s.db.TouchToken(secret, now); err != nil {
			s.log.Error("ui: token touch", "err", err)
		}
	}
	return &reqCtx{Account: store.Account{Name: tokenActorPrefix + t.Name, Roles: t.Roles}, Session: store.Session{Reveal: t.RealNames}, viaToken: true}
}

// ---- /api/v1/tokens ----

type tokenCreateIn struct {
	Body struct {
		Name      string   `json:"name" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9._@-]+$"`
		Roles     []string `json:"roles" minItems:"1" doc:"Role groups: insider_risk_management, admin, analyst, investigator, auditor, security_engineer."`
		Expires   string   `json:"expires,omitempty" maxLength:"32" doc:"Lifetime: days (90d), a duration (36h), a date (2027-01-31) or never (default)."`
		RealNames bool     `json:"real_names,omitempty" doc:"Let the token see real user names (only for roles that may reveal them; audited)."`
	}
}

type tokenCreated struct {
	store.APIToken
	Token string `json:"token" doc:"The secret: shown this once, never stored."`
}

func (a *api) tokens() {
	s := a.s
	tags := []string{"tokens"}
	apiOp(a, account.PermAccounts, huma.Operation{OperationID: "listTokens", Method: "GET", Path: "/api/v1/tokens", Tags: tags, Summary: "List API tokens",
		Description: "Names, role groups, expiry and last use; never the secrets."},
		func(_ context.Context, c *reqCtx, _ *struct{}) (*out[[]store.APIToken], error) {
			toks, err := s.db.Tokens()
			if err != nil {
				return nil, err
			}
			if toks == nil {
				toks = []store.APIToken{}
			}
			return reply(toks)
		})
	apiOp(a, account.PermAccounts, huma.Operation{OperationID: "createToken", Method: "POST", Path: "/api/v1/tokens", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Create an API token", Description: "Returns the secret once; only its SHA-256 is stored. Audited.", Errors: []int{400}},
		func(_ context.Context, c *reqCtx, in *tokenCreateIn) (*out[tokenCreated], error) {
			now := s.now()
			exp, err := account.ParseExpiry(in.Body.Expires, now)
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			roles, err := account.ParseRoles(strings.ToLower(strings.Join(in.Body.Roles, ",")))
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			secret, t, err := account.CreateToken(s.db, c.Account.Name, account.TokenSpec{Name: in.Body.Name, Roles: roles, Expires: exp, RealNames: in.Body.RealNames}, now)
			if err != nil {
				return nil, apiErr(http.StatusBadRequest, err.Error())
			}
			return reply(tokenCreated{APIToken: t, Token: secret})
		})
	apiOp(a, account.PermAccounts, huma.Operation{OperationID: "revokeToken", Method: "DELETE", Path: "/api/v1/tokens/{name}", Tags: tags, DefaultStatus: http.StatusNoContent,
		Summary: "Revoke an API token", Description: "It stops working at once. Audited.", Errors: []int{404}},
		func(_ context.Context, c *reqCtx, in *nameIn) (*struct{}, error) {
			if err := account.RevokeToken(s.db, c.Account.Name, in.Name); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil, apiErr(http.StatusNotFound, "no such token")
				}
				return nil, err
			}
			return nil, nil
		})
}
