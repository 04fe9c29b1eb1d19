// What the rule workbench needs of the rules: compiling rule files held in memory (a
// file being edited, together with the rules directory as it is), the built-ins a user
// file replaces, matching a single indicator, and saving one file into the rules
// directory so that it is checked, written atomically, reloaded and audited as one step.

package dsl

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
)

// File is one user rule file held in memory: its base name in the rules directory and
// its text.
type File struct {
	Name string
	Text []byte
}

// LoadText compiles the built-in rule files plus user files held in memory, as Load
// would if the files were in dir (problems are reported as filepath.Join(dir, name),
// like Load's). Files are read in name order, as Load reads the directory.
func LoadText(builtin fs.FS, dir string, files []File, opt Options) (*RuleSet, error) {
	srcs, err := builtinSources(builtin)
	if err != nil {
		return nil, err
	}
	files = slices.Clone(files)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for _, f := range files {
		srcs = append(srcs, source{name: userFileName(dir, f.Name), text: string(f.Text)})
	}
	return compile(srcs, opt)
}

func userFileName(dir, name string) string {
	if dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}

// TestOptions are opt with the organisation rule tests run with (TestOrgDomains,
// TestOrgTimezone), so that a test gives the same result on every appliance.
func TestOptions(opt Options) Options {
	opt.OrgDomains, opt.OrgTimezone = TestOrgDomains, TestOrgTimezone
	return opt
}

// fileNamePattern is what Save accepts as a rule file name: a plain *.toml name that
// Load reads (not a dot-file, no directory).
var fileNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.toml$`)

// ValidFileName checks a rule file's base name: letters, digits, '_', '-' and '.',
// starting with a letter or digit, ending in ".toml", at most 105 characters.
func ValidFileName(name string) error {
	if !fileNamePattern.MatchString(name) {
		return fmt.Errorf("rule file name %q: use letters, digits, _ - and ., start with a letter or digit and end in .toml (e.g. source-code.toml)", name)
	}
	return nil
}

// Digest is the SHA-256 of a file's contents in hex: what Save compares to detect that
// a file changed since its author opened it.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Dir is the rules directory ("" when none is configured).
func (r *Reloader) Dir() string { return r.dir }

// Path is where a rule file of the rules directory is, as diagnostics name it.
func (r *Reloader) Path(name string) string { return userFileName(r.dir, name) }

// Draft compiles the rules as they would be if the rules directory's file name held
// text (added when there is no such file): the built-ins, the directory's files as they
// are on disk now, and the draft. With forTests, the organisation is the one rule tests
// run with (TestOptions); otherwise the appliance's.
func (r *Reloader) Draft(name string, text []byte, forTests bool) (*RuleSet, error) {
	if err := ValidFileName(name); err != nil {
		return nil, err
	}
	files := r.readFiles()
	files[name] = text
	return r.compileFiles(files, forTests)
}

// CurrentForTests compiles the files behind Current() with the organisation rule tests
// run with, for RunTests: the tests of the rules in force.
func (r *Reloader) CurrentForTests() (*RuleSet, error) {
	r.mu.Lock()
	files := maps.Clone(r.good)
	r.mu.Unlock()
	return r.compileFiles(files, true)
}

func (r *Reloader) compileFiles(files map[string][]byte, forTests bool) (*RuleSet, error) {
	opt := r.opt
	if forTests {
		opt = TestOptions(opt)
	}
	list := make([]File, 0, len(files))
	for n, b := range files {
		list = append(list, File{Name: n, Text: b})
	}
	return LoadText(r.builtin, r.dir, list, opt)
}

// ErrFileChanged is Save's answer when the file on disk is no longer the one the author
// started from.
var ErrFileChanged = errors.New("the file changed on disk since you opened it")

// Save makes text the rules directory's file name, if the rules compile with it: it
// compiles the draft (nothing is written when it does not compile: the *LoadError is
// returned), writes it under a temporary dot-name in the directory, syncs it, renames it
// into place, and reloads. The OnChange subscribers (the audit log) see the change once,
// with actor as its author. base is the Digest of the file the author started from, ""
// for a new file: if the file on disk is no longer that (someone else saved or removed
// it meanwhile), Save writes nothing and returns ErrFileChanged. It returns the rules
// now in force.
func (r *Reloader) Save(name string, text []byte, actor, base string) (*RuleSet, error) {
	if r.dir == "" {
		return nil, errors.New("rules: no rules directory is configured ([rules] dir)")
	}
	if err := ValidFileName(name); err != nil {
		return nil, err
	}
	if actor == "" {
		return nil, errors.New("rules: a save needs its author")
	}
	r.reloading.Lock()
	defer r.reloading.Unlock()
	files := r.readFiles()
	if cur, ok := files[name]; (ok && Digest(cur) != base) || (!ok && base != "") {
		return nil, fmt.Errorf("rules: %s: %w", name, ErrFileChanged)
	}
	files[name] = text
	if _, err := r.compileFiles(files, false); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if err := writeAtomic(r.dir, name, text); err != nil {
		return nil, err
	}
	if err := r.reload(actor); err != nil {
		// Another file changed on disk between the check and the reload.
		return nil, err
	}
	return r.Current(), nil
}

// writeAtomic writes dir/name through a temporary dot-file in dir (which Load never
// reads), synced, then renamed over the name, and syncs the directory: a reader sees
// the old file or the new one, never a part.
func writeAtomic(dir, name string, text []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(text)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rules: writing %s: %w", name, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Override is a built-in entry that a user file replaces by using its id.
type Override struct {
	Kind        string `json:"kind"` // "list", "indicator", "sequence" or "template"
	ID          string `json:"id"`
	File        string `json:"file"` // the user file and line of the replacement
	Line        int    `json:"line"`
	BuiltinFile string `json:"builtin_file"` // where the replaced built-in was
	BuiltinLine int    `json:"builtin_line"`
}

// Overrides returns the built-in entries user files replace, in the order they were
// read.
func (rs *RuleSet) Overrides() []Override { return slices.Clone(rs.overrides) }

// MatchIndicator reports whether the input matches the indicator's condition (its
// when; for a first_seen indicator whether the event is novel is the caller's to
// decide, as with Match). It evaluates that one rule only, with the index's feed and
// operation test and its guards, so it costs a fraction of Match over the whole set.
func (rs *RuleSet) MatchIndicator(id string, in *Input) bool {
	r, ok := rs.indicators[id]
	if !ok || in == nil || in.Event == nil || !r.applies(in.Event) {
		return false
	}
	c := guardCtx{in: in, rs: rs}
	act := lazyActivation{rs: rs, in: in, op: rs.opVals[in.Event.Operation]}
	hit := r.decide(&c, act.get)
	act.release()
	return hit
}

// MatchAmong appends to dst the indices (IndicatorIndex) among the given ones of the
// indicators the input matches, in the order given: Match restricted to a few
// indicators, e.g. the steps of one sequence.
func (rs *RuleSet) MatchAmong(dst []int, in *Input, among []int) []int {
	if in == nil || in.Event == nil {
		return dst
	}
	act := lazyActivation{rs: rs, in: in, op: rs.opVals[in.Event.Operation]}
	c := guardCtx{in: in, rs: rs}
	for _, ix := range among {
		if ix < 0 || ix >= len(rs.indOrder) {
			continue
		}
		r := rs.indicators[rs.indOrder[ix]]
		if r.applies(in.Event) && r.decide(&c, act.get) {
			dst = append(dst, ix)
		}
	}
	act.release()
	return dst
}
