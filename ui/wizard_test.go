package ui

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"irm/account"
	"irm/engine"
)

var draftRE = regexp.MustCompile(`name="draft" value="([^"]*)"`)

// wizardPost submits one step with the draft the previous page carried.
func wizardPost(t *testing.T, c *client, page string, form url.Values) (int, string) {
	t.Helper()
	m := draftRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no draft on page:\n%s", page)
	}
	form.Set("draft", htmlUnescape(m[1]))
	r := c.post("/policies/new", form)
	return r.StatusCode, body(r)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#39;", "'").Replace(s)
}

// TestWizardWithoutJavaScript walks the wizard with plain form posts, including going
// back, a data-leak template's trigger step and custom thresholds, and refuses a name
// that is taken.
func TestWizardWithoutJavaScript(t *testing.T) {
	env := newTestEnv(t)
	c := env.signIn(account.RoleAdmin)
	page := c.get("/policies/new")
	st, page := wizardPost(t, c, page, url.Values{"step": {secTemplate}, "nav": {"next"}, "template": {"data_leaks"}})
	if st != 200 || !strings.Contains(page, `id="policy-name"`) {
		t.Fatalf("after template: %d", st)
	}
	st, page = wizardPost(t, c, page, url.Values{"step": {secName}, "nav": {"next"}, "name": {"Leaks"}, "description": {"d"}})
	if st != 200 || !strings.Contains(page, `name="users_mode"`) {
		t.Fatalf("after name: %d", st)
	}
	// Back keeps what was typed.
	st, back := wizardPost(t, c, page, url.Values{"step": {secUsers}, "nav": {"back"}, "users_mode": {"specific"}, "users": {"a@contoso.com\nb@contoso.com"}})
	if st != 200 || !strings.Contains(back, `value="Leaks"`) {
		t.Fatalf("back to name: %d", st)
	}
	_, page = wizardPost(t, c, back, url.Values{"step": {secName}, "nav": {"next"}, "name": {"Leaks"}, "description": {"d"}})
	if !strings.Contains(page, "a@contoso.com") {
		t.Fatal("users lost after going back")
	}
	_, page = wizardPost(t, c, page, url.Values{"step": {secUsers}, "nav": {"next"}, "users_mode": {"specific"}, "users": {"a@contoso.com\nb@contoso.com"}})
	_, page = wizardPost(t, c, page, url.Values{"step": {secContent}, "nav": {"next"}, "content_mode": {"some"}, "pc_labels": {"Confidential"}})
	if !strings.Contains(page, `name="trigger_mode"`) {
		t.Fatal("data_leaks has no trigger step")
	}
	_, page = wizardPost(t, c, page, url.Values{"step": {secTriggers}, "nav": {"next"}, "trigger_mode": {"dlp"}, "dlp_policy": {"PCI"}})
	_, page = wizardPost(t, c, page, url.Values{"step": {secIndicators}, "nav": {"next"}, "use_template": {"on"}, "enabled": {"on"}, "cumulative": {"on"}})
	_, page = wizardPost(t, c, page, url.Values{"step": {secThresholds}, "nav": {"next"}, "thresholds_mode": {"custom"},
		"th_id": {"copy_to_usb"}, "th_copy_to_usb_low": {"4"}, "th_copy_to_usb_medium": {"8"}, "th_copy_to_usb_high": {"16"}})
	if !strings.Contains(page, `data-testid="review"`) {
		t.Fatalf("no review page:\n%s", page)
	}
	st, page = wizardPost(t, c, page, url.Values{"step": {secReview}, "nav": {"create"}})
	if st != 303 {
		t.Fatalf("create: %d\n%s", st, page)
	}
	p, ok := env.eng.Policy("Leaks")
	if !ok {
		t.Fatal("policy not created")
	}
	want := engine.Policy{Name: "Leaks", Description: "d", Template: "data_leaks", Users: []string{"a@contoso.com", "b@contoso.com"},
		PriorityContent: engine.PriorityContent{Labels: []string{"confidential"}}, Triggers: engine.Triggers{DLPPolicy: "PCI"},
		Thresholds: map[string][]int{"copy_to_usb": {4, 8, 16}}, Cumulative: true, Enabled: true}
	gotJSON, _ := json.Marshal(struct {
		N, D, T string
		U       []string
		PC      engine.PriorityContent
		Tr      engine.Triggers
		Th      map[string][]int
		C, E    bool
	}{p.Name, p.Description, p.Template, p.Users, p.PriorityContent, p.Triggers, p.Thresholds, p.Cumulative, p.Enabled})
	wantJSON, _ := json.Marshal(struct {
		N, D, T string
		U       []string
		PC      engine.PriorityContent
		Tr      engine.Triggers
		Th      map[string][]int
		C, E    bool
	}{want.Name, want.Description, want.Template, want.Users, want.PriorityContent, want.Triggers, want.Thresholds, want.Cumulative, want.Enabled})
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("policy\n got %s\nwant %s", gotJSON, wantJSON)
	}

	// The same name again is refused at the name step.
	page = c.get("/policies/new")
	_, page = wizardPost(t, c, page, url.Values{"step": {secTemplate}, "nav": {"next"}, "template": {"data_leaks"}})
	st, page = wizardPost(t, c, page, url.Values{"step": {secName}, "nav": {"next"}, "name": {"Leaks"}})
	if st != 400 || !strings.Contains(page, "already exists") {
		t.Fatalf("duplicate name: %d", st)
	}

	// The edit page cannot rename: a posted name is ignored.
	r := c.post("/policies/Leaks", url.Values{"section": {secName}, "name": {"Renamed"}, "description": {"new"}})
	if r.StatusCode != 303 {
		t.Fatalf("edit: %d %s", r.StatusCode, body(r))
	}
	if p, ok := env.eng.Policy("Leaks"); !ok || p.Description != "new" {
		t.Fatalf("after edit: %+v %v", p, ok)
	}
	if _, ok := env.eng.Policy("Renamed"); ok {
		t.Fatal("the edit page renamed the policy")
	}
	// Delete keeps working and redirects to the list.
	if r := c.post("/policies/Leaks/delete", nil); r.StatusCode != 303 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if _, ok := env.eng.Policy("Leaks"); ok {
		t.Fatal("not deleted")
	}
}
