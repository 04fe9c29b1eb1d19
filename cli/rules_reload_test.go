package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a child process's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// writeAtomically follows the drop protocol: a dot-name, then a rename into place.
func writeAtomically(t *testing.T, path, text string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// printRecords is n endpoint FilePrinted records by bob, on one day, with ids from first.
func printRecords(day time.Time, first, n int) string {
	var lines []string
	for i := first; i < first+n; i++ {
		lines = append(lines, fmt.Sprintf(`{"Id":"print-%04d","RecordType":63,"CreationTime":"%s","Operation":"FilePrinted","Workload":"Endpoint","UserId":"bob@contoso.com","ObjectId":"C:\\Users\\bob\\Documents\\plan-%d.docx","DeviceName":"LT-BOB-01","FileExtension":"docx","FileSize":20480}`,
			i, day.Add(time.Duration(i)*time.Minute).Format("2006-01-02T15:04:05"), i))
	}
	return strings.Join(lines, "\n") + "\n"
}

const customPrintRule = `[[indicator]]
id = "custom_print"
name = "Printing (custom)"
category = "exfiltration"
feeds = ["audit"]
when = '%s'
thresholds = [1, 2, 3]
`

// TestRulesHotReloadInServe drops a custom indicator file into the rules dir of a running
// `irm serve`: a changed file takes effect without a restart, and a broken one is logged
// with its file:line:col while the last good version keeps scoring.
func TestRulesHotReloadInServe(t *testing.T) {
	e := newTestEnv(t, "[rules]\ndir = \"rules.d\"\n")
	rulesFile := filepath.Join(e.dir, "rules.d", "custom.toml")
	// Version 1 compiles but matches nothing.
	writeAtomically(t, rulesFile, fmt.Sprintf(customPrintRule, `event.operation == "FilePrinted" && event.file_name == "no such file"`))
	policy := filepath.Join(e.dir, "policy.toml")
	os.WriteFile(policy, []byte("[[policy]]\nname = \"Printing watch\"\ntemplate = \"security_violations\"\nusers = [\"*\"]\nindicators = [\"custom_print\"]\nthreshold_mode = \"fixed\"\n"), 0o644)
	e.mustIRM(t, "policy", "import", policy)
	// One high day of a custom exfiltration indicator (35 points) alerts at volume "more".
	settings := filepath.Join(e.dir, "settings.toml")
	os.WriteFile(settings, []byte("[settings]\nalert_volume = \"more\"\n"), 0o644)
	e.mustIRM(t, "settings", "import", settings)

	var logs lockedBuffer
	cmd := exec.Command(irmBin, "serve")
	cmd.Env = append(os.Environ(), "IRM_CONFIG="+e.config)
	cmd.Dir = e.dir
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; i < 600; i++ {
			if ok() {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	processed := func(feed, name string) func() bool {
		return func() bool {
			_, err := os.Stat(filepath.Join(e.drop, feed, "processed", name))
			return err == nil
		}
	}
	// customPrintCount is the custom indicator's count in bob's alert (0: no alert).
	customPrintCount := func() int {
		out, _, code := e.irm(t, "alerts", "-json")
		if code != 0 {
			return -1
		}
		var alerts []struct {
			User     string
			Policy   string
			Insights []struct {
				ID    string
				Count int
			}
		}
		if err := json.Unmarshal([]byte(out), &alerts); err != nil {
			return -1
		}
		for _, a := range alerts {
			if a.User == "bob@contoso.com" && a.Policy == "Printing watch" {
				for _, in := range a.Insights {
					if in.ID == "custom_print" {
						return in.Count
					}
				}
			}
		}
		return 0
	}
	waitFor("serve to create the drop dirs", func() bool {
		_, err := os.Stat(filepath.Join(e.drop, "defender"))
		return err == nil
	})

	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1).Add(12 * time.Hour)
	writeAtomically(t, filepath.Join(e.drop, "defender", "alert.json"), fmt.Sprintf(
		`[{"AlertId":"da-1","Title":"Tamper protection bypass","Category":"DefenseEvasion","Severity":"High","Status":"New","UserPrincipalName":"bob@contoso.com","DeviceName":"LT-BOB-01","CreatedTime":"%s"}]`,
		day.Add(-3*time.Hour).Format(time.RFC3339)))
	writeAtomically(t, filepath.Join(e.drop, "audit", "prints-1.jsonl"), printRecords(day, 0, 5))
	waitFor("the first files to be ingested", func() bool {
		return processed("defender", "alert.json")() && processed("audit", "prints-1.jsonl")()
	})
	if n := customPrintCount(); n != 0 {
		t.Fatalf("version 1 of the rule matches nothing, yet bob's custom_print count is %d", n)
	}

	// Version 2 matches every print: it takes effect without a restart.
	writeAtomically(t, rulesFile, fmt.Sprintf(customPrintRule, `event.operation == "FilePrinted"`))
	waitFor("the reload to be logged", func() bool { return strings.Contains(logs.String(), "rules: reloaded") })
	writeAtomically(t, filepath.Join(e.drop, "audit", "prints-2.jsonl"), printRecords(day, 5, 5))
	waitFor("an alert from the reloaded rule", func() bool { return customPrintCount() == 10 })

	// A broken version is reported with its position and leaves version 2 active.
	writeAtomically(t, rulesFile, fmt.Sprintf(customPrintRule, `event.operation == 42`))
	pos := regexp.MustCompile(`custom\.toml:\d+:\d+`)
	waitFor("the reload failure to be logged", func() bool {
		s := logs.String()
		return strings.Contains(s, "reload failed") && pos.MatchString(s)
	})
	writeAtomically(t, filepath.Join(e.drop, "audit", "prints-3.jsonl"), printRecords(day, 10, 5))
	waitFor("the last good rule to keep scoring", func() bool { return customPrintCount() == 15 })
}
