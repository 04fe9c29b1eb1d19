package ui

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"irm/account"
	"irm/engine"
)

// access is one row of the role × route × method matrix: the concrete request, the
// role groups that may make it, and the status they get. Every other role gets 403;
// a signed-out browser is sent to /login (the API answers 401).
type access struct {
	method, pattern, path string
	form                  url.Values
	allowed               []string
	ok                    int
}

var (
	everyone    = account.Roles
	configurers = []string{account.RoleIRM, account.RoleAdmin}
	reviewers   = []string{account.RoleIRM, account.RoleAnalyst, account.RoleInvestigator}
	auditors    = []string{account.RoleIRM, account.RoleAuditor}
	revealers   = []string{account.RoleIRM, account.RoleInvestigator}
	rulers      = []string{account.RoleIRM, account.RoleAdmin, account.RoleSecurityEngineer}
	// public marks a route that needs no session: every role and a signed-out client get ok.
	public = []string{"(public)"}
)

func accessMatrix() []access {
	return []access{
		{"GET", "/logout", "/logout", nil, everyone, 200},
		{"GET", "/{$}", "/", nil, everyone, 200},
		{"POST", "/privacy/reveal", "/privacy/reveal", url.Values{"reveal": {"off"}}, revealers, 303},

		{"GET", "/settings", "/settings", nil, configurers, 200},
		{"POST", "/settings", "/settings", url.Values{"activation_window_days": {"99"}}, configurers, 400},
		{"GET", "/policies", "/policies", nil, configurers, 200},
		{"GET", "/policies/new", "/policies/new", nil, configurers, 200},
		{"POST", "/policies/new", "/policies/new", url.Values{"step": {"template"}, "nav": {"next"}}, configurers, 400},
		{"GET", "/policies/scoring", "/policies/scoring", nil, configurers, 200},
		{"POST", "/policies/scoring", "/policies/scoring", url.Values{"users": {"matrix@contoso.com"}, "days": {"99"}, "reason": {"matrix"}}, configurers, 400},
		{"GET", "/policies/{name}", "/policies/Matrix%20policy", nil, configurers, 200},
		{"POST", "/policies/{name}", "/policies/Matrix%20policy", url.Values{}, configurers, 303},
		{"POST", "/policies/{name}/delete", "/policies/no-such-policy/delete", nil, configurers, 404},
		{"GET", "/connectors", "/connectors", nil, configurers, 200},
		{"GET", "/analytics", "/analytics", nil, configurers, 200},
		{"POST", "/analytics", "/analytics", nil, configurers, 303},

		{"GET", "/alerts", "/alerts", nil, reviewers, 200},
		{"POST", "/alerts/bulk", "/alerts/bulk", url.Values{"action": {"dismiss"}}, reviewers, 400},
		{"GET", "/alerts/{id}", "/alerts/ANOSUCH", nil, reviewers, 404},
		{"POST", "/alerts/{id}/status", "/alerts/ANOSUCH/status", url.Values{"status": {"dismissed"}}, reviewers, 404},
		{"POST", "/alerts/{id}/assign", "/alerts/ANOSUCH/assign", url.Values{"assignee": {""}}, reviewers, 404},
		{"POST", "/alerts/{id}/case", "/alerts/ANOSUCH/case", url.Values{"name": {"x"}}, reviewers, 404},
		{"GET", "/users/{ref}", "/users/Anon-000000", nil, reviewers, 404},
		{"GET", "/cases", "/cases", nil, reviewers, 200},
		{"GET", "/cases/{id}", "/cases/CNOSUCH", nil, reviewers, 404},
		{"POST", "/cases/{id}/notes", "/cases/CNOSUCH/notes", url.Values{"text": {"x"}}, reviewers, 404},
		{"POST", "/cases/{id}/alerts", "/cases/CNOSUCH/alerts", nil, reviewers, 404},
		{"POST", "/cases/{id}/resolve", "/cases/CNOSUCH/resolve", url.Values{"resolution": {"benign"}}, reviewers, 404},
		// Investigators only: the raw records behind a case, and notices to the user.
		{"GET", "/cases/{id}/content", "/cases/CNOSUCH/content", nil, revealers, 404},
		{"POST", "/cases/{id}/notices", "/cases/CNOSUCH/notices", url.Values{"template": {"x"}}, revealers, 404},
		{"GET", "/notices", "/notices", nil, revealers, 200},
		{"POST", "/notices", "/notices", url.Values{"name": {""}}, revealers, 400},
		{"POST", "/notices/{name}/delete", "/notices/no-such/delete", nil, revealers, 404},

		{"GET", "/admin/users", "/admin/users", nil, configurers, 200},
		{"POST", "/admin/users", "/admin/users", url.Values{"name": {"x"}}, configurers, 400},
		{"POST", "/admin/users/{name}", "/admin/users/analyst", url.Values{"action": {"bogus"}}, configurers, 400},
		{"POST", "/admin/tokens", "/admin/tokens", url.Values{"name": {"x"}}, configurers, 400},
		{"POST", "/admin/tokens/{name}/revoke", "/admin/tokens/no-such/revoke", nil, configurers, 404},
		{"GET", "/webhooks", "/webhooks", nil, configurers, 200},
		{"POST", "/webhooks", "/webhooks", url.Values{"name": {"x"}, "url": {"ftp://x"}}, configurers, 400},
		{"GET", "/webhooks/{id}", "/webhooks/WNOSUCH", nil, configurers, 404},
		{"POST", "/webhooks/{id}/delete", "/webhooks/WNOSUCH/delete", nil, configurers, 404},
		{"POST", "/webhooks/{id}/ping", "/webhooks/WNOSUCH/ping", nil, configurers, 404},

		{"GET", "/rules", "/rules", nil, rulers, 200},
		{"GET", "/rules/edit", "/rules/edit", nil, rulers, 200},
		{"POST", "/rules/edit", "/rules/edit", url.Values{"action": {"bogus"}}, rulers, 400},
		{"GET", "/rules/backtests/{id}", "/rules/backtests/nosuch", nil, rulers, 404},

		{"GET", "/audit", "/audit", nil, auditors, 200},
		{"GET", "/audit/export.csv", "/audit/export.csv", nil, auditors, 200},

		// API calls that change something send JSON (apiJSON marks it).
		{"GET", "/api/v1/alerts", "/api/v1/alerts", nil, reviewers, 200},
		{"GET", "/api/v1/alerts/{id}", "/api/v1/alerts/ANOSUCH", nil, reviewers, 404},
		{"POST", "/api/v1/alerts/{id}/status", "/api/v1/alerts/ANOSUCH/status", apiJSON(`{"status":"dismissed","comment":"x"}`), reviewers, 404},
		{"POST", "/api/v1/alerts/bulk", "/api/v1/alerts/bulk", apiJSON(`{"ids":[],"status":"dismissed","reason":"x"}`), reviewers, 400},
		{"GET", "/api/v1/cases", "/api/v1/cases", nil, reviewers, 200},
		{"GET", "/api/v1/cases/{id}", "/api/v1/cases/CNOSUCH", nil, reviewers, 404},
		{"POST", "/api/v1/cases", "/api/v1/cases", apiJSON(`{"name":"x","alerts":["ANOSUCH"]}`), reviewers, 404},
		{"POST", "/api/v1/cases/{id}/notes", "/api/v1/cases/CNOSUCH/notes", apiJSON(`{"text":"x"}`), reviewers, 404},
		{"POST", "/api/v1/cases/{id}/resolve", "/api/v1/cases/CNOSUCH/resolve", apiJSON(`{"resolution":"benign"}`), reviewers, 404},
		{"GET", "/api/v1/users", "/api/v1/users", nil, reviewers, 200},
		{"GET", "/api/v1/users/{user}/events", "/api/v1/users/Anon-000000/events", nil, reviewers, 404},
		{"GET", "/api/v1/policies", "/api/v1/policies", nil, configurers, 200},
		{"GET", "/api/v1/policies/{name}", "/api/v1/policies/Matrix%20policy", nil, configurers, 200},
		{"PUT", "/api/v1/policies/{name}", "/api/v1/policies/no-such-policy", apiJSON(`{}`), configurers, 400},
		{"DELETE", "/api/v1/policies/{name}", "/api/v1/policies/no-such-policy", nil, configurers, 404},
		{"GET", "/api/v1/settings", "/api/v1/settings", nil, configurers, 200},
		{"PUT", "/api/v1/settings", "/api/v1/settings", apiJSON(`{"activation_window_days":99}`), configurers, 400},
		{"GET", "/api/v1/audit", "/api/v1/audit", nil, auditors, 200},
		{"GET", "/api/v1/rules", "/api/v1/rules", nil, rulers, 200},
		{"POST", "/api/v1/rules/lint", "/api/v1/rules/lint", apiJSON(`{"text":"[[indicator]"}`), rulers, 200},
		{"POST", "/api/v1/rules/test", "/api/v1/rules/test", apiJSON(`{"text":"[[indicator]"}`), rulers, 400},
		{"POST", "/api/v1/rules/backtest", "/api/v1/rules/backtest", apiJSON(`{"id":"no_such_rule"}`), rulers, 400},
		{"GET", "/api/v1/tokens", "/api/v1/tokens", nil, configurers, 200},
		{"POST", "/api/v1/tokens", "/api/v1/tokens", apiJSON(`{"name":"x","roles":["bogus"]}`), configurers, 400},
		{"DELETE", "/api/v1/tokens/{name}", "/api/v1/tokens/no-such-token", nil, configurers, 404},
		{"GET", "/api/v1/webhooks", "/api/v1/webhooks", nil, configurers, 200},
		{"POST", "/api/v1/webhooks", "/api/v1/webhooks", apiJSON(`{"name":"x","url":"ftp://example.com/x"}`), configurers, 400},
		{"DELETE", "/api/v1/webhooks/{id}", "/api/v1/webhooks/WNOSUCH", nil, configurers, 404},
		{"GET", "/api/v1/webhooks/{id}/deliveries", "/api/v1/webhooks/WNOSUCH/deliveries", nil, configurers, 404},
		{"POST", "/api/v1/webhooks/{id}/ping", "/api/v1/webhooks/WNOSUCH/ping", nil, configurers, 404},
		{"GET", "/api/v1/analytics", "/api/v1/analytics", nil, configurers, 200},
		{"POST", "/api/v1/analytics", "/api/v1/analytics", nil, configurers, 200},
		{"GET", "/api/v1/me", "/api/v1/me", nil, everyone, 200},
		{"GET", "/api/v1/openapi.json", "/api/v1/openapi.json", nil, public, 200},

		{"GET", "/readyz", "/readyz", nil, public, 200},
		{"GET", "/metrics", "/metrics", nil, public, 200},

		// Last, since it ends the session.
		{"POST", "/logout", "/logout", nil, everyone, 303},
	}
}

// TestAccessMatrix walks every role × route × method and checks the status, and that
// the matrix covers every non-public route of the site map (so a new route cannot be
// added without deciding who may use it).
func TestAccessMatrix(t *testing.T) {
	env := newTestEnv(t)
	if err := env.eng.SavePolicy("test", engine.Policy{Name: "Matrix policy", Template: "data_theft_departing", Users: []string{"*"},
		Indicators: []string{engine.TemplateToken}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	env.srv.ops = opsEndpoints{metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("# metrics\n")) }),
		allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	matrix := accessMatrix()
	for _, rt := range env.srv.routes {
		if rt.Perm == "" {
			continue
		}
		if !slices.ContainsFunc(matrix, func(a access) bool { return a.method == rt.Method && a.pattern == rt.Path }) {
			t.Errorf("route %s %s is not in the access matrix", rt.Method, rt.Path)
		}
	}
	for _, role := range account.Roles {
		c := env.signIn(role)
		for _, a := range matrix {
			want := http.StatusForbidden
			if slices.Contains(a.allowed, role) || slices.Equal(a.allowed, public) {
				want = a.ok
			}
			form := a.form
			if a.method == "POST" && form == nil {
				form = url.Values{}
			}
			var resp *http.Response
			if body, ok := isAPIJSON(a.form); ok {
				resp = c.doJSON(a.method, a.path, body)
			} else if a.method == "POST" {
				resp = c.post(a.path, url.Values(cloneValues(form)))
			} else {
				resp = c.do(a.method, a.path, nil, map[string]string{csrfHeader: c.csrf})
			}
			if resp.StatusCode != want {
				t.Errorf("%s %s %s: status %d, want %d", role, a.method, a.path, resp.StatusCode, want)
			}
			if resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login") && a.path != "/logout" {
				t.Errorf("%s %s %s: sent to sign in while signed in", role, a.method, a.path)
			}
		}
	}

	// Signed out: pages redirect to /login, the API says 401, nothing runs.
	anon := env.client()
	for _, a := range matrix {
		resp := anon.do(a.method, a.path, a.form, nil)
		if slices.Equal(a.allowed, public) {
			if resp.StatusCode != a.ok {
				t.Errorf("signed out %s %s: status %d, want %d", a.method, a.path, resp.StatusCode, a.ok)
			}
			continue
		}
		if strings.HasPrefix(a.path, "/api/") {
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("signed out %s %s: status %d, want 401", a.method, a.path, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("signed out %s %s: status %d location %q, want 303 to /login", a.method, a.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if _, ok := env.eng.Policy("Matrix policy"); !ok {
		t.Error("the matrix policy disappeared")
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// TestPublicRoutes: health, static files and the sign-in page need no session.
func TestPublicRoutes(t *testing.T) {
	env := newTestEnv(t)
	c := env.client()
	for path, want := range map[string]int{"/healthz": 200, "/login": 200, "/static/style.css": 200, "/static/htmx.min.js": 200, "/no-such-page": 303} {
		if got := c.do("GET", path, nil, nil).StatusCode; got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}
}
