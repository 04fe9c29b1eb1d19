package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"irm/demo"
	"irm/engine"
	"irm/store"
)

func demoCmd(fs *flag.FlagSet) runFunc {
	background := enum(fs, "background", demo.Realistic, "realistic: habits that overlap risky behaviour, weekends, holidays, vacations; clean: every benign daily count under every low threshold", demo.Realistic, demo.Clean)
	users := fs.Int("users", 0, fmt.Sprintf("users in the organisation, planted ones included (default 200 realistic, minimum %d; 50 clean, minimum 20)", demo.MinRealisticUsers))
	days := fs.Int("days", 90, fmt.Sprintf("days of activity, ending today (minimum %d realistic, 21 clean)", demo.MinRealisticDays))
	tz := fs.String("tz", "UTC", "the organisation's IANA time zone: working hours, weekends and holidays are local to it")
	out := fs.String("out", "", "only write the feed files into DIR/<feed>/ (and DIR/manifest.json, settings.toml, policies.toml), then exit")
	seed := fs.Int64("seed", 1, "random seed: the same seed and options give the same files")
	audit := fs.Int("audit-records", 0, "exact number of benign audit records (0 = each user's own daily volume)")
	return func(c *Ctx, args []string) error {
		if len(args) > 0 {
			return usageError("irm demo: takes no arguments")
		}
		return runDemo(c, demo.Options{Background: *background, Users: *users, Days: *days, Seed: *seed, TimeZone: *tz, AuditRecords: *audit}, *out)
	}
}

func runDemo(c *Ctx, opt demo.Options, out string) error {
	if out != "" {
		start := time.Now()
		m, err := demo.Generate(opt, out)
		if err != nil {
			return err
		}
		if err := writeDemoExtras(out, m); err != nil {
			return err
		}
		total := 0
		for _, n := range m.Counts {
			total += n
		}
		fmt.Fprintf(c.Stderr, "demo: %d users, %d planted cases, %d records in %d files under %s (%s)\n",
			len(m.Users), len(m.Planted), total, m.Files, out, time.Since(start).Round(time.Millisecond))
		fmt.Fprintf(c.Stderr, "demo: load with: irm settings import %s; irm policy import %s; then irm ingest -once (drop dir = %s)\n",
			filepath.Join(out, "settings.toml"), filepath.Join(out, "policies.toml"), out)
		return nil
	}

	cfg, err := c.Config()
	if err != nil {
		return err
	}
	log := cliLogger(c.Stderr)
	// Checked before anything is written: a running serve would ingest the new feeds
	// into its own data.
	db, err := openStore(cfg, log)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w: irm demo runs its own serve; stop the running one first, or write the feeds only with -out DIR", err)
	}
	if err != nil {
		return err
	}
	m, err := demo.Generate(opt, cfg.Drop.Dir)
	if err != nil {
		db.Close()
		return err
	}
	e, r, err := openEngine(db, cfg, log)
	if err == nil {
		var s engine.Settings
		if s, err = engine.ParseSettings("demo settings", []byte(m.SettingsTOML()), r.Current()); err == nil {
			err = e.UpdateSettings(c.Actor, s)
		}
	}
	if err == nil {
		_, err = e.ImportPolicies(c.Actor, "default policies", engine.DefaultPolicies)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(c.Stdout, "demo: %d users with %d planted cases written to %s; default policies imported\n", len(m.Users), len(m.Planted), cfg.Drop.Dir)
	for _, p := range m.Planted {
		fmt.Fprintf(c.Stdout, "  %-30s %s (%s)\n", p.Template, p.User, p.Scenario)
	}
	fmt.Fprintf(c.Stdout, "demo: serving on http://%s (Ctrl-C to stop); alerts: irm alerts\n", cfg.Listen)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log, c.Stdout)
}

// writeDemoExtras writes the manifest, the suggested settings and the default policies
// next to the feeds, so that a generated directory can be loaded by hand.
func writeDemoExtras(dir string, m demo.Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"manifest.json": b, "settings.toml": []byte(m.SettingsTOML()), "policies.toml": engine.DefaultPolicies,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}
