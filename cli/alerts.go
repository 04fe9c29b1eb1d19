package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"irm/dsl"
	"irm/engine"
)

func alertsCmd(fs *flag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print a JSON array of alerts")
	status := enum(fs, "status", "", "only alerts in this status", engine.Statuses...)
	severity := enum(fs, "severity", "", "only alerts of this severity", engine.LevelLow, engine.LevelMedium, engine.LevelHigh)
	policy := fs.String("policy", "", "only alerts of this policy: its name or its template id (e.g. risky_browsing), any case")
	return func(c *Ctx, args []string) error {
		if len(args) > 0 {
			return usageError("irm alerts: takes no arguments (flags go before arguments)")
		}
		e, err := c.Engine()
		if err != nil {
			return err
		}
		f := engine.AlertFilter{Status: *status, Severity: *severity}
		if p := strings.TrimSpace(*policy); p != "" {
			rl, err := c.Rules()
			if err != nil {
				return err
			}
			if f.Policy, f.Template, err = resolvePolicy(e, rl.Current().Templates(), p); err != nil {
				return err
			}
		}
		list := e.Alerts(f)
		if *asJSON {
			// The engine's one JSON form of an alert (docs/engine.md), as the UI's API has it.
			out := make([]engine.Alert, 0, len(list))
			for _, a := range list {
				a.RiskFactors, a.EventIDs = nonNil(a.RiskFactors), nonNil(a.EventIDs)
				out = append(out, a)
			}
			enc := json.NewEncoder(utf8Writer{c.Stdout})
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				return err
			}
		} else if len(list) > 0 {
			w := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSEVERITY\tSCORE\tSTATUS\tPOLICY\tUSER\tCREATED\tRISK FACTORS\tTITLE")
			for _, a := range list {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Severity, a.Score, a.Status, a.Policy, a.User,
					a.Created.Format("2006-01-02 15:04"), strings.Join(a.RiskFactors, ","), a.Title)
			}
			if err := w.Flush(); err != nil {
				return err
			}
		}
		if len(list) == 0 {
			fmt.Fprintln(c.Stderr, "no alerts"+describeFilter(f))
		}
		return nil
	}
}

// resolvePolicy maps a -policy value to a policy name (any case; also the name of a
// deleted policy that still has alerts) or, failing that, a template id. A value that is
// neither is a usage error listing what exists.
func resolvePolicy(e *engine.Engine, templates []*dsl.Template, v string) (policy, template string, err error) {
	var names []string
	for _, p := range e.Policies() {
		names = append(names, p.Name)
	}
	for _, a := range e.Alerts(engine.AlertFilter{}) {
		if !slices.Contains(names, a.Policy) {
			names = append(names, a.Policy)
		}
	}
	for _, n := range names {
		if strings.EqualFold(n, v) {
			return n, "", nil
		}
	}
	var ids []string
	for _, t := range templates {
		if strings.EqualFold(t.ID, v) {
			return "", t.ID, nil
		}
		ids = append(ids, t.ID)
	}
	slices.Sort(names)
	return "", "", usageError("irm alerts: -policy %q is neither a policy nor a template id\n  policies: %s\n  templates: %s",
		v, orNone(strings.Join(names, "; ")), strings.Join(ids, ", "))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// describeFilter says which filters gave an empty list.
func describeFilter(f engine.AlertFilter) string {
	var parts []string
	if f.Status != "" {
		parts = append(parts, "status "+f.Status)
	}
	if f.Severity != "" {
		parts = append(parts, "severity "+f.Severity)
	}
	if f.Policy != "" {
		parts = append(parts, fmt.Sprintf("policy %q", f.Policy))
	}
	if f.Template != "" {
		parts = append(parts, "template "+f.Template)
	}
	if len(parts) == 0 {
		return ""
	}
	return " with " + strings.Join(parts, ", ")
}
