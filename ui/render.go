package ui

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/a-h/templ"

	"irm/account"
)

// pageCtx is what the layout needs about the viewer and the page.
type pageCtx struct {
	Title     string
	Path      string
	User      string
	Roles     []string
	CSRF      string
	Nav       []navItem
	Flash     string
	CanReveal bool // holds account.PermRealNames and pseudonymization is on
	Revealed  bool
	// Refresh, if > 0, reloads the page after that many seconds when JavaScript is off
	// (a page that shows a job's progress).
	Refresh int
}

type navItem struct {
	Href, Label string
	Active      bool
}

// nav lists the pages in the order of the left column; each shows only to roles that
// may open it, so the menu is the viewer's own site map.
var nav = []struct {
	Href, Label string
	Perm        account.Perm
}{
	{"/", "Overview", account.PermSignedIn},
	{"/alerts", "Alerts", account.PermAlerts},
	{"/cases", "Cases", account.PermAlerts},
	{"/notices", "Notice templates", account.PermRawContent},
	{"/analytics", "Analytics", account.PermConfigure},
	{"/policies", "Policies", account.PermConfigure},
	{"/settings", "Settings", account.PermConfigure},
	{"/connectors", "Connectors", account.PermConnectors},
	{"/webhooks", "Webhooks", account.PermConfigure},
	{"/admin/users", "Accounts", account.PermAccounts},
	{"/rules", "Rules", account.PermRules},
	{"/audit", "Audit log", account.PermAudit},
}

func (s *server) page(r *http.Request, c *reqCtx, title string) pageCtx {
	p := pageCtx{Title: title, Path: r.URL.Path}
	if c == nil {
		return p
	}
	p.Flash = s.takeFlash(c)
	p.User, p.Roles, p.CSRF = c.Account.Name, c.Account.Roles, c.Session.CSRF
	for _, n := range nav {
		if c.can(n.Perm) {
			active := r.URL.Path == n.Href || (n.Href != "/" && len(r.URL.Path) > len(n.Href) && r.URL.Path[:len(n.Href)+1] == n.Href+"/")
			p.Nav = append(p.Nav, navItem{Href: n.Href, Label: n.Label, Active: active})
		}
	}
	p.CanReveal = s.pseudonymizing() && c.can(account.PermRealNames)
	p.Revealed = p.CanReveal && c.Session.Reveal
	return p
}

// render writes a component with status. It renders into a buffer first so that a
// failing template gives a clean 500 instead of half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, comp templ.Component) {
	var buf bytes.Buffer
	if err := comp.Render(r.Context(), &buf); err != nil {
		s.log.Error("ui: render", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *server) forbidden(w http.ResponseWriter, r *http.Request, c *reqCtx, msg string) {
	if isAPI(r) {
		writeJSONError(w, http.StatusForbidden, msg)
		return
	}
	s.render(w, r, http.StatusForbidden, errorPage(s.page(r, c, "Forbidden"), http.StatusForbidden, msg))
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	c := s.session(w, r)
	if c == nil && !isAPI(r) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if isAPI(r) {
		writeJSONError(w, http.StatusNotFound, "not found")
		return
	}
	s.render(w, r, http.StatusNotFound, errorPage(s.page(r, c, "Not found"), http.StatusNotFound, "There is no such page."))
}

func (s *server) serverError(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	s.log.Error("ui: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	if isAPI(r) {
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.render(w, r, http.StatusInternalServerError, errorPage(s.page(r, c, "Error"), http.StatusInternalServerError, "Something went wrong; the error is in the server log."))
}

// badRequest re-shows a page's problem to the user (validation errors are theirs to fix).
func (s *server) badRequest(w http.ResponseWriter, r *http.Request, c *reqCtx, msg string) {
	if isAPI(r) {
		writeJSONError(w, http.StatusBadRequest, msg)
		return
	}
	s.render(w, r, http.StatusBadRequest, errorPage(s.page(r, c, "Cannot do that"), http.StatusBadRequest, msg))
}

// writeJSON answers with v as JSON. The answer is valid UTF-8 even when v carries raw
// feed bytes that are not (json.RawMessage is copied verbatim): invalid bytes become
// U+FFFD, as the stored event's own fields already are.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(bytes.ToValidUTF8(append(b, '\n'), []byte("\uFFFD")))
}

// redirectFlash sends the browser to path with a message for the next page. The
// message is kept in the server-side session, never in the URL, so nobody can make the
// banner say something of their choosing with a link.
func (s *server) redirectFlash(w http.ResponseWriter, r *http.Request, c *reqCtx, path, msg string) {
	if c != nil {
		c.Session.Flash = msg
		if err := s.db.PutSession(c.token, c.Session, s.maxAge); err != nil {
			s.log.Error("ui: flash", "err", err)
		}
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// takeFlash returns the session's pending message and clears it, so it shows once.
func (s *server) takeFlash(c *reqCtx) string {
	msg := c.Session.Flash
	if msg == "" {
		return ""
	}
	c.Session.Flash = ""
	if err := s.db.PutSession(c.token, c.Session, s.maxAge); err != nil {
		s.log.Error("ui: flash", "err", err)
	}
	return msg
}

// writeJSONError is an API error outside a huma operation (the guard's 401 and 403,
// unknown routes): the same {"error", "code"} form as api.go's.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": errorCode(status)})
}

// audit appends to the audit log. A failure to audit is logged loudly: the change has
// already happened, and hiding it would be worse.
func (s *server) audit(actor, category, activity, target string, before, after any, details string) {
	if _, err := s.db.Audit(actor, category, activity, target, before, after, details); err != nil {
		s.log.Error("ui: audit append failed", "actor", actor, "activity", activity, "err", err)
	}
}
