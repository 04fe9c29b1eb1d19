package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"irm/ingest"
)

func init() {
	register(&command{
		name:    "ingest",
		summary: "ingest the drop directories: -once ingests what is there and exits; without it, watches (no web UI)",
		run:     runIngest,
	})
}

func runIngest(args []string) error {
	fs, cfgPath := newFlags("ingest")
	once := fs.Bool("once", false, "ingest every file now in the drop directories, then exit")
	quiet := fs.Bool("q", false, "no progress or per-file log lines; only the summary and errors")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for diagnosing throughput)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() > 0 {
		return &exitError{2, "irm ingest: takes no arguments"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := cliLogger()
	if *quiet {
		log = quietLogger()
	}
	ingest.TuneRuntime()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	db, err := openStoreFor(cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	opt := ingestOptions(cfg, log)
	if !*quiet {
		opt.Progress = os.Stderr
	}
	in, err := ingest.New(db, opt)
	if err != nil {
		return err
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	eng, _, err := wireEngine(ectx, db, in, cfg, log)
	if err != nil {
		return err
	}
	if !*once {
		return in.Run(ctx)
	}
	sum, err := in.Once(ctx)
	fmt.Fprintf(os.Stderr, "ingest: %s\n", sum)
	if err != nil {
		return err
	}
	// Scores that depend on other users' activity settle after the whole drop is in.
	if err := eng.Flush(); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	if sum.FailedFiles > 0 || sum.Rejected > 0 {
		fmt.Fprintf(os.Stderr, "ingest: see %s/<feed>/failed/*.error.txt and processed/*.errors.txt\n", cfg.Drop.Dir)
	}
	return nil
}

// quietLogger shows only warnings and errors.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
