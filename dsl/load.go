package dsl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Diag is one problem in a rule file.
type Diag struct {
	File      string
	Line, Col int
	Msg       string
}

func (d Diag) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Msg)
}

// LoadError lists every problem found while loading rule files, one per line as
// file:line:col: message.
type LoadError struct{ Diags []Diag }

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Diags))
	for i, d := range e.Diags {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// source is one rule file's text.
type source struct {
	name    string // as shown in errors
	text    string
	builtin bool
}

// Load compiles the built-in rule files (every *.toml in builtin) and then the user's
// (every *.toml directly in userDir; a missing or empty userDir adds nothing). User
// entries add to the built-ins and replace built-ins with the same id. The error, a
// *LoadError, lists every problem as file:line:col: message.
func Load(builtin fs.FS, userDir string, opt Options) (*RuleSet, error) {
	var paths []string
	if userDir != "" {
		ps, err := userFiles(userDir)
		if err != nil {
			return nil, err
		}
		paths = ps
	}
	return LoadFiles(builtin, paths, opt)
}

// LoadFiles is Load with an explicit list of user files and directories (for lint and
// test of files that are not yet in the rules directory).
func LoadFiles(builtin fs.FS, paths []string, opt Options) (*RuleSet, error) {
	srcs, err := builtinSources(builtin)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		files := []string{p}
		if st.IsDir() {
			if files, err = userFiles(p); err != nil {
				return nil, err
			}
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("rules: %w", err)
			}
			srcs = append(srcs, source{name: f, text: string(b)})
		}
	}
	return compile(srcs, opt)
}

func builtinSources(builtin fs.FS) ([]source, error) {
	if builtin == nil {
		return nil, nil
	}
	names, err := fs.Glob(builtin, "*.toml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var srcs []source
	for _, n := range names {
		b, err := fs.ReadFile(builtin, n)
		if err != nil {
			return nil, fmt.Errorf("built-in rules %s: %w", n, err)
		}
		srcs = append(srcs, source{name: path.Join("rules", n), text: string(b), builtin: true})
	}
	return srcs, nil
}

// userFiles lists the *.toml files directly in dir, sorted; a missing dir has none.
func userFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rules dir: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".toml") && !strings.HasPrefix(n, ".") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}
