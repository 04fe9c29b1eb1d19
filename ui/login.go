package ui

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"irm/store"
)

// dummyHash is checked when the account does not exist, so that a wrong name takes as
// long as a wrong password and sign-in does not reveal which names exist.
var dummyHash = sync.OnceValue(func() string {
	h, _ := store.HashPassword("irm-no-such-account")
	return h
})

func (s *server) showLogin(w http.ResponseWriter, r *http.Request, _ *reqCtx) {
	if c := s.session(w, r); c != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, "", "")
}

// renderLogin shows the sign-in form with a login CSRF token: there is no session yet,
// so the token is double-submitted (a SameSite=Strict cookie and a hidden field). An
// existing token is reused, so that a second tab or a stray request that lands on the
// sign-in page (a favicon) does not invalidate the form already on screen.
func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, name, msg string) {
	token := store.NewToken()
	if ck, err := r.Cookie(loginCSRFCookie); err == nil && len(ck.Value) >= 32 {
		token = ck.Value
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/login", HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	s.render(w, r, status, loginPage(loginView{Name: name, Error: msg, CSRF: token, Next: safeNext(r.FormValue("next"))}))
}

func (s *server) signIn(w http.ResponseWriter, r *http.Request, _ *reqCtx) {
	ck, err := r.Cookie(loginCSRFCookie)
	form := r.PostFormValue(csrfField)
	if !sameOrigin(r) || err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		s.forbidden(w, r, nil, "The sign-in form has expired or did not come from this site. Reload it and try again.")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	pw := r.PostFormValue("password")
	ip := clientIP(r)
	now := s.now()
	if locked, until := s.throttle.locked(name, ip, now); locked {
		s.audit(name, "signin", "Sign-in refused: too many failures", name, nil, nil, "from "+ip)
		wait := until.Sub(now).Round(time.Second)
		s.renderLogin(w, r, http.StatusTooManyRequests, name, fmt.Sprintf("Too many failed sign-ins. Try again in %s.", wait))
		return
	}
	acct, ok, err := s.db.Account(name)
	if err != nil {
		s.serverError(w, r, nil, err)
		return
	}
	hash := dummyHash()
	if ok {
		hash = acct.Hash
	}
	if !store.CheckPassword(hash, pw) || !ok || acct.Disabled {
		s.throttle.fail(name, ip, now)
		reason := "wrong password"
		switch {
		case !ok:
			reason = "no such account"
		case acct.Disabled && store.CheckPassword(hash, pw):
			reason = "account disabled"
		}
		s.audit(name, "signin", "Sign-in failed", name, nil, nil, reason+"; from "+ip)
		s.renderLogin(w, r, http.StatusUnauthorized, name, "Wrong name or password, or the account is disabled.")
		return
	}
	s.throttle.succeed(name, ip)
	if err := s.startSession(w, r, acct); err != nil {
		s.serverError(w, r, nil, err)
		return
	}
	if _, _, err := s.db.UpdateAccount(acct.Name, func(a *store.Account) error { a.LastSignIn = now.UTC(); return nil }); err != nil {
		s.log.Error("ui: last sign-in", "user", acct.Name, "err", err)
	}
	s.clearCookie(w, loginCSRFCookie)
	s.audit(acct.Name, "signin", "Signed in", acct.Name, nil, nil, "from "+ip)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// safeNext keeps a post-sign-in redirect on this site.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

func (s *server) showLogout(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.render(w, r, http.StatusOK, logoutPage(s.page(r, c, "Sign out")))
}

func (s *server) signOut(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.db.DeleteSession(c.token); err != nil {
		s.log.Error("ui: sign out", "err", err)
	}
	s.clearCookie(w, sessionCookie)
	s.audit(c.Account.Name, "signin", "Signed out", c.Account.Name, nil, nil, "")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
