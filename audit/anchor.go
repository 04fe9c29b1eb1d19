package audit

import (
	"context"
	"fmt"
	"log/slog"
	"log/syslog"
	"sync/atomic"
	"time"

	"irm/config"
	"irm/store"
)

// Anchor writes the audit chain head where the appliance's database cannot reach: the
// process log (journal) and, when configured, syslog. An operator later checks the log
// against any such line with `irm audit verify -head HASH`.
type Anchor struct {
	db     *store.DB
	log    *slog.Logger
	syslog string // config audit.syslog; "" = process log only
	w      *syslog.Writer
	last   store.AuditHead
	// failures counts heads that could not be sent to syslog (exposed as a metric).
	failures atomic.Uint64
}

// SyslogFailures is the number of chain heads that could not be delivered to syslog.
func (a *Anchor) SyslogFailures() uint64 { return a.failures.Load() }

// NewAnchor returns an anchor for db writing to log and the syslog URL (may be "").
func NewAnchor(db *store.DB, log *slog.Logger, syslogURL string) *Anchor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Anchor{db: db, log: log, syslog: syslogURL}
}

// AnchorLine is the text of an anchor: "audit chain head seq=N hash=H (why)".
func AnchorLine(h store.AuditHead, why string) string {
	return fmt.Sprintf("irm audit chain head %s (%s)", h, why)
}

// Write records the current head now, saying why (periodic, start, restore, prune).
// A syslog that cannot be reached is reported and tried again next time; the process
// log line is written regardless.
func (a *Anchor) Write(why string) (store.AuditHead, error) {
	h, err := a.db.AuditHead()
	if err != nil {
		return h, err
	}
	a.log.Info("audit chain head", "seq", h.Seq, "hash", h.Hash, "why", why)
	a.last = h
	if a.syslog == "" {
		return h, nil
	}
	if a.w == nil {
		network, addr, err := config.SyslogAddr(a.syslog)
		if err != nil {
			return h, err
		}
		if a.w, err = syslog.Dial(network, addr, syslog.LOG_INFO|syslog.LOG_AUTHPRIV, "irm"); err != nil {
			a.w = nil
			a.failures.Add(1)
			a.log.Warn("audit: syslog unreachable; the head is only in this log", "syslog", a.syslog, "err", err)
			return h, fmt.Errorf("syslog %s: %w", a.syslog, err)
		}
	}
	if err := a.w.Info(AnchorLine(h, why)); err != nil {
		a.w.Close()
		a.w = nil
		a.failures.Add(1)
		a.log.Warn("audit: syslog write failed; the head is only in this log", "syslog", a.syslog, "err", err)
		return h, fmt.Errorf("syslog %s: %w", a.syslog, err)
	}
	return h, nil
}

// Close closes the syslog connection.
func (a *Anchor) Close() {
	if a.w != nil {
		a.w.Close()
		a.w = nil
	}
}

// Keep runs until ctx is done: it prunes entries older than retentionDays (0 = never)
// at start and daily, anchoring the head after each prune, and anchors the head at
// start and every period when it has moved.
func (a *Anchor) Keep(ctx context.Context, period time.Duration, retentionDays int) {
	defer a.Close()
	a.prune(retentionDays)
	a.Write("start")
	tick := time.NewTicker(period)
	defer tick.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if time.Since(lastPrune) >= 24*time.Hour {
				lastPrune = time.Now()
				a.prune(retentionDays)
			}
			if h, err := a.db.AuditHead(); err == nil && h != a.last {
				a.Write("periodic")
			}
		}
	}
}

func (a *Anchor) prune(retentionDays int) {
	if retentionDays <= 0 {
		return
	}
	n, cp, err := a.db.PruneAudit(time.Now().AddDate(0, 0, -retentionDays))
	if err != nil {
		a.log.Error("audit: prune failed", "err", err)
		return
	}
	if cp != nil {
		a.log.Info("audit: pruned entries past retention", "entries", n, "retention_days", retentionDays, "checkpoint_seq", cp.Seq, "checkpoint_hash", cp.Hash)
		a.Write("prune")
	}
}
