// Package metrics is irm's Prometheus instrumentation: what `irm serve` exposes on
// GET /metrics (docs/operations.md lists every series). Counters that move with the work
// (records, files, evaluations, HTTP requests) are fed by hooks; figures that are state
// (alerts, users in scope, database size) are read from the store and the engine at
// each scrape.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"irm/engine"
	"irm/ingest"
	"irm/store"
)

// Metrics holds the registry and the instruments irm feeds.
type Metrics struct {
	reg *prometheus.Registry

	records  *prometheus.CounterVec
	files    *prometheus.CounterVec
	lag      *prometheus.HistogramVec
	evalTime prometheus.Histogram
	evalEvts prometheus.Counter
	requests *prometheus.CounterVec
	reqTime  *prometheus.HistogramVec
}

// New returns the metrics of one serve process, with the Go runtime and process
// collectors and irm_build_info.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.records = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "irm_ingest_records_total",
		Help: "Records read from drop files, by feed and result: added (new events), duplicate (already stored), rejected (listed in the file's error report).",
	}, []string{"feed", "result"})
	m.files = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "irm_ingest_files_total",
		Help: "Drop files done with, by feed and result: processed, duplicate (same content ingested before), failed (moved to failed/).",
	}, []string{"feed", "result"})
	m.lag = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "irm_ingest_lag_seconds",
		Help:    "Time from a drop file's arrival (its modification time) until its records were stored and the file moved out of the drop directory.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"feed"})
	m.evalTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "irm_engine_evaluation_seconds",
		Help:    "Time the engine took to evaluate one committed batch of new events (up to 5,000).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1 ms .. 8 s
	})
	m.evalEvts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "irm_engine_events_evaluated_total",
		Help: "New events the engine evaluated.",
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "irm_http_requests_total",
		Help: "HTTP requests by route pattern and status code.",
	}, []string{"route", "code"})
	m.reqTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "irm_http_request_duration_seconds",
		Help:    "HTTP request latency by route pattern.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"route"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "irm_build_info",
		Help:        "The running irm version (always 1).",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.reg.MustRegister(m.records, m.files, m.lag, m.evalTime, m.evalEvts, m.requests, m.reqTime, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the registry, for tests and further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveFile counts a drop file (ingest.Options.OnFile).
func (m *Metrics) ObserveFile(r ingest.FileResult) {
	switch {
	case r.DuplicateFile:
		m.files.WithLabelValues(r.Feed, "duplicate").Inc()
		return
	case r.Failed:
		m.files.WithLabelValues(r.Feed, "failed").Inc()
	default:
		m.files.WithLabelValues(r.Feed, "processed").Inc()
	}
	m.records.WithLabelValues(r.Feed, "added").Add(float64(r.Added))
	m.records.WithLabelValues(r.Feed, "duplicate").Add(float64(r.Duplicates))
	m.records.WithLabelValues(r.Feed, "rejected").Add(float64(r.Rejected))
	if !r.Failed && !r.Arrived.IsZero() && !r.Done.Before(r.Arrived) {
		m.lag.WithLabelValues(r.Feed).Observe(r.Done.Sub(r.Arrived).Seconds())
	}
}

// ObserveEvaluation records one evaluated batch.
func (m *Metrics) ObserveEvaluation(events int, took time.Duration) {
	m.evalTime.Observe(took.Seconds())
	m.evalEvts.Add(float64(events))
}

// WatchStore exposes the database's size on disk.
func (m *Metrics) WatchStore(db *store.DB) { m.reg.MustRegister(storeCollector{db}) }

// WatchEngine exposes alerts by policy, severity and status, and users in scope per
// policy.
func (m *Metrics) WatchEngine(e *engine.Engine) { m.reg.MustRegister(engineCollector{e}) }

// CounterFunc registers a counter read from fn at each scrape (for example the audit
// anchor's syslog delivery failures).
func (m *Metrics) CounterFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}

// GaugeFunc registers a gauge read from fn at each scrape.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// HTTP counts and times the requests next serves, by the route pattern the mux matched
// (a bounded set; never the raw path, which holds names and ids).
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern // set by http.ServeMux on this request when it matched
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.reqTime.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

var (
	lsmDesc  = prometheus.NewDesc("irm_store_lsm_bytes", "Size of the Badger LSM tree (keys and small values) on disk.", nil, nil)
	vlogDesc = prometheus.NewDesc("irm_store_vlog_bytes", "Size of the Badger value log (event records) on disk.", nil, nil)
)

type storeCollector struct{ db *store.DB }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lsmDesc; ch <- vlogDesc }

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.db.Badger().IsClosed() {
		return
	}
	lsm, vlog := c.db.Badger().Size()
	ch <- prometheus.MustNewConstMetric(lsmDesc, prometheus.GaugeValue, float64(lsm))
	ch <- prometheus.MustNewConstMetric(vlogDesc, prometheus.GaugeValue, float64(vlog))
}

var (
	alertsDesc = prometheus.NewDesc("irm_alerts", "Alerts by policy, severity and status.", []string{"policy", "severity", "status"}, nil)
	scopeDesc  = prometheus.NewDesc("irm_policy_users_in_scope", "Users a policy is scoring now (brought into scope by a trigger or by hand).", []string{"policy"}, nil)
)

type engineCollector struct{ e *engine.Engine }

func (c engineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- alertsDesc; ch <- scopeDesc }

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	for _, a := range c.e.AlertCounts() {
		ch <- prometheus.MustNewConstMetric(alertsDesc, prometheus.GaugeValue, float64(a.N), a.Policy, a.Severity, a.Status)
	}
	scope := c.e.InScope()
	for _, p := range c.e.Policies() {
		ch <- prometheus.MustNewConstMetric(scopeDesc, prometheus.GaugeValue, float64(scope[p.Name]), p.Name)
	}
}
