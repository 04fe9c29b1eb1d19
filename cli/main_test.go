package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"irm/config"
)

// irmBin is the irm binary built once for the tests that run it as a separate process
// (crash tests need a process to SIGKILL; the CLI tests check real exit codes and output).
var irmBin string

func TestMain(m *testing.M) {
	// As main does: the documented default under every config.
	b, err := os.ReadFile("../config.toml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	config.Default = b
	dir, err := os.MkdirTemp("", "irm-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	irmBin = filepath.Join(dir, "irm")
	build := exec.Command("go", "build", "-o", irmBin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is a config file with its own data and drop directories.
type testEnv struct {
	dir, config, data, drop string
}

func newTestEnv(t *testing.T, extra string) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{dir: dir, config: filepath.Join(dir, "irm.toml"), data: filepath.Join(dir, "data"), drop: filepath.Join(dir, "drop")}
	cfg := "data_dir = \"data\"\nlisten = \"127.0.0.1:0\"\n[drop]\ndir = \"drop\"\nsettle_ms = 0\nrescan_seconds = 1\n" + extra
	if err := os.WriteFile(e.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// irm runs the binary with the env's config and returns stdout, stderr and the exit code.
func (e *testEnv) irm(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(irmBin, args...)
	cmd.Env = append(os.Environ(), "IRM_CONFIG="+e.config)
	cmd.Dir = e.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run irm %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

// mustIRM runs the binary and fails the test unless it exits 0.
func (e *testEnv) mustIRM(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := e.irm(t, args...)
	if code != 0 {
		t.Fatalf("irm %v: exit %d\nstderr:\n%s", args, code, errs)
	}
	return out
}
