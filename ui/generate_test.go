package ui

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates every component with the templ CLI pinned in
// go.mod (go tool templ) into a temporary copy and compares the result with the
// committed *_templ.go, so a .templ edit without `go tool templ generate` fails here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	files, err := filepath.Glob("*.templ")
	if err != nil || len(files) == 0 {
		t.Fatalf("no .templ files found: %v", err)
	}
	// The copy keeps the ui/ folder so that the file names templ writes into the generated
	// code match a `go tool templ generate` run from the repository root (the documented
	// command, and what the CI script checks).
	root := t.TempDir()
	tmp := filepath.Join(root, "ui")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "tool", "templ", "generate", "-path", root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go tool templ generate: %v\n%s", err, out)
	}
	for _, f := range files {
		gen := strings.TrimSuffix(f, ".templ") + "_templ.go"
		want, err := os.ReadFile(filepath.Join(tmp, gen))
		if err != nil {
			t.Fatalf("templ produced no %s: %v", gen, err)
		}
		have, err := os.ReadFile(gen)
		if err != nil {
			t.Errorf("%s: %v (run go tool templ generate)", gen, err)
			continue
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale: run `go tool templ generate` and commit the result", gen)
		}
	}
	// And no generated file is left over from a deleted component.
	gens, _ := filepath.Glob("*_templ.go")
	for _, g := range gens {
		if _, err := os.Stat(strings.TrimSuffix(g, "_templ.go") + ".templ"); err != nil {
			t.Errorf("%s has no .templ source", g)
		}
	}
}
