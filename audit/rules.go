// Package audit keeps the appliance's own audit log honest beyond what the store's
// chain can do alone: it records every change of the rules directory (a rule file can
// switch a detection off) with its diff, and it anchors the chain head outside the
// database (process log, syslog) and prunes the log by its retention.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/pmezard/go-difflib/difflib"

	"irm/dsl"
	"irm/store"
)

// maxDiff bounds the diff kept per file: enough for any hand-written rule file, and
// says how much was left out beyond it.
const maxDiff = 256 << 10

// RuleFileChange is the After of a rule-file entry.
type RuleFileChange struct {
	File   string `json:"file"`
	Before string `json:"sha256_before,omitempty"`
	After  string `json:"sha256_after,omitempty"`
	Diff   string `json:"diff"`
	Result string `json:"result"` // "active", or "rejected: <why>"
}

// WatchRules records changes of the rules directory in the audit log: first those made
// since the last recorded state (while irm was not running, or on its first start),
// then every change the reloader sees, accepted or rejected. Call it before the
// reloader's Run.
func WatchRules(db *store.DB, r *dsl.Reloader, dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &ruleWatch{db: db, dir: dir, log: log}
	prev, ok, err := db.RuleFiles()
	if err != nil {
		return fmt.Errorf("audit rules: %w", err)
	}
	cur := r.Files()
	note := "changed while irm was not running"
	if !ok {
		prev, note = map[string][]byte{}, "present when irm first recorded the rules directory"
	}
	if err := w.record("", prev, cur, r.LastError(), note); err != nil {
		return err
	}
	r.OnChange(func(c dsl.Change) {
		if err := w.record(c.Actor, c.Old, c.New, c.Err, ""); err != nil {
			log.Error("audit: rule change not recorded", "dir", dir, "err", err)
		}
	})
	return nil
}

type ruleWatch struct {
	db  *store.DB
	dir string
	log *slog.Logger
}

// record writes one entry per added, changed or removed file, then remembers cur. The
// actor is the account that saved the change through irm (dsl.Reloader.Save); for a
// change found on disk ("") it is "disk", with the file's owner as a hint.
func (w *ruleWatch) record(actor string, old, cur map[string][]byte, loadErr error, note string) error {
	names := slices.Sorted(maps.Keys(merge(old, cur)))
	result := "active"
	if loadErr != nil {
		result = "rejected: " + loadErr.Error()
	}
	changed := false
	for _, name := range names {
		before, had := old[name]
		after, has := cur[name]
		if had && has && string(before) == string(after) {
			continue
		}
		changed = true
		ch := RuleFileChange{File: name, Diff: unifiedDiff(name, before, after, had, has), Result: result}
		activity := "Rule file changed"
		switch {
		case !had:
			activity = "Rule file added"
		case !has:
			activity = "Rule file removed"
		}
		if had {
			ch.Before = digest(before)
		}
		if has {
			ch.After = digest(after)
		}
		details := []string{}
		if loadErr != nil {
			activity += " (rejected)"
			details = append(details, "the rules did not compile and the previous rules stay active: "+loadErr.Error())
		} else {
			details = append(details, "in force")
		}
		if note != "" {
			details = append(details, note)
		}
		who := actor
		switch {
		case actor != "":
			details = append(details, "saved in irm by "+actor)
		case has:
			details = append(details, w.owner(name))
		}
		if who == "" {
			who = "disk"
		}
		if _, err := w.db.Audit(who, "rules", activity, filepath.Join(w.dir, name), nil, ch, strings.Join(details, "; ")); err != nil {
			return fmt.Errorf("audit rules: %w", err)
		}
		w.log.Info("rules: change recorded in the audit log", "file", name, "activity", activity)
	}
	if !changed && note == "" {
		return nil
	}
	if err := w.db.PutRuleFiles(cur); err != nil {
		return fmt.Errorf("audit rules: %w", err)
	}
	return nil
}

// owner names the file's owner, a hint of who changed it (the process that wrote it is
// not known to irm).
func (w *ruleWatch) owner(name string) string {
	fi, err := os.Stat(filepath.Join(w.dir, name))
	if err != nil {
		return "file owner unknown"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "file owner unknown"
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	who := "uid " + uid
	if u, err := user.LookupId(uid); err == nil {
		who = u.Username + " (uid " + uid + ")"
	}
	return "file owner " + who + ", modified " + fi.ModTime().UTC().Format("2006-01-02 15:04:05Z")
}

func merge(a, b map[string][]byte) map[string][]byte {
	out := maps.Clone(a)
	if out == nil {
		out = map[string][]byte{}
	}
	maps.Copy(out, b)
	return out
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// unifiedDiff is the change as `diff -u` would show it, bounded by maxDiff.
func unifiedDiff(name string, before, after []byte, had, has bool) string {
	from, to := "a/"+name, "b/"+name
	if !had {
		from = "/dev/null"
	}
	if !has {
		to = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(before)), B: difflib.SplitLines(string(after)),
		FromFile: from, ToFile: to, Context: 3,
	})
	if err != nil {
		return "diff failed: " + err.Error()
	}
	if len(d) > maxDiff {
		d = strings.ToValidUTF8(d[:maxDiff], "") + fmt.Sprintf("\n… %d more bytes of diff left out\n", len(d)-maxDiff)
	}
	return d
}
