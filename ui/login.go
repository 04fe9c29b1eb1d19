package ui

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"irm/account"
	"irm/store"
)

// Limits on what an anonymous client can send to the sign-in routes (docs/ui.md,
// "Signing in"). They apply before anything is checked, stored or audited.
const (
	maxLoginBody = 16 << 10 // bytes of the whole sign-in form
	maxNameField = 64       // bytes of the sign-in name: the longest account name
	maxNextLen   = 2048     // bytes of the page to return to after sign-in
	hashWait     = 10 * time.Second
)

// Sign-in refusal reasons, as the audit log records them.
const (
	reasonWrongPassword = "wrong password"
	reasonNoAccount     = "no such account"
	reasonDisabled      = "account disabled"
	reasonLocked        = "locked out after too many failures"
	reasonTooLong       = "password longer than 1024 bytes"
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
	if ck, err := r.Cookie(loginCSRFCookie); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 64 {
		token = ck.Value
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: loginCookiePath, HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	s.render(w, r, status, loginPage(loginView{Name: name, Error: msg, CSRF: token, Next: safeNext(r.FormValue("next"))}))
}

// loginCookiePath is where the login CSRF cookie lives, and so where it must be cleared.
const loginCookiePath = "/login"

func (s *server) signIn(w http.ResponseWriter, r *http.Request, _ *reqCtx) {
	ip := clientIP(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		s.refusals.record("", ip, "sign-in form too large or malformed")
		w.Header().Set("Connection", "close")
		http.Error(w, "The sign-in form is too large or malformed.", status)
		return
	}
	ck, err := r.Cookie(loginCSRFCookie)
	form := r.PostFormValue(csrfField)
	if s.origin.Check(r) != nil || err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		s.forbidden(w, r, nil, "The sign-in form has expired or did not come from this site. Reload it and try again.")
		return
	}
	rawName := strings.TrimSpace(r.PostFormValue("name"))
	name := cutName(rawName)
	pw := r.PostFormValue("password")
	now := s.now()
	if locked, until := s.throttle.locked(name, ip, now); locked {
		s.refusals.record(name, ip, reasonLocked)
		wait := until.Sub(now).Round(time.Second)
		s.renderLogin(w, r, http.StatusTooManyRequests, name, fmt.Sprintf("Too many failed sign-ins. Try again in %s.", wait))
		return
	}
	var acct store.Account
	ok := false
	if len(rawName) <= maxNameField {
		if acct, ok, err = s.db.Account(name); err != nil {
			s.serverError(w, r, nil, err)
			return
		}
	}
	hash := dummyHash()
	if ok {
		hash = acct.Hash
	}
	good := false
	if len(pw) <= account.MaxPasswordBytes {
		// argon2 takes 19 MiB and most of a core per check: a few at a time, so a
		// flood of sign-ins queues instead of exhausting memory.
		select {
		case s.hashing <- struct{}{}:
		case <-time.After(hashWait):
			http.Error(w, "The server is busy; try again in a moment.", http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			return
		}
		good = store.CheckPassword(hash, pw)
		<-s.hashing
	}
	if !good || !ok || acct.Disabled {
		s.throttle.fail(name, ip, now)
		reason := reasonWrongPassword
		switch {
		case len(pw) > account.MaxPasswordBytes:
			reason = reasonTooLong
		case !ok:
			reason = reasonNoAccount
		case acct.Disabled && good:
			reason = reasonDisabled
		}
		s.refusals.record(name, ip, reason)
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
	s.clearCookie(w, loginCSRFCookie, loginCookiePath)
	s.audit(acct.Name, "signin", "Signed in", acct.Name, nil, nil, "from "+ip)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// cutName bounds a sign-in name before it is looked up, throttled, shown or audited:
// no account name is longer than maxNameField bytes, so a longer one cannot sign in and
// only its start (and its length) is kept.
func cutName(name string) string {
	if len(name) <= maxNameField {
		return strings.ToValidUTF8(name, "\uFFFD")
	}
	cut := maxNameField
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strings.ToValidUTF8(name[:cut], "\uFFFD") + fmt.Sprintf("…(%d bytes)", len(name))
}

// safeNext keeps a post-sign-in redirect on this site: only a path on this origin, such
// as "/alerts?status=x", is followed; anything else goes to "/". Browsers ignore tabs
// and newlines in a Location, treat a backslash as a slash and follow "//host" to
// another site, so every such form is refused, also when percent-encoded (even twice).
func safeNext(next string) string {
	if next == "" || len(next) > maxNextLen || next[0] != '/' {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	forms := []string{next}
	for s, i := next, 0; i < 3; i++ {
		d, err := url.PathUnescape(s)
		if err != nil {
			return "/"
		}
		if d == s {
			break
		}
		forms, s = append(forms, d), d
	}
	for _, f := range forms {
		path := f
		if i := strings.IndexAny(path, "?#"); i >= 0 {
			path = path[:i]
		}
		if !strings.HasPrefix(f, "/") || strings.HasPrefix(f, "//") || strings.Contains(path, "//") {
			return "/"
		}
		for _, c := range f {
			if c < 0x20 || c == 0x7f || c == '\\' || (c >= 0x80 && c <= 0x9f) {
				return "/"
			}
		}
		for _, seg := range strings.Split(path, "/") {
			if seg == "." || seg == ".." {
				return "/"
			}
		}
	}
	if u.Path == "/login" || strings.HasPrefix(u.Path, "/login/") || u.Path == "/logout" {
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
	s.clearCookie(w, sessionCookie, "/")
	s.audit(c.Account.Name, "signin", "Signed out", c.Account.Name, nil, nil, "")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
