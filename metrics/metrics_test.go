package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"irm/ingest"
)

func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func series(f *dto.MetricFamily, labels map[string]string) *dto.Metric {
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range labels {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			match = match && found
		}
		if match {
			return m
		}
	}
	return nil
}

// TestObserveFile: a processed file counts its records by result and its lag; a
// duplicate file counts as a file only; a failed file counts its records but no lag.
func TestObserveFile(t *testing.T) {
	m := New("test")
	t0 := time.Now()
	m.ObserveFile(ingest.FileResult{Feed: "audit", Records: 10, Added: 7, Duplicates: 2, Rejected: 1, Arrived: t0, Done: t0.Add(3 * time.Second)})
	m.ObserveFile(ingest.FileResult{Feed: "audit", DuplicateFile: true, Arrived: t0, Done: t0})
	m.ObserveFile(ingest.FileResult{Feed: "hr", Failed: true, Arrived: t0, Done: t0.Add(time.Second)})
	f := gather(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"irm_ingest_records_total", map[string]string{"feed": "audit", "result": "added"}, 7},
		{"irm_ingest_records_total", map[string]string{"feed": "audit", "result": "duplicate"}, 2},
		{"irm_ingest_records_total", map[string]string{"feed": "audit", "result": "rejected"}, 1},
		{"irm_ingest_files_total", map[string]string{"feed": "audit", "result": "processed"}, 1},
		{"irm_ingest_files_total", map[string]string{"feed": "audit", "result": "duplicate"}, 1},
		{"irm_ingest_files_total", map[string]string{"feed": "hr", "result": "failed"}, 1},
	} {
		s := series(f[c.name], c.labels)
		if s == nil || s.GetCounter().GetValue() != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, s.GetCounter().GetValue(), c.want)
		}
	}
	lag := series(f["irm_ingest_lag_seconds"], map[string]string{"feed": "audit"})
	if lag.GetHistogram().GetSampleCount() != 1 || lag.GetHistogram().GetSampleSum() != 3 {
		t.Errorf("audit lag: %v", lag.GetHistogram())
	}
	if series(f["irm_ingest_lag_seconds"], map[string]string{"feed": "hr"}) != nil {
		t.Error("a failed file has a lag observation")
	}
}

// TestHTTPMiddleware labels requests by the matched route pattern, never the raw path.
func TestHTTPMiddleware(t *testing.T) {
	m := New("test")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /alerts/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	h := m.HTTP(mux)
	for _, p := range []string{"/alerts/A1", "/alerts/A2", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	f := gather(t, m)
	if s := series(f["irm_http_requests_total"], map[string]string{"route": "GET /alerts/{id}", "code": "404"}); s.GetCounter().GetValue() != 2 {
		t.Errorf("route pattern counter: %v", s)
	}
	for _, mt := range f["irm_http_requests_total"].GetMetric() {
		for _, l := range mt.GetLabel() {
			if l.GetValue() == "/alerts/A1" {
				t.Error("a raw path became a label")
			}
		}
	}
}
