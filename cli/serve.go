package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"irm/account"
	"irm/audit"
	"irm/config"
	"irm/dsl"
	"irm/engine"
	"irm/ingest"
	"irm/store"
	"irm/ui"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run the appliance: watch the drop directories, ingest, evaluate, serve the web UI",
		run:     runServe,
	})
}

func runServe(args []string) error {
	fs, cfgPath := newFlags("serve")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{2, "irm serve: takes no arguments"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ingest.TuneRuntime()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, cliLogger())
}

// cliLogger is the logger of every long-running command: text lines on stderr.
func cliLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// openStoreFor opens the Badger store named by the config.
func openStoreFor(cfg *config.Config, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(cfg.DataDir, store.Options{RetentionDays: cfg.Retention.EventsDays, Logger: log, AuditKeyFile: cfg.Audit.KeyFile})
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("data dir %s is in use by another irm process (irm serve?); stop it first", cfg.DataDir)
		}
		return nil, err
	}
	return db, nil
}

// ingestOptions maps the [drop] and [hr] config onto the ingester's options.
func ingestOptions(cfg *config.Config, log *slog.Logger) ingest.Options {
	return ingest.Options{
		DropDir:           cfg.Drop.Dir,
		Parse:             ingest.ParseOptions{HRColumns: cfg.HR.Columns},
		Rescan:            time.Duration(cfg.Drop.RescanSeconds) * time.Second,
		Settle:            time.Duration(cfg.Drop.SettleMS) * time.Millisecond,
		KeepProcessedDays: cfg.Drop.KeepProcessedDays,
		Logger:            log,
	}
}

// serve runs the appliance until ctx is done or the listener fails: the ingester in one
// goroutine, HTTP in another. On shutdown HTTP drains first (5 s), then ingest stops at
// a batch boundary (a file cut short stays claimed and resumes on the next start), then
// the store closes.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	db, err := openStoreFor(cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	in, err := ingest.New(db, ingestOptions(cfg, log))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	eng, rules, err := wireEngine(ctx, db, in, cfg, log)
	if err != nil {
		return err
	}
	// With no accounts yet, create "admin" and print its one-time password.
	if err := account.EnsureAdmin(db, os.Stdout); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	tls := cfg.TLSCert != ""
	if host, _, _ := net.SplitHostPort(cfg.Listen); !tls && !isLoopback(host) {
		log.Warn("serving plain HTTP on a non-loopback address; set tls_cert and tls_key", "listen", cfg.Listen)
	}
	handler, err := httpHandler(db, eng, rules, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer handler.Close() // before db.Close: it writes pending sign-in refusal summaries
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// The audit chain head goes to this log (and syslog) at start, periodically and after
	// pruning, so the log can later be checked against a record outside the database.
	anchor := audit.NewAnchor(db, log, cfg.Audit.Syslog)
	anchorDone := make(chan struct{})
	go func() {
		defer close(anchorDone)
		anchor.Keep(ctx, time.Duration(cfg.Audit.AnchorMinutes)*time.Minute, cfg.Audit.RetentionDays)
	}()
	defer func() { cancel(); <-anchorDone }() // before the store closes

	ingestDone := make(chan error, 1)
	go func() { ingestDone <- in.Run(ctx) }()
	httpDone := make(chan error, 1)
	go func() {
		if tls {
			httpDone <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			httpDone <- srv.Serve(ln)
		}
	}()
	scheme := "http"
	if tls {
		scheme = "https"
	}
	log.Info("irm serving", "url", scheme+"://"+ln.Addr().String(), "data_dir", cfg.DataDir, "drop_dir", cfg.Drop.Dir, "version", version)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-httpDone:
		runErr = fmt.Errorf("http: %w", err)
		httpDone <- nil
	case err := <-ingestDone:
		if err != nil {
			runErr = fmt.Errorf("ingest: %w", err)
		}
		ingestDone <- nil
	}
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = fmt.Errorf("http: %w", err)
	}
	cancel()
	if err := <-ingestDone; err != nil && runErr == nil {
		runErr = fmt.Errorf("ingest: %w", err)
	}
	return runErr
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpHandler is the whole HTTP surface: the web UI and API (package ui), which also
// answers /healthz.
func httpHandler(db *store.DB, eng *engine.Engine, rules *dsl.Reloader, cfg *config.Config, log *slog.Logger) (*ui.Handler, error) {
	h, err := ui.New(ui.Options{DB: db, Engine: eng, Rules: rules, Config: cfg, Logger: log, Secure: cfg.TLSCert != "",
		IdleTimeout: time.Duration(cfg.UI.SessionIdleMinutes) * time.Minute,
		MaxAge:      time.Duration(cfg.UI.SessionMaxHours) * time.Hour})
	if err != nil {
		return nil, fmt.Errorf("web ui: %w", err)
	}
	return h, nil
}
