package engine

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"irm/config"
	"irm/demo"
	"irm/dsl"
	"irm/event"
	"irm/ingest"
	"irm/rules"
	"irm/store"
)

func testLogger() *slog.Logger {
	if os.Getenv("IRM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func testConfig() *config.Config {
	cfg := &config.Config{}
	cfg.Org.Domains = []string{"contoso.com"}
	return cfg
}

func openTestDB(t testing.TB, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(dir, store.Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// newTestEngine opens a real Badger store in a temporary directory and an engine over
// the built-in rules.
func newTestEngine(t testing.TB) (*Engine, *store.DB) {
	t.Helper()
	db := openTestDB(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	return engineOver(t, db), db
}

func engineOver(t testing.TB, db *store.DB) *Engine {
	t.Helper()
	r, err := dsl.NewReloader(rules.FS, "", dsl.Options{OrgDomains: []string{"contoso.com"}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(db, r, testConfig(), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// commit stores events and hands the new ones to the engine, like the ingester does.
func commit(t testing.TB, e *Engine, db *store.DB, evs []event.Event) {
	t.Helper()
	added, err := db.CommitEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	e.Process(added)
}

func mustPolicies(t testing.TB, e *Engine, text string) {
	t.Helper()
	if _, err := e.ImportPolicies("test", "test.toml", []byte(text)); err != nil {
		t.Fatal(err)
	}
}

func mustSettings(t testing.TB, e *Engine, text string) {
	t.Helper()
	s, err := ParseSettings("settings.toml", []byte(text), e.ruleSet())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UpdateSettings("test", s); err != nil {
		t.Fatal(err)
	}
}

var evSeq int

// ev builds an audit event.
func ev(user, op string, at time.Time, mods ...func(*event.Event)) event.Event {
	evSeq++
	e := event.Event{ID: user + "-" + op + "-" + at.Format(time.RFC3339Nano) + "-" + strings.Repeat("x", evSeq%3) + itoa(evSeq),
		Feed: event.FeedAudit, Time: at.UTC(), User: user, Operation: op, Workload: "Endpoint", Raw: []byte(`{}`)}
	for _, m := range mods {
		m(&e)
	}
	return e
}

func itoa(n int) string {
	return strconv.Itoa(n)
}

func withFile(name string) func(*event.Event) {
	return func(e *event.Event) {
		e.FileName = name
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			e.FileExt = strings.ToLower(name[i+1:])
		}
		e.Object = `C:\Users\x\` + name
	}
}

func withLabels(l ...string) func(*event.Event) { return func(e *event.Event) { e.Labels = l } }

func resignation(user string, resigned, lwd time.Time) event.Event {
	evSeq++
	return event.Event{ID: "hr-" + user + itoa(evSeq), Feed: event.FeedHR, Time: resigned, User: user,
		Operation: event.HRResignation, Raw: []byte(`{}`),
		HR: &event.HR{Scenario: event.HRResignation, EffectiveDate: resigned, ResignationDate: resigned, LastWorkingDate: lwd}}
}

// demoData generates a demo organisation and parses every feed file with the real
// parsers: files[i] is one drop file's events, in file order.
type demoFile struct {
	name string
	evs  []event.Event
}

func demoData(t testing.TB, opt demo.Options) (demo.Manifest, []demoFile) {
	t.Helper()
	dir := t.TempDir()
	m, err := demo.Generate(opt, dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []demoFile
	for _, feed := range event.Feeds {
		names, _ := filepath.Glob(filepath.Join(dir, feed, "*"))
		slices.Sort(names)
		for _, n := range names {
			if st, err := os.Stat(n); err != nil || st.IsDir() {
				continue
			}
			f, err := os.Open(n)
			if err != nil {
				t.Fatal(err)
			}
			df := demoFile{name: n}
			rejects, err := ingest.Parse(feed, f, ingest.ParseOptions{}, func(ev *event.Event) error {
				df.evs = append(df.evs, *ev)
				return nil
			})
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			if len(rejects) > 0 {
				t.Fatalf("%s: %d rejected records, first: %v", n, len(rejects), rejects[0])
			}
			files = append(files, df)
		}
	}
	return m, files
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
