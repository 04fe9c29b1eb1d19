package ingest

import (
	"os"
	"runtime/debug"
)

// MemoryLimit is the soft limit on the Go heap while ingesting. The appliance's budget is
// 1 GiB of RSS, of which Badger's memory-mapped value log and tables take up to about
// 250 MiB during a bulk ingest (file pages, outside the Go heap). The engine's index is
// live heap that grows with the users and events kept (about 240 MB for 20,000 users and
// 2.9 million records); under a limit close to the live heap the collector runs without
// pause. Measured with bench/e2e.sh on 2 cores (2026-11-29):
//
//	                                    384 MiB                     640 MiB
//	2.9 M records, 20,000 users, 30 d   39,071 rec/s, 645 MiB RSS   53,082-62,713 rec/s, 700-730 MiB
//	                                    (137 CPU-s)                 (83-86 CPU-s)
//	1.0 M records,  1,000 users, 30 d                               115,858 rec/s, 592 MiB
//	1.6 M records,  1,000 users, 90 d                               98,260 rec/s, 653 MiB
//
// A small ingest does not reach the limit (GCPercent decides): BenchmarkIngestAudit
// (200,000 records) peaks at 325 MiB with either.
const MemoryLimit = 640 << 20

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
