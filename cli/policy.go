package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"

	"irm/engine"
)

func policyCmds() []*command {
	return []*command{
		{name: "import", summary: "import the policies of a file (new ones added, same names replaced)", args: "FILE.toml", setup: policyImportCmd, remote: true},
		{name: "export", summary: "print every policy as an importable file", setup: policyExportCmd, remote: true},
		{name: "list", summary: "list the policies with users in scope, active alerts and health warnings", setup: policyListCmd, remote: true},
		{name: "backtest", summary: "replay stored events through a policy, or a candidate in a file, without saving anything", args: "NAME|FILE.toml", setup: policyBacktestCmd, remote: true},
	}
}

func policyImportCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) != 1 {
			return usageError("irm policy import: want exactly one FILE.toml")
		}
		data, err := c.ReadFile(args[0])
		if err != nil {
			return err
		}
		e, err := c.Engine()
		if err != nil {
			return err
		}
		n, err := e.ImportPolicies(c.Actor, args[0], data)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stderr, "%d policies imported from %s\n", n, args[0])
		return nil
	}
}

func policyExportCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) != 0 {
			return usageError("irm policy export: takes no arguments")
		}
		e, err := c.Engine()
		if err != nil {
			return err
		}
		out, err := engine.FormatPolicies(e.Policies())
		if err != nil {
			return err
		}
		if len(e.Policies()) == 0 {
			fmt.Fprintln(c.Stderr, "no policies")
		}
		_, err = c.Stdout.Write(out)
		return err
	}
}

func policyListCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) != 0 {
			return usageError("irm policy list: takes no arguments")
		}
		e, err := c.Engine()
		if err != nil {
			return err
		}
		// Health needs the per-user index (who is triggered, which DLP policies exist).
		if err := e.EnsureIndex(); err != nil {
			return err
		}
		return listPolicies(c, e)
	}
}

func policyBacktestCmd(fs *flag.FlagSet) runFunc {
	days := fs.Int("days", 30, "days replayed, ending today (1-365)")
	volume := enum(fs, "volume", "", "the alert volume whose cut-off decides an alert (default: the settings')", engine.VolumeFewer, engine.VolumeDefault, engine.VolumeMore)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	return func(c *Ctx, args []string) error {
		if len(args) != 1 {
			return usageError("irm policy backtest: want exactly one policy NAME or FILE.toml (flags go before it)")
		}
		if *days < 1 || *days > 365 {
			return usageError("irm policy backtest: -days %d: want 1-365", *days)
		}
		e, err := c.Engine()
		if err != nil {
			return err
		}
		p, err := backtestPolicy(c, e, args[0])
		if err != nil {
			return err
		}
		res, err := e.Backtest(c.Context(), p, engine.BacktestOptions{Days: *days, Volume: *volume})
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(c.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		printBacktest(c.Stdout, res)
		return nil
	}
}

// backtestPolicy is the policy named arg, or the one policy in the file arg (a file
// with several must be narrowed down: backtest one at a time).
func backtestPolicy(c *Ctx, e *engine.Engine, arg string) (engine.Policy, error) {
	if p, ok := e.Policy(arg); ok {
		return p, nil
	}
	for _, p := range e.Policies() {
		if strings.EqualFold(p.Name, arg) {
			return p, nil
		}
	}
	data, err := c.ReadFile(arg)
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

func listPolicies(c *Ctx, e *engine.Engine) error {
	ps := e.Policies()
	if len(ps) == 0 {
		fmt.Fprintln(c.Stderr, "no policies; import some with: irm policy import FILE.toml")
		return nil
	}
	scope := e.InScope()
	alerts := map[string]int{}
	for _, a := range e.Alerts(engine.AlertFilter{}) {
		if a.Status == engine.StatusNeedsReview || a.Status == engine.StatusConfirmed {
			alerts[a.Policy]++
		}
	}
	w := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
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
		fmt.Fprintln(c.Stdout)
		for _, n := range notes {
			fmt.Fprintln(c.Stdout, n)
		}
	}
	return nil
}
