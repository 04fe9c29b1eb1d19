package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoEnv writes a small demo organisation into the env's drop directory and imports
// its settings and the default policies.
func demoEnv(t *testing.T) (*testEnv, []map[string]any) {
	t.Helper()
	e := newTestEnv(t, "")
	e.mustIRM(t, "demo", "-out", e.drop, "-users", "100", "-days", "90", "-seed", "5")
	e.mustIRM(t, "settings", "import", filepath.Join(e.drop, "settings.toml"))
	e.mustIRM(t, "policy", "import", filepath.Join(e.drop, "policies.toml"))
	var m struct {
		Planted []map[string]any `json:"planted"`
	}
	b, err := os.ReadFile(filepath.Join(e.drop, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return e, m.Planted
}

func TestSettingsCLI(t *testing.T) {
	e := newTestEnv(t, "")
	bad := filepath.Join(e.dir, "bad.toml")
	os.WriteFile(bad, []byte("[settings]\nalert_volume = \"more\"\nactivation_days = 3\n"), 0o644)
	if _, errs, code := e.irm(t, "settings", "import", bad); code != 1 || !strings.Contains(errs, `line 3: unknown key "settings.activation_days"`) {
		t.Errorf("unknown key: exit %d, stderr %q", code, errs)
	}
	good := filepath.Join(e.dir, "good.toml")
	os.WriteFile(good, []byte("[settings]\nalert_volume = \"more\"\npast_activity_days = 10\n[settings.domains]\nunallowed = [\"*.example.org\"]\n"), 0o644)
	e.mustIRM(t, "settings", "import", good)
	out := e.mustIRM(t, "settings", "export")
	for _, want := range []string{`alert_volume = "more"`, "past_activity_days = 10", `"*.example.org"`, "activation_window_days = 30"} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	// The export is importable as it is.
	exp := filepath.Join(e.dir, "export.toml")
	os.WriteFile(exp, []byte(out), 0o644)
	e.mustIRM(t, "settings", "import", "-config", e.config, exp)
	if _, _, code := e.irm(t, "settings", "frobnicate"); code != 2 {
		t.Errorf("unknown sub-command: exit %d, want 2", code)
	}
}

func TestPolicyAndAlertsCLI(t *testing.T) {
	e, planted := demoEnv(t)
	list := e.mustIRM(t, "policy", "list")
	for _, name := range []string{"Data theft by departing users", "General data leaks", "Risky browsing", "Security policy violations by risky users"} {
		if !strings.Contains(list, name) {
			t.Errorf("policy list lacks %q:\n%s", name, list)
		}
	}
	if !strings.Contains(list, "no data has arrived") {
		t.Errorf("policy list before any ingest shows no health warning:\n%s", list)
	}
	exp := e.mustIRM(t, "policy", "export")
	if strings.Count(exp, "[[policy]]") != 9 {
		t.Errorf("export has %d policies:\n%s", strings.Count(exp, "[[policy]]"), exp)
	}
	e.mustIRM(t, "ingest", "-once", "-q")

	out := e.mustIRM(t, "alerts", "-json")
	var alerts []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &alerts); err != nil {
		t.Fatalf("alerts -json: %v\n%s", err, out)
	}
	// The engine's one alert form (triggers, history and title are set on every raised alert).
	want := []string{"created", "event_ids", "history", "id", "insights", "policy", "risk_factors", "score", "severity", "status", "template", "title", "triggers", "updated", "user"}
	users := map[string]bool{}
	for _, a := range alerts {
		var keys []string
		for k := range a {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("alert fields %v, want %v", keys, want)
		}
		var u string
		json.Unmarshal(a["user"], &u)
		users[u] = true
	}
	for _, p := range planted {
		if !users[p["user"].(string)] {
			t.Errorf("planted %s (%s) not alerted", p["user"], p["scenario"])
		}
	}
	// The realistic organisation's ordinary people may raise a false alert or two (their
	// rate is measured by bench/detection); dozens would mean the defaults cry wolf.
	if extra := len(users) - len(planted); extra > 3 {
		t.Errorf("%d users alerted, %d planted: %d benign users alerted", len(users), len(planted), extra)
	}
	high := e.mustIRM(t, "alerts", "-severity", "high", "-policy", "Risky browsing")
	if !strings.Contains(high, "Risky browsing") || strings.Contains(high, "General data leaks") {
		t.Errorf("filtered list:\n%s", high)
	}
	if _, _, code := e.irm(t, "alerts", "-status", "open"); code != 2 {
		t.Errorf("bad -status: exit %d, want 2", code)
	}
	testPolicyBacktestCLI(t, e, users)
}

// testPolicyBacktestCLI replays the ingested demo through an existing policy and a
// candidate file: the users it would alert are the ones the engine alerted, and nothing
// changes.
func testPolicyBacktestCLI(t *testing.T, e *testEnv, alerted map[string]bool) {
	before := e.mustIRM(t, "alerts", "-json")
	out := e.mustIRM(t, "policy", "backtest", "-days", "21", "-json", "Risky browsing")
	var res struct {
		Policy  string `json:"policy"`
		Days    int    `json:"days"`
		Cutoff  int    `json:"cutoff"`
		Users   int    `json:"users"`
		Alerted []struct {
			User     string `json:"user"`
			Severity string `json:"severity"`
		} `json:"alerted"`
		Rate float64 `json:"alerts_per_1000_users_per_30_days"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("backtest -json: %v\n%s", err, out)
	}
	if res.Policy != "Risky browsing" || res.Days != 21 || res.Cutoff != 45 || res.Users != 100 || len(res.Alerted) == 0 || !alerted[res.Alerted[0].User] || res.Rate <= 0 {
		t.Errorf("backtest of Risky browsing: %+v", res)
	}
	cand := filepath.Join(e.dir, "candidate.toml")
	os.WriteFile(cand, []byte("[[policy]]\nname = \"Strict browsing\"\ntemplate = \"risky_browsing\"\nusers = [\"*\"]\nthreshold_mode = \"fixed\"\n"), 0o644)
	text := e.mustIRM(t, "policy", "backtest", "-days", "21", "-volume", "more", cand)
	for _, want := range []string{`Policy "Strict browsing" (risky_browsing), threshold mode fixed`, "an alert needs a score of 25", "Alerts per 1,000 users per 30 days:"} {
		if !strings.Contains(text, want) {
			t.Errorf("backtest text lacks %q:\n%s", want, text)
		}
	}
	if _, errs, code := e.irm(t, "policy", "backtest", "No such policy"); code != 1 || !strings.Contains(errs, "neither a policy") {
		t.Errorf("unknown policy: exit %d, %s", code, errs)
	}
	if _, errs, code := e.irm(t, "policy", "backtest", "-volume", "loud", "Risky browsing"); code != 2 || !strings.Contains(errs, "-volume") {
		t.Errorf("bad volume: exit %d, %s", code, errs)
	}
	if after := e.mustIRM(t, "alerts", "-json"); after != before {
		t.Error("backtests changed the alerts")
	}
	if list := e.mustIRM(t, "policy", "list"); strings.Contains(list, "Strict browsing") {
		t.Error("the candidate policy was saved")
	}
}

// TestAlertsWhileServing drops the demo feeds into a running `irm serve` and reads the
// alerts with `irm alerts` from another process while serve holds the database.
func TestAlertsWhileServing(t *testing.T) {
	e, planted := demoEnv(t)
	// Keep the feeds aside; serve starts with empty drop directories.
	feeds := filepath.Join(e.dir, "feeds")
	if err := os.Rename(e.drop, feeds); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(irmBin, "serve")
	cmd.Env = append(os.Environ(), "IRM_CONFIG="+e.config)
	cmd.Dir = e.dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(filepath.Join(e.drop, "audit")); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, feed := range []string{"hr", "audit", "badging", "dlp", "defender"} {
		names, _ := filepath.Glob(filepath.Join(feeds, feed, "*"))
		os.MkdirAll(filepath.Join(e.drop, feed), 0o755)
		for _, n := range names {
			if err := os.Rename(n, filepath.Join(e.drop, feed, filepath.Base(n))); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []map[string]any
	for i := 0; i < 600 && len(got) < len(planted); i++ {
		time.Sleep(100 * time.Millisecond)
		out, _, code := e.irm(t, "alerts", "-json")
		if code != 0 {
			continue
		}
		got = nil
		json.Unmarshal([]byte(out), &got)
	}
	if len(got) < len(planted) {
		t.Fatalf("irm alerts while serving: %d alerts, want at least %d", len(got), len(planted))
	}
}
