package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"irm/event"
)

// benchAuditRecord is a typical SharePoint download record, about 560 bytes compact.
const benchAuditRecord = `{"CreationTime":"2026-11-12T17:40:%02d","Id":"5b7e1c8a-4d2f-4a8e-9c1b-%012d","Operation":"FileDownloaded","OrganizationId":"4a1d2b3c-5e6f-4789-a0b1-c2d3e4f5a6b7","RecordType":6,"UserKey":"i:0h.f|membership|10032001a2b3c4d5@live.com","UserType":0,"Version":1,"Workload":"SharePoint","ClientIP":"203.0.113.24","ObjectId":"https://contoso.sharepoint.com/sites/Finance/Shared Documents/Forecasts/Q4 Forecast %d.xlsx","UserId":"Alice.Chen@contoso.com","EventSource":"SharePoint","ItemType":"File","SourceFileExtension":"xlsx","SiteUrl":"https://contoso.sharepoint.com/sites/Finance/","SourceFileName":"Q4 Forecast %d.xlsx","SourceRelativeUrl":"Shared Documents/Forecasts"}`

func benchAuditFile(n int, array bool) []byte {
	var b bytes.Buffer
	if array {
		b.WriteString("[\n")
	}
	for i := 0; i < n; i++ {
		if array && i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, benchAuditRecord, i%60, i, i, i)
		if !array {
			b.WriteByte('\n')
		}
	}
	if array {
		b.WriteString("\n]\n")
	}
	return b.Bytes()
}

func benchmarkParseAudit(b *testing.B, array bool) {
	const n = 10000
	data := benchAuditFile(n, array)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		got := 0
		rej, err := Parse(event.FeedAudit, bytes.NewReader(data), ParseOptions{}, func(ev *event.Event) error {
			got++
			return nil
		})
		if err != nil || len(rej) > 0 || got != n {
			b.Fatalf("got %d events, %v, %v", got, rej, err)
		}
	}
	// Other processes share this machine: CPU time per record is the steadier figure.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	b.ReportMetric(float64(len(data))/n, "bytes/record")
}

// BenchmarkParseAudit parses 10,000 audit records per iteration; see ns/record.
func BenchmarkParseAudit(b *testing.B) {
	b.Run("array", func(b *testing.B) { benchmarkParseAudit(b, true) })
	b.Run("lines", func(b *testing.B) { benchmarkParseAudit(b, false) })
}

// cpuTime is the CPU time (user+system) used by this process so far, GC included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeAudit compares the one-pass record reader with encoding/json decoding
// the same fields (the reason parse_json.go exists).
func BenchmarkDecodeAudit(b *testing.B) {
	const n = 10000
	lines := bytes.Split(benchAuditFile(n, false), []byte("\n"))[:n]
	run := func(b *testing.B, decode func([]byte) error) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			for _, l := range lines {
				if err := decode(l); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/record")
	}
	b.Run("onepass", func(b *testing.B) {
		run(b, func(l []byte) error {
			var rec auditRecord
			if rj := rec.read(l); rj != nil {
				return errors.New(rj.reason)
			}
			return nil
		})
	})
	b.Run("encodingjson", func(b *testing.B) {
		run(b, func(l []byte) error {
			var rec auditRecord
			return json.Unmarshal(l, &rec)
		})
	})
	b.Run("event", func(b *testing.B) {
		var users userCache
		run(b, func(l []byte) error {
			if _, rj := decodeAudit(&users, l); rj != nil {
				return errors.New(rj.reason)
			}
			return nil
		})
	})
}

// BenchmarkFrameJSON measures framing alone: array elements versus JSON lines.
func BenchmarkFrameJSON(b *testing.B) {
	const n = 10000
	for _, array := range []bool{true, false} {
		data := benchAuditFile(n, array)
		name := "lines"
		if array {
			name = "array"
		}
		b.Run(name, func(b *testing.B) {
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				jr, err := newJSONReader(bytes.NewReader(data), defaultMaxLineBytes)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, ok, err := jr.next()
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						break
					}
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/record")
		})
	}
}
