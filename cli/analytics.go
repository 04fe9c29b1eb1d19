package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"irm/engine"
)

func analyticsCmd(fs *flag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the report as JSON (the API's form)")
	return func(c *Ctx, args []string) error {
		if len(args) != 0 {
			return usageError("irm analytics: takes no arguments")
		}
		eng, err := c.Engine()
		if err != nil {
			return err
		}
		rep, err := eng.RefreshAnalytics(time.Now())
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(utf8Writer{c.Stdout})
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		w := c.Stdout
		fmt.Fprintf(w, "Analytics of %s to %s (%d days): counts of users only; groups of fewer than %d users are not shown.\n", rep.From, rep.To, rep.Days, rep.MinGroup)
		if rep.ActiveUsers == 0 {
			fmt.Fprintf(w, "Fewer than %d users were active: nothing to show.\n", rep.MinGroup)
			return nil
		}
		fmt.Fprintf(w, "%d users were active.\n", rep.ActiveUsers)
		for _, in := range rep.Insights {
			fmt.Fprintf(w, "\n%s (template %s)", in.Name, in.Template)
			if in.Recommended {
				fmt.Fprint(w, " — RECOMMENDED")
			}
			fmt.Fprintln(w)
			if !in.Shown {
				fmt.Fprintf(w, "  fewer than %d users\n", rep.MinGroup)
				continue
			}
			fmt.Fprintf(w, "  %d users (%.0f %% of active users)\n", in.Users, in.Share*100)
			for _, x := range in.TopIndicators {
				fmt.Fprintf(w, "  indicator  %-4d %s\n", x.Users, x.Name)
			}
			for _, x := range in.TopSequences {
				fmt.Fprintf(w, "  sequence   %-4d %s\n", x.Users, x.Name)
			}
		}
		if rep.Recommended != "" {
			fmt.Fprintf(w, "\nCreate the recommended policy in the wizard: /policies/new?template=%s (or irm policy import).\n", rep.Recommended)
		}
		return nil
	}
}

// keepAnalytics computes the analytics report at start and once a day, so that the
// page shows a recent one without anybody asking.
func keepAnalytics(ctx context.Context, eng *engine.Engine, log *slog.Logger) {
	for {
		if _, err := eng.RefreshAnalytics(time.Now()); err != nil && ctx.Err() == nil {
			log.Error("analytics", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}
