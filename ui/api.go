package ui

import (
	"encoding/json"
	"net/http"
	"strings"

	"irm/account"
	"irm/engine"
)

// The JSON API under /api/v1 uses the browser session (cookie) and the same route
// table, so every call has the same role checks as the pages. State-changing calls
// need the X-CSRF-Token header (GET /api/v1/me returns it).

// apiAlert is an alert as the API returns it: the user is shown as the viewer may see
// it (a pseudonym unless real names are allowed and switched on).
type apiAlert struct {
	engine.Alert
	User         string `json:"user"`
	Pseudonymous bool   `json:"pseudonymous"`
}

func (s *server) apiView(c *reqCtx, a engine.Alert) apiAlert {
	who := s.who(c, a.User)
	return apiAlert{Alert: a, User: who, Pseudonymous: who != a.User}
}

func (s *server) apiAlerts(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.eng == nil {
		writeJSONError(w, http.StatusServiceUnavailable, "engine unavailable")
		return
	}
	q := r.URL.Query()
	out := []apiAlert{}
	for _, a := range s.visible(c, s.eng.Alerts(engine.AlertFilter{Status: q.Get("status"), Severity: q.Get("severity"), Policy: q.Get("policy")})) {
		out = append(out, s.apiView(c, a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) apiAlert(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.eng == nil {
		writeJSONError(w, http.StatusServiceUnavailable, "engine unavailable")
		return
	}
	a, ok := s.eng.Alert(r.PathValue("id"))
	if !ok || !s.mayView(c, a.User) {
		writeJSONError(w, http.StatusNotFound, "no such alert")
		return
	}
	writeJSON(w, http.StatusOK, s.apiView(c, a))
}

func (s *server) apiSetAlertStatus(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.eng == nil {
		writeJSONError(w, http.StatusServiceUnavailable, "engine unavailable")
		return
	}
	id := r.PathValue("id")
	if a, ok := s.eng.Alert(id); !ok || !s.mayView(c, a.User) {
		writeJSONError(w, http.StatusNotFound, "no such alert")
		return
	}
	var req struct{ Status, Comment string }
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			writeJSONError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
	} else {
		req.Status, req.Comment = r.PostFormValue("status"), r.PostFormValue("comment")
	}
	if err := s.eng.SetAlertStatus(c.Account.Name, id, req.Status, req.Comment); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	a, _ := s.eng.Alert(id)
	writeJSON(w, http.StatusOK, s.apiView(c, a))
}

func (s *server) apiMe(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	var perms []account.Perm
	for _, p := range account.AllPerms {
		if c.can(p) {
			perms = append(perms, p)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": c.Account.Name, "roles": c.Account.Roles, "permissions": perms, "csrf_token": c.Session.CSRF,
	})
}
