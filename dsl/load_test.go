package dsl_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"irm/dsl"
	"irm/rules"
)

// writeRules writes files into a new directory and returns it.
func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadErr loads the built-ins plus one user file and returns its diagnostics as
// "line:col: message" strings (file name stripped).
func loadErr(t *testing.T, text string) []string {
	t.Helper()
	dir := writeRules(t, map[string]string{"user.toml": text})
	_, err := dsl.Load(rules.FS, dir, dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err == nil {
		t.Fatalf("no error for:\n%s", text)
	}
	var le *dsl.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error is %T, not *LoadError: %v", err, err)
	}
	var out []string
	prefix := filepath.Join(dir, "user.toml") + ":"
	for _, d := range le.Diags {
		s := d.String()
		if !strings.HasPrefix(s, prefix) {
			t.Errorf("diagnostic for another file: %s", s)
			continue
		}
		out = append(out, strings.TrimPrefix(s, prefix))
	}
	return out
}

func wantDiag(t *testing.T, diags []string, want string) {
	t.Helper()
	for _, d := range diags {
		if strings.HasPrefix(d, want) || strings.Contains(d, want) {
			return
		}
	}
	t.Errorf("no diagnostic %q in:\n%s", want, strings.Join(diags, "\n"))
}

const indHead = `[[indicator]]
id = "x"
name = "x"
category = "access"
feeds = ["audit"]
`

func TestCELErrorPositions(t *testing.T) {
	// Literal string on one line: line 6, the '+' is at column 38.
	wantDiag(t, loadErr(t, indHead+`when = 'event.size > 1 && event.size + "a" == 2'`+"\n"), "6:38: found no matching overload for '_+_'")
	// Multi-line literal string: the error is on the string's third line.
	wantDiag(t, loadErr(t, indHead+"when = '''\nevent.operation == \"A\" &&\n  event.nosuch == 1\n'''\n"), "8:8: undefined field 'nosuch'")
	// Basic string with escapes before the error: columns count the escapes as written.
	wantDiag(t, loadErr(t, indHead+`when = "event.operation == \"A\" && event.nosuch == 1"`+"\n"), "6:42: undefined field 'nosuch'")
	// Syntax error.
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == '`+"\n"), "6:")
	// Not a bool.
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation'`+"\n"), "6:1: when must be a bool expression, but it is string")
	// Unknown function.
	wantDiag(t, loadErr(t, indHead+`when = 'event.user.isExternl()'`+"\n"), "6:29: undeclared reference to 'isExternl' (did you mean 'isExternal'?)")
	// Contradictions the index can see.
	wantDiag(t, loadErr(t, indHead+`when = 'event.operation == "A" && event.operation == "B"'`+"\n"), "6:1: indicator x can never match")
	wantDiag(t, loadErr(t, indHead+`when = 'event.feed == "dlp"'`+"\n"), "6:1: indicator x can never match")
	// Unknown list (not in any file and not a settings list).
	wantDiag(t, loadErr(t, indHead+`when = 'event.target_domain.matchesDomain(lists.nope)'`+"\n"), `6:43: unknown list "nope"`)
}

func TestUnknownIDsAndKeys(t *testing.T) {
	diags := loadErr(t, `
[[sequence]]
id = "s"
name = "s"
steps = ["copy_to_usb", "no_such_indicator"]

[[template]]
id = "t"
name = "t"
category = "data_leaks"
indicators = ["copy_to_usb", "missing_indicator"]
sequences = ["missing_sequence"]

  [[template.trigger]]
  id = "tr"
  name = "tr"
  indicators = ["missing_trigger_indicator"]
  whem = 'true'

[[test]]
indicator = "missing_test_indicator"
event = { operation = "X" }
expect = true

[[test]]
indicator = "copy_to_usb"
event = { operation = "X", no_such_field = 1 }
expect = true

[[indicator]]
id = "y"
name = "y"
category = "nonsense"
feeds = ["audit", "nofeed"]
when = 'true'
thresholds = [3, 2, 1]
colour = "red"

[[sequnce]]
id = "z"
`)
	for _, want := range []string{
		`5:26: sequence s: step "no_such_indicator": unknown indicator "no_such_indicator"`,
		`11:30: template t: unknown indicator "missing_indicator"`,
		`12:14: template t: unknown sequence "missing_sequence"`,
		`17:17: template t: trigger tr: unknown indicator "missing_trigger_indicator"`,
		`18:3: unknown key "whem" in [[template.trigger]]`,
		`21:1: test: unknown indicator "missing_test_indicator"`,
		`27:1: test event 1: unknown field "no_such_field"`,
		`33:1: indicator y: category "nonsense"`,
		`34:1: unknown feed "nofeed"`,
		`36:1: thresholds must be at least 1 and not decreasing`,
		`37:1: unknown key "colour" in [[indicator]]`,
		`39:1: unknown table [[sequnce]]`,
	} {
		wantDiag(t, diags, want)
	}
}

func TestDuplicatesAndTOMLErrors(t *testing.T) {
	wantDiag(t, loadErr(t, indHead+"when = 'true'\n"+indHead+"when = 'true'\n"), `8:1: duplicate indicator id "x"`)
	wantDiag(t, loadErr(t, "[[indicator]]\nid = \"x\"\nname = \n"), "3:")
	wantDiag(t, loadErr(t, "[indicator]\nid = \"x\"\n"), "1:1: ")
}

func TestOverrideAndAdd(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"a.toml": indHead + "when = 'event.operation == \"A\"'\n",
		"b.toml": `
[[indicator]]
id = "copy_to_usb"
name = "USB (ours)"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FileCopiedToRemovableMedia" && event.size > 1000'
thresholds = [2, 4, 8]
`,
	})
	rs, err := dsl.Load(rules.FS, dir, dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Indicator("x") == nil {
		t.Error("new indicator x missing")
	}
	usb := rs.Indicator("copy_to_usb")
	if usb.Name != "USB (ours)" || usb.Thresholds != [3]int{2, 4, 8} || usb.Builtin || !strings.HasSuffix(usb.File, "b.toml") {
		t.Errorf("override not applied: %+v", usb)
	}
	if got := rs.Indicators(); len(got) != len(loadBuiltin(t).Indicators())+1 {
		t.Errorf("%d indicators, want built-ins + 1", len(got))
	}
	// Built-in tests of the replaced indicator (and of sequences using it) no longer apply.
	for _, tc := range rs.Tests() {
		if tc.Indicator == "copy_to_usb" {
			t.Errorf("built-in test of the replaced indicator still runs: %s:%d", tc.File, tc.Line)
		}
	}
	for _, r := range rs.RunTests() {
		if !r.Pass {
			t.Error(r.String())
		}
	}
	// The sequences still resolve to the replacement.
	if sq := rs.Sequence("download_then_exfiltrate"); !slices.Contains(sq.StepSets[1], "copy_to_usb") {
		t.Error("sequence lost copy_to_usb")
	}
}

func TestTestdataRules(t *testing.T) {
	rs, err := dsl.LoadFiles(rules.FS, []string{filepath.Join("..", "testdata", "rules", "custom.toml")}, dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	passed := 0
	for _, r := range rs.RunTests() {
		if !r.Pass {
			t.Error(r.String())
		}
		passed++
	}
	if rs.Indicator("source_code_to_usb") == nil || passed == 0 {
		t.Error("custom indicator or its tests missing")
	}
	// The documented novelty example: its tests run, and all of them pass.
	rs, err = dsl.LoadFiles(rules.FS, []string{filepath.Join("..", "testdata", "rules", "novelty.toml")}, dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	own := 0
	for _, r := range rs.RunTests() {
		if !r.Pass {
			t.Error(r.String())
		}
		if r.Test.Indicator == "new_upload_domain" {
			own++
		}
	}
	if fs := rs.Indicator("new_upload_domain").FirstSeen; fs == nil || fs.Days != 60 || fs.MinActiveDays != 20 || own != 5 {
		t.Errorf("novelty example: first_seen %+v, %d tests", fs, own)
	}
	_, err = dsl.LoadFiles(rules.FS, []string{filepath.Join("..", "testdata", "rules", "type_error.toml")}, dsl.Options{})
	if err == nil || !strings.Contains(err.Error(), "type_error.toml:11:19: found no matching overload for '_>_' applied to '(string, int)'") {
		t.Errorf("type_error.toml: %v", err)
	}
}

func TestFailingRuleTestIsReported(t *testing.T) {
	dir := writeRules(t, map[string]string{"t.toml": `
[[test]]
indicator = "copy_to_usb"
name = "wrong on purpose"
event = { operation = "FilePrinted" }
expect = true
`})
	rs, err := dsl.Load(rules.FS, dir, dsl.Options{OrgDomains: dsl.TestOrgDomains})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, r := range rs.RunTests() {
		if !r.Pass {
			failed = append(failed, r.String())
		}
	}
	want := filepath.Join(dir, "t.toml") + `:2:1: test "wrong on purpose": indicator copy_to_usb: expected true, got false (matched: print_file)`
	if len(failed) != 1 || failed[0] != want {
		t.Errorf("failures = %q, want [%q]", failed, want)
	}
}
