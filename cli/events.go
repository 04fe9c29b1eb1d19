package cli

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"irm/event"
	"irm/store"
)

func eventsCmd(fs *flag.FlagSet) runFunc {
	user := fs.String("user", "", "only this user's events (UPN, case-insensitive)")
	since := fs.String("since", "", "only events at or after T (RFC 3339, or YYYY-MM-DD = that day's start, UTC)")
	until := fs.String("until", "", "only events before T (RFC 3339, or YYYY-MM-DD = including that whole day, UTC)")
	feed := enum(fs, "feed", "", "only this feed", event.Feeds...)
	asJSON := fs.Bool("json", false, "print a JSON array of events with every field, including the raw record")
	limit := fs.Int("limit", 0, "stop after this many events (0 = all)")
	return func(c *Ctx, args []string) error {
		if len(args) > 0 {
			return usageError("irm events: takes no arguments (flags go before arguments)")
		}
		var q store.Query
		q.User = strings.ToLower(strings.TrimSpace(*user))
		q.Feed = *feed
		var err error
		if q.Since, err = parseTimeFlag(*since, false); err != nil {
			return usageError("irm events: -since: %v", err)
		}
		if q.Until, err = parseTimeFlag(*until, true); err != nil {
			return usageError("irm events: -until: %v", err)
		}
		if *limit < 0 {
			return usageError("irm events: -limit %d: want 0 (all) or more", *limit)
		}
		db, err := c.Store()
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(c.Stdout, 64<<10)
		n := 0
		emit := plainEvent
		if *asJSON {
			emit = jsonEvent
			w.WriteString("[")
		}
		err = db.Events(q, func(ev *event.Event) error {
			if err := c.Context().Err(); err != nil {
				return err
			}
			if err := emit(w, ev, n); err != nil {
				return err
			}
			n++
			if *limit > 0 && n >= *limit {
				return store.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		if *asJSON {
			if n > 0 {
				w.WriteString("\n")
			}
			w.WriteString("]\n")
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintln(c.Stderr, "no events match")
		}
		return nil
	}
}

// parseTimeFlag accepts RFC 3339 (with or without a zone; none means UTC) or a date.
// A date as an upper bound means the end of that day, which is what "until 2026-03-31"
// means to a person; the store's Until is exclusive.
func parseTimeFlag(s string, upper bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if upper {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-03-01T09:30:00Z) or a date (2026-03-01)", s)
}

func jsonEvent(w *bufio.Writer, ev *event.Event, i int) error {
	// List fields print as [] rather than null, so every event has the same shape.
	out := *ev
	for _, l := range []*[]string{&out.Recipients, &out.Labels, &out.SensitiveTypes} {
		if *l == nil {
			*l = []string{}
		}
	}
	b, err := json.Marshal(&out)
	if err != nil {
		return fmt.Errorf("event %s: %w", ev.ID, err)
	}
	// Raw is the record as received and may hold bytes that are not UTF-8; JSON
	// readers refuse those, so they become U+FFFD as in the event's other fields.
	b = validUTF8(b)
	if i > 0 {
		w.WriteString(",")
	}
	w.WriteString("\n")
	_, err = w.Write(b)
	return err
}

// plainEvent prints one line per event: fixed-width time, feed, user and operation
// columns, then the most telling details for the feed.
func plainEvent(w *bufio.Writer, ev *event.Event, _ int) error {
	_, err := fmt.Fprintf(w, "%-20s  %-8s  %-30s  %-32s  %s\n",
		ev.Time.UTC().Format("2006-01-02T15:04:05Z"), ev.Feed, ev.User, ev.Operation, details(ev))
	return err
}

func details(ev *event.Event) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+v)
		}
	}
	obj := ev.FileName
	if obj == "" {
		obj = ev.Object
	}
	if ev.AssetName != "" {
		obj = ev.AssetName
	}
	add("", obj)
	add("domain=", ev.TargetDomain)
	if len(ev.Recipients) > 0 {
		add("to=", strings.Join(ev.Recipients, ","))
	}
	add("target=", ev.TargetUser)
	add("device=", ev.Device)
	add("label=", ev.LabelEvent)
	if len(ev.SensitiveTypes) > 0 {
		add("sit=", strings.Join(ev.SensitiveTypes, ","))
	}
	add("severity=", ev.Severity)
	add("status=", ev.Status)
	add("", ev.Title)
	if ev.HR != nil {
		add("hr=", ev.HR.Scenario)
		add("rating=", ev.HR.Rating)
		if ev.HR.NewLevel != "" {
			add("level=", ev.HR.OldLevel+"->"+ev.HR.NewLevel)
		}
	}
	return strings.Join(parts, "  ")
}
