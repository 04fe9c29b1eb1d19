package store

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"irm/event"
)

// benchBatch is the batch size the ingest pipeline commits with (ingest.Options.BatchSize).
const benchBatch = 5000

func benchEvents(n, base int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		j := base + i
		evs[i] = auditEvent(j, fmt.Sprintf("user%03d@contoso.com", j%500), t0.Add(time.Duration(j)*time.Millisecond))
	}
	return evs
}

// eventGen makes realistic audit events cheaply (one template, varying ID, user and time),
// so that generating them costs little next to storing them.
type eventGen struct {
	tmpl  event.Event
	users []string
}

func newEventGen(users int) *eventGen {
	g := &eventGen{tmpl: auditEvent(0, "", t0)}
	for i := range users {
		g.users = append(g.users, fmt.Sprintf("user%03d@contoso.com", i))
	}
	return g
}

func (g *eventGen) fill(evs []event.Event, base int) {
	for i := range evs {
		j := base + i
		evs[i] = g.tmpl
		evs[i].ID = fmt.Sprintf("5b1c2a9e-%04x-4d3f-9c1a-%012x", j&0xffff, j)
		evs[i].User = g.users[j%len(g.users)]
		evs[i].Time = t0.Add(time.Duration(j) * time.Millisecond)
	}
}

// BenchmarkCommitEvents measures the store's share of ingest: new ~560-byte audit events
// (with Raw) committed in batches of 5,000, each batch synced. b.N counts events.
func BenchmarkCommitEvents(b *testing.B) {
	db, err := Open(b.TempDir(), Options{RetentionDays: 180})
	if err != nil {
		b.Fatal(err)
	}
	g := newEventGen(500)
	batch := make([]event.Event, benchBatch)
	b.SetBytes(int64(len(g.tmpl.Raw)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var genCPU time.Duration
	for i := 0; i < b.N; i += benchBatch {
		b.StopTimer()
		c := cpuTime()
		evs := batch[:min(benchBatch, b.N-i)]
		g.fill(evs, i)
		genCPU += cpuTime() - c
		b.StartTimer()
		added, err := db.CommitEvents(evs)
		if err != nil {
			b.Fatal(err)
		}
		if len(added) != len(evs) {
			b.Fatalf("added %d of %d", len(added), len(evs))
		}
	}
	if err := db.Close(); err != nil { // include the final flush in the cost
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU time of the whole process (Badger's writer, flushes and compactions included)
	// per event: what the store takes from the parser on a 2-core machine.
	b.ReportMetric(float64(cpuTime()-cpu0-genCPU)/float64(b.N), "cpu-ns/event")
	if hwm := peakRSS(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
	}
}

// peakRSS is the process's peak resident set size (VmHWM).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the user+system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCommitEventsDuplicates measures re-ingest of events that are all stored already.
func BenchmarkCommitEventsDuplicates(b *testing.B) {
	db := openTest(b, Options{RetentionDays: 180})
	const stored = 100_000
	for i := 0; i < stored; i += benchBatch {
		if _, err := db.CommitEvents(benchEvents(benchBatch, i)); err != nil {
			b.Fatal(err)
		}
	}
	batches := make([][]event.Event, 0, stored/benchBatch)
	for i := 0; i < stored; i += benchBatch {
		batches = append(batches, benchEvents(benchBatch, i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += benchBatch {
		if _, err := db.CommitEvents(batches[(i/benchBatch)%len(batches)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkEventsUserScan(b *testing.B) {
	db := openTest(b, Options{})
	const n, users = 50_000, 50
	for i := 0; i < n; i += benchBatch {
		evs := benchEvents(benchBatch, i)
		for j := range evs {
			evs[j].User = fmt.Sprintf("user%02d@contoso.com", (i+j)%users)
		}
		if _, err := db.CommitEvents(evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	got := 0
	for i := 0; got < b.N; i++ {
		err := db.Events(Query{User: fmt.Sprintf("user%02d@contoso.com", i%users)}, func(*event.Event) error {
			got++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkEventsTimeScan(b *testing.B) {
	db := openTest(b, Options{})
	const n = 50_000
	for i := 0; i < n; i += benchBatch {
		if _, err := db.CommitEvents(benchEvents(benchBatch, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	got := 0
	for got < b.N {
		err := db.Events(Query{}, func(*event.Event) error {
			got++
			if got >= b.N {
				return ErrStop
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "events/s")
}

// The codec benchmarks compare the stored encoding with encoding/json of the same event.
func BenchmarkCodecEncode(b *testing.B) {
	ev := auditEvent(1, "alice@contoso.com", t0)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeEvent(buf[:0], &ev)
	}
	b.ReportMetric(float64(len(buf)), "bytes/value")
}

func BenchmarkCodecDecode(b *testing.B) {
	ev := auditEvent(1, "alice@contoso.com", t0)
	v := encodeEvent(nil, &ev)
	b.ReportAllocs()
	for b.Loop() {
		var got event.Event
		// Decoding takes ownership of the bytes, as after ValueCopy.
		if err := decodeEvent(append([]byte(nil), v...), &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONEncode(b *testing.B) {
	ev := auditEvent(1, "alice@contoso.com", t0)
	var v []byte
	b.ReportAllocs()
	for b.Loop() {
		v, _ = json.Marshal(&ev)
	}
	b.ReportMetric(float64(len(v)), "bytes/value")
}

func BenchmarkJSONDecode(b *testing.B) {
	ev := auditEvent(1, "alice@contoso.com", t0)
	v, _ := json.Marshal(&ev)
	b.ReportAllocs()
	for b.Loop() {
		var got event.Event
		if err := json.Unmarshal(v, &got); err != nil {
			b.Fatal(err)
		}
	}
}
