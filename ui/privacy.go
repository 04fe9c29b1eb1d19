package ui

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"irm/account"
	"irm/engine"
)

// pseudonymizing reports whether the settings ask for pseudonyms.
func (s *server) pseudonymizing() bool { return s.eng.Pseudonymize() }

// showsRealNames reports whether the viewer sees UPNs: always when pseudonymization is
// off; otherwise only a holder of account.PermRealNames who has switched real names on for the
// session (which is audited).
func (s *server) showsRealNames(c *reqCtx) bool {
	if c.real == nil {
		v := !s.pseudonymizing() || (c.can(account.PermRealNames) && c.Session.Reveal)
		c.real = &v
	}
	return *c.real
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
func (s *server) mayView(c *reqCtx, upn string) bool { return !s.hiddenFor(c)(upn) }

// hiddenFor returns the test of which users the viewer may not review.
func (s *server) hiddenFor(c *reqCtx) func(upn string) bool {
	if c.hidden != nil {
		return c.hidden
	}
	var closed []engine.PriorityGroup
	for _, g := range s.eng.RestrictedGroups() {
		allowed := false
		for _, v := range g.Viewers {
			if strings.EqualFold(v, c.Account.Name) || slices.Contains(c.Account.Roles, v) {
				allowed = true
				break
			}
		}
		if !allowed {
			closed = append(closed, g)
		}
	}
	c.hidden = func(upn string) bool {
		upn = strings.ToLower(upn)
		for _, g := range closed {
			if slices.Contains(g.Members, upn) {
				return true
			}
		}
		return false
	}
	return c.hidden
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

// scrub replaces the user's names inside free text with what the viewer may see.
func (s *server) scrub(c *reqCtx, upn, text string) string { return s.scrubber(c, upn)(text) }

// scrubber returns the function that hides names in free text about the user upn (an
// event's paths, URLs, recipients, raw record; case names and notes) from a viewer who
// sees pseudonyms:
//
//   - every address in the organisation's domains (the user's, a colleague's, the
//     manager's) becomes that person's pseudonym, and so does OneDrive's spelling of
//     it (ann_smith_contoso_com);
//   - the user's local part and their name written together in any usual way
//     (ann.smith, smith_ann, annsmith, "Ann Smith") become the pseudonym: a personal
//     address such as annsmith84@gmail.com or a path C:\Users\ann.smith\ gives
//     nothing away;
//   - each part of the user's name (3 letters or more) standing as a word becomes
//     "[name]".
//
// Other people outside the organisation are not recognised (docs/ui.md says so).
func (s *server) scrubber(c *reqCtx, upn string) func(string) string {
	if upn == "" || s.showsRealNames(c) {
		return func(t string) string { return t }
	}
	if f, ok := c.scrubbers[upn]; ok {
		return f
	}
	pseudo := s.who(c, upn)
	local, _, _ := strings.Cut(strings.ToLower(upn), "@")
	var tokens []string
	for _, p := range strings.FieldsFunc(local, func(r rune) bool { return !isLetter(r) }) {
		if len(p) >= 3 && !slices.Contains(tokens, p) {
			tokens = append(tokens, p)
		}
	}
	composites := []string{local}
	if len(tokens) >= 2 {
		for _, pair := range [][2]string{{tokens[0], tokens[len(tokens)-1]}, {tokens[len(tokens)-1], tokens[0]}} {
			for _, sep := range []string{".", "_", "-", " ", ""} {
				composites = append(composites, pair[0]+sep+pair[1])
			}
		}
	}
	// Longest first, so ann.smith is not half-replaced by a shorter form.
	slices.SortFunc(composites, func(a, b string) int { return len(b) - len(a) })
	f := func(t string) string {
		if t == "" {
			return t
		}
		t = account.ScrubUPN(t, upn, pseudo)
		t = s.scrubOrg(c, t)
		for _, v := range composites {
			t = replaceFold(t, v, pseudo)
		}
		for _, tok := range tokens {
			t = replaceWord(t, tok, "[name]")
		}
		return t
	}
	if c.scrubbers == nil {
		c.scrubbers = map[string]func(string) string{}
	}
	c.scrubbers[upn] = f
	return f
}

// scrubOrg replaces addresses in the organisation's domains, and their OneDrive
// spelling, with the people's pseudonyms.
func (s *server) scrubOrg(c *reqCtx, t string) string {
	if s.orgAddr == nil {
		return t
	}
	t = s.orgAddr.ReplaceAllStringFunc(t, func(m string) string { return s.who(c, strings.ToLower(m)) })
	return s.orgDrive.ReplaceAllStringFunc(t, func(m string) string { return account.Pseudonym(s.pseudo, strings.ToLower(m)) })
}

// orgPatterns builds the address patterns of the organisation's domains.
func orgPatterns(domains []string) (addr, drive *regexp.Regexp) {
	var hosts, under []string
	for _, d := range domains {
		d = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "*.")
		if d == "" {
			continue
		}
		hosts = append(hosts, regexp.QuoteMeta(d))
		under = append(under, regexp.QuoteMeta(strings.ReplaceAll(d, ".", "_")))
	}
	if len(hosts) == 0 {
		return nil, nil
	}
	addr = regexp.MustCompile(`(?i)[a-z0-9._%+'!#^~-]+@(?:[a-z0-9-]+\.)*(?:` + strings.Join(hosts, "|") + `)\b`)
	drive = regexp.MustCompile(`(?i)[a-z0-9._-]+_(?:` + strings.Join(under, "|") + `)\b`)
	return addr, drive
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

// replaceFold replaces every case-insensitive occurrence of old (ASCII) in s.
func replaceFold(s, old, repl string) string {
	return replaceMatches(s, old, repl, false)
}

// replaceWord replaces the case-insensitive occurrences of word that no letter touches.
func replaceWord(s, word, repl string) string { return replaceMatches(s, word, repl, true) }

func replaceMatches(s, old, repl string, word bool) string {
	if old == "" || len(s) < len(old) {
		return s
	}
	lower, lold := strings.ToLower(s), strings.ToLower(old)
	if len(lower) != len(s) { // non-ASCII case folding changed lengths: exact match only
		return strings.ReplaceAll(s, old, repl)
	}
	if !strings.Contains(lower, lold) {
		return s
	}
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(lower[i:], lold)
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		j += i
		end := j + len(old)
		if word && ((j > 0 && isLetter(rune(s[j-1]))) || (end < len(s) && isLetter(rune(s[end])))) {
			b.WriteString(s[i : j+1])
			i = j + 1
			continue
		}
		b.WriteString(s[i:j])
		b.WriteString(repl)
		i = end
	}
}
