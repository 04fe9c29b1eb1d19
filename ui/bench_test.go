package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"irm/account"
	"irm/config"
	"irm/dsl"
	"irm/engine"
	"irm/event"
	"irm/rules"
	"irm/store"
)

// Benchmarks of the investigation pages at the scale an appliance reaches: 100,000
// stored alerts (IRM_BENCH_ALERTS changes it), and a user with six months of activity.
// The stores are built once per run and reused by the benchmarks that need them.

const benchAlerts = 100_000

func benchAlertCount() int {
	if n, err := strconv.Atoi(os.Getenv("IRM_BENCH_ALERTS")); err == nil && n > 0 {
		return n
	}
	return benchAlerts
}

// benchAlert is a typical stored alert: four insights of a dozen events each, a
// trigger, a history entry. Statuses follow a queue in use: most alerts are closed.
func benchAlert(r *rand.Rand, i int, now time.Time) engine.Alert {
	sev := []string{"low", "low", "low", "medium", "medium", "high"}[r.IntN(6)]
	status := []string{engine.StatusNeedsReview, engine.StatusNeedsReview, engine.StatusConfirmed, engine.StatusDismissed,
		engine.StatusDismissed, engine.StatusDismissed, engine.StatusResolved, engine.StatusResolved}[r.IntN(8)]
	created := now.Add(-time.Duration(r.IntN(180*24)) * time.Hour)
	user := fmt.Sprintf("user%04d@contoso.com", r.IntN(5000))
	a := engine.Alert{ID: fmt.Sprintf("A%012X", i), User: user, Policy: fmt.Sprintf("Policy %d", r.IntN(9)),
		Template: "data_theft_departing", Severity: sev, Score: 40 + r.IntN(60), Status: status, Created: created, Updated: created,
		RiskFactors: []string{engine.FactorAboveUsual}, Triggers: []engine.TriggerRef{{Name: "Resignation or termination date from HR", Time: created, EventID: "hr-1"}}}
	for k := range 4 {
		in := engine.Insight{Kind: "indicator", ID: "copy_to_usb", Name: "Creating or copying files to USB", Category: "exfiltration",
			Day: created.AddDate(0, 0, -k).Format("2006-01-02"), Count: 14, Thresholds: [3]int{1, 10, 25}, Level: "medium", BasePoints: 20,
			Boosters: []string{engine.FactorAboveUsual}, Points: 30, Scored: true,
			Detail: "14 events; this user's usual is 0–2 events a day (21 active days in the 30 before this week)"}
		for j := range 12 {
			in.EventIDs = append(in.EventIDs, fmt.Sprintf("%08x-0000-4000-8000-%012x", i, k*100+j))
		}
		a.Insights = append(a.Insights, in)
		a.EventIDs = append(a.EventIDs, in.EventIDs...)
	}
	a.Title = engine.AlertTitle(&a)
	a.History = []engine.AlertNote{{Time: created, Actor: "engine", Action: "created: score 60, medium"}}
	return a
}

var (
	alertStoreOnce sync.Once
	alertStoreDir  string
	alertStoreErr  error
)

// alertStore is a data directory with benchAlertCount() alerts, built once.
func alertStore(b *testing.B) string {
	alertStoreOnce.Do(func() {
		dir, err := os.MkdirTemp("", "irm-bench-alerts-")
		if err != nil {
			alertStoreErr = err
			return
		}
		alertStoreDir = dir
		db, err := store.Open(dir, store.Options{})
		if err != nil {
			alertStoreErr = err
			return
		}
		defer db.Close()
		r := rand.New(rand.NewPCG(1, 2))
		now := time.Now().UTC()
		var docs []store.Doc
		for i := range benchAlertCount() {
			val, _ := json.Marshal(benchAlert(r, i, now))
			docs = append(docs, store.Doc{Key: store.AlertDocKey(fmt.Sprintf("A%012X", i)), Value: val})
			if len(docs) == 5000 {
				if alertStoreErr = db.PutDocs(docs); alertStoreErr != nil {
					return
				}
				docs = docs[:0]
			}
		}
		if alertStoreErr = db.PutDocs(docs); alertStoreErr != nil {
			return
		}
		// The first start writes each alert's head (as after an upgrade); the
		// benchmarks measure the starts after it.
		_, alertStoreErr = engine.New(db, nil, nil, nil)
	})
	if alertStoreErr != nil {
		b.Fatal(alertStoreErr)
	}
	return alertStoreDir
}

// benchServer opens the UI over a data directory as serve does: store, rules, engine.
func benchServer(b *testing.B, dir string) (*server, *store.DB) {
	b.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{DataDir: dir, Listen: "127.0.0.1:0"}
	cfg.Org.Domains = []string{"contoso.com"}
	rl, err := dsl.NewReloader(rules.FS, b.TempDir(), dsl.Options{OrgDomains: cfg.Org.Domains})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(db, rl, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := newServer(Options{DB: db, Engine: eng, Rules: rl, Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	return s, db
}

// BenchmarkStartWithAlerts: start-up over a store of 100,000 alerts until the first
// page can be served. "whole" is what irm serve does (open the store, compile the
// rules, load the engine, build the UI); "engine" is the part that depends on the
// alerts (engine and UI over an open store and compiled rules). Reports the time per
// start and, since the machine may be shared, the process CPU time per start.
func BenchmarkStartWithAlerts(b *testing.B) {
	dir := alertStore(b)
	b.Run("whole", func(b *testing.B) {
		cpu := cpuTime()
		for b.Loop() {
			s, db := benchServer(b, dir)
			if p, err := s.eng.QueryAlerts(engine.AlertQuery{Limit: 1}); err != nil || p.Total != benchAlertCount() {
				b.Fatalf("loaded %d alerts: %v", p.Total, err)
			}
			b.StopTimer()
			db.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	})
	b.Run("engine", func(b *testing.B) {
		db, err := store.Open(dir, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		cfg := &config.Config{DataDir: dir, Listen: "127.0.0.1:0"}
		rl, err := dsl.NewReloader(rules.FS, b.TempDir(), dsl.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cpu := cpuTime()
		for b.Loop() {
			eng, err := engine.New(db, rl, cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			s, err := newServer(Options{DB: db, Engine: eng, Rules: rl, Config: cfg})
			if err != nil {
				b.Fatal(err)
			}
			if p, err := s.eng.QueryAlerts(engine.AlertQuery{Limit: 1}); err != nil || p.Total != benchAlertCount() {
				b.Fatalf("loaded %d alerts: %v", p.Total, err)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	})
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// signedInGet serves one GET as a signed-in account straight through the handler.
func signedInGet(b *testing.B, s *server, db *store.DB, role string) func(path string) int {
	b.Helper()
	if err := account.AddAccount(db, "bench", "bench-"+role, []string{role}, testPassword("bench-"+role)); err != nil && !isExists(err) {
		b.Fatal(err)
	}
	token := store.NewToken()
	now := time.Now()
	if err := db.PutSession(token, store.Session{User: "bench-" + role, Created: now, LastSeen: now, CSRF: "x"}, time.Hour); err != nil {
		b.Fatal(err)
	}
	h := s.headers(s.mux)
	return func(path string) int {
		req, _ := http.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		return w.status
	}
}

func isExists(err error) bool { return err != nil && strings.Contains(err.Error(), "exists") }

type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.n += len(b)
	return io.Discard.Write(b)
}

// BenchmarkAlertsPage: the queue's first page filtered by severity, as an analyst,
// over 100,000 stored alerts. Reports ms per page.
func BenchmarkAlertsPage(b *testing.B) {
	s, db := benchServer(b, alertStore(b))
	defer db.Close()
	get := signedInGet(b, s, db, account.RoleAnalyst)
	for _, path := range []string{"/alerts?severity=high", "/alerts?severity=medium&status=needs_review&sort=score"} {
		b.Run(path, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				if st := get(path); st != 200 {
					b.Fatalf("%s: %d", path, st)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// BenchmarkUserPage: the user page with six months of activity (about 40 matched
// events a working day, 180 days, a resignation that puts the user in scope), as an
// analyst. Reports ms per page.
func BenchmarkUserPage(b *testing.B) {
	dir := b.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const upn = "heavy.user@contoso.com"
	now := time.Now().UTC().Truncate(24 * time.Hour)
	r := rand.New(rand.NewPCG(3, 4))
	var evs []event.Event
	ops := []string{"FileDownloaded", "FileAccessed", "FileCopiedToRemovableMedia", "FileUploadedToCloud", "FileDeleted", "FileSyncDownloadedFull"}
	for d := 180; d >= 0; d-- {
		day := now.AddDate(0, 0, -d)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for i := range 30 + r.IntN(20) {
			op := ops[r.IntN(len(ops))]
			ev := event.Event{ID: fmt.Sprintf("ev-%d-%d", d, i), Feed: event.FeedAudit, Time: day.Add(time.Duration(8*3600+i*300) * time.Second),
				User: upn, Operation: op, Workload: "OneDrive", FileName: fmt.Sprintf("file-%d.docx", r.IntN(500)), FileExt: "docx",
				Object: "https://contoso-my.sharepoint.com/personal/heavy_user_contoso_com/Documents/file.docx"}
			if op == "FileCopiedToRemovableMedia" || op == "FileUploadedToCloud" {
				ev.RecordType, ev.Workload, ev.Device = 63, "Endpoint", "LAPTOP-1"
				ev.Object = `C:\Users\heavy.user\Documents\` + ev.FileName
				ev.TargetDomain = "drive.google.com"
			}
			evs = append(evs, ev)
		}
	}
	resign := now.AddDate(0, 0, -20)
	evs = append(evs, event.Event{ID: "hr-resign", Feed: event.FeedHR, Time: resign, User: upn, Operation: event.HRResignation,
		HR: &event.HR{Scenario: event.HRResignation, EffectiveDate: resign, ResignationDate: resign, LastWorkingDate: now.AddDate(0, 0, 10)}})
	for len(evs) > 0 {
		n := min(len(evs), 5000)
		if _, err := db.CommitEvents(evs[:n]); err != nil {
			b.Fatal(err)
		}
		evs = evs[n:]
	}
	db.Close()
	s, db := benchServer(b, dir)
	defer db.Close()
	if _, err := s.eng.ImportPolicies("bench", "default policies", engine.DefaultPolicies); err != nil {
		b.Fatal(err)
	}
	if err := s.eng.Rebuild(); err != nil {
		b.Fatal(err)
	}
	get := signedInGet(b, s, db, account.RoleAnalyst)
	path := "/users/" + account.Pseudonym(s.pseudo, upn) + "?range=6m"
	if st := get(path); st != 200 {
		b.Fatalf("%s: %d", path, st)
	}
	tl, _ := s.eng.UserTimeline(upn, 183)
	total := 0
	for _, row := range tl.Counts {
		for _, n := range row {
			total += n
		}
	}
	cpu := cpuTime()
	for b.Loop() {
		if st := get(path); st != 200 {
			b.Fatalf("%s: %d", path, st)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(total), "events")
}

// TestMain removes the benchmarks' shared alert store (it is built outside t.TempDir
// so that several benchmarks can use it).
func TestMain(m *testing.M) {
	code := m.Run()
	if alertStoreDir != "" {
		os.RemoveAll(alertStoreDir)
		os.Remove(alertStoreDir + ".audit-key")
	}
	os.Exit(code)
}
