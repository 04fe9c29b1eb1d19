package cli

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"irm/bench/auditgen"
)

// scrape reads /metrics and parses the Prometheus text exposition format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the text exposition format: %v", err)
	}
	return fams
}

// value is the counter, gauge or histogram count of the series with these labels
// (0 when the series is absent).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// TestMetricsMoveWithIngest (must-show): /metrics needs no session, parses as the
// exposition format, and its ingest, engine and store series move when a file is
// ingested; /readyz says ready.
func TestMetricsMoveWithIngest(t *testing.T) {
	e, _ := demoEnv(t) // policies, so that the engine series have labels
	feeds := filepath.Join(e.dir, "feeds")
	if err := os.Rename(e.drop, feeds); err != nil {
		t.Fatal(err)
	}
	s := e.startServe(t)

	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ready\n" {
		t.Fatalf("/readyz: %d %q", resp.StatusCode, body)
	}

	before := scrape(t, s.url)
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "irm_build_info", "irm_store_lsm_bytes", "irm_store_vlog_bytes", "irm_policy_users_in_scope", "irm_http_requests_total", "irm_audit_syslog_failures_total"} {
		if before[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if v := value(before, "irm_policy_users_in_scope", "policy", "Risky browsing"); v != 0 {
		t.Errorf("users in scope before any event: %v", v)
	}

	const n = 700
	audit := filepath.Join(e.drop, "audit")
	tmp := filepath.Join(audit, ".m.json.tmp")
	if err := auditgen.WriteFile(tmp, "metrics", 0, n, false); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(audit, "m.json")); err != nil {
		t.Fatal(err)
	}
	// A second copy of the same content is a duplicate file.
	waitProcessed(t, audit, "m.json")
	if err := auditgen.WriteFile(tmp, "metrics", 0, n, false); err != nil {
		t.Fatal(err)
	}
	os.Rename(tmp, filepath.Join(audit, "m2.json"))
	waitProcessed(t, audit, "m2.json")
	// The demo's feeds bring users into scope and raise alerts.
	for _, feed := range []string{"hr", "audit", "badging", "dlp", "defender"} {
		names, _ := filepath.Glob(filepath.Join(feeds, feed, "*"))
		for _, name := range names {
			os.Rename(name, filepath.Join(e.drop, feed, filepath.Base(name)))
		}
	}
	var after map[string]*dto.MetricFamily
	deadline := time.Now().Add(60 * time.Second)
	for {
		after = scrape(t, s.url)
		if value(after, "irm_alerts") > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	diff := func(name string, labels ...string) float64 {
		return value(after, name, labels...) - value(before, name, labels...)
	}
	if d := diff("irm_ingest_records_total", "feed", "audit", "result", "added"); d < n {
		t.Errorf("audit records added moved by %v, want at least %d", d, n)
	}
	if d := diff("irm_ingest_files_total", "feed", "audit", "result", "processed"); d < 1 {
		t.Errorf("audit files processed moved by %v", d)
	}
	if d := diff("irm_ingest_files_total", "feed", "audit", "result", "duplicate"); d != 1 {
		t.Errorf("duplicate audit files moved by %v, want 1", d)
	}
	if d := diff("irm_ingest_records_total", "feed", "hr", "result", "added"); d <= 0 {
		t.Errorf("HR records added moved by %v", d)
	}
	if d := diff("irm_ingest_lag_seconds", "feed", "audit"); d < 1 {
		t.Errorf("audit ingest lag observations moved by %v", d)
	}
	if d := diff("irm_engine_evaluation_seconds"); d < 1 {
		t.Errorf("evaluation latency observations moved by %v", d)
	}
	if d := diff("irm_engine_events_evaluated_total"); d < n {
		t.Errorf("events evaluated moved by %v, want at least %d", d, n)
	}
	if value(after, "irm_alerts") == 0 {
		t.Errorf("no irm_alerts series after the demo's feeds: %v", after["irm_alerts"])
	}
	inScope := 0.0
	for _, m := range after["irm_policy_users_in_scope"].GetMetric() {
		inScope += m.Gauge.GetValue()
	}
	if inScope == 0 {
		t.Error("no user in scope of any policy after the demo's feeds")
	}
	if diff("irm_store_vlog_bytes")+diff("irm_store_lsm_bytes") <= 0 && value(after, "irm_store_vlog_bytes") == 0 {
		t.Error("the store's size did not show")
	}
	if d := diff("irm_http_requests_total", "route", "GET /metrics", "code", "200"); d < 1 {
		t.Errorf("HTTP requests to /metrics counted %v", d)
	}
}

func waitProcessed(t *testing.T, dir, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "processed", name)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not ingested within 30 s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
