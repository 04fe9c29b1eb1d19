package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"irm/account"
	"irm/engine"
)

func init() {
	register(&command{
		name:    "policy",
		summary: "detection policies: import FILE.toml | export | list (with health warnings) | backtest NAME|FILE.toml",
		usage:   "import FILE.toml | export | list | backtest [-days N] [-volume fewer|default|more] [-json] NAME|FILE.toml",
		run:     runPolicy,
	})
}

func runPolicy(args []string) error {
	fs, cfgPath := newFlags("policy")
	days := fs.Int("days", 30, "backtest: days replayed, ending today (1-365)")
	volume := fs.String("volume", "", "backtest: alert volume whose cut-off decides an alert: fewer, default or more (default: the settings')")
	asJSON := fs.Bool("json", false, "backtest: print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sub, rest, err := subcommand(fs, "policy", "import FILE.toml | export | list | backtest [-days N] [-volume V] [-json] NAME|FILE.toml")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := quietLogger()
	switch sub {
	case "import":
		if len(rest) != 1 {
			return &exitError{2, "irm policy import: want exactly one FILE.toml"}
		}
		data, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		db, err := openStoreFor(cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		e, _, err := openEngine(db, cfg, log)
		if err != nil {
			return err
		}
		n, err := e.ImportPolicies(account.CLIActor(), rest[0], data)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%d policies imported from %s\n", n, rest[0])
		return nil
	case "export", "list":
		if len(rest) != 0 {
			return &exitError{2, "irm policy " + sub + ": takes no arguments"}
		}
		db, err := openStoreFor(cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		e, _, err := openEngine(db, cfg, log)
		if err != nil {
			return err
		}
		if sub == "export" {
			out, err := engine.FormatPolicies(e.Policies())
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(out)
			return err
		}
		// Health needs the per-user index (who is triggered, which DLP policies exist).
		if err := e.EnsureIndex(); err != nil {
			return err
		}
		return listPolicies(e)
	case "backtest":
		if len(rest) != 1 {
			return &exitError{2, "irm policy backtest: want exactly one policy NAME or FILE.toml (flags go before it)"}
		}
		v := strings.ToLower(strings.TrimSpace(*volume))
		if v != "" && v != engine.VolumeFewer && v != engine.VolumeDefault && v != engine.VolumeMore {
			return &exitError{2, fmt.Sprintf("irm policy backtest: -volume %q: not one of fewer, default, more", *volume)}
		}
		if *days < 1 || *days > 365 {
			return &exitError{2, fmt.Sprintf("irm policy backtest: -days %d: want 1-365", *days)}
		}
		db, err := openStoreFor(cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		e, _, err := openEngine(db, cfg, log)
		if err != nil {
			return err
		}
		p, err := backtestPolicy(e, rest[0])
		if err != nil {
			return err
		}
		res, err := e.Backtest(context.Background(), p, engine.BacktestOptions{Days: *days, Volume: v})
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		printBacktest(os.Stdout, res)
		return nil
	}
	return &exitError{2, fmt.Sprintf("irm policy: unknown sub-command %q (import, export, list, backtest)", sub)}
}

// backtestPolicy is the policy named arg, or the one policy in the file arg (a file
// with several must be narrowed down: backtest one at a time).
func backtestPolicy(e *engine.Engine, arg string) (engine.Policy, error) {
	if p, ok := e.Policy(arg); ok {
		return p, nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return engine.Policy{}, &exitError{1, fmt.Sprintf("irm policy backtest: %q is neither a policy (irm policy list) nor a file", arg)}
		}
		return engine.Policy{}, err
	}
	ps, err := e.ParsePolicyFile(arg, data)
	if err != nil {
		return engine.Policy{}, err
	}
	if len(ps) != 1 {
		return engine.Policy{}, &exitError{2, fmt.Sprintf("irm policy backtest: %s holds %d policies; put the one to test in a file of its own", arg, len(ps))}
	}
	return ps[0], nil
}

func printBacktest(w io.Writer, r *engine.BacktestResult) {
	fmt.Fprintf(w, "Policy %q (%s), threshold mode %s\n", r.Policy, r.Template, r.ThresholdMode)
	fmt.Fprintf(w, "Replayed %s to %s (%d days) at alert volume %s: an alert needs a score of %d\n", r.From, r.To, r.Days, r.Volume, r.Cutoff)
	fmt.Fprintf(w, "Users covered: %d; brought into scope: %d; would be alerted: %d (high %d, medium %d, low %d)\n",
		r.Users, r.InScope, len(r.Alerted), r.BySeverity[engine.LevelHigh], r.BySeverity[engine.LevelMedium], r.BySeverity[engine.LevelLow])
	fmt.Fprintf(w, "Alerts per 1,000 users per 30 days: %.1f\n", r.AlertsPer1000)
	if len(r.Alerted) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tSCORE\tUSER\tINSIGHTS OF THE SCORED WEEK")
	for _, a := range r.Alerted {
		var ins []string
		for _, in := range a.Insights {
			ins = append(ins, fmt.Sprintf("%s %s %s (%d, %d points)", in.Day, in.ID, in.Level, in.Count, in.Points))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", a.Severity, a.Score, a.User, strings.Join(ins, "; "))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nWhat drove them (alerts each contributed to):")
	for _, d := range r.Drivers {
		fmt.Fprintf(w, "  %-10s %-40s %d\n", d.Kind, d.ID, d.Alerts)
	}
}

func listPolicies(e *engine.Engine) error {
	ps := e.Policies()
	if len(ps) == 0 {
		fmt.Println("no policies; import some with: irm policy import FILE.toml")
		return nil
	}
	scope := e.InScope()
	alerts := map[string]int{}
	for _, a := range e.Alerts(engine.AlertFilter{}) {
		if a.Status == engine.StatusNeedsReview || a.Status == engine.StatusConfirmed {
			alerts[a.Policy]++
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tTEMPLATE\tENABLED\tUSERS\tIN SCOPE\tACTIVE ALERTS\tHEALTH")
	var notes []string
	for _, p := range ps {
		h := e.PolicyHealth(p.Name)
		status := "healthy"
		for _, x := range h {
			if x.Level == engine.LevelWarning {
				status = "warnings"
				break
			}
			status = "recommendations"
		}
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\t%d\t%d\t%s\n", p.Name, p.Template, p.Enabled, strings.Join(p.Users, ","), scope[p.Name], alerts[p.Name], status)
		for _, x := range h {
			notes = append(notes, fmt.Sprintf("%s: %s: %s (%s)", p.Name, x.Level, x.Message, x.Code))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(notes) > 0 {
		fmt.Println()
		for _, n := range notes {
			fmt.Println(n)
		}
	}
	return nil
}
