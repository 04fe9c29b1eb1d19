package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"irm/account"
	"irm/audit"
	"irm/config"
	"irm/ingest"
	"irm/metrics"
	"irm/store"
	"irm/ui"
)

func serveCmd(fs *flag.FlagSet) runFunc {
	return func(c *Ctx, args []string) error {
		if len(args) > 0 {
			return usageError("irm serve: takes no arguments")
		}
		cfg, err := c.Config()
		if err != nil {
			return err
		}
		ingest.TuneRuntime()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, cfg, cliLogger(c.Stderr), c.Stdout)
	}
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
// goroutine, HTTP in another, the control socket for the other commands. On shutdown
// HTTP drains (up to 5 s) while ingest takes no new file and finishes the one in hand
// (up to ingest.DefaultStopGrace), commands on the control socket finish, then the store
// closes. stdout gets the first admin's one-time password.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) error {
	db, err := openStore(cfg, log)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w: is irm serve already running?", err)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	m := metrics.New(Version)
	opt := ingestOptions(cfg, log)
	opt.OnFile = m.ObserveFile
	in, err := ingest.New(db, opt)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Webhooks and the SIEM export follow the audit log from where they left off; made
	// before the engine so that the alerts it raises at start are sent. They see alerts
	// through the UI's privacy rules (pseudonyms), hence the handler, set below.
	var handler *ui.Handler
	integ, err := startIntegrations(db, cfg, log, func() *ui.Handler { return handler }, m)
	if err != nil {
		return err
	}
	eng, rules, err := wireEngine(ctx, db, in, cfg, log, m.ObserveEvaluation)
	if err != nil {
		return err
	}
	// With no accounts yet, create "admin" and print its one-time password.
	if err := account.EnsureAdmin(db, stdout); err != nil {
		return err
	}
	m.WatchStore(db)
	m.WatchEngine(eng)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	tls := cfg.TLSCert != ""
	if host, _, _ := net.SplitHostPort(cfg.Listen); !tls && !isLoopback(host) {
		log.Warn("serving plain HTTP on a non-loopback address; set tls_cert and tls_key", "listen", cfg.Listen)
	}
	var ingesting, stopping atomic.Bool
	ready := func() error {
		switch {
		case stopping.Load():
			return errors.New("shutting down")
		case !eng.Ready():
			return errors.New("the engine index is not built")
		case !ingesting.Load():
			return errors.New("ingest is not running")
		}
		return nil
	}
	allow, _ := cfg.MetricsAllow() // checked by config.Load
	handler, err = ui.New(ui.Options{DB: db, Engine: eng, Rules: rules, Config: cfg, Logger: log, Secure: tls,
		IdleTimeout: time.Duration(cfg.UI.SessionIdleMinutes) * time.Minute,
		MaxAge:      time.Duration(cfg.UI.SessionMaxHours) * time.Hour,
		Metrics:     m.Handler(), MetricsAllow: allow, Ready: ready, Integrations: integ})
	if err != nil {
		ln.Close()
		return fmt.Errorf("web ui: %w", err)
	}
	defer handler.Close() // before db.Close: it writes pending sign-in refusal summaries
	analyticsDone := make(chan struct{})
	go func() {
		defer close(analyticsDone)
		keepAnalytics(ctx, eng, log)
	}()
	defer func() { cancel(); <-analyticsDone }() // before the store closes
	integDone := make(chan struct{})
	go func() {
		defer close(integDone)
		integ.Run(ctx)
	}()
	defer func() { cancel(); <-integDone }() // before the store closes
	srv := &http.Server{
		Handler:           m.HTTP(handler),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// The audit chain head goes to this log (and syslog) at start, periodically and after
	// pruning, so the log can later be checked against a record outside the database.
	anchor := audit.NewAnchor(db, log, cfg.Audit.Syslog)
	m.CounterFunc("irm_audit_syslog_failures_total", "Audit chain heads that could not be delivered to the configured syslog.",
		func() float64 { return float64(anchor.SyslogFailures()) })
	anchorDone := make(chan struct{})
	go func() {
		defer close(anchorDone)
		anchor.Keep(ctx, time.Duration(cfg.Audit.AnchorMinutes)*time.Minute, cfg.Audit.RetentionDays)
	}()
	defer func() { cancel(); <-anchorDone }() // before the store closes

	// The other irm commands reach the database through serve while it holds it.
	ctl, err := startControl(&served{cfg: cfg, db: db, eng: eng, rules: rules}, log, nil)
	if err != nil {
		return err
	}
	defer ctl.Close(10 * time.Second) // before the store closes

	ingestDone := make(chan error, 1)
	ingesting.Store(true)
	go func() {
		ingestDone <- in.Run(ctx)
		ingesting.Store(false)
	}()
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
	log.Info("irm serving", "url", scheme+"://"+ln.Addr().String(), "data_dir", cfg.DataDir, "drop_dir", cfg.Drop.Dir,
		"control_socket", ctl.path, "version", Version)

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
	stopping.Store(true)
	log.Info("shutting down")
	// Ingest sees the cancellation at once and finishes the file in hand while HTTP drains.
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = fmt.Errorf("http: %w", err)
	}
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
