package ui

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"irm/account"
)

var (
	alertLinkRE = regexp.MustCompile(`/alerts/(A[0-9A-F]{12})"`)
	caseLinkRE  = regexp.MustCompile(`/cases/(C[0-9A-F]{12})"`)
	userRefRE   = regexp.MustCompile(`/users/(Anon-[0-9A-F]{6})`)
	nextLinkRE  = regexp.MustCompile(`href="([^"]+)" id="(?:x|q)-next"`)
)

// TestNoNamesForAnalystsOverDemo renders every page and API answer an analyst can
// reach over the demo organisation, with pseudonyms on, and looks in the bytes for the
// planted users' UPNs, local parts and names written in any usual way. Before that an
// investigator with real names revealed opens cases with the user's name in the case
// name and note, as a person would; the analyst must not see those either.
func TestNoNamesForAnalystsOverDemo(t *testing.T) {
	env, m := newDemoEnv(t)
	if !env.eng.Pseudonymize() {
		t.Fatal("the demo settings switch pseudonyms off; the test would prove nothing")
	}
	forbidden := map[string]string{} // lower-case string -> planted user
	planted := map[string]bool{}
	for _, p := range m.Planted {
		planted[p.User] = true
		local, _, _ := strings.Cut(p.User, "@")
		first, last, _ := strings.Cut(local, ".")
		for _, s := range []string{p.User, local, first + " " + last, first + last, last + "." + first, last + " " + first, first + "_" + last, last + "_" + first} {
			forbidden[s] = p.User
		}
	}

	// An investigator who sees real names names cases after the people.
	inv := env.signIn(account.RoleInvestigator)
	if r := inv.post("/privacy/reveal", url.Values{"reveal": {"on"}}); r.StatusCode != 303 {
		t.Fatalf("reveal: %d", r.StatusCode)
	}
	cased := 0
	for _, id := range unique(alertLinkRE, inv.get("/alerts?status=needs_review&page=1")) {
		a, _ := env.eng.Alert(id)
		if !planted[a.User] || cased == 3 {
			continue
		}
		local, _, _ := strings.Cut(a.User, "@")
		r := inv.post("/alerts/"+id+"/case", url.Values{"name": {"Case of " + strings.ReplaceAll(local, ".", " ")}, "note": {"spoke to " + a.User}})
		if r.StatusCode != 303 {
			t.Fatalf("confirm %s into a case: %d %s", id, r.StatusCode, body(r))
		}
		cased++
	}
	if cased == 0 {
		t.Fatal("no planted user's alert on the first page of the queue")
	}

	an := env.signIn(account.RoleAnalyst)
	pages := map[string]string{}
	get := func(path string) string {
		t.Helper()
		if _, done := pages[path]; done {
			return ""
		}
		resp := an.do("GET", path, nil, nil)
		b := body(resp)
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
		pages[path] = b
		return b
	}
	// Follow a page's "next" links to the end.
	crawl := func(path string) []string {
		var all []string
		for path != "" {
			b := get(path)
			all = append(all, b)
			path = ""
			if mm := nextLinkRE.FindStringSubmatch(b); mm != nil {
				path = html.UnescapeString(mm[1])
			}
		}
		return all
	}
	get("/")
	var alerts, refs, cases []string
	for _, b := range crawl("/alerts") {
		alerts = append(alerts, unique(alertLinkRE, b)...)
		refs = append(refs, unique(userRefRE, b)...)
	}
	for _, id := range alerts {
		for _, b := range crawl("/alerts/" + id) {
			refs = append(refs, unique(userRefRE, b)...)
		}
		get("/api/v1/alerts/" + id)
	}
	for _, ref := range dedupe(refs) {
		get("/users/" + ref + "?range=6m")
	}
	cases = unique(caseLinkRE, get("/cases"))
	if len(cases) != cased {
		t.Fatalf("the analyst sees %d cases, want %d", len(cases), cased)
	}
	for _, id := range cases {
		get("/cases/" + id)
		get("/api/v1/cases/" + id)
		if r := an.do("GET", "/cases/"+id+"/content", nil, nil); r.StatusCode != 403 {
			t.Errorf("analyst opens the content explorer: %d, want 403", r.StatusCode)
		}
	}
	get("/api/v1/alerts?limit=1000")
	get("/api/v1/cases")
	get("/api/v1/me")

	seen := 0
	for u := range planted {
		if pagesMention(pages, account.Pseudonym(env.srv.pseudo, u)) {
			seen++
		}
	}
	if seen < len(planted)*3/4 {
		t.Fatalf("only %d of %d planted users appear under their pseudonym: the pages do not show their activity", seen, len(planted))
	}
	for path, b := range pages {
		low := strings.ToLower(html.UnescapeString(b))
		for s, u := range forbidden {
			if i := strings.Index(low, s); i >= 0 {
				t.Errorf("%s shows %q (planted user %s): …%s…", path, s, u, low[max(0, i-60):min(len(low), i+len(s)+60)])
			}
		}
	}
	t.Logf("%d pages and API answers over %d alerts, %d users, %d cases", len(pages), len(alerts), len(dedupe(refs)), len(cases))
}

func pagesMention(pages map[string]string, s string) bool {
	for _, b := range pages {
		if strings.Contains(b, s) {
			return true
		}
	}
	return false
}

func unique(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return dedupe(out)
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
