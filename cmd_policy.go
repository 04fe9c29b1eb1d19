package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"irm/account"
	"irm/engine"
)

func init() {
	register(&command{
		name:    "policy",
		summary: "detection policies: import FILE.toml | export | list (with health warnings)",
		usage:   "import FILE.toml | export | list",
		run:     runPolicy,
	})
}

func runPolicy(args []string) error {
	fs, cfgPath := newFlags("policy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sub, rest, err := subcommand(fs, "policy", "import FILE.toml | export | list")
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
	}
	return &exitError{2, fmt.Sprintf("irm policy: unknown sub-command %q (import, export, list)", sub)}
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
