package dsl_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"irm/dsl"
	"irm/event"
	"irm/rules"
)

const customIndicator = `
[[indicator]]
id = "big_print"
name = "Printing a large file"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted" && event.size > %d'
`

// syncBuffer is a log sink safe for the Run goroutine and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReloader drives the watcher on a real directory: add a rule, break it, fix it.
// It waits on OnReload and LastError rather than on time, so it holds on a slow machine.
func TestReloader(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	opt := dsl.Options{OrgDomains: dsl.TestOrgDomains, Debounce: 20 * time.Millisecond, Poll: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	r, err := dsl.NewReloader(rules.FS, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current().Indicator("copy_to_usb") == nil || r.Current().Indicator("big_print") != nil {
		t.Fatal("initial set wrong")
	}
	reloaded := make(chan *dsl.RuleSet, 10)
	r.OnReload(func(rs *dsl.RuleSet) { reloaded <- rs })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the reloader did not stop within 30 s of its context's end")
		}
	}()

	// Every wait has a deadline: a reload that never comes fails the test in seconds
	// instead of hanging until go test's 30-minute limit.
	const wait = 30 * time.Second
	nextReload := func(what string) *dsl.RuleSet {
		t.Helper()
		select {
		case rs := <-reloaded:
			return rs
		case <-time.After(wait):
			t.Fatalf("no reload within %s after %s (last error %v)", wait, what, r.LastError())
			return nil
		}
	}
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s", wait, what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	print := &event.Event{Feed: "audit", Operation: "FilePrinted", Size: 5000}
	write := func(text string) {
		t.Helper()
		// Write then rename, as an editor or deploy tool would, so the watcher never
		// sees a half-written file.
		tmp := filepath.Join(dir, ".custom.toml.tmp")
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "custom.toml")); err != nil {
			t.Fatal(err)
		}
	}

	// 1. A new custom indicator takes effect.
	write(strings.Replace(customIndicator, "%d", "1000", 1))
	rs := nextReload("adding custom.toml")
	if rs.Indicator("big_print") == nil || r.Current() != rs || r.LastError() != nil {
		t.Fatalf("new indicator not active (last error %v)", r.LastError())
	}
	if ids := rs.Match(&dsl.Input{Event: print}); !contains(ids, "big_print") {
		t.Fatalf("big_print does not match: %v", ids)
	}

	// 2. A broken version leaves the last good set active and reports the error.
	write(strings.Replace(customIndicator, "%d", `"many"`, 1))
	waitUntil("the broken file's error", func() bool { return r.LastError() != nil })
	if !strings.Contains(r.LastError().Error(), "custom.toml:7:") {
		t.Errorf("error does not point into the file: %v", r.LastError())
	}
	if r.Current() != rs {
		t.Error("the broken file replaced the active set")
	}
	waitUntil("the reload failure to be logged", func() bool { return strings.Contains(logs.String(), "reload failed") })

	// 3. The fixed version replaces it.
	write(strings.Replace(customIndicator, "%d", "10000", 1))
	rs2 := nextReload("fixing custom.toml")
	if r.LastError() != nil || r.Current() != rs2 {
		t.Fatalf("fixed file not active: %v", r.LastError())
	}
	if ids := rs2.Match(&dsl.Input{Event: print}); contains(ids, "big_print") {
		t.Error("the new threshold is not in effect")
	}

	// 4. Removing the file removes the indicator.
	if err := os.Remove(filepath.Join(dir, "custom.toml")); err != nil {
		t.Fatal(err)
	}
	if rs3 := nextReload("removing custom.toml"); rs3.Indicator("big_print") != nil {
		t.Error("indicator still there after its file was removed")
	}
}

// TestReloaderStartsWithBrokenUserRules: a broken rules dir does not stop start-up; the
// built-ins run and LastError says why.
func TestReloaderStartsWithBrokenUserRules(t *testing.T) {
	dir := writeRules(t, map[string]string{"bad.toml": strings.Replace(customIndicator, "%d", `"x"`, 1)})
	r, err := dsl.NewReloader(rules.FS, dir, dsl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.LastError() == nil || r.Current().Indicator("copy_to_usb") == nil || r.Current().Indicator("big_print") != nil {
		t.Fatalf("want built-ins only and an error; got error %v", r.LastError())
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
