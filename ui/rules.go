package ui

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"irm/account"
	"irm/dsl"
	"irm/engine"
)

// The rule workbench (/rules): security engineers and admins browse the rules in force
// with their tests and health, edit one rule file of the rules directory with the
// server compiling it as they type, run its tests, backtest its indicators and
// sequences over the stored events, and save it (dsl.Reloader.Save: compiled, written
// atomically, reloaded and audited with the author and the diff).

// maxRuleFile bounds a rule file sent from the editor: far beyond a hand-written file,
// small enough that compiling it on every keystroke stays cheap.
const maxRuleFile = 256 << 10

// newRuleFileText is what a new file starts with: a complete, passing example.
const newRuleFileText = `# A custom indicator and its tests. The language is in docs/rules.md.
[[indicator]]
id = "my_indicator"
name = "Printing many files"
category = "exfiltration"
feeds = ["audit"]
when = 'event.operation == "FilePrinted"'
thresholds = [5, 15, 30]

[[test]]
indicator = "my_indicator"
event = { operation = "FilePrinted", workload = "Endpoint", file_name = "plan.docx" }
expect = true
`

// ruleRow is one entry of the rules page.
type ruleRow struct {
	Kind, ID, Name, Category string
	Detail                   string // thresholds, steps, items...
	Source                   string // file:line
	File                     string // base name, when it is a file of the rules directory
	Line                     int
	Builtin                  bool
	Overrides                string // the built-in it replaces (file:line), if any
	Tests                    int
	Failed                   []string // failing tests, as file:line: message
	Policies                 []string
}

// TestState says how the entry's tests went: "pass", "fail" or "none".
func (r ruleRow) TestState() string {
	switch {
	case len(r.Failed) > 0:
		return "fail"
	case r.Tests > 0:
		return "pass"
	}
	return "none"
}

type ruleFileRow struct {
	Name     string
	Size     int64
	Modified time.Time
	Entries  int
}

type rulesView struct {
	Dir         string
	Loads       bool
	DirError    []diagView // why the rules directory does not load (the previous rules stay)
	DirErrorMsg string     // the same when it is not a *dsl.LoadError
	Files       []ruleFileRow
	Indicators  []ruleRow
	Sequences   []ruleRow
	Templates   []ruleRow
	Lists       []ruleRow
	Overrides   []dsl.Override
	Tests       testSummary
}

type testSummary struct {
	At             time.Time
	Passed, Failed int
	Err            string
}

// testCache keeps the test results of the rules in force: run once per rule set.
type testCache struct {
	mu      sync.Mutex
	rs      *dsl.RuleSet
	at      time.Time
	results []dsl.TestResult
	err     error
}

// currentTests runs the [[test]]s of the rules in force unless they ran for this rule
// set already.
func (s *server) currentTests() ([]dsl.TestResult, time.Time, error) {
	cur := s.rules.Current()
	s.tests.mu.Lock()
	defer s.tests.mu.Unlock()
	if s.tests.rs != cur {
		rs, err := s.rules.CurrentForTests()
		s.tests.rs, s.tests.at, s.tests.err, s.tests.results = cur, s.now(), err, nil
		if err == nil {
			s.tests.results = rs.RunTests()
		}
	}
	return s.tests.results, s.tests.at, s.tests.err
}

func (s *server) showRules(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.rules == nil {
		s.render(w, r, http.StatusServiceUnavailable, errorPage(s.page(r, c, "Rules"), http.StatusServiceUnavailable, "The rules are not available in this process."))
		return
	}
	rs := s.rules.Current()
	v := rulesView{Dir: s.rules.Dir(), Loads: s.rules.LastError() == nil}
	if err := s.rules.LastError(); err != nil {
		var le *dsl.LoadError
		if errors.As(err, &le) {
			v.DirError = s.diagViews(le.Diags, nil)
		} else {
			v.DirErrorMsg = err.Error()
		}
	}
	results, at, terr := s.currentTests()
	v.Tests.At = at
	if terr != nil {
		v.Tests.Err = terr.Error()
	}
	tests := map[string]*ruleRow{} // kind/id -> row
	usedBy := s.ruleUsers(rs)
	base := func(file string) string {
		if d := s.rules.Dir(); d != "" && filepath.Dir(file) == filepath.Clean(d) {
			return filepath.Base(file)
		}
		return ""
	}
	overridden := map[string]string{}
	for _, o := range rs.Overrides() {
		overridden[o.Kind+"/"+o.ID] = fmt.Sprintf("%s:%d", o.BuiltinFile, o.BuiltinLine)
	}
	v.Overrides = rs.Overrides()
	row := func(kind, id, name, category, detail, file string, line int, builtin bool) ruleRow {
		return ruleRow{Kind: kind, ID: id, Name: name, Category: category, Detail: detail, Source: fmt.Sprintf("%s:%d", file, line),
			File: base(file), Line: line, Builtin: builtin, Overrides: overridden[kind+"/"+id], Policies: usedBy[kind+"/"+id]}
	}
	for _, ind := range rs.Indicators() {
		detail := fmt.Sprintf("%d/%d/%d", ind.Thresholds[0], ind.Thresholds[1], ind.Thresholds[2])
		if ind.FirstSeen != nil {
			detail += fmt.Sprintf("; new %s in %d days", strings.Join(strings.Fields(ind.FirstSeen.Key), " "), ind.FirstSeen.Days)
		}
		v.Indicators = append(v.Indicators, row("indicator", ind.ID, ind.Name, ind.Category, detail, ind.File, ind.Line, ind.Builtin))
	}
	for _, sq := range rs.Sequences() {
		detail := fmt.Sprintf("%s within %s, by %s", strings.Join(sq.Steps, " → "), fmtWithin(sq.Within), sq.Link)
		v.Sequences = append(v.Sequences, row("sequence", sq.ID, sq.Name, sq.Category, detail, sq.File, sq.Line, sq.Builtin))
	}
	for _, t := range rs.Templates() {
		var trig []string
		for _, tr := range t.Triggers {
			trig = append(trig, tr.ID)
		}
		detail := fmt.Sprintf("triggers %s; %d indicators, %d sequences", strings.Join(trig, ", "), len(t.Indicators), len(t.Sequences))
		v.Templates = append(v.Templates, row("template", t.ID, t.Name, t.Category, detail, t.File, t.Line, t.Builtin))
	}
	for _, l := range rs.Lists() {
		v.Lists = append(v.Lists, row("list", l.ID, l.Name, "", strconv.Itoa(len(l.Items))+" items", l.File, l.Line, base(l.File) == ""))
	}
	for _, rows := range [][]ruleRow{v.Indicators, v.Sequences, v.Templates} {
		for i := range rows {
			tests[rows[i].Kind+"/"+rows[i].ID] = &rows[i]
		}
	}
	for _, res := range results {
		kind, id := res.Test.Kind()
		if kind == "trigger" { // a trigger's test is its template's
			kind, id = "template", res.Test.Template
		}
		rw := tests[kind+"/"+id]
		if rw == nil {
			continue
		}
		rw.Tests++
		if res.Pass {
			v.Tests.Passed++
		} else {
			v.Tests.Failed++
			rw.Failed = append(rw.Failed, res.String())
		}
	}
	v.Files = s.ruleFiles(rs)
	s.render(w, r, http.StatusOK, rulesPage(s.page(r, c, "Rules"), v))
}

// countOf is "1 test", "2 tests"; forms[0] is the plural when it is not just +s.
func countOf(n int, one string, forms ...string) string {
	many := one + "s"
	if len(forms) > 0 {
		many = forms[0]
	}
	return strconv.Itoa(n) + " " + plural(n, one, many)
}

// fmtWithin shows a sequence's window as it is written: 7d, 1d12h, 36h, 90m.
func fmtWithin(d time.Duration) string {
	days := d / (24 * time.Hour)
	rest := d - days*24*time.Hour
	out := ""
	if days > 0 {
		out = strconv.Itoa(int(days)) + "d"
	}
	if rest > 0 || out == "" {
		s := rest.String()
		s = strings.TrimSuffix(strings.TrimSuffix(s, "0s"), "0m")
		out += s
	}
	return out
}

// ruleUsers maps "kind/id" of indicators, sequences and templates to the policies that
// use them (a policy's template token stands for the template's defaults).
func (s *server) ruleUsers(rs *dsl.RuleSet) map[string][]string {
	out := map[string][]string{}
	if s.eng == nil {
		return out
	}
	add := func(k, p string) {
		if !slices.Contains(out[k], p) {
			out[k] = append(out[k], p)
		}
	}
	for _, p := range s.eng.Policies() {
		add("template/"+p.Template, p.Name)
		t := rs.Template(p.Template)
		expand := func(ids, defaults []string) []string {
			var all []string
			for _, id := range ids {
				if id == engine.TemplateToken {
					all = append(all, defaults...)
				} else {
					all = append(all, id)
				}
			}
			return all
		}
		var defInds, defSeqs []string
		if t != nil {
			defInds, defSeqs = t.Indicators, t.Sequences
		}
		for _, id := range append(expand(p.Indicators, defInds), p.Triggers.Indicators...) {
			add("indicator/"+id, p.Name)
		}
		for _, id := range expand(p.Sequences, defSeqs) {
			add("sequence/"+id, p.Name)
		}
	}
	return out
}

// ruleFiles lists the *.toml files of the rules directory with the entries each holds.
func (s *server) ruleFiles(rs *dsl.RuleSet) []ruleFileRow {
	dir := s.rules.Dir()
	if dir == "" {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	count := map[string]int{}
	for _, f := range rs.Files() {
		count[f] = 0
	}
	for _, ind := range rs.Indicators() {
		count[ind.File]++
	}
	for _, sq := range rs.Sequences() {
		count[sq.File]++
	}
	for _, t := range rs.Templates() {
		count[t.File]++
	}
	for _, l := range rs.Lists() {
		count[l.File]++
	}
	var out []ruleFileRow
	for _, e := range ents {
		if !e.Type().IsRegular() || dsl.ValidFileName(e.Name()) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, ruleFileRow{Name: e.Name(), Size: fi.Size(), Modified: fi.ModTime(), Entries: count[s.rules.Path(e.Name())]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// diagView is one problem, with the line it is on and a caret under its column.
type diagView struct {
	File      string // base name for files of the rules directory, else as compiled
	Line, Col int
	Msg       string
	Src       string // the line's text
	Caret     string // spaces, then ^ under the column
	Editable  bool   // File is a file of the rules directory
}

// diagViews shows diags; text, if set, is the text of their file (the editor's).
func (s *server) diagViews(ds []dsl.Diag, text []byte) []diagView {
	var out []diagView
	cache := map[string][]string{}
	for _, d := range ds {
		v := diagView{File: d.File, Line: d.Line, Col: d.Col, Msg: d.Msg}
		if dir := s.rules.Dir(); dir != "" && filepath.Dir(d.File) == filepath.Clean(dir) {
			v.File, v.Editable = filepath.Base(d.File), true
		}
		lines, ok := cache[d.File]
		if !ok {
			b := text
			if b == nil && v.Editable {
				b, _ = os.ReadFile(d.File)
			}
			lines = strings.Split(string(b), "\n")
			cache[d.File] = lines
		}
		if d.Line >= 1 && d.Line <= len(lines) {
			v.Src, v.Caret = excerpt(strings.TrimRight(lines[d.Line-1], "\r"), d.Col)
		}
		out = append(out, v)
	}
	return out
}

// excerptBefore is how much of a long line is shown before the problem's column: the
// panel beside the text is narrow, and the column is what matters.
const excerptBefore = 36

// excerpt is the line, cut to the part around column col when it is long, and the caret
// under the column.
func excerpt(line string, col int) (string, string) {
	r := []rune(line)
	if col <= excerptBefore+8 || col > len(r)+1 {
		return line, caret(line, col)
	}
	cut := col - 1 - excerptBefore
	src := "…" + string(r[cut:])
	return src, caret(src, col-cut+1)
}

// caret puts ^ under column col (1-based, in characters) of line, keeping its tabs so
// that it lines up.
func caret(line string, col int) string {
	var b strings.Builder
	i := 1
	for _, r := range line {
		if i >= col {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		i++
	}
	for ; i < col; i++ {
		b.WriteByte(' ')
	}
	b.WriteByte('^')
	return b.String()
}

// editorView is the editor of one rule file.
type editorView struct {
	Dir     string
	Name    string
	New     bool
	Text    string
	Rows    int
	Base    string // Digest of the file as it was opened ("" for a new file)
	Error   string
	Check   checkView
	Tests   *testsView
	Job     *jobView
	Targets []targetOption
	Target  string
	Days    int
}

type targetOption struct{ ID, Label string }

// checkView is the result of compiling the draft.
type checkView struct {
	Checked bool
	OK      bool
	Summary string
	Diags   []diagView // in this file
	Other   []diagView // in other files, caused or not by this one
	Lines   []gutterLine
	// Taken: a new file's name is already a file of the rules directory (the check
	// compiled the draft in its place; saving is refused).
	Taken string
}

// gutterLine is one line number next to the text; Diag marks a problem on it.
type gutterLine struct {
	N    int
	Diag string
}

type testsView struct {
	Ran            bool
	Passed, Failed int
	Results        []testLine
	Error          string
}

type testLine struct {
	Pass bool
	Name string
	Line int
	Msg  string
}

// editorName is the file name the editor works on: the form's, or for a new file that
// has none yet a placeholder the diagnostics can name.
func editorName(name string) string {
	if name == "" {
		return "new.toml"
	}
	return name
}

func (s *server) showRuleEditor(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.rules == nil {
		s.render(w, r, http.StatusServiceUnavailable, errorPage(s.page(r, c, "Rules"), http.StatusServiceUnavailable, "The rules are not available in this process."))
		return
	}
	name := r.URL.Query().Get("file")
	v := editorView{Dir: s.rules.Dir(), Days: engine.RuleBacktestDefaultDays}
	if name == "" {
		v.New, v.Text = true, newRuleFileText
	} else {
		if dsl.ValidFileName(name) != nil {
			s.notFound(w, r)
			return
		}
		b, err := os.ReadFile(s.rules.Path(name))
		if errors.Is(err, os.ErrNotExist) {
			s.notFound(w, r)
			return
		}
		if err != nil {
			s.serverError(w, r, c, err)
			return
		}
		v.Name, v.Text, v.Base = name, string(b), dsl.Digest(b)
	}
	s.check(&v)
	s.render(w, r, http.StatusOK, ruleEditorPage(s.page(r, c, editorTitle(v)), v))
}

func editorTitle(v editorView) string {
	if v.New {
		return "New rule file"
	}
	return "Rule file " + v.Name
}

// check compiles the draft with the rules directory and fills v.Check and v.Targets.
func (s *server) check(v *editorView) *dsl.RuleSet {
	v.Rows = max(strings.Count(v.Text, "\n")+3, 12)
	name := editorName(v.Name)
	v.Check = checkView{Checked: true}
	n := strings.Count(v.Text, "\n") + 1
	for i := 1; i <= n; i++ {
		v.Check.Lines = append(v.Check.Lines, gutterLine{N: i})
	}
	if err := dsl.ValidFileName(name); err != nil {
		v.Check.Summary = err.Error()
		return nil
	}
	if v.New {
		if _, err := os.Stat(s.rules.Path(name)); err == nil {
			v.Check.Taken = name
		}
	}
	rs, err := s.rules.Draft(name, []byte(v.Text), false)
	if err != nil {
		var le *dsl.LoadError
		if !errors.As(err, &le) {
			v.Check.Summary = err.Error()
			return nil
		}
		path := s.rules.Path(name)
		var mine, other []dsl.Diag
		for _, d := range le.Diags {
			if d.File == path {
				mine = append(mine, d)
			} else {
				other = append(other, d)
			}
		}
		v.Check.Diags = s.diagViews(mine, []byte(v.Text))
		v.Check.Other = s.diagViews(other, nil)
		for _, d := range v.Check.Diags {
			if d.Line >= 1 && d.Line <= len(v.Check.Lines) {
				gl := &v.Check.Lines[d.Line-1]
				gl.Diag = strings.TrimPrefix(gl.Diag+"; ", "; ") + fmt.Sprintf("%d:%d: %s", d.Line, d.Col, d.Msg)
			}
		}
		v.Check.Summary = fmt.Sprintf("%d problems", len(le.Diags))
		if len(le.Diags) == 1 {
			v.Check.Summary = "1 problem"
		}
		return nil
	}
	v.Check.OK = true
	path := s.rules.Path(name)
	inds, seqs, tests, other := 0, 0, 0, 0
	for _, ind := range rs.Indicators() {
		if ind.File == path {
			inds++
			label := ind.ID + " — " + ind.Name
			if ind.FirstSeen != nil {
				label += " (first_seen)"
			}
			v.Targets = append(v.Targets, targetOption{ID: ind.ID, Label: label})
		}
	}
	for _, sq := range rs.Sequences() {
		if sq.File == path {
			seqs++
			v.Targets = append(v.Targets, targetOption{ID: sq.ID, Label: sq.ID + " — " + sq.Name + " (sequence)"})
		}
	}
	for _, t := range rs.Tests() {
		if t.File == path {
			tests++
		}
	}
	for _, t := range rs.Templates() {
		if t.File == path {
			other++
		}
	}
	for _, l := range rs.Lists() {
		if l.File == path {
			other++
		}
	}
	v.Check.Summary = fmt.Sprintf("compiles with the rules in force: %s, %s, %s, %s",
		countOf(inds, "indicator"), countOf(seqs, "sequence"), countOf(other, "list or template", "lists or templates"), countOf(tests, "test"))
	if v.Target == "" || !slices.ContainsFunc(v.Targets, func(t targetOption) bool { return t.ID == v.Target }) {
		v.Target = ""
		if len(v.Targets) > 0 {
			v.Target = v.Targets[0].ID
		}
	}
	return rs
}

// runTests runs the draft's own [[test]]s (with the organisation tests run with).
func (s *server) runTests(v *editorView) {
	v.Tests = &testsView{Ran: true}
	name := editorName(v.Name)
	rs, err := s.rules.Draft(name, []byte(v.Text), true)
	if err != nil {
		v.Tests.Error = "The file does not compile; fix the problems first."
		return
	}
	path := s.rules.Path(name)
	for _, res := range rs.RunTests() {
		if res.Test.File != path {
			continue
		}
		kind, id := res.Test.Kind()
		tl := testLine{Pass: res.Pass, Line: res.Test.Line, Name: res.Test.Name}
		if tl.Name == "" {
			tl.Name = kind + " " + id
		}
		if res.Pass {
			v.Tests.Passed++
			tl.Msg = fmt.Sprintf("%s %s: expected %v, got %v", kind, id, res.Test.Expect, res.Got)
		} else {
			v.Tests.Failed++
			tl.Msg = strings.TrimPrefix(res.String(), fmt.Sprintf("%s:%d:1: ", res.Test.File, res.Test.Line))
		}
		v.Tests.Results = append(v.Tests.Results, tl)
	}
	if len(v.Tests.Results) == 0 {
		v.Tests.Error = "This file has no [[test]]s. Add some: a rule without tests can silently stop matching."
	}
}

// postRuleEditor handles the editor's buttons: check, test, backtest (start, status,
// cancel) and save. htmx requests get the part of the page they replace; plain form
// posts the whole page, the text kept.
func (s *server) postRuleEditor(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if s.rules == nil {
		s.render(w, r, http.StatusServiceUnavailable, errorPage(s.page(r, c, "Rules"), http.StatusServiceUnavailable, "The rules are not available in this process."))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxRuleFile)
	if err := r.ParseForm(); err != nil {
		s.badRequest(w, r, c, "The form is too large: a rule file may have at most 256 KiB.")
		return
	}
	v := editorView{Dir: s.rules.Dir(), Name: strings.TrimSpace(r.PostFormValue("name")), New: r.PostFormValue("new") == "1",
		Text: strings.ReplaceAll(r.PostFormValue("text"), "\r\n", "\n"), Base: r.PostFormValue("base"), Target: r.PostFormValue("target")}
	v.Days, _ = strconv.Atoi(r.PostFormValue("days"))
	if v.Days == 0 {
		v.Days = engine.RuleBacktestDefaultDays
	}
	if len(v.Text) > maxRuleFile {
		s.badRequest(w, r, c, "A rule file may have at most 256 KiB.")
		return
	}
	htmx := r.Header.Get("HX-Request") == "true"
	action := r.PostFormValue("action")
	status := http.StatusOK
	switch action {
	case "save":
		s.saveRuleFile(w, r, c, &v)
		return
	case "check", "":
		rs := s.check(&v)
		if htmx {
			s.render(w, r, status, checkFragment(v, rs != nil))
			return
		}
	case "test":
		s.check(&v)
		s.runTests(&v)
		if htmx {
			s.render(w, r, status, testsPanel(v.Tests))
			return
		}
	case "backtest", "status", "cancel":
		rs := s.check(&v)
		v.Job, status = s.backtestAction(c, action, r.PostFormValue("job"), rs, &v)
		if htmx {
			s.render(w, r, status, backtestPanel(v.Job))
			return
		}
	default:
		s.badRequest(w, r, c, "Unknown editor action.")
		return
	}
	s.render(w, r, status, ruleEditorPage(s.page(r, c, editorTitle(v)), v))
}

// saveRuleFile saves the draft through the reloader: compiled with the rules in force,
// written atomically, reloaded, audited with the viewer as author.
func (s *server) saveRuleFile(w http.ResponseWriter, r *http.Request, c *reqCtx, v *editorView) {
	fail := func(status int, msg string) {
		s.check(v)
		v.Error = msg
		s.render(w, r, status, ruleEditorPage(s.page(r, c, editorTitle(*v)), *v))
	}
	if err := dsl.ValidFileName(v.Name); err != nil {
		fail(http.StatusBadRequest, "Give the file a name: "+err.Error())
		return
	}
	if s.rules.Dir() == "" {
		fail(http.StatusBadRequest, "No rules directory is configured ([rules] dir): there is nowhere to save.")
		return
	}
	_, err := s.rules.Save(v.Name, []byte(v.Text), c.Account.Name, v.Base)
	var le *dsl.LoadError
	switch {
	case errors.As(err, &le):
		fail(http.StatusBadRequest, "Not saved: the rules do not compile with this file. Nothing was written.")
		return
	case errors.Is(err, dsl.ErrFileChanged) && v.New:
		fail(http.StatusConflict, "Not saved: there is already a file "+v.Name+" in the rules directory. Choose another name, or open that file to edit it.")
		return
	case errors.Is(err, dsl.ErrFileChanged):
		fail(http.StatusConflict, "Not saved: "+v.Name+" changed on disk since you opened it (someone else saved it). Copy your text, reload the file and apply your change again.")
		return
	case err != nil:
		s.log.Error("ui: saving a rule file", "file", v.Name, "err", err)
		fail(http.StatusInternalServerError, "Not saved: "+err.Error())
		return
	}
	s.redirectFlash(w, r, c, "/rules/edit?file="+pathEscape(v.Name),
		"Saved "+s.rules.Path(v.Name)+": the rules were reloaded and it is in force. The change is in the audit log.")
}

// ruleUser is how the viewer sees a user of a backtest: viewers without alert access
// (security engineers) always see pseudonyms; others as on the alert pages.
func (s *server) ruleUser(c *reqCtx, upn string) string {
	if !c.can(account.PermAlerts) && !c.can(account.PermConfigure) {
		return account.Pseudonym(s.pseudo, upn)
	}
	return s.who(c, upn)
}

// ruleScrub hides the user in an event's free text (a path, a URL) when ruleUser does:
// the UPN, and its local part (C:\Users\alice.chen\...).
func (s *server) ruleScrub(c *reqCtx, upn, text string) string {
	shown := s.ruleUser(c, upn)
	if shown == upn {
		return text
	}
	text = account.ScrubUPN(text, upn, shown)
	if local, _, ok := strings.Cut(upn, "@"); ok && len(local) >= 3 {
		text = account.ScrubUPN(text, local, shown)
	}
	return text
}
