package ui

import (
	"net/http"
	"slices"
	"strings"

	"irm/engine"
)

// Pseudonym returns the stable pseudonym of a UPN under key: "Anon-" and six upper-case
// hex digits of HMAC-SHA256(key, lower-cased UPN). Keyed, so nobody without the database
// can map a pseudonym back by hashing guessed UPNs.
func Pseudonym(key []byte, upn string) string { return engine.PseudonymOf(key, upn) }

// pseudonymizing reports whether the settings ask for pseudonyms. Without an engine the
// documented default (on) applies.
func (s *server) pseudonymizing() bool {
	if s.eng == nil {
		return true
	}
	return s.eng.Settings().Pseudonymize
}

// showsRealNames reports whether the viewer sees UPNs: always when pseudonymization is
// off; otherwise only a holder of PermRealNames who has switched real names on for the
// session (which is audited).
func (s *server) showsRealNames(c *reqCtx) bool {
	if !s.pseudonymizing() {
		return true
	}
	return c.can(PermRealNames) && c.Session.Reveal
}

// who returns how the viewer sees the user upn.
func (s *server) who(c *reqCtx, upn string) string {
	if upn == "" || s.showsRealNames(c) {
		return upn
	}
	return Pseudonym(s.pseudo, upn)
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

// scrub replaces the user's UPN inside free text (an object path, a URL, a recipient,
// the raw record) with what the viewer may see. OneDrive paths spell the UPN with
// underscores (alice_contoso_com), so that form is replaced too. Other people's names
// in the text are not recognised; docs/ui.md says so.
func (s *server) scrub(c *reqCtx, upn, text string) string {
	if upn == "" || text == "" || s.showsRealNames(c) {
		return text
	}
	anon := s.who(c, upn)
	under := strings.NewReplacer("@", "_", ".", "_").Replace(upn)
	for _, v := range []string{upn, under} {
		text = replaceFold(text, v, anon)
	}
	return text
}

// replaceFold replaces every case-insensitive occurrence of old (ASCII) in s.
func replaceFold(s, old, repl string) string {
	if old == "" {
		return s
	}
	lower, lold := strings.ToLower(s), strings.ToLower(old)
	if len(lower) != len(s) { // non-ASCII case folding changed lengths: exact match only
		return strings.ReplaceAll(s, old, repl)
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, lold)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, lower = s[i+len(old):], lower[i+len(old):]
	}
}
