package ui

import (
	"net/http"
	"slices"
	"strings"

	"irm/account"
	"irm/engine"
)

// pseudonymizing reports whether the settings ask for pseudonyms. Without an engine the
// documented default (on) applies.
func (s *server) pseudonymizing() bool {
	if s.eng == nil {
		return true
	}
	return s.eng.Settings().Pseudonymize
}

// showsRealNames reports whether the viewer sees UPNs: always when pseudonymization is
// off; otherwise only a holder of account.PermRealNames who has switched real names on for the
// session (which is audited).
func (s *server) showsRealNames(c *reqCtx) bool {
	if !s.pseudonymizing() {
		return true
	}
	return c.can(account.PermRealNames) && c.Session.Reveal
}

// who returns how the viewer sees the user upn.
func (s *server) who(c *reqCtx, upn string) string {
	if upn == "" || s.showsRealNames(c) {
		return upn
	}
	return account.Pseudonym(s.pseudo, upn)
}

// setReveal switches real names on or off for the session; both are audited so that
// auditors can see who looked at whom under their real name.
func (s *server) setReveal(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	on := r.PostFormValue("reveal") == "on"
	c.Session.Reveal = on
	if err := s.db.PutSession(c.token, c.Session, s.maxAge); err != nil {
		s.serverError(w, r, c, err)
		return
	}
	activity := "Hid real names"
	if on {
		activity = "Showed real names"
	}
	s.audit(c.Account.Name, "users", activity, c.Account.Name, nil, nil, "pseudonymization overridden for this session")
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// mayView reports whether the viewer may review the user's alerts: members of a
// priority user group whose settings name viewers (account names or role groups) are
// hidden from everyone else, as Purview lets priority groups restrict their reviewers.
func (s *server) mayView(c *reqCtx, upn string) bool {
	if s.eng == nil {
		return true
	}
	for _, g := range s.eng.Settings().PriorityGroups {
		if len(g.Viewers) == 0 || !slices.Contains(g.Members, strings.ToLower(upn)) {
			continue
		}
		allowed := false
		for _, v := range g.Viewers {
			if strings.EqualFold(v, c.Account.Name) || slices.Contains(c.Account.Roles, v) {
				allowed = true
				break
			}
		}
		if !allowed {
			return false
		}
	}
	return true
}

// visible drops the alerts the viewer may not review.
func (s *server) visible(c *reqCtx, as []engine.Alert) []engine.Alert {
	out := as[:0:0]
	for _, a := range as {
		if s.mayView(c, a.User) {
			out = append(out, a)
		}
	}
	return out
}

// scrub replaces the user's UPN inside free text with what the viewer may see.
func (s *server) scrub(c *reqCtx, upn, text string) string {
	if s.showsRealNames(c) {
		return text
	}
	return account.ScrubUPN(text, upn, s.who(c, upn))
}
