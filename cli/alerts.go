package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"irm/engine"
)

func init() {
	register(&command{
		name:    "alerts",
		summary: "list alerts (filter by -status, -severity, -policy; -json for a JSON array)",
		run:     runAlerts,
	})
}

// alertJSON is the documented JSON form of an alert (docs/engine.md).
type alertJSON struct {
	ID          string           `json:"id"`
	User        string           `json:"user"`
	Policy      string           `json:"policy"`
	Template    string           `json:"template"`
	Severity    string           `json:"severity"`
	Score       int              `json:"score"`
	Status      string           `json:"status"`
	Created     time.Time        `json:"created"`
	Updated     time.Time        `json:"updated"`
	RiskFactors []string         `json:"risk_factors"`
	Insights    []engine.Insight `json:"insights"`
	EventIDs    []string         `json:"event_ids"`
}

func runAlerts(args []string) error {
	fs, cfgPath := newFlags("alerts")
	asJSON := fs.Bool("json", false, "print a JSON array of alerts")
	status := fs.String("status", "", "only alerts in this status: "+strings.Join(engine.Statuses, ", "))
	severity := fs.String("severity", "", "only alerts of this severity: low, medium, high")
	policy := fs.String("policy", "", "only alerts of this policy (exact name)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{2, "irm alerts: takes no arguments (flags go before arguments)"}
	}
	if *status != "" && !slices.Contains(engine.Statuses, *status) {
		return &exitError{2, fmt.Sprintf("irm alerts: -status %q: not one of %s", *status, strings.Join(engine.Statuses, ", "))}
	}
	if *severity != "" && !slices.Contains([]string{"low", "medium", "high"}, *severity) {
		return &exitError{2, fmt.Sprintf("irm alerts: -severity %q: not one of low, medium, high", *severity)}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var all []engine.Alert
	db, err := openStoreFor(cfg, quietLogger())
	if err == nil {
		all, err = engine.LoadAlerts(db)
		db.Close()
		if err != nil {
			return err
		}
	} else {
		// The database is held by a running `irm serve`: read the alert mirror it keeps.
		snap, serr := engine.ReadSnapshot(alertSnapshotPath(cfg))
		if serr != nil {
			return err
		}
		all = snap
	}
	list := engine.FilterAlerts(all, engine.AlertFilter{Status: *status, Severity: *severity, Policy: *policy})
	if *asJSON {
		out := make([]alertJSON, 0, len(list))
		for _, a := range list {
			out = append(out, alertJSON{ID: a.ID, User: a.User, Policy: a.Policy, Template: a.Template, Severity: a.Severity,
				Score: a.Score, Status: a.Status, Created: a.Created, Updated: a.Updated, RiskFactors: nonNil(a.RiskFactors),
				Insights: a.Insights, EventIDs: nonNil(a.EventIDs)})
		}
		enc := json.NewEncoder(utf8Writer{os.Stdout})
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(list) == 0 {
		fmt.Println("no alerts")
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSEVERITY\tSCORE\tSTATUS\tPOLICY\tUSER\tCREATED\tRISK FACTORS")
	for _, a := range list {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Severity, a.Score, a.Status, a.Policy, a.User,
			a.Created.Format("2006-01-02 15:04"), strings.Join(a.RiskFactors, ","))
	}
	return w.Flush()
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
