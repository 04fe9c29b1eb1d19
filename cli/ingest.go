package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"irm/ingest"
	"irm/store"
)

func ingestCmd(fs *flag.FlagSet) runFunc {
	once := fs.Bool("once", false, "ingest every file now in the drop directories, then exit")
	quiet := fs.Bool("q", false, "no progress or per-file log lines; only the summary and errors")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for diagnosing throughput)")
	memProfile := fs.String("memprofile", "", "with -once: write a heap profile to this file at the end (for diagnosing memory)")
	return func(c *Ctx, args []string) error {
		if len(args) > 0 {
			return usageError("irm ingest: takes no arguments")
		}
		cfg, err := c.Config()
		if err != nil {
			return err
		}
		log := cliLogger(c.Stderr)
		if *quiet {
			log = c.Logger()
		}
		db, err := openStore(cfg, log)
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w: irm serve ingests the drop directories itself; stop it first to run irm ingest", err)
		}
		if err != nil {
			return err
		}
		defer db.Close()
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
		ingest.TuneRuntime()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()

		opt := ingestOptions(cfg, log)
		if !*quiet {
			opt.Progress = c.Stderr
		}
		in, err := ingest.New(db, opt)
		if err != nil {
			return err
		}
		ectx, cancel := context.WithCancel(ctx)
		defer cancel()
		eng, _, err := wireEngine(ectx, db, in, cfg, log, nil)
		if err != nil {
			return err
		}
		if !*once {
			return in.Run(ctx)
		}
		sum, err := in.Once(ctx)
		fmt.Fprintf(c.Stderr, "ingest: %s\n", sum)
		if err != nil {
			return err
		}
		// Scores that depend on other users' activity settle after the whole drop is in.
		if err := eng.Flush(); err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		if *memProfile != "" {
			f, err := os.Create(*memProfile)
			if err != nil {
				return err
			}
			runtime.GC() // the live heap, not what the last cycle left
			err = pprof.WriteHeapProfile(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
		if sum.FailedFiles > 0 || sum.Rejected > 0 {
			fmt.Fprintf(c.Stderr, "ingest: see %s/<feed>/failed/*.error.txt and processed/*.errors.txt\n", cfg.Drop.Dir)
		}
		return nil
	}
}

// cliLogger is the logger of every long-running command: text lines, info and up.
func cliLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
