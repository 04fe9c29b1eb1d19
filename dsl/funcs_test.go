package dsl

import (
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"irm/event"
)

// evalBool compiles expr in a fresh environment (org contoso.com and *.fabrikam-corp.com)
// and evaluates it against in.
func evalBool(t *testing.T, expr string, in *Input) bool {
	t.Helper()
	env, err := newEnv(newDomainSet([]string{"contoso.com", "*.contoso-corp.com"}), "UTC")
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("%s: %v", expr, iss.Err())
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(CostLimit))
	if err != nil {
		t.Fatal(err)
	}
	rs := &RuleSet{listVals: map[string]ref.Val{"file_list": strs([]string{"from-file.com"})}}
	if in == nil {
		in = &Input{Event: &event.Event{}}
	}
	a := rs.activation(in)
	defer release(a)
	out, _, err := prg.Eval(a)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return out == types.True
}

func TestFunctions(t *testing.T) {
	cases := []struct {
		expr string
		want bool
	}{
		// matchesDomain: exact, wildcard = subdomains only, case, addresses, URLs.
		{`"x.com".matchesDomain(["x.com"])`, true},
		{`"X.COM".matchesDomain(["x.com"])`, true},
		{`"x.com".matchesDomain(["X.Com"])`, true},
		{`"a.x.com".matchesDomain(["x.com"])`, false},
		{`"a.x.com".matchesDomain(["*.x.com"])`, true},
		{`"a.b.x.com".matchesDomain(["*.x.com"])`, true},
		{`"x.com".matchesDomain(["*.x.com"])`, false},
		{`"evilx.com".matchesDomain(["*.x.com"])`, false},
		{`"bob@X.com".matchesDomain(["x.com"])`, true},
		{`"bob@mail.x.com".matchesDomain(["*.x.com"])`, true},
		{`"https://dl.x.com:8443/a/b?c=1".matchesDomain(["*.x.com"])`, true},
		{`"x.com/path".matchesDomain(["x.com"])`, true},
		{`"".matchesDomain(["x.com"])`, false},
		{`"x.com".matchesDomain([])`, false},
		// isExternal: org domains, wildcard org domains, addresses, not-an-address strings.
		{`"bob@fabrikam.com".isExternal()`, true},
		{`"bob@contoso.com".isExternal()`, false},
		{`"BOB@CONTOSO.COM".isExternal()`, false},
		{`"bob@sub.contoso.com".isExternal()`, true},
		{`"bob@eu.contoso-corp.com".isExternal()`, false},
		{`"contoso-corp.com".isExternal()`, true},
		{`"fabrikam.com".isExternal()`, true},
		{`"contoso.com".isExternal()`, false},
		{`"".isExternal()`, false},
		{`"Everyone except external users".isExternal()`, false},
		{`"Members".isExternal()`, false},
		{`"j.doe_fabrikam.com#EXT#@contoso.onmicrosoft.com".isExternal()`, true},
		{`["a@contoso.com", "b@gmail.com"].exists(r, r.isExternal())`, true},
		{`["a@contoso.com"].exists(r, r.isExternal())`, false},
		// globMatch: *, **, ?, separators, case on Windows paths.
		{`"/home/a/secret.txt".globMatch("/home/*/*.txt")`, true},
		{`"/home/a/b/secret.txt".globMatch("/home/*/*.txt")`, false},
		{`"/home/a/b/secret.txt".globMatch("/home/**/*.txt")`, true},
		{`"/home/secret.txt".globMatch("/home/**/*.txt")`, true},
		{`"/home/a/b/secret.TXT".globMatch("/home/**/*.txt")`, false},
		{`"C:\\Users\\Bob\\Secret.DOCX".globMatch("c:/users/*/*.docx")`, true},
		{`"C:\\Users\\Bob\\Docs\\Secret.docx".globMatch("C:\\Users\\**\\*.docx")`, true},
		{`"C:\\Users\\Bob\\Secret.docx".globMatch("C:\\Users\\?ob\\*")`, true},
		{`"C:\\Users\\Bob\\Secret.docx".globMatch("C:\\Users\\?\\*")`, false},
		{`"a+b(1).txt".globMatch("a+b(?).txt")`, true},
		// host.
		{`"https://Dl.X.com:8443/a".host() == "dl.x.com"`, true},
		{`"bob@x.com".host() == "x.com"`, true},
		{`"".host() == ""`, true},
		// isPoorRating.
		{`"1".isPoorRating()`, true},
		{`"2".isPoorRating()`, true},
		{`"2.5".isPoorRating()`, false},
		{`"3".isPoorRating()`, false},
		{`"2/5".isPoorRating()`, true},
		{`"4 of 10".isPoorRating()`, true},
		{`"3/5".isPoorRating()`, false},
		{`"Below Expectations".isPoorRating()`, true},
		{`"needs  improvement".isPoorRating()`, true},
		{`"Exceeds expectations".isPoorRating()`, false},
		{`"".isPoorRating()`, false},
		// isPersonalAddressOf.
		{`"meganbowen88@gmail.com".isPersonalAddressOf("megan.bowen@contoso.com")`, true},
		{`"bowen.megan@outlook.com".isPersonalAddressOf("megan.bowen@contoso.com")`, true},
		{`"megan.bowen@contoso.com".isPersonalAddressOf("megan.bowen@contoso.com")`, false},
		{`"megan@gmail.com".isPersonalAddressOf("megan.bowen@contoso.com")`, false},
		{`"jo@gmail.com".isPersonalAddressOf("jo@contoso.com")`, false},
		// levelChange.
		{`levelChange("Level 62 Senior", "Level 61") == "down"`, true},
		{`levelChange("L4", "L5") == "up"`, true},
		{`levelChange("Manager", "Director") == "changed"`, true},
		{`levelChange("L4", "l4") == ""`, true},
		// Lists: settings lists win, file lists readable, unknown lists are empty.
		{`"from-file.com".matchesDomain(lists.file_list)`, true},
		{`size(lists.unallowed_domains) == 0`, true},
		{`has(lists.unallowed_domains)`, true},
		{`has(lists.file_list) && !has(lists.nothing_here)`, true},
		{`"x.com" in lists.file_list`, false},
		// Time-zone accessors (irm's cached-zone versions of the standard overloads).
		{`event.time.getHours("Europe/Berlin") == 23`, true},
		{`event.time.getHours() == 22`, true},
		{`event.time.getHours("-05:30") == 16 && event.time.getMinutes("-05:30") == 40`, true},
		{`event.time.getMinutes("+05:45") == 55`, true},
		{`event.time.getDayOfWeek("Asia/Tokyo") == 2 && event.time.getDayOfWeek() == 1`, true},
		{`event.time.getDate("Asia/Tokyo") == 3 && event.time.getDayOfMonth("Asia/Tokyo") == 2`, true},
		{`event.time.getMonth("Asia/Tokyo") == 2 && event.time.getDayOfYear("Asia/Tokyo") == 61`, true},
		{`event.time.getFullYear("Pacific/Kiritimati") == 2026`, true},
		{`timestamp("2026-12-31T23:30:00Z").getFullYear("Europe/Berlin") == 2027`, true},
		// The organisation's time zone is a string constant (UTC in this environment).
		{`org.timezone == "UTC" && event.time.getHours(org.timezone) == 22`, true},
		// ipNetwork: /24 for IPv4, /48 for IPv6, ports ignored, mapped IPv4, not an address.
		{`"203.0.113.77".ipNetwork() == "203.0.113.0/24"`, true},
		{`" 203.0.113.77:51234 ".ipNetwork() == "203.0.113.0/24"`, true},
		{`"203.0.114.1".ipNetwork() == "203.0.113.0/24"`, false},
		{`"2001:db8:1:2::5".ipNetwork() == "2001:db8:1::/48"`, true},
		{`"[2001:db8:1:2::5]:443".ipNetwork() == "2001:db8:1::/48"`, true},
		{`"fe80::1%eth0".ipNetwork() == "fe80::/48"`, true},
		{`"::ffff:198.51.100.7".ipNetwork() == "198.51.100.0/24"`, true},
		{`"laptop-7".ipNetwork() == "" && "".ipNetwork() == "" && "999.1.1.1".ipNetwork() == ""`, true},
	}
	in := &Input{Event: &event.Event{Time: time.Date(2026, 3, 2, 22, 10, 0, 0, time.UTC)}}
	for _, c := range cases {
		if got := evalBool(t, c.expr, in); got != c.want {
			t.Errorf("%s = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestVariablesDoc(t *testing.T) {
	got := map[string]string{}
	for _, v := range Variables() {
		got[v.Name] = v.Type
	}
	for name, typ := range map[string]string{"event.time": "timestamp", "event.recipients": "list(string)",
		"event.hr": "object", "event.hr.level_change": "string", "user.departing": "bool", "user.priority_groups": "list(string)", "org.timezone": "string"} {
		if got[name] != typ {
			t.Errorf("%s: type %q, want %q", name, got[name], typ)
		}
	}
}

func TestBadTimeZoneIsAnError(t *testing.T) {
	env, err := newEnv(newDomainSet(nil), "UTC")
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{`event.time.getHours("Mars/Olympus") == 1`, `event.time.getHours("+25:00") == 1`} {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		prg, _ := env.Program(ast)
		a := (&RuleSet{}).activation(&Input{Event: &event.Event{}})
		if _, _, err := prg.Eval(a); err == nil {
			t.Errorf("%s: no error", expr)
		}
		release(a)
	}
}

func TestSettingsListReplacesFileList(t *testing.T) {
	in := &Input{Event: &event.Event{}, Lists: map[string][]string{"file_list": {"other.com"}}}
	if evalBool(t, `"from-file.com".matchesDomain(lists.file_list)`, in) {
		t.Error("the settings list should replace the rule-file list")
	}
	if !evalBool(t, `"other.com".matchesDomain(lists.file_list)`, in) {
		t.Error("the settings list is not used")
	}
}

func TestVariables(t *testing.T) {
	eff := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ev := &event.Event{
		ID: "e1", Feed: "hr", Time: eff, User: "u@contoso.com", Operation: "job_level_change",
		Recipients: []string{"a@x.com"}, Labels: []string{"Secret"}, Size: 42, Attachments: 2, Hidden: true,
		HR: &event.HR{Scenario: "job_level_change", OldLevel: "L5", NewLevel: "L4", EffectiveDate: eff, Rating: "2"},
	}
	prof := &event.Profile{
		UPN: "u@contoso.com", Department: "Sales", Manager: "m@contoso.com",
		ResignationDate: eff, LastWorkingDate: eff.AddDate(0, 1, 0), LatestRating: "Below expectations",
		ImprovementPlan: eff, LevelChanges: []event.LevelChange{{Date: eff, OldLevel: "L5", NewLevel: "L4"}},
	}
	in := &Input{Event: ev, User: prof, PriorityGroups: []string{"execs"}}
	for _, expr := range []string{
		`event.id == "e1" && event.feed == "hr" && event.user == "u@contoso.com"`,
		`event.time == timestamp("2026-02-01T00:00:00Z")`,
		`event.recipients == ["a@x.com"] && "Secret" in event.labels && size(event.sensitive_types) == 0`,
		`event.size == 42 && event.attachments == 2 && event.hidden`,
		`has(event.hr) && event.hr.scenario == "job_level_change" && event.hr.level_change == "down"`,
		`event.hr.effective_date == event.time && event.hr.rating.isPoorRating()`,
		`user.upn == "u@contoso.com" && user.department == "Sales" && user.manager == "m@contoso.com"`,
		`user.departing && user.on_improvement_plan && user.poor_rating && user.level_change == "down"`,
		`user.priority && user.priority_groups == ["execs"]`,
		`user.end_date == timestamp("2026-03-01T00:00:00Z") && has(user.resignation_date)`,
		`!has(user.account_deleted) && user.latest_rating == "Below expectations"`,
		`type(event) == irm.Event`,
	} {
		if !evalBool(t, expr, in) {
			t.Errorf("%s is false", expr)
		}
	}
	// No HR part, no profile: fields read as empty values instead of failing.
	empty := &Input{Event: &event.Event{Feed: "audit", Operation: "FileDownloaded"}}
	for _, expr := range []string{
		`!has(event.hr) && event.hr.scenario == "" && event.hr.level_change == ""`,
		`!user.departing && !user.priority && size(user.priority_groups) == 0 && user.upn == ""`,
		`!has(user.end_date)`,
	} {
		if !evalBool(t, expr, empty) {
			t.Errorf("%s is false for an empty input", expr)
		}
	}
}
