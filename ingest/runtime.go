package ingest

import (
	"os"
	"runtime/debug"
)

// MemoryLimit is the soft limit on the Go heap while ingesting. The appliance's budget is
// 512 MiB of RSS, of which Badger's memory-mapped value log and tables take up to about
// 250 MiB during a bulk ingest (file pages, outside the Go heap). Measured on 200,000
// records with `irm ingest -once`: no limit peaked at 315-410 MiB, 384 MiB at about
// 307 MiB with the same wall time, 256 MiB at 273 MiB but 20-40% slower (the GC then runs
// often enough to stall the parse and commit goroutines).
const MemoryLimit = 384 << 20

// GCPercent is the GC target while ingesting. Under MemoryLimit a higher target only
// spaces out collections until the heap nears the limit; measured on BenchmarkIngestAudit
// (2 cores): GOGC=100 96,000-109,000 records/s, GOGC=200 112,000-123,000 records/s, peak
// RSS 258-354 MiB.
const GCPercent = 200

// TuneRuntime applies irm's runtime settings for ingesting (serve, ingest and the
// benchmarks), unless the operator set GOMEMLIMIT or GOGC.
func TuneRuntime() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
