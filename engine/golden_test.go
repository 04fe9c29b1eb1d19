package engine

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"irm/dsl"
	"irm/event"
	"irm/rules"
	"irm/store"
)

// Engine golden tests, in the style of Prometheus' promqltest: every file in
// engine/testdata/*.txt is a script (settings, policies, events, commands), a line of
// ten dashes, and what the script's `show` commands print. `go test ./engine -run
// Golden -update` rewrites the expected part; review the diff before committing it.
//
// Script (one command per line; indented lines belong to the command above; # comments):
//
//	rules                    a rule file (TOML), indented, added to the built-ins (before any events)
//	timezone ZONE            the organisation's time zone ([org] timezone; default UTC)
//	settings                 TOML [settings] keys, indented (replaces the defaults)
//	policy                   one [[policy]] table's keys, indented
//	now 2026-03-20           the engine's clock (alert times, "start scoring")
//	events                   event lines, indented (below); stored and processed as one batch
//	flush                    the settle pass (Engine.Flush)
//	status USER POLICY S     set the status of the pair's newest alert (dismissed, resolved, ...)
//	start USER POLICY DAYS   start scoring USER under POLICY for DAYS days
//	show                     print every alert
//
// Event line: TIME USER OPERATION [key=value ...] [xN [every=DURATION]]. TIME is
// 2006-01-02T15:04 (UTC), or FROM..TO with a time of day (2026-01-05..2026-02-27T09:00)
// for one event on every day of the range; add `weekdays` to skip Saturdays and Sundays.
// xN repeats the event N times, `every` apart (default 1m); {i} in a value is the
// repetition's number. The feed follows from the operation: resignation,
// performance_review, improvement_plan, job_level_change are HR; PhysicalAccess
// badging; DlpRuleMatch DLP; SecurityAlert defender; everything else audit. Keys: file,
// labels, sits, site, url, domain (target domain), to (recipients), device, ip,
// workload, severity, status, category, title, asset, policies, size, attachments,
// target_type; HR: resigned, lwd, rating, dept, old, new.

var update = flag.Bool("update", false, "rewrite the expected output of the engine golden tests")

const goldenSep = "----------"

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runGolden(t, f) })
	}
}

func runGolden(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	script, want, _ := strings.Cut(string(raw), "\n"+goldenSep+"\n")
	got := runScript(t, path, script)
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(script, "\n")+"\n"+goldenSep+"\n"+got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("%s: output differs (go test ./engine -run Golden -update rewrites it; review the diff):\n%s", path, lineDiff(want, got))
	}
}

// lineDiff shows the lines only one side has, in order.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			i++
			j++
		case j < len(g) && (i >= len(w) || !slices.Contains(w[i:], g[j])):
			fmt.Fprintf(&b, "+ %s\n", g[j])
			j++
		default:
			fmt.Fprintf(&b, "- %s\n", w[i])
			i++
		}
	}
	return b.String()
}

type scriptCmd struct {
	line int
	name string
	args []string
	body []string
	rows []int // line numbers of body
}

func parseScript(text string) ([]scriptCmd, error) {
	var out []scriptCmd
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], "'") && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) == 0 {
				return nil, fmt.Errorf("line %d: indented line before any command", n)
			}
			out[len(out)-1].body = append(out[len(out)-1].body, strings.TrimSpace(line))
			out[len(out)-1].rows = append(out[len(out)-1].rows, n)
			continue
		}
		f, err := splitArgs(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		out = append(out, scriptCmd{line: n, name: f[0], args: f[1:]})
	}
	return out, nil
}

// splitArgs splits on spaces, keeping "double quoted" words together.
func splitArgs(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unclosed quote in %q", s)
			}
			out = append(out, s[1:end+1])
			s = s[end+2:]
			continue
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			i = len(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out, nil
}

func runScript(t *testing.T, path, script string) string {
	t.Helper()
	cmds, err := parseScript(script)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var e *Engine
	var db *store.DB
	var ruleText []string
	cfg := testConfig()
	for _, c := range cmds {
		switch c.name {
		case "rules":
			ruleText = append(ruleText, strings.Join(c.body, "\n"))
		case "timezone":
			if len(c.args) != 1 {
				t.Fatalf("%s:%d: timezone: want one IANA name", path, c.line)
			}
			cfg.Org.Timezone = c.args[0]
		}
	}
	dir := ""
	if len(ruleText) > 0 {
		dir = t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "golden.toml"), []byte(strings.Join(ruleText, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db = openTestDB(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	r, err := dsl.NewReloader(rules.FS, dir, dsl.Options{OrgDomains: cfg.Org.Domains, OrgTimezone: cfg.Org.Timezone, Logger: testLogger()})
	if err != nil {
		t.Fatalf("%s: rules: %v", path, err)
	}
	if r.LastError() != nil {
		t.Fatalf("%s: rules: %v", path, r.LastError())
	}
	if e, err = New(db, r, cfg, testLogger()); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	e.now = func() time.Time { return clock }
	var out strings.Builder
	var policies []string
	fail := func(c scriptCmd, f string, a ...any) {
		t.Fatalf("%s:%d: %s: %s", path, c.line, c.name, fmt.Sprintf(f, a...))
	}
	seq := 0
	for _, c := range cmds {
		switch c.name {
		case "rules", "timezone":
		case "settings":
			mustSettings(t, e, "[settings]\n"+strings.Join(c.body, "\n")+"\n")
		case "policy":
			policies = append(policies, "[[policy]]\n"+strings.Join(c.body, "\n")+"\n")
			mustPolicies(t, e, policies[len(policies)-1])
		case "now":
			if len(c.args) != 1 {
				fail(c, "want one date")
			}
			ts, err := parseWhen(c.args[0])
			if err != nil {
				fail(c, "%v", err)
			}
			clock = ts[0]
		case "events":
			var evs []event.Event
			for i, l := range c.body {
				got, err := parseEventLine(l, c.rows[i], &seq)
				if err != nil {
					t.Fatalf("%s:%d: %v", path, c.rows[i], err)
				}
				evs = append(evs, got...)
			}
			commit(t, e, db, evs)
		case "flush":
			if err := e.Flush(); err != nil {
				fail(c, "%v", err)
			}
		case "status":
			if len(c.args) != 3 {
				fail(c, "want USER POLICY STATUS")
			}
			as := e.Alerts(AlertFilter{User: c.args[0], Policy: c.args[1]})
			if len(as) == 0 {
				fail(c, "no alert for %s under %q", c.args[0], c.args[1])
			}
			if err := e.SetAlertStatus("analyst", as[0].ID, c.args[2], "golden test"); err != nil {
				fmt.Fprintf(&out, "line %d: status: %v\n", c.line, err)
			}
		case "start":
			if len(c.args) != 3 {
				fail(c, "want USER POLICY DAYS")
			}
			days, _ := strconv.Atoi(c.args[2])
			if err := e.StartScoring("admin", []string{c.args[0]}, []string{c.args[1]}, days, "golden test"); err != nil {
				fmt.Fprintf(&out, "line %d: start: %v\n", c.line, err)
			}
		case "show":
			fmt.Fprintf(&out, "# line %d\n", c.line)
			renderAlerts(&out, e)
		default:
			fail(c, "unknown command")
		}
	}
	return out.String()
}

// renderAlerts prints every alert in a stable order, without times and ids.
func renderAlerts(b *strings.Builder, e *Engine) {
	as := e.Alerts(AlertFilter{})
	sort.SliceStable(as, func(i, j int) bool {
		if as[i].User != as[j].User {
			return as[i].User < as[j].User
		}
		if as[i].Policy != as[j].Policy {
			return as[i].Policy < as[j].Policy
		}
		if !as[i].Created.Equal(as[j].Created) {
			return as[i].Created.Before(as[j].Created)
		}
		// Ids are keyed per installation, so they cannot order alerts created at the
		// same (test clock) instant: the active one, the pair's newest, comes first.
		return as[i].active() && !as[j].active()
	})
	if len(as) == 0 {
		b.WriteString("no alerts\n")
	}
	for _, a := range as {
		fmt.Fprintf(b, "alert %s %q %s score=%d %s factors=%v events=%d\n", a.User, a.Policy, a.Severity, a.Score, a.Status, a.RiskFactors, len(a.EventIDs))
		for _, tr := range a.Triggers {
			fmt.Fprintf(b, "  trigger %s %s\n", tr.Time.Format("2006-01-02T15:04"), tr.Name)
		}
		for _, in := range a.Insights {
			mark := " "
			if in.Scored {
				mark = "*"
			}
			fmt.Fprintf(b, "  %s %s %s %s n=%d th=%d/%d/%d %s points=%d", mark, in.Day, in.Kind, in.ID, in.Count,
				in.Thresholds[0], in.Thresholds[1], in.Thresholds[2], in.Level, in.Points)
			if len(in.Boosters) > 0 {
				fmt.Fprintf(b, " boosters=%s", strings.Join(in.Boosters, ","))
			}
			fmt.Fprintf(b, " events=%d\n      %s\n", len(in.EventIDs), in.Detail)
		}
	}
}

// parseWhen reads TIME or FROM..TO[Thh:mm] (one time per day).
func parseWhen(s string) ([]time.Time, error) {
	parse := func(v string) (time.Time, error) {
		for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
			if ts, err := time.Parse(layout, v); err == nil {
				return ts, nil
			}
		}
		return time.Time{}, fmt.Errorf("time %q: want 2006-01-02T15:04", v)
	}
	from, to, isRange := strings.Cut(s, "..")
	if !isRange {
		ts, err := parse(s)
		return []time.Time{ts}, err
	}
	tod := ""
	if i := strings.IndexByte(to, 'T'); i >= 0 {
		to, tod = to[:i], to[i:]
	}
	a, err := parse(from + tod)
	if err != nil {
		return nil, err
	}
	z, err := parse(to + tod)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for d := a; !d.After(z); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out, nil
}

var hrOps = map[string]bool{event.HRResignation: true, event.HRPerformanceReview: true, event.HRImprovementPlan: true, event.HRJobLevelChange: true}

func parseEventLine(l string, row int, seq *int) ([]event.Event, error) {
	f, err := splitArgs(l)
	if err != nil {
		return nil, err
	}
	if len(f) < 3 {
		return nil, fmt.Errorf("want TIME USER OPERATION [key=value ...]")
	}
	times, err := parseWhen(f[0])
	if err != nil {
		return nil, err
	}
	user, op := strings.ToLower(f[1]), f[2]
	n, every, weekdays := 1, time.Minute, false
	kv := map[string]string{}
	for _, a := range f[3:] {
		switch {
		case a == "weekdays":
			weekdays = true
		case strings.HasPrefix(a, "x") && len(a) > 1 && a[1] >= '0' && a[1] <= '9':
			if n, err = strconv.Atoi(a[1:]); err != nil || n < 1 {
				return nil, fmt.Errorf("repeat %q", a)
			}
		case strings.HasPrefix(a, "every="):
			if every, err = time.ParseDuration(a[6:]); err != nil {
				return nil, err
			}
		default:
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				return nil, fmt.Errorf("%q is not key=value", a)
			}
			kv[k] = v
		}
	}
	var out []event.Event
	for _, ts := range times {
		if weekdays && (ts.Weekday() == time.Saturday || ts.Weekday() == time.Sunday) {
			continue
		}
		for i := range n {
			*seq++
			at := ts.Add(time.Duration(i) * every)
			val := func(k string) string { return strings.ReplaceAll(kv[k], "{i}", strconv.Itoa(i)) }
			ev := event.Event{ID: fmt.Sprintf("%s-%d-%d", strings.SplitN(user, "@", 2)[0], row, *seq), Feed: event.FeedAudit, Time: at,
				User: user, Operation: op, Workload: "Endpoint", Raw: []byte(`{}`)}
			switch {
			case hrOps[op]:
				ev.Feed = event.FeedHR
				ev.ID = "hr-" + ev.ID
				ev.HR = &event.HR{Scenario: op, EffectiveDate: at, Rating: kv["rating"], Department: kv["dept"], OldLevel: kv["old"], NewLevel: kv["new"]}
				if v := kv["resigned"]; v != "" {
					r, err := parseWhen(v)
					if err != nil {
						return nil, err
					}
					ev.HR.ResignationDate = r[0]
				} else if op == event.HRResignation {
					ev.HR.ResignationDate = at
				}
				if v := kv["lwd"]; v != "" {
					r, err := parseWhen(v)
					if err != nil {
						return nil, err
					}
					ev.HR.LastWorkingDate = r[0]
				}
			case op == "PhysicalAccess":
				ev.Feed = event.FeedBadging
			case op == "DlpRuleMatch":
				ev.Feed = event.FeedDLP
			case op == "SecurityAlert":
				ev.Feed = event.FeedDefender
			}
			for k := range kv {
				v := val(k)
				switch k {
				case "file":
					ev.FileName = v
					if j := strings.LastIndexByte(v, '.'); j >= 0 {
						ev.FileExt = strings.ToLower(v[j+1:])
					}
					ev.Object = `C:\Users\x\` + v
				case "labels":
					ev.Labels = strings.Split(v, ",")
				case "sits":
					ev.SensitiveTypes = strings.Split(v, ",")
				case "site":
					ev.Site = v
				case "url":
					ev.URL = v
				case "domain":
					ev.TargetDomain = strings.ToLower(v)
				case "to":
					ev.Recipients = strings.Split(strings.ToLower(v), ",")
				case "device":
					ev.Device = v
				case "ip":
					ev.ClientIP = v
				case "workload":
					ev.Workload = v
				case "severity":
					ev.Severity = strings.ToLower(v)
				case "status":
					ev.Status = strings.ToLower(v)
				case "category":
					ev.Category = v
				case "title":
					ev.Title = v
				case "asset":
					ev.Asset = v
				case "policies":
					ev.Policies = strings.Split(v, ",")
				case "size":
					ev.Size, _ = strconv.ParseInt(v, 10, 64)
				case "attachments":
					ev.Attachments, _ = strconv.Atoi(v)
				case "target_type":
					ev.TargetUserType = v
				case "resigned", "lwd", "rating", "dept", "old", "new":
					if ev.HR == nil {
						return nil, fmt.Errorf("%s= is for HR events", k)
					}
				default:
					return nil, fmt.Errorf("unknown key %q", k)
				}
			}
			out = append(out, ev)
		}
	}
	return out, nil
}
