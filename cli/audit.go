package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"irm/store"
)

func auditCmds() []*command {
	return []*command{
		{name: "verify", summary: "check the audit log's HMAC chain: exit 0 intact, 1 broken, 3 a restore dropped newer entries", setup: auditVerifyCmd, remote: true},
		{name: "list", summary: "list audit entries, newest first", setup: auditListCmd, remote: true},
	}
}

func auditVerifyCmd(fs *flag.FlagSet) runFunc {
	anchor := fs.String("head", "", "also check that this chain head hash, recorded outside the appliance (process log or syslog line \"audit chain head seq=N hash=HASH\"), is in the log")
	return func(c *Ctx, args []string) error {
		if len(args) > 0 {
			return usageError("irm audit verify: takes no arguments")
		}
		head := strings.TrimSpace(*anchor)
		if head != "" && !isHexHash(head) {
			return usageError("irm audit verify: -head %q is not a chain hash (64 hex digits)", head)
		}
		db, err := c.Store()
		if err != nil {
			return err
		}
		return verifyAudit(db, head, c.Stdout)
	}
}

func auditListCmd(fs *flag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "one JSON object per line, with hashes")
	category := enum(fs, "category", "", "only this category", store.AuditCategories...)
	actor := fs.String("actor", "", "only entries by this actor")
	since := fs.String("since", "", "only entries on or after this UTC date (YYYY-MM-DD)")
	text := fs.String("text", "", "only entries containing this text")
	limit := fs.Int("limit", 100, "at most this many entries, newest first (0 = all)")
	return func(c *Ctx, args []string) error {
		if len(args) > 0 {
			return usageError("irm audit list: takes no arguments")
		}
		f := store.AuditFilter{Category: *category, Actor: *actor, Text: *text, Limit: *limit}
		if *since != "" {
			t, err := time.Parse("2006-01-02", *since)
			if err != nil {
				return usageError("irm audit list: -since %q is not a date (YYYY-MM-DD)", *since)
			}
			f.Since = t
		}
		if *limit < 0 {
			return usageError("irm audit list: -limit %d: want 0 (all) or more", *limit)
		}
		db, err := c.Store()
		if err != nil {
			return err
		}
		n := 0
		if *asJSON {
			enc := json.NewEncoder(utf8Writer{c.Stdout})
			err = db.AuditEntries(f, func(e store.AuditEntry) error { n++; return enc.Encode(e) })
		} else {
			tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
			err = db.AuditEntries(f, func(e store.AuditEntry) error {
				if n == 0 {
					fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tACTOR\tCATEGORY\tACTIVITY\tTARGET\tDETAILS")
				}
				n++
				_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05"),
					oneLine(e.Actor), e.Category, oneLine(e.Activity), oneLine(e.Target), oneLine(e.Details))
				return err
			})
			if err == nil {
				err = tw.Flush()
			}
		}
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintln(c.Stderr, "no audit entries match")
		}
		return nil
	}
}

// verifyAudit prints the verification report. Exit 0: intact. Exit 1: broken (changed,
// removed, re-chained or truncated entries, or an anchor that is not in the log). Exit 3:
// the chain is intact but a recorded restore replaced a log whose newer entries are gone.
func verifyAudit(db *store.DB, anchor string, stdout io.Writer) error {
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
