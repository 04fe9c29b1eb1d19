package cli

// Wiring of the detection engine into the commands that ingest (serve, ingest, demo).

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"irm/audit"
	"irm/config"
	"irm/dsl"
	"irm/engine"
	"irm/event"
	"irm/ingest"
	"irm/rules"
	"irm/store"
)

// engineRules loads the built-in rules plus the [rules] dir.
func engineRules(cfg *config.Config, log *slog.Logger) (*dsl.Reloader, error) {
	r, err := dsl.NewReloader(rules.FS, cfg.Rules.Dir, dsl.Options{OrgDomains: cfg.Org.Domains, OrgTimezone: cfg.Org.Timezone, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return r, nil
}

// openEngine builds an engine over an open store.
func openEngine(db *store.DB, cfg *config.Config, log *slog.Logger) (*engine.Engine, *dsl.Reloader, error) {
	r, err := engineRules(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	e, err := engine.New(db, r, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return e, r, nil
}

// wireEngine subscribes the engine to the ingester's commits and starts the rule
// reloader and the engine's settle loop (both end with ctx). Call it after ingest.New
// and before in.Run / in.Once; after in.Once call Flush on the returned engine.
// observe (may be nil) is told how long each committed batch took to evaluate.
func wireEngine(ctx context.Context, db *store.DB, in *ingest.Ingester, cfg *config.Config, log *slog.Logger,
	observe func(events int, took time.Duration)) (*engine.Engine, *dsl.Reloader, error) {
	e, r, err := openEngine(db, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if err := e.EnsureIndex(); err != nil {
		return nil, nil, err
	}
	if observe == nil {
		in.OnCommit(e.Process)
	} else {
		in.OnCommit(func(added []event.Event) {
			start := time.Now()
			e.Process(added)
			observe(len(added), time.Since(start))
		})
	}
	// Rule files can switch detections off: every change is audited with its diff.
	if err := audit.WatchRules(db, r, cfg.Rules.Dir, log); err != nil {
		return nil, nil, err
	}
	go func() {
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("rules reloader stopped", "err", err)
		}
	}()
	go e.Run(ctx)
	return e, r, nil
}
