package ui

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"irm/account"
	"irm/store"
)

const (
	sessionCookie    = "irm_session"
	loginCSRFCookie  = "irm_login"
	csrfField        = "csrf"
	csrfHeader       = "X-CSRF-Token"
	touchGranularity = time.Minute // LastSeen is rewritten at most this often
)

// reqCtx is the signed-in user of a request.
type reqCtx struct {
	Account store.Account
	Session store.Session
	token   string

	// viaToken: the request came with an API bearer token (apiauth.go), not a session.
	viaToken bool

	// Per-request caches of the privacy decisions (privacy.go).
	real      *bool
	hidden    func(upn string) bool
	scrubbers map[string]func(string) string
}

func (c *reqCtx) can(p account.Perm) bool {
	return c != nil && !c.Account.Disabled && account.Can(c.Account.Roles, p)
}

// guard wraps a route's handler with the checks its table entry asks for: a live
// session, a valid CSRF token and same origin on state-changing requests, and the
// permission. It is the only place where access is decided.
func (s *server) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if rt.Perm == "" {
			rt.h(w, r, nil)
			return
		}
		var c *reqCtx
		if secret, ok := bearer(r); ok && isAPI(r) {
			if c = s.tokenSession(w, r, secret); c == nil {
				return
			}
		} else {
			c = s.session(w, r)
		}
		if c == nil {
			if isAPI(r) {
				writeJSONError(w, http.StatusUnauthorized, "sign in first")
				return
			}
			next := "/"
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if !safeMethod(r.Method) && !c.viaToken {
			if s.origin.Check(r) != nil || !validCSRF(r, c.Session.CSRF) {
				s.log.Warn("ui: refused cross-site or token-less request", "user", c.Account.Name, "method", r.Method, "path", r.URL.Path)
				s.forbidden(w, r, c, "The form has expired or did not come from this site. Reload the page and try again.")
				return
			}
		}
		if !c.can(rt.Perm) {
			if c.viaToken {
				s.refusals.record(c.Account.Name, clientIP(r), "no permission "+string(rt.Perm)+" for "+rt.Method+" "+rt.Path)
			}
			s.forbidden(w, r, c, "Your role groups do not allow this page.")
			return
		}
		rt.h(w, r, c)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// session returns the live session of the request, or nil. Expired sessions and
// sessions of disabled or deleted accounts are removed.
func (s *server) session(w http.ResponseWriter, r *http.Request) *reqCtx {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	sess, ok, err := s.db.Session(ck.Value)
	if err != nil {
		s.log.Error("ui: session lookup", "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	now := s.now()
	if now.Sub(sess.LastSeen) > s.idle || now.Sub(sess.Created) > s.maxAge {
		s.db.DeleteSession(ck.Value)
		s.clearCookie(w, sessionCookie, "/")
		return nil
	}
	acct, ok, err := s.db.Account(sess.User)
	if err != nil || !ok || acct.Disabled {
		s.db.DeleteSession(ck.Value)
		s.clearCookie(w, sessionCookie, "/")
		return nil
	}
	if now.Sub(sess.LastSeen) > touchGranularity {
		sess.LastSeen = now
		if err := s.db.PutSession(ck.Value, sess, s.maxAge); err != nil {
			s.log.Error("ui: session touch", "err", err)
		}
	}
	return &reqCtx{Account: acct, Session: sess, token: ck.Value}
}

// startSession signs acct in: a fresh token (so a planted cookie is worthless), a fresh
// CSRF token, and the cookie.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, acct store.Account) error {
	token := store.NewToken()
	now := s.now()
	sess := store.Session{User: acct.Name, Created: now, LastSeen: now, CSRF: store.NewToken(), IP: clientIP(r)}
	if err := s.db.PutSession(token, sess, s.maxAge); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.maxAge / time.Second),
	})
	return nil
}

// clearCookie removes a cookie. path must be the path it was set with: a browser keeps
// cookies per (name, path), and a deletion for another path leaves the original in place.
func (s *server) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// validCSRF compares the synchronizer token of the session with the one the form (or,
// for scripts, the X-CSRF-Token header) sent back.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
