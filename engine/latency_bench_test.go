package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"irm/event"
	"irm/ingest"
)

// BenchmarkDropToAlertLatency measures, through the real pipeline (watcher with the
// default 500 ms settle time, parser, Badger, engine), the time from the rename of an
// audit drop file to its alert being readable the way `irm alerts` reads it while
// `irm serve` holds the database (from the running engine, over the control socket).
// Each iteration
// drops one file of 30 Confidential USB copies by a different user who has resigned and
// has 45 days of ordinary history, under a departing-users policy in user mode: the
// alert comes from the user's own baseline (53 points: a high day of priority content),
// the way a real departing user's alert comes. Run with -benchtime=100x; it reports p50,
// p99 and max in ms.
func BenchmarkDropToAlertLatency(b *testing.B) {
	dir := b.TempDir()
	db := openTestDB(b, filepath.Join(dir, "data"))
	defer db.Close()
	e := engineOver(b, db)
	mustPolicies(b, e, `
[[policy]]
name = "Departing"
template = "data_theft_departing"
users = ["*"]
priority_content = { labels = ["Confidential"] }
`)
	users := make([]string, b.N)
	var hist []event.Event
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for i := range users {
		users[i] = fmt.Sprintf("lat%04d@contoso.com", i)
		hist = append(hist, resignation(users[i], today.AddDate(0, 0, -2), today.AddDate(0, 0, 10)))
		for d := 45; d >= 1; d-- {
			hist = append(hist, ev(users[i], "FileAccessed", today.AddDate(0, 0, -d).Add(9*time.Hour), withFile("notes.docx")))
		}
	}
	commit(b, e, db, hist)
	if err := e.Flush(); err != nil { // the settle pass: the data's first day is known
		b.Fatal(err)
	}
	drop := filepath.Join(dir, "drop")
	in, err := ingest.New(db, ingest.Options{DropDir: drop, Settle: 500 * time.Millisecond, Rescan: 10 * time.Second, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	in.OnCommit(e.Process)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	go e.Run(ctx)
	defer func() {
		cancel()
		<-done
	}()
	time.Sleep(300 * time.Millisecond) // let the watcher start

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := users[i]
		var sb strings.Builder
		now := time.Now().UTC()
		for j := 0; j < 30; j++ {
			fmt.Fprintf(&sb, `{"Id":"%08d-0000-4000-8000-%012d","RecordType":63,"CreationTime":"%s","Operation":"FileCopiedToRemovableMedia","UserKey":"k","Workload":"Endpoint","ResultStatus":"Succeeded","UserId":"%s","ObjectId":"C:\\Users\\x\\f%d.docx","DeviceName":"PC1","FileExtension":"docx","FileSize":1000,"DestinationLocationType":"RemovableMedia","SensitivityLabelIds":["Confidential"]}`+"\n",
				i, j, now.Add(-time.Minute+time.Duration(j)*time.Second).Format("2006-01-02T15:04:05"), u, j)
		}
		tmp := filepath.Join(drop, "audit", fmt.Sprintf(".lat-%d.tmp", i))
		if err := os.WriteFile(tmp, []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		name := fmt.Sprintf("lat-%d.json", i)
		if err := os.Rename(tmp, filepath.Join(drop, "audit", name)); err != nil {
			b.Fatal(err)
		}
		var moved time.Duration // until the ingester moved the file to processed/
		for {
			if moved == 0 {
				if _, err := os.Stat(filepath.Join(drop, "audit", "processed", name)); err == nil {
					moved = time.Since(start)
				}
			}
			if len(e.Alerts(AlertFilter{User: u})) > 0 {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("no alert for %s after 30 s", u)
			}
			time.Sleep(2 * time.Millisecond)
		}
		d := time.Since(start)
		lat = append(lat, d)
		if d > time.Second {
			b.Logf("slow drop %d: alert after %s; file moved to processed/ after %s (0 = not yet)", i, d.Round(time.Millisecond), moved.Round(time.Millisecond))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
