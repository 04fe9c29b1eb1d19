// Package detection measures irm's detectors where benign behaviour overlaps risky
// behaviour: it generates the realistic demo organisation (heavy-tailed habits and the
// planted insider cases), ingests it through the real parsers, store and engine with all
// nine default policies on all users, and reports per policy and alert volume how many
// planted cases were alerted and how many benign users were — the false alerts counted
// as carefully as the hits. bench/detection.sh runs it at full size; its test runs a
// smaller organisation in CI and holds the targets.
package detection

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"irm/config"
	"irm/demo"
	"irm/dsl"
	"irm/engine"
	"irm/ingest"
	"irm/rules"
	"irm/store"
)

// Options size the organisation.
type Options struct {
	Users    int
	Days     int
	Seed     int64
	End      time.Time // last day; zero = a fixed date, so that runs compare
	TimeZone string    // the organisation's zone ("" = UTC)
	Dir      string    // work directory; "" = a temporary one, removed at the end
}

// Volumes are the alert volumes reported, strictest first.
var Volumes = []string{engine.VolumeFewer, engine.VolumeDefault, engine.VolumeMore}

// Report is what a run measured.
type Report struct {
	Users, Benign, Days int
	Judged              int // days after user mode's learning month: the rates are per 30 of these
	Records             int
	From, To            string
	Ingest              time.Duration
	// Rows: one per policy and volume, in policy order.
	Rows []Row
	// Any: per volume, benign users alerted under any policy.
	Any map[string]Row
	// Planted: every planted case and what alerted it (at the default volume).
	Planted []PlantedResult
	// ByHabit: per volume, benign users alerted under any policy, by habit tag.
	ByHabit map[string]map[string]int
	// EngineAlerts: the users the engine itself alerted while ingesting (the
	// settings' volume), per policy; the backtest must agree with it.
	EngineAlerts map[string][]string
	// Disagree lists policies where the engine's own alerts and the backtest at the
	// settings' volume name different users (should be empty).
	Disagree []string
}

// Row is one policy (or "any policy") at one volume.
type Row struct {
	Policy, Template, Volume    string
	PlantedAlerted, PlantedFor  int // planted cases of this template alerted / planted
	BenignAlerted               int
	InScope                     int     // users the policy's triggers brought into scope
	BenignPer30                 float64 // share of benign users alerted per 30 days, in percent
	High, Medium, Low           int     // all alerts of the row by severity
	BenignUsers                 []string
	PlantedUsers, MissedPlanted []string
}

// PlantedResult is one planted case.
type PlantedResult struct {
	User, Scenario, Template string
	Also                     []string
	// Alerted maps each policy that alerted the user (default volume) to the severity.
	Alerted map[string]string
	OK      bool // alerted under the expected template's policy
	Missing []string
}

// Run generates, ingests and measures. logf (may be nil) reports progress.
func Run(ctx context.Context, opt Options, logf func(string, ...any)) (*Report, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opt.End.IsZero() {
		opt.End = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	}
	dir := opt.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "irm-detection-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	drop := filepath.Join(dir, "drop")
	logf("generating %d users over %d days", opt.Users, opt.Days)
	m, err := demo.Generate(demo.Options{Users: opt.Users, Days: opt.Days, Seed: opt.Seed, End: opt.End,
		TimeZone: opt.TimeZone, Background: demo.Realistic}, drop)
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{}
	cfg.Org.Domains = []string{m.OrgDomain}
	cfg.Org.Timezone = "UTC"
	if opt.TimeZone != "" {
		cfg.Org.Timezone = opt.TimeZone
	}
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(filepath.Join(dir, "data"), store.Options{Logger: log, AuditKeyFile: filepath.Join(dir, "audit.key")})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	r, err := dsl.NewReloader(rules.FS, "", dsl.Options{OrgDomains: cfg.Org.Domains, OrgTimezone: cfg.Org.Timezone, Logger: log})
	if err != nil {
		return nil, err
	}
	e, err := engine.New(db, r, cfg, log)
	if err != nil {
		return nil, err
	}
	s, err := engine.ParseSettings("settings.toml", []byte(m.SettingsTOML()), r.Current())
	if err != nil {
		return nil, err
	}
	if err := e.UpdateSettings("detection", s); err != nil {
		return nil, err
	}
	if _, err := e.ImportPolicies("detection", "policies.toml", engine.DefaultPolicies); err != nil {
		return nil, err
	}
	in, err := ingest.New(db, ingest.Options{DropDir: drop, Logger: log})
	if err != nil {
		return nil, err
	}
	in.OnCommit(e.Process)
	start := time.Now()
	sum, err := in.Once(ctx)
	if err != nil {
		return nil, err
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	rep := &Report{Users: len(m.Users), Days: opt.Days, Records: sum.Records, Ingest: time.Since(start),
		From: m.Start.Format("2006-01-02"), To: m.End.Format("2006-01-02"), Any: map[string]Row{},
		ByHabit: map[string]map[string]int{}, EngineAlerts: map[string][]string{}}
	logf("ingested %d records in %s", sum.Records, rep.Ingest.Round(time.Millisecond))

	planted := map[string]demo.Planted{}
	for _, p := range m.Planted {
		planted[p.User] = p
	}
	rep.Benign = len(m.Users) - len(planted)
	for _, a := range e.Alerts(engine.AlertFilter{}) {
		rep.EngineAlerts[a.Policy] = append(rep.EngineAlerts[a.Policy], a.User)
	}

	policies := e.Policies()
	templateOf := map[string]string{}
	for _, p := range policies {
		templateOf[p.Name] = p.Template
	}
	// The rates are per 30 days of the period in which user mode judges volumes (after
	// its learning month): alerts raised during the learning month (novelty, unallowed
	// domains, security alerts) count too, so this overstates rather than flatters.
	rep.Judged = max(opt.Days-engine.LearningDays, 1)
	per30 := func(n int) float64 { return 100 * float64(n) / float64(rep.Benign) * 30 / float64(rep.Judged) }
	alertedAt := map[string]map[string]map[string]string{} // volume -> policy -> user -> severity
	for _, vol := range Volumes {
		alertedAt[vol] = map[string]map[string]string{}
		anyBenign := map[string]bool{}
		anyRow := Row{Policy: "any policy", Volume: vol}
		for _, p := range policies {
			res, err := e.Backtest(ctx, p, engine.BacktestOptions{Days: opt.Days, Volume: vol, End: m.End})
			if err != nil {
				return nil, fmt.Errorf("backtest %s at %s: %w", p.Name, vol, err)
			}
			row := Row{Policy: p.Name, Template: p.Template, Volume: vol, InScope: res.InScope}
			alertedAt[vol][p.Name] = map[string]string{}
			for _, a := range res.Alerted {
				alertedAt[vol][p.Name][a.User] = a.Severity
				switch a.Severity {
				case engine.LevelHigh:
					row.High++
				case engine.LevelMedium:
					row.Medium++
				default:
					row.Low++
				}
				if _, ok := planted[a.User]; ok {
					continue
				}
				row.BenignAlerted++
				row.BenignUsers = append(row.BenignUsers, a.User)
				anyBenign[a.User] = true
			}
			for _, pl := range m.Planted {
				if pl.Template != p.Template {
					continue
				}
				row.PlantedFor++
				if _, ok := alertedAt[vol][p.Name][pl.User]; ok {
					row.PlantedAlerted++
					row.PlantedUsers = append(row.PlantedUsers, pl.User)
				} else {
					row.MissedPlanted = append(row.MissedPlanted, pl.User)
				}
			}
			row.BenignPer30 = per30(row.BenignAlerted)
			anyRow.High += row.High
			anyRow.Medium += row.Medium
			anyRow.Low += row.Low
			rep.Rows = append(rep.Rows, row)
		}
		habits := map[string]int{}
		for u := range anyBenign {
			anyRow.BenignUsers = append(anyRow.BenignUsers, u)
			for _, h := range m.Habits[u] {
				habits[h]++
			}
			if len(m.Habits[u]) == 0 {
				habits["(no habit)"]++
			}
		}
		sort.Strings(anyRow.BenignUsers)
		anyRow.BenignAlerted = len(anyBenign)
		anyRow.BenignPer30 = per30(anyRow.BenignAlerted)
		for _, pl := range m.Planted {
			anyRow.PlantedFor++
			for _, byUser := range alertedAt[vol] {
				if _, ok := byUser[pl.User]; ok {
					anyRow.PlantedAlerted++
					break
				}
			}
		}
		rep.Any[vol] = anyRow
		rep.ByHabit[vol] = habits
	}
	// The engine's own alerts and the backtest at the settings' volume must agree.
	for _, p := range policies {
		var fromBacktest []string
		for u := range alertedAt[s.AlertVolume][p.Name] {
			fromBacktest = append(fromBacktest, u)
		}
		own := slices.Clone(rep.EngineAlerts[p.Name])
		sort.Strings(own)
		sort.Strings(fromBacktest)
		if !slices.Equal(own, fromBacktest) {
			rep.Disagree = append(rep.Disagree, fmt.Sprintf("%s: engine %v, backtest %v", p.Name, own, fromBacktest))
		}
	}
	for _, pl := range m.Planted {
		pr := PlantedResult{User: pl.User, Scenario: pl.Scenario, Template: pl.Template, Also: pl.AlsoTemplates, Alerted: map[string]string{}}
		for pol, byUser := range alertedAt[engine.VolumeDefault] {
			if sev, ok := byUser[pl.User]; ok {
				pr.Alerted[pol] = sev
			}
		}
		for _, tmpl := range append([]string{pl.Template}, pl.AlsoTemplates...) {
			found := false
			for pol := range pr.Alerted {
				if templateOf[pol] == tmpl {
					found = true
				}
			}
			if !found {
				pr.Missing = append(pr.Missing, tmpl)
			}
		}
		pr.OK = !slices.Contains(pr.Missing, pl.Template)
		rep.Planted = append(rep.Planted, pr)
	}
	return rep, nil
}

// Write prints the report as Markdown tables.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "Realistic organisation: %d users (%d benign, %d planted cases), %d days (%s to %s), %d records, ingested with all nine default policies in %s.\n",
		r.Users, r.Benign, len(r.Planted), r.Days, r.From, r.To, r.Records, r.Ingest.Round(time.Second))
	fmt.Fprintf(w, "Benign users alerted over the whole period, as a share of benign users per 30 days of the %d days after user mode's %d-day learning month.\n\n",
		r.Judged, engine.LearningDays)
	fmt.Fprintln(w, "| policy | volume | in scope | planted alerted | benign alerted | benign per 30 days | high | medium | low |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	rows := append(slices.Clone(r.Rows), r.Any[engine.VolumeFewer], r.Any[engine.VolumeDefault], r.Any[engine.VolumeMore])
	for _, row := range rows {
		planted := "—"
		if row.PlantedFor > 0 {
			planted = fmt.Sprintf("%d/%d", row.PlantedAlerted, row.PlantedFor)
		}
		name := row.Policy
		if name == "any policy" {
			name = "**any policy**"
		}
		scope := "—"
		if row.Policy != "any policy" {
			scope = fmt.Sprint(row.InScope)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %.2f %% | %d | %d | %d |\n", name, row.Volume, scope, planted, row.BenignAlerted, row.BenignPer30, row.High, row.Medium, row.Low)
	}
	fmt.Fprintln(w, "\nPlanted cases (default volume):")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  user\tscenario\texpected\talerted under")
	for _, p := range r.Planted {
		var got []string
		for pol, sev := range p.Alerted {
			got = append(got, pol+" ("+sev+")")
		}
		sort.Strings(got)
		exp := p.Template
		if len(p.Also) > 0 {
			exp += " (+" + strings.Join(p.Also, ", ") + ")"
		}
		mark := ""
		if !p.OK {
			mark = "  MISSED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s%s\n", p.User, p.Scenario, exp, strings.Join(got, "; "), mark)
	}
	tw.Flush()
	for _, vol := range Volumes {
		h := r.ByHabit[vol]
		if len(h) == 0 {
			continue
		}
		var tags []string
		for t := range h {
			tags = append(tags, t)
		}
		sort.Slice(tags, func(i, j int) bool { return h[tags[i]] > h[tags[j]] || (h[tags[i]] == h[tags[j]] && tags[i] < tags[j]) })
		var parts []string
		for _, t := range tags {
			parts = append(parts, fmt.Sprintf("%s %d", t, h[t]))
		}
		fmt.Fprintf(w, "\nBenign users alerted at %s, by habit: %s\n", vol, strings.Join(parts, ", "))
	}
	if len(r.Disagree) > 0 {
		fmt.Fprintf(w, "\nThe engine's own alerts and the backtest disagree:\n  %s\n", strings.Join(r.Disagree, "\n  "))
	}
}
