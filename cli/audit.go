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
		usage:   "verify [-head HASH] | list [-json] [-category C] [-actor A] [-since YYYY-MM-DD] [-text T] [-limit N]",
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
		anchor                string
	)
	if sub == "verify" {
		fs.StringVar(&anchor, "head", "", "also check that this chain head hash, recorded outside the appliance (process log or syslog line \"audit chain head seq=N hash=HASH\"), is in the log")
	}
	if sub == "list" {
		fs.BoolVar(&asJSON, "json", false, "one JSON object per line, with hashes")
		fs.StringVar(&category, "category", "", "only this category ("+strings.Join(store.AuditCategories, ", ")+")")
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
	db, err := openStoreFor(cfg, quietLogger())
	if err != nil {
		return err
	}
	defer db.Close()

	if sub == "verify" {
		return verifyAudit(db, strings.TrimSpace(anchor), stdout)
	}

	if asJSON {
		enc := json.NewEncoder(utf8Writer{stdout})
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

// verifyAudit prints the verification report. Exit 0: intact. Exit 1: broken (changed,
// removed, re-chained or truncated entries, or an anchor that is not in the log). Exit 3:
// the chain is intact but a recorded restore replaced a log whose newer entries are gone.
func verifyAudit(db *store.DB, anchor string, stdout io.Writer) error {
	if anchor != "" && !isHexHash(anchor) {
		return &exitError{2, fmt.Sprintf("irm audit verify: -head %q is not a chain hash (64 hex digits)", anchor)}
	}
	r, err := db.VerifyAudit(strings.ToLower(anchor))
	if err != nil {
		return err
	}
	if r.Checkpoint != nil {
		fmt.Fprintf(stdout, "entries up to %d were removed by retention on %s (signed checkpoint %s)\n",
			r.Checkpoint.Seq, r.Checkpoint.Time.UTC().Format("2006-01-02 15:04:05Z"), r.Checkpoint.AuditHead)
	}
	if r.Broken {
		if r.BrokenAt == 0 {
			return &exitError{1, fmt.Sprintf("audit log BROKEN: %s (%d entries verified)", r.Reason, r.Checked)}
		}
		return &exitError{1, fmt.Sprintf("audit log BROKEN at entry %d: %s (%d entries before it are intact)", r.BrokenAt, r.Reason, r.Checked)}
	}
	for _, x := range r.Restores {
		when := x.Time.UTC().Format("2006-01-02 15:04:05Z")
		switch {
		case x.Replaced == nil:
			fmt.Fprintf(stdout, "entry %d: %s restored %s into an empty data directory on %s (no earlier log to compare)\n", x.At, x.Actor, x.Source, when)
		case x.Lost:
			fmt.Fprintf(stdout, "entry %d: ENTRIES GONE: %s restored %s on %s over a log whose head was %s; the restored log ends at %s, so entries %d to %d of the replaced log are not in it\n",
				x.At, x.Actor, x.Source, when, *x.Replaced, x.Restored, x.Restored.Seq+1, x.Replaced.Seq)
		default:
			fmt.Fprintf(stdout, "entry %d: %s restored %s on %s; the replaced log (head %s) is contained in the restored one\n", x.At, x.Actor, x.Source, when, *x.Replaced)
		}
	}
	if anchor != "" {
		if r.AnchorSeq > 0 {
			fmt.Fprintf(stdout, "anchored head %s is entry %d of the log\n", anchor, r.AnchorSeq)
		} else {
			fmt.Fprintf(stdout, "anchored head %s is a head replaced by a restore, or the retention checkpoint\n", anchor)
		}
	}
	if r.Lost() {
		return &exitError{3, fmt.Sprintf("audit log chain intact (%d entries verified, head %s), but a restore removed newer entries (see above)", r.Checked, r.Head)}
	}
	fmt.Fprintf(stdout, "audit log intact: %d entries verified, head %s\n", r.Checked, r.Head)
	return nil
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// oneLine keeps a tabular listing one entry per line whatever the values contain.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", " ").Replace(s)
}
