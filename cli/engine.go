package main

// Wiring of the detection engine into the commands that ingest (serve, ingest) and the
// shared helpers of the engine's commands (settings, policy, alerts, demo).

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"irm/audit"
	"irm/config"
	"irm/dsl"
	"irm/engine"
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
	e.SetSnapshot(alertSnapshotPath(cfg))
	return e, r, nil
}

// alertSnapshotPath is where the engine mirrors its alerts for `irm alerts` while
// another process (serve) holds the database.
func alertSnapshotPath(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "alerts.json")
}

// wireEngine subscribes the engine to the ingester's commits and starts the rule
// reloader and the engine's settle loop (both end with ctx). Call it after ingest.New
// and before in.Run / in.Once; after in.Once call Flush on the returned engine.
func wireEngine(ctx context.Context, db *store.DB, in *ingest.Ingester, cfg *config.Config, log *slog.Logger) (*engine.Engine, *dsl.Reloader, error) {
	e, r, err := openEngine(db, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if err := e.EnsureIndex(); err != nil {
		return nil, nil, err
	}
	in.OnCommit(e.Process)
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
