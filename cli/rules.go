package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"irm/dsl"
	"irm/engine"
	"irm/rules"
)

func rulesCmds() []*command {
	return []*command{
		{name: "lint", summary: "check rule files; prints file:line:col: message per problem, exit 1 on any", args: "[PATH...]", setup: rulesLintCmd},
		{name: "test", summary: "run every [[test]]; prints failures and \"N passed, N failed\", exit 1 on any failure", args: "[PATH...]", setup: rulesTestCmd},
		{name: "list", summary: "list indicators, sequences, templates and lists", args: "[PATH...]", setup: rulesListCmd},
		{name: "backtest", summary: "replay the stored events of the last N days (1-90) through an indicator or sequence, or every one a rule file defines (compiled with the rules dir, as if saved there)",
			args: "ID|FILE", setup: rulesBacktestCmd, remote: true},
	}
}

// loadRules loads the built-ins plus PATHs (files or directories), or plus the config's
// rules dir when there are none. Tests run with dsl.TestOrgDomains and
// dsl.TestOrgTimezone as the organisation, so that their results do not depend on this
// appliance's [org] section.
func loadRules(c *Ctx, name string, paths []string) (*dsl.RuleSet, error) {
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	opt := dsl.Options{OrgDomains: cfg.Org.Domains, OrgTimezone: cfg.Org.Timezone}
	if name == "test" {
		opt.OrgDomains, opt.OrgTimezone = dsl.TestOrgDomains, dsl.TestOrgTimezone
	}
	if len(paths) == 0 {
		return dsl.Load(rules.FS, cfg.Rules.Dir, opt)
	}
	return dsl.LoadFiles(rules.FS, paths, opt)
}

// loadErrorExit prints a load error as one file:line:col: message line per problem and
// turns it into exit 1.
func loadErrorExit(w io.Writer, err error) error {
	var le *dsl.LoadError
	if errors.As(err, &le) {
		fmt.Fprintln(w, le.Error())
		if n := len(le.Diags); n == 1 {
			fmt.Fprintln(w, "1 problem")
		} else {
			fmt.Fprintf(w, "%d problems\n", n)
		}
		return &exitError{1, ""}
	}
	return err
}

func rulesLintCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		w := c.Stdout
		rs, err := loadRules(c, "lint", args)
		if err != nil {
			return loadErrorExit(w, err)
		}
		fmt.Fprintf(w, "ok: %d files, %d indicators, %d sequences, %d templates, %d lists, %d tests\n",
			len(rs.Files()), len(rs.Indicators()), len(rs.Sequences()), len(rs.Templates()), len(rs.Lists()), len(rs.Tests()))
		return nil
	}
}

func rulesTestCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		w := c.Stdout
		rs, err := loadRules(c, "test", args)
		if err != nil {
			return loadErrorExit(w, err)
		}
		passed, failed := 0, 0
		for _, r := range rs.RunTests() {
			if r.Pass {
				passed++
				continue
			}
			failed++
			fmt.Fprintln(w, r.String())
		}
		fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
		if failed > 0 {
			return &exitError{1, ""}
		}
		return nil
	}
}

func rulesListCmd(fs *flag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print JSON")
	return func(c *Ctx, args []string) error {
		w := c.Stdout
		rs, err := loadRules(c, "list", args)
		if err != nil {
			return loadErrorExit(w, err)
		}
		if *asJSON {
			enc := json.NewEncoder(utf8Writer{w})
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{
				"indicators": rs.Indicators(),
				"sequences":  rs.Sequences(),
				"templates":  rs.Templates(),
				"lists":      rs.Lists(),
				"functions":  dsl.Functions,
				"variables":  dsl.Variables(),
			})
		}
		return printRules(w, rs)
	}
}

func printRules(w io.Writer, rs *dsl.RuleSet) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDICATOR\tCATEGORY\tFEEDS\tTHRESHOLDS\tFIRST_SEEN\tSOURCE\tNAME")
	for _, i := range rs.Indicators() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d/%d\t%s\t%s:%d\t%s\n", i.ID, i.Category, strings.Join(i.Feeds, ","),
			i.Thresholds[0], i.Thresholds[1], i.Thresholds[2], firstSeenSummary(i.FirstSeen), i.File, i.Line, i.Name)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SEQUENCE\tSTEPS\tWITHIN\tLINK\tSOURCE\tNAME")
	for _, s := range rs.Sequences() {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s:%d\t%s\n", s.ID, len(s.Steps), s.Within, s.Link, s.File, s.Line, s.Name)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TEMPLATE\tCATEGORY\tTRIGGERS\tINDICATORS\tSEQUENCES\tSOURCE\tNAME")
	for _, t := range rs.Templates() {
		var trig []string
		for _, tr := range t.Triggers {
			trig = append(trig, tr.ID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s:%d\t%s\n", t.ID, t.Category, strings.Join(trig, ","),
			len(t.Indicators), len(t.Sequences), t.File, t.Line, t.Name)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "LIST\tITEMS\tSOURCE\tNAME")
	for _, l := range rs.Lists() {
		fmt.Fprintf(tw, "%s\t%d\t%s:%d\t%s\n", l.ID, len(l.Items), l.File, l.Line, l.Name)
	}
	return tw.Flush()
}

// firstSeenSummary shows a first_seen condition in one short column: the key (its
// first 40 characters, on one line, "-" for the constant key), the window and the
// active days required, e.g. "event.device 30d min10"; "" for an ordinary indicator.
func firstSeenSummary(fs *dsl.FirstSeen) string {
	if fs == nil {
		return ""
	}
	key := strings.Join(strings.Fields(fs.Key), " ")
	if r := []rune(key); len(r) > 40 {
		key = string(r[:39]) + "…"
	}
	if key == "" {
		key = "-"
	}
	return fmt.Sprintf("%s %dd min%d", key, fs.Days, fs.MinActiveDays)
}

// rulesBacktestCmd is `irm rules backtest`: the logic is engine.RuleBacktestTargets and
// Engine.BacktestRule, as the web UI's workbench runs them.
func rulesBacktestCmd(fs *flag.FlagSet) runFunc {
	days := fs.Int("days", engine.RuleBacktestDefaultDays, "days replayed, ending today (1-90)")
	asJSON := fs.Bool("json", false, "print the results as a JSON array")
	return func(c *Ctx, args []string) error {
		if len(args) != 1 {
			return usageError("irm rules backtest: want exactly one indicator or sequence ID, or a rule FILE (flags go before it)")
		}
		if *days < 1 || *days > engine.RuleBacktestMaxDays {
			return usageError("irm rules backtest: -days %d: want 1-%d", *days, engine.RuleBacktestMaxDays)
		}
		e, err := c.Engine()
		if err != nil {
			return err
		}
		r, err := c.Rules()
		if err != nil {
			return err
		}
		rs, ids, err := engine.RuleBacktestTargets(r, args[0], c.ReadFile)
		if err != nil {
			return loadErrorExit(c.Stdout, err)
		}
		var out []*engine.RuleBacktestResult
		for i, id := range ids {
			res, err := e.BacktestRule(c.Context(), rs, id, engine.RuleBacktestOptions{Days: *days})
			if err != nil {
				return err
			}
			out = append(out, res)
			if *asJSON {
				continue
			}
			if i > 0 {
				fmt.Fprintln(c.Stdout)
			}
			if err := res.WriteText(c.Stdout); err != nil {
				return err
			}
		}
		if *asJSON {
			enc := json.NewEncoder(utf8Writer{c.Stdout})
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
		return nil
	}
}
