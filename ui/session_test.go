package ui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"irm/account"
	"irm/store"
)

// TestCSRF: a state-changing request without the session's token, with a wrong one, or
// from another origin is refused with 403 and changes nothing.
func TestCSRF(t *testing.T) {
	env := newTestEnv(t)
	c := env.signIn(account.RoleAdmin)
	before := env.eng.Settings().ActivationWindowDays
	form := func(token string) url.Values {
		v := url.Values{"activation_window_days": {"7"}, "past_activity_days": {"90"}, "alert_volume": {"default"},
			"min_daily_events": {"10"}, "cumulative_percentile": {"95"}, "cumulative_min_events": {"20"}}
		if token != "" {
			v.Set("csrf", token)
		}
		return v
	}
	cases := []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no token", form(""), nil},
		{"wrong token", form("not-the-token"), nil},
		{"other session's token", form(env.signIn(account.RoleIRM).csrf), nil},
		{"foreign origin", form(c.csrf), map[string]string{"Origin": "http://evil.example"}},
		{"cross-site fetch", form(c.csrf), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"null origin", form(c.csrf), map[string]string{"Origin": "null"}},
	}
	for _, tc := range cases {
		resp := c.do("POST", "/settings", tc.form, tc.hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, resp.StatusCode)
		}
	}
	if got := env.eng.Settings().ActivationWindowDays; got != before {
		t.Fatalf("a refused request changed the settings: %d", got)
	}
	// The same request with the token and same origin goes through.
	resp := c.do("POST", "/settings", form(c.csrf), map[string]string{"Origin": env.ts.URL, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("valid request: status %d: %s", resp.StatusCode, body(resp))
	}
	if got := env.eng.Settings().ActivationWindowDays; got != 7 {
		t.Fatalf("activation window %d after save, want 7", got)
	}
	// The API takes the token in a header.
	resp = c.do("POST", "/api/v1/alerts/ANOSUCH/status", url.Values{"status": {"dismissed"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("API without token: %d, want 403", resp.StatusCode)
	}
	resp = c.do("POST", "/api/v1/alerts/ANOSUCH/status", url.Values{"status": {"dismissed"}}, map[string]string{csrfHeader: c.csrf})
	if resp.StatusCode != http.StatusForbidden { // admin may not triage alerts
		t.Errorf("API as admin with token: %d, want 403", resp.StatusCode)
	}

	// Sign-in itself needs the login form's token.
	anon := env.client()
	resp = anon.do("POST", "/login", url.Values{"name": {account.RoleAdmin}, "password": {testPassword(account.RoleAdmin)}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without token: %d, want 403", resp.StatusCode)
	}
}

func TestSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		env := newTestEnv(t)
		env.srv.secure = secure
		c := env.client()
		m := csrfRE.FindStringSubmatch(c.get("/login"))
		resp := c.do("POST", "/login", url.Values{"csrf": {m[1]}, "name": {account.RoleAnalyst}, "password": {testPassword(account.RoleAnalyst)}}, nil)
		var ck *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == sessionCookie {
				ck = k
			}
		}
		if ck == nil {
			t.Fatalf("secure=%v: no session cookie", secure)
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != secure || ck.Path != "/" {
			t.Errorf("secure=%v: cookie %+v: want HttpOnly, SameSite=Strict, Secure=%v, Path=/", secure, ck, secure)
		}
	}
}

// TestSessionTimeouts: idle and absolute timeouts sign the browser out, and logout
// ends the session on the server (the old cookie is worthless).
func TestSessionTimeouts(t *testing.T) {
	env := newTestEnv(t)
	now := time.Now()
	env.srv.now = func() time.Time { return now }

	c := env.signIn(account.RoleAnalyst)
	now = now.Add(env.srv.idle - time.Minute)
	if r := c.do("GET", "/", nil, nil); r.StatusCode != 200 {
		t.Fatalf("before idle timeout: %d", r.StatusCode)
	}
	now = now.Add(env.srv.idle + time.Minute)
	if r := c.do("GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after idle timeout: %d, want 303", r.StatusCode)
	}

	c = env.signIn(account.RoleAnalyst)
	for elapsed := time.Duration(0); elapsed < env.srv.maxAge; elapsed += env.srv.idle / 2 {
		now = now.Add(env.srv.idle / 2)
		c.do("GET", "/", nil, nil)
	}
	now = now.Add(env.srv.idle / 2)
	if r := c.do("GET", "/", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after absolute timeout: %d, want 303", r.StatusCode)
	}

	c = env.signIn(account.RoleAnalyst)
	var token string
	u, _ := url.Parse(env.ts.URL)
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == sessionCookie {
			token = k.Value
		}
	}
	if r := c.post("/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if _, ok, _ := env.db.Session(token); ok {
		t.Fatal("session still stored after logout")
	}
	replay := env.client()
	req, _ := http.NewRequest("GET", env.ts.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
	resp, err := replay.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: %d, want 303", resp.StatusCode)
	}
}

// TestDisabledAccount: disabling signs the account out at once and sign-in fails.
func TestDisabledAccount(t *testing.T) {
	env := newTestEnv(t)
	analyst := env.signIn(account.RoleAnalyst)
	admin := env.signIn(account.RoleAdmin)
	if r := admin.post("/admin/users/analyst", url.Values{"action": {"disable"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", r.StatusCode, body(r))
	}
	if r := analyst.do("GET", "/alerts", nil, nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("disabled account still signed in: %d", r.StatusCode)
	}
	c := env.client()
	m := csrfRE.FindStringSubmatch(c.get("/login"))
	if r := c.do("POST", "/login", url.Values{"csrf": {m[1]}, "name": {account.RoleAnalyst}, "password": {testPassword(account.RoleAnalyst)}}, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("disabled sign-in: %d, want 401", r.StatusCode)
	}
	// Role changes apply to live sessions and are audited with before and after.
	if r := admin.post("/admin/users/investigator", url.Values{"action": {"roles"}, "role": {account.RoleAuditor}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("roles: %d %s", r.StatusCode, body(r))
	}
	var found bool
	env.db.AuditEntries(store.AuditFilter{Category: "users", Target: "investigator"}, func(e store.AuditEntry) error {
		if e.Activity == "Changed role groups" && strings.Contains(string(e.Before), account.RoleInvestigator) && strings.Contains(string(e.After), account.RoleAuditor) {
			found = true
		}
		return nil
	})
	if !found {
		t.Fatal("role change not audited with before/after")
	}
	// An admin cannot lock themselves out.
	if r := admin.post("/admin/users/admin", url.Values{"action": {"disable"}}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("self-disable: %d, want 400", r.StatusCode)
	}
}
