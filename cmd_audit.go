package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"irm/store"
)

func init() {
	register(&command{
		name:    "audit",
		summary: "check or list the insider risk audit log: verify | list",
		usage:   "verify | list [-json] [-category C] [-actor A] [-since YYYY-MM-DD] [-text T] [-limit N]",
		run:     func(args []string) error { return runAudit(args, os.Stdout) },
	})
}

func runAudit(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "list") {
		return &exitError{2, "irm audit: want a sub-command: verify or list; see irm help audit"}
	}
	sub, args := args[0], args[1:]
	fs, cfgPath := newFlags("audit " + sub)
	var (
		asJSON                bool
		category, actor, text string
		since                 string
		limit                 int
	)
	if sub == "list" {
		fs.BoolVar(&asJSON, "json", false, "one JSON object per line, with hashes")
		fs.StringVar(&category, "category", "", "only this category (policies, settings, rules, alerts, cases, notices, users, signin, export)")
		fs.StringVar(&actor, "actor", "", "only entries by this actor")
		fs.StringVar(&since, "since", "", "only entries on or after this UTC date (YYYY-MM-DD)")
		fs.StringVar(&text, "text", "", "only entries containing this text")
		fs.IntVar(&limit, "limit", 100, "at most this many entries, newest first (0 = all)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{2, "irm audit " + sub + ": takes no arguments"}
	}
	f := store.AuditFilter{Category: category, Actor: actor, Text: text, Limit: limit}
	if since != "" {
		t, err := time.Parse("2006-01-02", since)
		if err != nil {
			return &exitError{2, fmt.Sprintf("irm audit list: -since %q is not a date (YYYY-MM-DD)", since)}
		}
		f.Since = t
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	db, err := store.Open(cfg.DataDir, store.Options{RetentionDays: cfg.Retention.EventsDays})
	if err != nil {
		return fmt.Errorf("%w (is irm serve running? stop it first)", err)
	}
	defer db.Close()

	if sub == "verify" {
		checked, brokenAt, err := db.VerifyAudit()
		if err != nil {
			return err
		}
		if brokenAt != 0 {
			return &exitError{1, fmt.Sprintf("audit log BROKEN at entry %d: it was changed, removed or reordered (%d entries before it are intact)", brokenAt, checked)}
		}
		fmt.Fprintf(stdout, "audit log intact: %d entries verified\n", checked)
		return nil
	}

	if asJSON {
		enc := json.NewEncoder(stdout)
		return db.AuditEntries(f, func(e store.AuditEntry) error { return enc.Encode(e) })
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tACTOR\tCATEGORY\tACTIVITY\tTARGET\tDETAILS")
	err = db.AuditEntries(f, func(e store.AuditEntry) error {
		_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05"),
			oneLine(e.Actor), e.Category, oneLine(e.Activity), oneLine(e.Target), oneLine(e.Details))
		return err
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

// oneLine keeps a tabular listing one entry per line whatever the values contain.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", " ").Replace(s)
}
