package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"irm/dsl"
	"irm/rules"
)

func init() {
	register(&command{
		name:    "rules",
		summary: "lint, test or list the rules (built-in catalog plus your rules directory)",
		usage:   "lint|test|list [PATH...]",
		run:     runRules,
	})
}

const rulesUsage = `usage:
  irm rules lint [-config FILE] [PATH...]   check rule files; prints file:line:col: message per problem, exit 1 on any
  irm rules test [-config FILE] [PATH...]   run every [[test]]; prints failures and "N passed, N failed", exit 1 on any failure
  irm rules list [-config FILE] [-json]     list indicators, sequences, templates and lists
With no PATH the built-in rules and the config's [rules] dir are used; PATHs (files or
directories) replace the rules dir, on top of the built-ins.`

func runRules(args []string) error {
	if len(args) == 0 {
		return &exitError{2, rulesUsage}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "lint":
		return rulesLint(rest, os.Stdout)
	case "test":
		return rulesTest(rest, os.Stdout)
	case "list":
		return rulesList(rest, os.Stdout)
	case "-h", "-help", "--help", "help":
		fmt.Println(rulesUsage)
		return nil
	}
	return &exitError{2, fmt.Sprintf("irm rules: unknown sub-command %q\n%s", sub, rulesUsage)}
}

// loadRules loads the built-ins plus PATHs, or plus the config's rules dir when there
// are none. Tests run with dsl.TestOrgDomains and dsl.TestOrgTimezone as the
// organisation, so that their results do not depend on this appliance's [org] section.
func loadRules(name string, args []string, extra func(fs *flag.FlagSet)) (*dsl.RuleSet, []string, error) {
	fs, cfgPath := newFlags("rules " + name)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return nil, nil, err
	}
	opt := dsl.Options{OrgDomains: cfg.Org.Domains, OrgTimezone: cfg.Org.Timezone}
	if name == "test" {
		opt.OrgDomains, opt.OrgTimezone = dsl.TestOrgDomains, dsl.TestOrgTimezone
	}
	paths := fs.Args()
	if len(paths) == 0 {
		rs, err := dsl.Load(rules.FS, cfg.Rules.Dir, opt)
		return rs, []string{cfg.Rules.Dir}, err
	}
	rs, err := dsl.LoadFiles(rules.FS, paths, opt)
	return rs, paths, err
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

func rulesLint(args []string, w io.Writer) error {
	rs, _, err := loadRules("lint", args, nil)
	if err != nil {
		return loadErrorExit(w, err)
	}
	fmt.Fprintf(w, "ok: %d files, %d indicators, %d sequences, %d templates, %d lists, %d tests\n",
		len(rs.Files()), len(rs.Indicators()), len(rs.Sequences()), len(rs.Templates()), len(rs.Lists()), len(rs.Tests()))
	return nil
}

func rulesTest(args []string, w io.Writer) error {
	rs, _, err := loadRules("test", args, nil)
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

func rulesList(args []string, w io.Writer) error {
	var asJSON *bool
	rs, _, err := loadRules("list", args, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print JSON")
	})
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
