package ui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"irm/account"
	"irm/config"
	"irm/dsl"
	"irm/engine"
	"irm/integrations"
	"irm/rules"
	"irm/store"
)

// testEnv is a real UI over a real Badger store in a temp dir, with the real rule set
// and engine, served over loopback HTTP.
type testEnv struct {
	t   *testing.T
	db  *store.DB
	eng *engine.Engine
	srv *server
	ts  *httptest.Server
}

// testPassword is the password of each test account (the role name is also the account
// name): strong enough for the password rules and not containing the name.
func testPassword(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "Tidal-Orchard-" + hex.EncodeToString(sum[:6])
}

// newTestEnv starts the UI; setup runs on the store before the engine loads it (to
// plant stored alerts, events and ledger records).
func newTestEnv(t *testing.T, setup ...func(db *store.DB)) *testEnv {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, f := range setup {
		f(db)
	}
	cfg := &config.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}
	cfg.Org.Domains = []string{"contoso.com"}
	cfg.Drop.Dir = t.TempDir()
	cfg.SIEM.Facility, cfg.SIEM.QueueMax = "local4", 1000
	cfg.Webhooks.RetryFirstMS, cfg.Webhooks.RetryMaxMinutes, cfg.Webhooks.GiveUpHours, cfg.Webhooks.TimeoutSeconds = 100, 1, 24, 5
	rl, err := dsl.NewReloader(rules.FS, t.TempDir(), dsl.Options{OrgDomains: cfg.Org.Domains})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(db, rl, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(Options{DB: db, Engine: eng, Rules: rl, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{s: s}
	if s.integ, err = integrations.New(integrations.Options{DB: db, Config: cfg, View: integrations.Viewer{Alert: h.ViewAlert, Case: h.ViewCase}}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.headers(s.mux))
	t.Cleanup(ts.Close)
	for _, r := range account.Roles {
		if err := account.AddAccount(db, "test", r, []string{r}, testPassword(r)); err != nil {
			t.Fatal(err)
		}
	}
	return &testEnv{t: t, db: db, eng: eng, srv: s, ts: ts}
}

// client is one browser: a cookie jar, no automatic redirects.
type client struct {
	env  *testEnv
	http *http.Client
	csrf string
}

func (e *testEnv) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{env: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in through the login form and remembers the session's CSRF token.
func (e *testEnv) signIn(name string) *client {
	e.t.Helper()
	c := e.client()
	resp := c.get("/login")
	m := csrfRE.FindStringSubmatch(resp)
	if m == nil {
		e.t.Fatalf("no csrf field on /login:\n%s", resp)
	}
	r := c.do("POST", "/login", url.Values{"csrf": {m[1]}, "name": {name}, "password": {testPassword(name)}}, nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		e.t.Fatalf("sign in as %s: status %d location %q", name, r.StatusCode, r.Header.Get("Location"))
	}
	page := c.get("/")
	m = csrfRE.FindStringSubmatch(page)
	if m == nil {
		e.t.Fatalf("no csrf token on / for %s", name)
	}
	c.csrf = m[1]
	return c
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) *http.Response {
	c.env.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.env.ts.URL+path, body)
	if err != nil {
		c.env.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.env.t.Fatal(err)
	}
	c.env.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (c *client) get(path string) string {
	c.env.t.Helper()
	resp := c.do("GET", path, nil, nil)
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// post sends a form with the session's CSRF token.
func (c *client) post(path string, form url.Values) *http.Response {
	c.env.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	return c.do("POST", path, form, nil)
}

func body(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}
