package engine

import (
	"strings"
	"testing"
)

func TestSettingsFile(t *testing.T) {
	e, _ := newTestEngine(t)
	rs := e.ruleSet()
	s, err := ParseSettings("s.toml", []byte(`
[settings]
activation_window_days = 14
past_activity_days = 30
alert_volume = "fewer"
pseudonymize = false
excluded_file_types = [".MP3", "wav"]
indicators = ["copy_to_usb", "upload_to_cloud"]

[settings.domains]
unallowed = ["wikileaks.org", "*.WikiLeaks.org"]
allowed = ["fabrikam.com"]
third_party = []

[[settings.priority_group]]
name = "Executives"
members = ["CEO@contoso.com"]
`), rs)
	if err != nil {
		t.Fatal(err)
	}
	if s.ActivationWindowDays != 14 || s.PastActivityDays != 30 || s.AlertVolume != VolumeFewer || s.Pseudonymize ||
		s.MinDailyEvents != 10 || strings.Join(s.ExcludedFileTypes, ",") != "mp3,wav" || s.Domains.Unallowed[1] != "*.wikileaks.org" ||
		s.PriorityGroups[0].Members[0] != "ceo@contoso.com" {
		t.Errorf("parsed = %+v", s)
	}
	// Export and import give the same settings.
	out, err := FormatSettings(s)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ParseSettings("export.toml", out, rs)
	if err != nil {
		t.Fatalf("re-import of export: %v\n%s", err, out)
	}
	if a, b := mustJSON(t, s), mustJSON(t, s2); a != b {
		t.Errorf("round trip:\n%s\n%s", a, b)
	}
	if d := DefaultSettings(); !d.Pseudonymize || d.ActivationWindowDays != 30 || d.PastActivityDays != 90 || d.AlertVolume != VolumeDefault {
		t.Errorf("defaults = %+v", d)
	}
}

func TestSettingsErrors(t *testing.T) {
	e, _ := newTestEngine(t)
	for _, c := range []struct{ text, want string }{
		{"[settings]\nactivation_window = 3\n", `s.toml line 2: unknown key "settings.activation_window"`},
		{"[settings]\n\n[settings.domains]\nblocked = []\n", `s.toml line 4: unknown key "settings.domains.blocked"`},
		{"[settings]\n[[settings.priority_group]]\nname = \"x\"\nmember = []\n", `line 4: unknown key "settings.priority_group.member"`},
		{"[settings]\nactivation_window_days = 31\n", "activation_window_days must be 1-30"},
		{"[settings]\npast_activity_days = 181\n", "past_activity_days must be 0-180"},
		{"[settings]\nalert_volume = \"lots\"\n", "alert_volume must be fewer, default or more"},
		{"[settings]\nindicators = [\"nope\"]\n", `unknown indicator "nope"`},
		{"[settings]\ndefender_statuses = [\"closed\"]\n", `defender_statuses: "closed"`},
		{"[settings.domains]\nunallowed = [\"a b.com\"]\n", `is not a domain`},
		{"[settings]\n[[settings.priority_group]]\nname = \"G\"\nmembers = [\"bob\"]\n", `member "bob" is not a UPN`},
		{"[settings]\nactivation_window_days = \"x\"\n", "s.toml"},
	} {
		_, err := ParseSettings("s.toml", []byte(c.text), e.ruleSet())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.text, err, c.want)
		}
	}
}

func TestPolicyFile(t *testing.T) {
	e, _ := newTestEngine(t)
	rs := e.ruleSet()
	ps, err := ParsePolicies("p.toml", []byte(`
[[policy]]
name = "Departing employees"
template = "data_theft_departing"
users = ["*"]
indicators = ["template", "browse_job_sites"]
thresholds = { copy_to_usb = [5, 20, 50] }
priority_content = { labels = ["Confidential"], extensions = [".DWG"] }

[[policy]]
name = "Leaks"
template = "data_leaks"
users = ["Ann@Contoso.com"]
triggers = { dlp_policy = "Financial data", indicators = ["copy_to_usb"], thresholds = { copy_to_usb = 3 } }
sequences = []
cumulative_exfiltration = false
enabled = false
`), rs)
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	if !p.Enabled || !p.Cumulative || len(p.Sequences) != 1 || p.Sequences[0] != TemplateToken || !p.Boosters.AboveUsual ||
		p.PriorityContent.Labels[0] != "confidential" || p.PriorityContent.Extensions[0] != "dwg" {
		t.Errorf("defaults: %+v", p)
	}
	if err := p.validate(rs, &e.settings); err != nil {
		t.Error(err)
	}
	if err := e.EnsureIndex(); err != nil {
		t.Fatal(err)
	}
	set := e.scorer().indicatorSet(&p, rs.Template(p.Template))
	have := map[string]bool{}
	for _, ind := range set {
		have[ind.ID] = true
	}
	if !have["browse_job_sites"] || !have["copy_to_usb"] || len(have) != len(rs.Template(p.Template).Indicators)+1 {
		t.Errorf("template expansion gave %d indicators: %v", len(have), have)
	}
	q := ps[1]
	if q.Enabled || q.Cumulative || len(q.Sequences) != 0 || q.Users[0] != "ann@contoso.com" || q.Triggers.Thresholds["copy_to_usb"] != 3 {
		t.Errorf("explicit: %+v", q)
	}
	// Export and import give the same policies.
	out, err := FormatPolicies(ps)
	if err != nil {
		t.Fatal(err)
	}
	ps2, err := ParsePolicies("export.toml", out, rs)
	if err != nil {
		t.Fatalf("re-import of export: %v\n%s", err, out)
	}
	if a, b := mustJSON(t, ps), mustJSON(t, ps2); a != b {
		t.Errorf("round trip:\n%s\n%s", a, b)
	}
}

func TestPolicyErrors(t *testing.T) {
	e, _ := newTestEngine(t)
	for _, c := range []struct{ text, want string }{
		{"[[policy]]\nname = \"a\"\ntemplate = \"data_leaks\"\nuser = [\"*\"]\n", `p.toml line 4: unknown key "policy.user"`},
		{"[[policy]]\nname = \"a\"\ntemplate = \"nope\"\n", `template "nope" is not one of`},
		{"[[policy]]\nname = \"\"\ntemplate = \"data_leaks\"\n", "name must be set"},
		{"[[policy]]\nname = \"a\"\ntemplate = \"data_leaks\"\nindicators = [\"zzz\"]\n", `unknown indicator "zzz"`},
		{"[[policy]]\nname = \"a\"\ntemplate = \"data_leaks\"\nthresholds = { copy_to_usb = [5, 2, 50] }\n", "three ascending"},
		{"[[policy]]\nname = \"a\"\ntemplate = \"risky_browsing\"\nthresholds = { copy_to_usb = [1, 2, 3] }\n", "not in this policy's indicators"},
		{"[[policy]]\nname = \"a\"\ntemplate = \"security_violations\"\ntriggers = { dlp_policy = \"x\" }\n", "only the data_leaks and data_leaks_priority templates"},
		{"[[policy]]\nname = \"a\"\ntemplate = \"data_leaks\"\ntriggers = { indicators = [\"sharepoint_download\"] }\n", "triggers must be exfiltration indicators"},
		{"[[policy]]\nname = \"a\"\ntemplate = \"data_leaks\"\n[[policy]]\nname = \"a\"\ntemplate = \"data_leaks\"\n", "defined twice"},
		{"[[policy]]\nname = \"a\"\ntemplate = \"data_leaks\"\npriority_content = { only = true }\n", "no priority content"},
	} {
		_, err := e.ImportPolicies("t", "p.toml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.text, err, c.want)
		}
	}
	mustPolicies(t, e, "[[policy]]\nname = \"a\"\ntemplate = \"data_leaks\"\nusers = [\"*\"]\n")
	if _, err := e.ImportPolicies("t", "p.toml", []byte("[[policy]]\nname = \"a\"\ntemplate = \"risky_browsing\"\n")); err == nil ||
		!strings.Contains(err.Error(), "template cannot change") {
		t.Errorf("template change: %v", err)
	}
	// No limit of five per template.
	var many strings.Builder
	for i := 0; i < 7; i++ {
		many.WriteString("[[policy]]\nname = \"leak " + string(rune('a'+i)) + "\"\ntemplate = \"data_leaks\"\nusers = [\"*\"]\n")
	}
	mustPolicies(t, e, many.String())
	if n := len(e.Policies()); n != 8 {
		t.Errorf("%d policies, want 8", n)
	}
	if err := e.DeletePolicy("t", "leak a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Policy("leak a"); ok {
		t.Error("deleted policy still there")
	}
}

func TestPolicyHealth(t *testing.T) {
	e, db := newTestEngine(t)
	mustPolicies(t, e, `
[[policy]]
name = "Nobody"
template = "data_theft_departing"
users = []
indicators = []

[[policy]]
name = "DLP"
template = "data_leaks"
users = ["*"]
triggers = { dlp_policy = "Never seen" }
`)
	commit(t, e, db, usbDays("x@contoso.com", 1, 1))
	codes := func(name string) string {
		var cs []string
		for _, h := range e.PolicyHealth(name) {
			cs = append(cs, h.Code)
		}
		return strings.Join(cs, ",")
	}
	for name, want := range map[string][]string{
		"Nobody": {"no_users", "no_indicators", "hr_missing", "no_alerts"},
		"DLP":    {"no_trigger_data", "dlp_policy_unseen"},
	} {
		got := codes(name)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: health %s lacks %s", name, got, w)
			}
		}
	}
	// Triggers for more than 15% of the users covered.
	var evs = usbDays("y@contoso.com", 1, 1)
	for i := 0; i < 30; i++ {
		u := "u" + itoa(i) + "@contoso.com"
		evs = append(evs, usbDays(u, 1, 2)...)
		if i < 10 {
			evs = append(evs, resignation(u, at(1, 0), at(9, 0)))
		}
	}
	commit(t, e, db, evs)
	mustPolicies(t, e, departingPolicy)
	if got := codes("Departing"); !strings.Contains(got, "trigger_share") {
		t.Errorf("Departing: health %s lacks trigger_share", got)
	}
}
