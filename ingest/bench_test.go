package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"irm/bench/auditgen"
	"irm/store"
)

// BenchmarkIngestAudit ingests 200,000 realistic audit records (~570 bytes each, unique
// Ids, 10 JSON-lines drop files; IRM_BENCH_RECORDS overrides the count, as CI does to
// run every benchmark once quickly) into a fresh Badger directory per iteration: claim,
// digest, parse, commit with sync, ledger, move. It reports records/s and the process's
// peak RSS (VmHWM, which includes the test binary itself).
//
//	go test -run '^$' -bench IngestAudit -benchtime 3x ./ingest/
func BenchmarkIngestAudit(b *testing.B) {
	records, files := 200000, 10
	if v, err := strconv.Atoi(os.Getenv("IRM_BENCH_RECORDS")); err == nil && v >= files {
		records = v - v%files
	}
	TuneRuntime() // the settings of irm serve and irm ingest
	var total, cpu time.Duration
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		dir := b.TempDir()
		drop := filepath.Join(dir, "drop")
		db, err := store.Open(filepath.Join(dir, "data"), store.Options{RetentionDays: 180})
		if err != nil {
			b.Fatal(err)
		}
		in, err := New(db, Options{DropDir: drop})
		if err != nil {
			b.Fatal(err)
		}
		run := fmt.Sprintf("bench%d", it)
		per := records / files
		for f := 0; f < files; f++ {
			name := filepath.Join(drop, "audit", fmt.Sprintf("audit-%02d.json", f))
			if err := auditgen.WriteFile(name, run, f*per, (f+1)*per, false); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start, cpu0 := time.Now(), procCPU()
		sum, err := in.Once(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		cpu += procCPU() - cpu0
		b.StopTimer()
		if sum.Added != records || sum.Rejected != 0 {
			b.Fatalf("ingested %+v, want %d added", sum, records)
		}
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(records*b.N)/total.Seconds(), "records/s")
	// CPU per record is what to compare between runs on a machine shared with other
	// work: wall-clock rates then mostly measure the neighbours.
	b.ReportMetric(float64(cpu.Microseconds())/float64(records*b.N), "cpu-µs/record")
	if kb := peakRSSKiB(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
	}
}

// procCPU is the process's user+system CPU time so far.
func procCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSKiB reads VmHWM from /proc (Linux); 0 elsewhere.
func peakRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
