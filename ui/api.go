package ui

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"irm/account"
	"irm/engine"
)

// The JSON API under /api/v1 uses the browser session (cookie) and the same route
// table, so every call has the same role checks as the pages. State-changing calls
// need the X-CSRF-Token header (GET /api/v1/me returns it). Alerts are the engine's
// one JSON form (engine.Alert), as the viewer may see it (Alert.ForViewer).

func (s *server) viewAlert(c *reqCtx, a engine.Alert) engine.Alert {
	return a.ForViewer(s.who(c, a.User), s.scrubber(c, a.User))
}

// apiAlerts is one page of the queue: GET /api/v1/alerts?status=&severity=&policy=
// &template=&factor=&user=&from=&to=&assignee=&sort=&order=&offset=&limit=
func (s *server) apiAlerts(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	f := parseQueue(r)
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	query, err := s.alertQuery(c, f, limit)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	if off, err := strconv.Atoi(q.Get("offset")); err == nil {
		query.Offset = off
	}
	page, err := s.eng.QueryAlerts(query)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := struct {
		engine.AlertPage
		Alerts []engine.Alert `json:"alerts"`
	}{AlertPage: page, Alerts: []engine.Alert{}}
	for _, sum := range page.Alerts {
		if a, ok := s.eng.Alert(sum.ID); ok {
			out.Alerts = append(out.Alerts, s.viewAlert(c, a))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) apiAlert(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	a, ok := s.eng.Alert(r.PathValue("id"))
	if !ok || !s.mayView(c, a.User) {
		writeJSONError(w, http.StatusNotFound, "no such alert")
		return
	}
	writeJSON(w, http.StatusOK, s.viewAlert(c, a))
}

// decodeBody reads a JSON body (or, for plain forms, leaves req to the caller).
func decodeBody(w http.ResponseWriter, r *http.Request, req any) (bool, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return false, nil
	}
	return true, json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(req)
}

func (s *server) apiSetAlertStatus(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id := r.PathValue("id")
	if a, ok := s.eng.Alert(id); !ok || !s.mayView(c, a.User) {
		writeJSONError(w, http.StatusNotFound, "no such alert")
		return
	}
	var req struct{ Status, Comment string }
	if isJSON, err := decodeBody(w, r, &req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	} else if !isJSON {
		req.Status, req.Comment = r.PostFormValue("status"), r.PostFormValue("comment")
	}
	if err := s.eng.SetAlertStatus(c.Account.Name, id, req.Status, req.Comment); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	a, _ := s.eng.Alert(id)
	writeJSON(w, http.StatusOK, s.viewAlert(c, a))
}

// apiBulk dismisses or resolves up to engine.MaxBulk alerts with one reason:
// POST /api/v1/alerts/bulk {"ids":[...],"status":"dismissed","reason":"..."}.
func (s *server) apiBulk(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	var req struct {
		IDs    []string `json:"ids"`
		Status string   `json:"status"`
		Reason string   `json:"reason"`
	}
	if isJSON, err := decodeBody(w, r, &req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	} else if !isJSON {
		_ = r.ParseForm()
		req.IDs, req.Status, req.Reason = r.PostForm["id"], r.PostFormValue("status"), r.PostFormValue("reason")
	}
	for _, id := range req.IDs {
		if a, ok := s.eng.Alert(id); !ok || !s.mayView(c, a.User) {
			writeJSONError(w, http.StatusNotFound, "no such alert: "+id)
			return
		}
	}
	if err := s.eng.BulkSetStatus(c.Account.Name, req.IDs, req.Status, req.Reason); err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"changed": len(req.IDs), "status": req.Status})
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

func (s *server) apiCases(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	out := []apiCase{}
	hidden := s.hiddenFor(c)
	for _, cs := range s.eng.Cases() {
		if !hidden(cs.User) {
			out = append(out, s.viewCase(c, cs))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) apiCase(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	cs, ok := s.eng.Case(r.PathValue("id"))
	if !ok || !s.mayView(c, cs.User) {
		writeJSONError(w, http.StatusNotFound, "no such case")
		return
	}
	writeJSON(w, http.StatusOK, s.viewCase(c, cs))
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
