package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"irm/account"
	"irm/store"
)

// openAPI validates answers against the document the server serves.
type openAPI struct {
	t        *testing.T
	doc      map[string]any
	compiler *jsonschema.Compiler
	paths    []openAPIPath
	cache    map[string]*jsonschema.Schema
}

type openAPIPath struct {
	template string
	re       *regexp.Regexp
}

const openAPIURL = "file:///openapi.json"

func loadOpenAPI(t *testing.T, base string) *openAPI {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", resp.StatusCode, b)
	}
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	doc := raw.(map[string]any)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi %q, want 3.1.x", v)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(openAPIURL, raw); err != nil {
		t.Fatal(err)
	}
	o := &openAPI{t: t, doc: doc, compiler: c, cache: map[string]*jsonschema.Schema{}}
	for p := range doc["paths"].(map[string]any) {
		re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$")
		o.paths = append(o.paths, openAPIPath{p, re})
	}
	return o
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// validate checks that the operation declares the answer's status and that the body
// is valid under the declared schema.
func (o *openAPI) validate(method, path string, status int, body []byte) {
	o.t.Helper()
	u, _ := url.Parse(path)
	tmpl := ""
	for _, p := range o.paths {
		if p.re.MatchString(u.Path) && (tmpl == "" || strings.Count(p.template, "{") < strings.Count(tmpl, "{")) {
			tmpl = p.template
		}
	}
	if tmpl == "" {
		o.t.Errorf("%s %s: no path of the OpenAPI document matches", method, path)
		return
	}
	op, _ := o.doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if op == nil {
		o.t.Errorf("%s %s: the OpenAPI document has no %s operation on %s", method, path, method, tmpl)
		return
	}
	code := strconv.Itoa(status)
	resps := op["responses"].(map[string]any)
	if _, ok := resps[code]; !ok {
		if _, ok := resps["default"]; !ok {
			o.t.Errorf("%s %s: status %d is not declared by %s (%v)", method, path, status, op["operationId"], keys(resps))
			return
		}
		code = "default"
	}
	resp := resps[code].(map[string]any)
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(bytes.TrimSpace(body)) > 0 {
			o.t.Errorf("%s %s: %d declares no body, got %s", method, path, status, body)
		}
		return
	}
	loc := openAPIURL + "#/paths/" + pointerEscape(tmpl) + "/" + strings.ToLower(method) + "/responses/" + code + "/content/application~1json/schema"
	sch := o.cache[loc]
	if sch == nil {
		var err error
		if sch, err = o.compiler.Compile(loc); err != nil {
			o.t.Fatalf("compile %s: %v", loc, err)
		}
		o.cache[loc] = sch
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		o.t.Errorf("%s %s: %d: the body is not JSON: %v\n%s", method, path, status, err, body)
		return
	}
	if err := sch.Validate(v); err != nil {
		o.t.Errorf("%s %s: %d: the body does not match the OpenAPI schema of %s: %v\n%.2000s", method, path, status, op["operationId"], err, body)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// apiClient calls the API with a bearer token (or none).
type apiClient struct {
	t     *testing.T
	base  string
	token string
	spec  *openAPI
}

func (a apiClient) call(method, path, body string) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		var e struct{ Error, Code string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" || e.Code == "" {
			a.t.Errorf("%s %s: %d error without {error, code}: %s", method, path, resp.StatusCode, b)
		}
	}
	if a.spec != nil {
		a.spec.validate(method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, b
}

func mustToken(t *testing.T, db *store.DB, name string, roles []string, realNames bool) string {
	t.Helper()
	secret, _, err := account.CreateToken(db, "test", account.TokenSpec{Name: name, Roles: roles, RealNames: realNames}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestAPIOverDemo (must-show): every API resource answers 401 without a token and 403
// to a token whose role groups lack the permission; an analyst's token gets pseudonyms
// (no planted user's UPN, local part or name anywhere in the bytes, even after an
// investigator wrote the UPN into a case note); and every answer, errors included, is
// valid under the OpenAPI document served at /api/v1/openapi.json.
func TestAPIOverDemo(t *testing.T) {
	env, m := newDemoEnv(t)
	spec := loadOpenAPI(t, env.ts.URL)
	tokens := map[string]string{}
	for _, r := range account.Roles {
		tokens[r] = mustToken(t, env.db, "t-"+r, []string{r}, false)
	}
	forbidden := map[string]string{}
	planted := map[string]bool{}
	for _, p := range m.Planted {
		planted[p.User] = true
		local, _, _ := strings.Cut(p.User, "@")
		first, last, _ := strings.Cut(local, ".")
		for _, s := range []string{p.User, local, first + " " + last, last + "." + first, first + "_" + last} {
			forbidden[s] = p.User
		}
	}
	as := func(role string) apiClient {
		return apiClient{t: t, base: env.ts.URL, token: tokens[role], spec: spec}
	}
	anon := apiClient{t: t, base: env.ts.URL, spec: spec}
	noNames := func(what string, b []byte) {
		t.Helper()
		low := strings.ToLower(string(b))
		for s, u := range forbidden {
			if i := strings.Index(low, s); i >= 0 {
				t.Errorf("%s shows %q (planted user %s): …%s…", what, s, u, low[max(0, i-60):min(len(low), i+len(s)+60)])
			}
		}
	}

	// Find a planted user's alert the analyst can see, by pseudonym.
	code, b := as(account.RoleAnalyst).call("GET", "/api/v1/alerts?status=needs_review&limit=1000", "")
	if code != 200 {
		t.Fatalf("list alerts: %d %s", code, b)
	}
	var list struct {
		Alerts []struct {
			ID, User     string
			Pseudonymous bool
		}
		Total int
	}
	json.Unmarshal(b, &list)
	var alertID, ref, upn string
	for _, a := range list.Alerts {
		al, _ := env.eng.Alert(a.ID)
		if planted[al.User] {
			alertID, ref, upn = a.ID, a.User, al.User
			break
		}
	}
	if alertID == "" || !pseudonymRE.MatchString(ref) {
		t.Fatalf("no planted user's alert in %d alerts, or the user %q is no pseudonym", list.Total, ref)
	}
	// An investigator opens a case naming the user, through the API, and notes the UPN.
	code, b = as(account.RoleInvestigator).call("POST", "/api/v1/cases", fmt.Sprintf(`{"name":"Case of %s","alerts":[%q],"note":"spoke to %s"}`, upn, alertID, upn))
	if code != 201 {
		t.Fatalf("create case: %d %s", code, b)
	}
	var cs struct{ ID string }
	json.Unmarshal(b, &cs)

	type call struct {
		resource, method, path, body string
		perm                         account.Perm
		want                         int
		users                        bool // the answer is about users: it must name them by pseudonym
	}
	calls := []call{
		{"alerts", "GET", "/api/v1/alerts?limit=1000", "", account.PermAlerts, 200, true},
		{"alerts", "GET", "/api/v1/alerts?user=" + ref, "", account.PermAlerts, 200, true},
		{"alerts", "GET", "/api/v1/alerts/" + alertID, "", account.PermAlerts, 200, true},
		{"alerts", "GET", "/api/v1/alerts?severity=extreme", "", account.PermAlerts, 400, false},
		{"alerts", "POST", "/api/v1/alerts/bulk", `{"ids":["ANOSUCH"],"status":"dismissed","reason":"test"}`, account.PermAlerts, 404, false},
		{"cases", "GET", "/api/v1/cases", "", account.PermAlerts, 200, true},
		{"cases", "GET", "/api/v1/cases/" + cs.ID, "", account.PermAlerts, 200, true},
		{"cases", "POST", "/api/v1/cases/" + cs.ID + "/notes", `{"text":"reviewed by the analyst"}`, account.PermAlerts, 200, true},
		{"users", "GET", "/api/v1/users", "", account.PermAlerts, 200, true},
		{"events", "GET", "/api/v1/users/" + ref + "/events?since=2000-01-01&limit=500", "", account.PermAlerts, 200, true},
		{"events", "GET", "/api/v1/users/Anon-000000/events", "", account.PermAlerts, 404, false},
		{"policies", "GET", "/api/v1/policies", "", account.PermConfigure, 200, false},
		{"policies", "GET", "/api/v1/policies/no-such", "", account.PermConfigure, 404, false},
		{"settings", "GET", "/api/v1/settings", "", account.PermConfigure, 200, false},
		{"audit", "GET", "/api/v1/audit?category=cases&limit=5", "", account.PermAudit, 200, false},
		{"rules", "GET", "/api/v1/rules", "", account.PermRules, 200, false},
		{"rules", "POST", "/api/v1/rules/lint", `{"file":"x.toml","text":"[[indicator]]\nid = \"x\"\n"}`, account.PermRules, 200, false},
		{"rules", "POST", "/api/v1/rules/backtest", `{"id":"copy_to_usb","days":30}`, account.PermRules, 200, true},
		{"tokens", "GET", "/api/v1/tokens", "", account.PermAccounts, 200, false},
		{"webhooks", "GET", "/api/v1/webhooks", "", account.PermConfigure, 200, false},
		{"webhooks", "POST", "/api/v1/webhooks", `{"name":"bad","url":"gopher://example.com/x"}`, account.PermConfigure, 400, false},
		{"me", "GET", "/api/v1/me", "", account.PermSignedIn, 200, false},
	}
	for _, c := range calls {
		what := c.method + " " + c.path
		if code, b := anon.call(c.method, c.path, c.body); code != 401 {
			t.Errorf("%s without a token: %d, want 401: %s", what, code, b)
		}
		var allowed, denied string
		for _, r := range []string{account.RoleAnalyst, account.RoleSecurityEngineer, account.RoleAuditor, account.RoleAdmin, account.RoleInvestigator} {
			ok := account.Can([]string{r}, c.perm)
			if ok && allowed == "" {
				allowed = r
			}
			if !ok && denied == "" {
				denied = r
			}
		}
		if denied != "" {
			if code, b := as(denied).call(c.method, c.path, c.body); code != 403 {
				t.Errorf("%s as %s: %d, want 403: %s", what, denied, code, b)
			}
		}
		code, b := as(allowed).call(c.method, c.path, c.body)
		if code != c.want {
			t.Errorf("%s as %s: %d, want %d: %.500s", what, allowed, code, c.want, b)
			continue
		}
		// Admins and auditors see settings and the audit log as they are (as on their
		// pages); the roles that see people's activity see pseudonyms.
		if allowed == account.RoleAnalyst || allowed == account.RoleSecurityEngineer {
			noNames(what+" as "+allowed, b)
		}
		if c.users && !bytes.Contains(b, []byte("Anon-")) {
			t.Errorf("%s as %s: no pseudonym in the answer: %.500s", what, allowed, b)
		}
	}

	// The analyst's view of the case hides the UPN the investigator wrote; an
	// investigator's token made to see real names does see it (so the check above can fail).
	real := apiClient{t: t, base: env.ts.URL, token: mustToken(t, env.db, "t-real", []string{account.RoleInvestigator}, true), spec: spec}
	if code, b := real.call("GET", "/api/v1/cases/"+cs.ID, ""); code != 200 || !strings.Contains(string(b), upn) {
		t.Errorf("real-names token: %d, the case does not show %s: %.300s", code, upn, b)
	}
	if code, b := real.call("GET", "/api/v1/users/"+upn+"/events?since=2000-01-01&limit=5", ""); code != 200 || !strings.Contains(string(b), `"raw"`) {
		t.Errorf("investigator events: %d, want the raw records: %.300s", code, b)
	}
	if _, _, err := account.CreateToken(env.db, "test", account.TokenSpec{Name: "bad", Roles: []string{account.RoleAnalyst}, RealNames: true}, time.Now()); err == nil {
		t.Error("an analyst token was allowed to see real names")
	}

	// A webhook made through the API receives the alert events with pseudonyms.
	code, b = as(account.RoleAdmin).call("POST", "/api/v1/webhooks", `{"name":"soc","url":"https://soc.example.com/hook"}`)
	var hook struct{ ID, Secret string }
	if json.Unmarshal(b, &hook); code != 201 || !strings.HasPrefix(hook.Secret, "whsec_") {
		t.Fatalf("create webhook: %d %s", code, b)
	}
	// A token needs no CSRF token; a session does.
	code, b = as(account.RoleAnalyst).call("POST", "/api/v1/alerts/"+alertID+"/status", `{"status":"resolved","comment":"api test"}`)
	if code != 200 || !strings.Contains(string(b), `"status": "resolved"`) {
		t.Errorf("resolve with a token: %d %s", code, b)
	}
	if err := env.srv.integ.Dispatch(); err != nil {
		t.Fatal(err)
	}
	code, b = as(account.RoleAdmin).call("GET", "/api/v1/webhooks/"+hook.ID+"/deliveries?limit=1000", "")
	if code != 200 || !strings.Contains(string(b), `\"type\":\"alert.status_changed\"`) && !strings.Contains(string(b), "alert.status_changed") {
		t.Errorf("deliveries: %d, no status change: %.500s", code, b)
	}
	noNames("webhook payloads", b)
	if !strings.Contains(string(b), "Anon-") {
		t.Errorf("webhook payloads without pseudonyms: %.500s", b)
	}
	if code, b := as(account.RoleAdmin).call("POST", "/api/v1/webhooks/"+hook.ID+"/ping", ""); code != 202 {
		t.Errorf("ping: %d %s", code, b)
	}
	sess := env.signIn(account.RoleAnalyst)
	req, _ := http.NewRequest("POST", env.ts.URL+"/api/v1/cases/"+cs.ID+"/notes", strings.NewReader(`{"text":"no csrf"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := sess.http.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("session POST without X-CSRF-Token: %v %v, want 403", resp.StatusCode, err)
	}
	if r := sess.doJSON("POST", "/api/v1/cases/"+cs.ID+"/notes", `{"text":"with csrf"}`); r.StatusCode != 200 {
		t.Errorf("session POST with X-CSRF-Token: %d %s", r.StatusCode, body(r))
	}

	if len(spec.cache) < 15 {
		t.Errorf("only %d response schemas were used: the answers were not validated", len(spec.cache))
	}
	// Actions through a token are audited as the token.
	var audited bool
	env.db.AuditEntries(store.AuditFilter{Category: "alerts", Target: alertID}, func(e store.AuditEntry) error {
		audited = audited || e.Actor == "token:t-"+account.RoleAnalyst
		return nil
	})
	if !audited {
		t.Error("the status change through a token is not audited as token:t-analyst")
	}
}

// TestAPITokens: revoked, expired, unknown and malformed tokens get 401 (audited, with
// the collapsing refusal log), a token lacking a permission 403 (audited); tokens are
// listed without secrets; revocation works at once.
func TestAPITokens(t *testing.T) {
	env := newTestEnv(t)
	spec := loadOpenAPI(t, env.ts.URL)
	admin := apiClient{t: t, base: env.ts.URL, token: mustToken(t, env.db, "admin-tok", []string{account.RoleAdmin}, false), spec: spec}
	code, b := admin.call("POST", "/api/v1/tokens", `{"name":"ci","roles":["Auditor"],"expires":"30d"}`)
	if code != 201 {
		t.Fatalf("create token: %d %s", code, b)
	}
	var created struct {
		Token, Prefix string
		Expires       time.Time
	}
	json.Unmarshal(b, &created)
	if !strings.HasPrefix(created.Token, account.TokenPrefix) || !strings.HasPrefix(created.Token, created.Prefix) || created.Expires.IsZero() {
		t.Fatalf("created: %s", b)
	}
	ci := apiClient{t: t, base: env.ts.URL, token: created.Token, spec: spec}
	if code, b := ci.call("GET", "/api/v1/audit?limit=1", ""); code != 200 {
		t.Fatalf("the new token: %d %s", code, b)
	}
	if code, _ := ci.call("GET", "/api/v1/alerts", ""); code != 403 {
		t.Errorf("auditor token on alerts: %d, want 403", code)
	}
	code, b = admin.call("GET", "/api/v1/tokens", "")
	if code != 200 || strings.Contains(string(b), created.Token) || !strings.Contains(string(b), `"last_used"`) {
		t.Errorf("token list: %d, shows the secret or no last use: %s", code, b)
	}
	if code, b := admin.call("DELETE", "/api/v1/tokens/ci", ""); code != 204 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, _ := ci.call("GET", "/api/v1/audit", ""); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}
	// Expired.
	secret, _, err := account.CreateToken(env.db, "test", account.TokenSpec{Name: "short", Roles: []string{account.RoleAuditor}, Expires: time.Now().Add(time.Hour)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env.srv.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if code, b := (apiClient{t: t, base: env.ts.URL, token: secret, spec: spec}).call("GET", "/api/v1/audit", ""); code != 401 || !strings.Contains(string(b), account.TokenExpired) {
		t.Errorf("expired token: %d %s", code, b)
	}
	env.srv.now = time.Now
	for _, bad := range []string{"irm_nonsense", "not-a-token"} {
		if code, _ := (apiClient{t: t, base: env.ts.URL, token: bad, spec: spec}).call("GET", "/api/v1/me", ""); code != 401 {
			t.Errorf("token %q: %d, want 401", bad, code)
		}
	}
	// A token is for the API only: pages still want a session.
	req, _ := http.NewRequest("GET", env.ts.URL+"/settings", nil)
	req.Header.Set("Authorization", "Bearer "+admin.token)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a page with a bearer token: %v, want 303 to /login", resp.StatusCode)
	}
	env.srv.refusals.flush()
	activities := map[string]int{}
	env.db.AuditEntries(store.AuditFilter{}, func(e store.AuditEntry) error {
		activities[e.Category+"/"+e.Activity]++
		if strings.Contains(string(e.After)+e.Details, created.Token) {
			t.Errorf("the audit log holds the secret: %+v", e)
		}
		return nil
	})
	for _, want := range []string{"users/Created API token", "users/Revoked API token", "signin/API token refused"} {
		if activities[want] == 0 {
			t.Errorf("no %q in the audit log: %v", want, activities)
		}
	}
}

var (
	tokenSecretRE   = regexp.MustCompile(`data-testid="token-secret">(irm_[A-Za-z0-9_-]+)<`)
	webhookSecretRE = regexp.MustCompile(`data-testid="webhook-secret">(whsec_[0-9a-f]+)<`)
)

// TestTokenAndWebhookForms: the accounts page creates a token (its secret shown in that
// answer only, and working at once), lists it and revokes it; the webhooks page adds a
// webhook (secret shown once), pings it and removes it; all without JavaScript.
func TestTokenAndWebhookForms(t *testing.T) {
	env := newTestEnv(t)
	admin := env.signIn(account.RoleAdmin)
	r := admin.post("/admin/tokens", url.Values{"name": {"nightly"}, "role": {account.RoleAuditor}, "expires": {"30d"}})
	page := body(r)
	m := tokenSecretRE.FindStringSubmatch(page)
	if r.StatusCode != 200 || m == nil {
		t.Fatalf("create token: %d, no secret shown", r.StatusCode)
	}
	if code, _ := (apiClient{t: t, base: env.ts.URL, token: m[1]}).call("GET", "/api/v1/audit?limit=1", ""); code != 200 {
		t.Errorf("the new token: %d", code)
	}
	list := admin.get("/admin/users")
	if !strings.Contains(list, "nightly") || strings.Contains(list, m[1]) {
		t.Error("the accounts page does not list the token, or shows its secret again")
	}
	if r := admin.post("/admin/tokens", url.Values{"name": {"spy"}, "role": {account.RoleAnalyst}, "real_names": {"on"}}); r.StatusCode != 400 {
		t.Errorf("an analyst token with real names: %d, want 400", r.StatusCode)
	}
	if r := admin.post("/admin/tokens/nightly/revoke", nil); r.StatusCode != 303 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	if code, _ := (apiClient{t: t, base: env.ts.URL, token: m[1]}).call("GET", "/api/v1/audit", ""); code != 401 {
		t.Errorf("revoked token: %d", code)
	}

	r = admin.post("/webhooks", url.Values{"name": {"chat"}, "url": {"https://chat.example.com/hooks/T0/B0/XyZ"}, "event": {"alert.created", "case.created"}})
	page = body(r)
	ws := webhookSecretRE.FindStringSubmatch(page)
	if r.StatusCode != 200 || ws == nil || !strings.Contains(page, "alert.created, case.created") {
		t.Fatalf("add webhook: %d, no secret or events shown", r.StatusCode)
	}
	hooks, _ := env.srv.integ.Webhooks()
	if len(hooks) != 1 {
		t.Fatalf("%d webhooks", len(hooks))
	}
	if strings.Contains(admin.get("/webhooks"), ws[1]) {
		t.Error("the webhooks page shows the secret again")
	}
	if r := admin.post("/webhooks/"+hooks[0].ID+"/ping", nil); r.StatusCode != 303 {
		t.Fatalf("ping: %d", r.StatusCode)
	}
	if p := admin.get("/webhooks/" + hooks[0].ID); !strings.Contains(p, ">ping<") || !strings.Contains(p, "pending") {
		t.Error("the delivery log does not show the ping")
	}
	if r := admin.post("/webhooks/"+hooks[0].ID+"/delete", nil); r.StatusCode != 303 {
		t.Fatalf("remove: %d", r.StatusCode)
	}
	if hooks, _ := env.srv.integ.Webhooks(); len(hooks) != 0 {
		t.Errorf("%d webhooks after removal", len(hooks))
	}
	env.db.AuditEntries(store.AuditFilter{Category: "settings"}, func(e store.AuditEntry) error {
		if all := string(e.After) + string(e.Before) + e.Details; strings.Contains(all, ws[1]) || strings.Contains(all, "XyZ") {
			t.Errorf("%s holds the secret or the URL's path: %s", e.Activity, all)
		}
		return nil
	})
}
