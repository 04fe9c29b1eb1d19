package engine

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"irm/demo"
	"irm/dsl"
	"irm/ingest"
	"irm/rules"
)

// benchRules are candidate indicators of the rule backtest benchmark: a typical custom
// indicator (an operation test, then CEL), and a worst case with no operation test, so
// that CEL runs for every audit event.
const benchRules = `[[indicator]]
id = "bench_spreadsheet_out"
name = "Printing, copying to USB or uploading spreadsheets"
category = "exfiltration"
feeds = ["audit"]
when = '''
event.operation in ["FilePrinted", "FileCopiedToRemovableMedia", "FileUploadedToCloud"] &&
  (event.file_name.endsWith(".xlsx") || event.file_name.endsWith(".csv"))
'''

[[indicator]]
id = "bench_every_event"
name = "Any audit event naming a zip file or a personal cloud site"
category = "exfiltration"
feeds = ["audit"]
when = 'event.file_name.endsWith(".zip") || event.target_domain.matchesDomain(lists.personal_cloud_domains)'
`

// BenchmarkRuleBacktest is the workbench's backtest (Engine.BacktestRule) over a store
// of about 1,000,000 events (IRM_BENCH_RECORDS benign audit records, default 1,000,000,
// 1,000 users, 45 days, realistic background, plus the other feeds), replaying all 45
// days with the default two workers. The store is filled once, outside the timing. Reports
// seconds per backtest (target: at most 10 s on the 2-core machine), the process's CPU
// seconds during it (both workers and the store's own goroutines: on a shared machine the
// wall clock also counts waiting for a core) and events read per second. Sub-benchmarks: a typical custom indicator (candidate, not in force), the
// worst case (CEL for every audit event), a built-in first_seen indicator, a built-in
// sequence.
func BenchmarkRuleBacktest(b *testing.B) {
	const benchDays = 45 // the realistic demo's minimum
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("IRM_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	users := 1000
	if n < 200000 { // a small run (CI's IRM_BENCH_RECORDS=20000): the smallest organisation
		users = 100
	}
	src := b.TempDir()
	m, err := demo.Generate(demo.Options{Users: users, Days: benchDays, Seed: 1, End: demoEnd, AuditRecords: n}, src)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	db := openTestDB(b, dir)
	e := engineOver(b, db)
	mustSettings(b, e, m.SettingsTOML())
	in, err := ingest.New(db, ingest.Options{DropDir: src, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	sum, err := in.Once(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	db.Close()
	os.RemoveAll(src)

	db = openTestDB(b, dir)
	defer db.Close()
	r, err := dsl.NewReloader(rules.FS, filepath.Join(b.TempDir(), "rules.d"), dsl.Options{OrgDomains: []string{"contoso.com"}})
	if err != nil {
		b.Fatal(err)
	}
	e, err = New(db, r, testConfig(), testLogger())
	if err != nil {
		b.Fatal(err)
	}
	e.now = func() time.Time { return demoEnd.Add(12 * time.Hour) }
	cand, err := r.Draft("bench.toml", []byte(benchRules), false)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		rs       *dsl.RuleSet
	}{
		{"indicator", "bench_spreadsheet_out", cand},
		{"every_event_cel", "bench_every_event", cand},
		{"first_seen", "new_ip_sign_in", r.Current()},
		{"sequence", "download_then_exfiltrate", r.Current()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				start, cpu := time.Now(), processCPU()
				res, err := e.BacktestRule(context.Background(), tc.rs, tc.id, RuleBacktestOptions{Days: benchDays})
				if err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				b.ReportMetric(el.Seconds(), "s/backtest")
				b.ReportMetric((processCPU() - cpu).Seconds(), "cpu-s/backtest")
				b.ReportMetric(float64(res.Events)/el.Seconds(), "events/s")
				b.ReportMetric(float64(res.Events), "events")
				b.ReportMetric(float64(res.Matched), "matched")
				b.ReportMetric(float64(sum.Records), "records")
			}
		})
	}
}

// processCPU is the CPU time the process has used (user and system, all threads).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
