package ui

import (
	"encoding/json"
	"html"
	"strings"
	"testing"

	"irm/account"
	"irm/engine"
)

// TestAnalyticsOverDemo (must-show): over the demo organisation, with no policy at all,
// the analytics recommend the data leak template (the most widespread activity: the
// demo's users mail attachments out, print and copy to USB), show the departing users
// who exfiltrate for the data theft template, hide risky browsing (fewer than five
// users), link each shown insight to the wizard with its template, and name nobody:
// no user's UPN or local part appears on the page, in the API's answer or in the report.
func TestAnalyticsOverDemo(t *testing.T) {
	env, m := newDemoEnv(t)
	for _, p := range env.eng.Policies() {
		if err := env.eng.DeletePolicy("test", p.Name); err != nil {
			t.Fatal(err)
		}
	}
	admin := env.signIn(account.RoleAdmin)
	if r := admin.post("/analytics", nil); r.StatusCode != 303 {
		t.Fatalf("compute now: %d", r.StatusCode)
	}
	page := admin.get("/analytics")
	rep, ok, err := env.eng.LatestAnalytics()
	if err != nil || !ok {
		t.Fatalf("no stored report after compute: %v", err)
	}
	if rep.Policies != 0 || rep.ActiveUsers < 50 {
		t.Fatalf("report over %d policies, %d active users: %+v", rep.Policies, rep.ActiveUsers, rep)
	}
	by := map[string]engine.AnalyticsInsight{}
	for _, in := range rep.Insights {
		by[in.ID] = in
		if in.Shown && in.Users < engine.AnalyticsMinGroup {
			t.Errorf("%s shows %d users, below the minimum group", in.ID, in.Users)
		}
		if !in.Shown && (in.Users != 0 || len(in.TopIndicators) != 0) {
			t.Errorf("%s is hidden but gives counts: %+v", in.ID, in)
		}
		for _, x := range append(in.TopIndicators, in.TopSequences...) {
			if x.Users < engine.AnalyticsMinGroup {
				t.Errorf("%s lists %s with %d users", in.ID, x.ID, x.Users)
			}
		}
	}
	if rep.Recommended != "data_leaks" || !by["data_leaks"].Recommended {
		t.Errorf("recommended %q, want data_leaks", rep.Recommended)
	}
	if dt := by["data_theft_departing"]; !dt.Shown || dt.Users > by["data_leaks"].Users || len(dt.TopSequences) == 0 {
		t.Errorf("data theft by departing users: %+v", dt)
	}
	if by["risky_browsing"].Shown {
		t.Errorf("risky browsing shown with %d users", by["risky_browsing"].Users)
	}
	for _, tmpl := range []string{"data_leaks", "data_theft_departing"} {
		if !strings.Contains(page, `href="/policies/new?template=`+tmpl+`"`) {
			t.Errorf("no button to create a %s policy on the page", tmpl)
		}
	}
	if !strings.Contains(page, `data-testid="recommended"`) {
		t.Error("the page does not mark the recommended template")
	}
	wizard := admin.get("/policies/new?template=data_theft_departing")
	if !strings.Contains(wizard, `id="template-data_theft_departing" value="data_theft_departing" checked`) {
		t.Error("the wizard does not open with the recommended template chosen")
	}
	tok := mustToken(t, env.db, "analytics", []string{account.RoleAdmin}, false)
	spec := loadOpenAPI(t, env.ts.URL)
	code, api := apiClient{t: t, base: env.ts.URL, token: tok, spec: spec}.call("GET", "/api/v1/analytics", "")
	if code != 200 {
		t.Fatalf("API: %d %s", code, api)
	}
	report, _ := json.Marshal(rep)
	if len(m.Users) < 100 {
		t.Fatalf("the manifest lists %d users", len(m.Users))
	}
	for what, b := range map[string]string{"page": html.UnescapeString(page), "API": string(api), "report": string(report)} {
		low := strings.ToLower(b)
		for _, u := range m.Users {
			local, _, _ := strings.Cut(u, "@")
			if strings.Contains(low, u) || strings.Contains(low, local) {
				t.Errorf("the %s names %s", what, u)
			}
		}
		if strings.Contains(low, "@contoso.com") || strings.Contains(low, "anon-") {
			t.Errorf("the %s names a user", what)
		}
	}
}
