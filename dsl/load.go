package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/BurntSushi/toml"

	"irm/event"
)

// Categories are the indicator categories.
var Categories = []string{"access", "collection", "exfiltration", "obfuscation", "deletion", "security", "infiltration", "physical", "browsing"}

// TemplateCategories are the policy template categories.
var TemplateCategories = []string{"data_theft", "data_leaks", "security", "browsing"}

// SettingsLists are the lists the engine passes from settings with every input; rules may
// use them even though no rule file defines them.
var SettingsLists = []string{"unallowed_domains", "allowed_domains", "third_party_domains", "priority_assets", "priority_sites", "priority_labels", "priority_sensitive_types", "priority_extensions"}

// DefaultThresholds apply to an indicator that gives none.
var DefaultThresholds = [3]int{1, 5, 10}

// TestOrgDomains are the [org] domains rule tests run with, so that tests give the same
// result on every appliance: in a test, contoso.com is the organisation.
var TestOrgDomains = []string{"contoso.com"}

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

// List is a named list of strings (domains, sites, assets).
type List struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Items       []string `json:"items"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
}

// Indicator is one risk indicator: a CEL condition over one event.
type Indicator struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Category    string   `json:"category"`
	Description string   `json:"description,omitempty"`
	Feeds       []string `json:"feeds"`
	When        string   `json:"when"`
	Thresholds  [3]int   `json:"thresholds"` // daily counts that reach low, medium, high
	File        string   `json:"file"`
	Line        int      `json:"line"`
	// Operations are the event operations the condition can match, derived from its
	// `event.operation == "X"` / `in [...]` conjuncts; nil means any operation.
	Operations []string `json:"operations"`
	Builtin    bool     `json:"builtin"` // from the embedded catalog (and not overridden)
}

// Sequence is an ordered chain of indicator matches for one file or user within a window.
type Sequence struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Category    string `json:"category"`
	Description string `json:"description,omitempty"`
	// Steps as written: each an indicator id, "a|b|c" (any of them) or "@category"
	// (any indicator of that category).
	Steps []string `json:"steps"`
	// StepSets are the indicator ids each step accepts, resolved at load.
	StepSets   [][]string    `json:"step_sets"`
	Within     time.Duration `json:"within_ns"`
	Link       string        `json:"link"`       // "file" or "user"
	Thresholds [3]int        `json:"thresholds"` // files completing the sequence in a day for low, medium, high
	File       string        `json:"file"`
	Line       int           `json:"line"`
	Builtin    bool          `json:"builtin"`
}

// Trigger is one triggering event of a template.
type Trigger struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	When  string   `json:"when,omitempty"`
	Feeds []string `json:"feeds,omitempty"`
	// Indicators, when set, make this a count trigger: it fires once the user's daily
	// count of one of these indicators reaches Thresholds[id] (MatchTriggers returns it
	// for each matching event; the engine keeps the counts). When, if also set, is an
	// extra condition.
	Indicators []string       `json:"indicators,omitempty"`
	Thresholds map[string]int `json:"thresholds,omitempty"`
}

// Template is a policy template.
type Template struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Category      string    `json:"category"`
	Description   string    `json:"description,omitempty"`
	RequiredFeeds []string  `json:"required_feeds"`
	Triggers      []Trigger `json:"triggers"`
	Indicators    []string  `json:"indicators"` // default indicators
	Sequences     []string  `json:"sequences"`  // sequences that apply
	Cumulative    bool      `json:"cumulative"` // cumulative exfiltration detection applies
	Priority      bool      `json:"priority"`   // priority-user variant
	File          string    `json:"file"`
	Line          int       `json:"line"`
	Builtin       bool      `json:"builtin"`
}

// Test is one [[test]] case.
type Test struct {
	Name                                   string
	Indicator, Sequence, Template, Trigger string
	Events                                 []*event.Event
	Profile                                *event.Profile
	PriorityGroups                         []string
	Lists                                  map[string][]string
	Expect                                 bool
	File                                   string
	Line                                   int
}

// Kind returns what the test checks ("indicator", "sequence" or "trigger") and its id.
func (t *Test) Kind() (string, string) {
	switch {
	case t.Indicator != "":
		return "indicator", t.Indicator
	case t.Sequence != "":
		return "sequence", t.Sequence
	}
	return "trigger", t.Template + "/" + t.Trigger
}

// ---- file documents ----

type fileDoc struct {
	List      []listDoc      `toml:"list"`
	Indicator []indicatorDoc `toml:"indicator"`
	Sequence  []sequenceDoc  `toml:"sequence"`
	Template  []templateDoc  `toml:"template"`
	Test      []testDoc      `toml:"test"`
}

type listDoc struct {
	ID          string   `toml:"id"`
	Name        string   `toml:"name"`
	Description string   `toml:"description"`
	Items       []string `toml:"items"`
}

type indicatorDoc struct {
	ID          string   `toml:"id"`
	Name        string   `toml:"name"`
	Category    string   `toml:"category"`
	Description string   `toml:"description"`
	Feeds       []string `toml:"feeds"`
	When        string   `toml:"when"`
	Thresholds  []int    `toml:"thresholds"`
}

type sequenceDoc struct {
	ID          string   `toml:"id"`
	Name        string   `toml:"name"`
	Category    string   `toml:"category"`
	Description string   `toml:"description"`
	Steps       []string `toml:"steps"`
	Within      string   `toml:"within"`
	Link        string   `toml:"link"`
	Thresholds  []int    `toml:"thresholds"`
}

type triggerDoc struct {
	ID         string   `toml:"id"`
	Name       string   `toml:"name"`
	When       string   `toml:"when"`
	Feeds      []string `toml:"feeds"`
	Indicators []string `toml:"indicators"`
	MinCount   int      `toml:"min_count"`
}

type templateDoc struct {
	ID            string       `toml:"id"`
	Name          string       `toml:"name"`
	Category      string       `toml:"category"`
	Description   string       `toml:"description"`
	RequiredFeeds []string     `toml:"required_feeds"`
	Trigger       []triggerDoc `toml:"trigger"`
	Indicators    []string     `toml:"indicators"`
	Sequences     []string     `toml:"sequences"`
	Cumulative    bool         `toml:"cumulative"`
	Priority      bool         `toml:"priority"`
}

type testDoc struct {
	Name      string              `toml:"name"`
	Indicator string              `toml:"indicator"`
	Sequence  string              `toml:"sequence"`
	Template  string              `toml:"template"`
	Trigger   string              `toml:"trigger"`
	Event     map[string]any      `toml:"event"`
	Events    []map[string]any    `toml:"events"`
	Profile   map[string]any      `toml:"profile"`
	Lists     map[string][]string `toml:"lists"`
	Expect    *bool               `toml:"expect"`
}

// allowedKeys per table, for the unknown-key check.
var allowedKeys = map[string][]string{
	"list":             {"id", "name", "description", "items"},
	"indicator":        {"id", "name", "category", "description", "feeds", "when", "thresholds"},
	"sequence":         {"id", "name", "category", "description", "steps", "within", "link", "thresholds"},
	"template":         {"id", "name", "category", "description", "required_feeds", "indicators", "sequences", "cumulative", "priority", "trigger"},
	"template.trigger": {"id", "name", "when", "feeds", "indicators", "min_count"},
	"test":             {"name", "indicator", "sequence", "template", "trigger", "event", "events", "profile", "lists", "expect"},
}

// source is one rule file's text.
type source struct {
	name    string // as shown in errors
	text    string
	builtin bool
}

// ---- loading ----

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

// entry remembers where a decoded table came from.
type entry struct {
	src *source
	ix  *tomlIndex
	blk *block
}

func (en entry) at(key string) (line, col int) {
	if en.blk == nil {
		return 1, 1
	}
	if k, ok := en.blk.keys[key]; ok {
		return k.line, k.col
	}
	return en.blk.line, 1
}

type loader struct {
	opt   Options
	diags []Diag
	rs    *RuleSet
}

// errAt reports a problem at the first occurrence of the quoted string item inside the
// value of key (an id in a list), or at the key when it cannot be found.
func (l *loader) errAt(en entry, key, item string, format string, args ...any) {
	if en.blk != nil {
		if kp, ok := en.blk.keys[key]; ok {
			end := skipValue(en.ix.text, kp.valueOff)
			val := en.ix.text[kp.valueOff:end]
			if k := strings.Index(val, item); k >= 0 {
				line, col := en.ix.pos(kp.valueOff + k)
				l.diags = append(l.diags, Diag{File: en.src.name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
				return
			}
		}
	}
	l.errf(en, key, format, args...)
}

func (l *loader) errf(en entry, key string, format string, args ...any) {
	line, col := en.at(key)
	l.diags = append(l.diags, Diag{File: en.src.name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

type parsedFile struct {
	src *source
	ix  *tomlIndex
	doc fileDoc
}

func compile(srcs []source, opt Options) (*RuleSet, error) {
	l := &loader{opt: opt}
	org := newDomainSet(opt.OrgDomains)
	env, err := newEnv(org)
	if err != nil {
		return nil, fmt.Errorf("rules: CEL environment: %w", err)
	}
	rs := &RuleSet{opt: opt, env: env, lists: map[string]*List{}, listVals: map[string]ref.Val{},
		indicators: map[string]*rule{}, sequences: map[string]*Sequence{}, templates: map[string]*templateRule{}}
	l.rs = rs

	var files []*parsedFile
	for i := range srcs {
		src := &srcs[i]
		pf := &parsedFile{src: src, ix: indexTOML(src.text)}
		md, err := toml.Decode(src.text, &pf.doc)
		if err != nil {
			var perr toml.ParseError
			if errors.As(err, &perr) {
				l.diags = append(l.diags, Diag{src.name, perr.Position.Line, max(perr.Position.Col, 1), perr.Message})
			} else {
				l.diags = append(l.diags, Diag{src.name, 1, 1, err.Error()})
			}
			continue
		}
		l.checkKeys(pf, md)
		files = append(files, pf)
		rs.files = append(rs.files, src.name)
	}

	// Pass 1: collect every entry by id; user files override built-ins.
	type slot struct {
		en   entry
		prev *entry
	}
	lists := map[string]*slot{}
	inds := map[string]*slot{}
	seqs := map[string]*slot{}
	tmpls := map[string]*slot{}
	var listOrder, indOrder, seqOrder, tmplOrder []string
	listDocs := map[string]listDoc{}
	indDocs := map[string]indicatorDoc{}
	seqDocs := map[string]sequenceDoc{}
	tmplDocs := map[string]templateDoc{}
	overridden := map[string]bool{} // "indicator:x" etc. whose built-in was replaced

	claim := func(kind, id string, en entry, m map[string]*slot, order *[]string) bool {
		if id == "" {
			l.errf(en, "id", "%s without id", kind)
			return false
		}
		if !idPattern.MatchString(id) {
			l.errf(en, "id", "%s id %q: use lower-case letters, digits and _ (starting with a letter)", kind, id)
			return false
		}
		if have, ok := m[id]; ok {
			if have.en.src.builtin && !en.src.builtin {
				prev := have.en
				m[id] = &slot{en: en, prev: &prev}
				overridden[kind+":"+id] = true
				return true
			}
			hl, _ := have.en.at("id")
			l.errf(en, "id", "duplicate %s id %q (first defined at %s:%d)", kind, id, have.en.src.name, hl)
			return false
		}
		m[id] = &slot{en: en}
		*order = append(*order, id)
		return true
	}
	for _, pf := range files {
		for i, d := range pf.doc.List {
			en := entry{pf.src, pf.ix, pf.ix.nth("list", i)}
			if claim("list", d.ID, en, lists, &listOrder) {
				listDocs[d.ID] = d
			}
		}
		for i, d := range pf.doc.Indicator {
			en := entry{pf.src, pf.ix, pf.ix.nth("indicator", i)}
			if claim("indicator", d.ID, en, inds, &indOrder) {
				indDocs[d.ID] = d
			}
		}
		for i, d := range pf.doc.Sequence {
			en := entry{pf.src, pf.ix, pf.ix.nth("sequence", i)}
			if claim("sequence", d.ID, en, seqs, &seqOrder) {
				seqDocs[d.ID] = d
			}
		}
		for i, d := range pf.doc.Template {
			en := entry{pf.src, pf.ix, pf.ix.nth("template", i)}
			if claim("template", d.ID, en, tmpls, &tmplOrder) {
				tmplDocs[d.ID] = d
			}
		}
	}

	// Lists.
	for _, id := range listOrder {
		d, en := listDocs[id], lists[id].en
		lst := &List{ID: id, Name: d.Name, Description: d.Description, File: en.src.name}
		lst.Line, _ = en.at("id")
		for _, it := range d.Items {
			lst.Items = append(lst.Items, strings.TrimSpace(it))
		}
		rs.lists[id] = lst
		rs.listOrder = append(rs.listOrder, id)
		rs.listVals[id] = newFileList(lst.Items)
	}

	// Indicators.
	for _, id := range indOrder {
		d, en := indDocs[id], inds[id].en
		ind := &Indicator{ID: id, Name: d.Name, Category: d.Category, Description: d.Description,
			Feeds: d.Feeds, When: d.When, File: en.src.name, Builtin: en.src.builtin}
		ind.Line, _ = en.at("id")
		if ind.Name == "" {
			l.errf(en, "id", "indicator %s: name is required", id)
		}
		if !slices.Contains(Categories, d.Category) {
			l.errf(en, "category", "indicator %s: category %q is not one of %s", id, d.Category, strings.Join(Categories, ", "))
		}
		l.checkFeeds(en, "feeds", d.Feeds)
		ind.Thresholds = l.thresholds(en, d.Thresholds, DefaultThresholds)
		prg, ast := l.compileExpr(en, "when", d.When, true)
		if prg == nil {
			continue
		}
		r := &rule{ind: ind, prg: prg, order: len(rs.indOrder)}
		feeds, ops := analyse(ast)
		r.guards, r.exact = guards(ast)
		ind.Operations = ops
		r.feeds = intersectFeeds(d.Feeds, feeds)
		if ops != nil && len(ops) == 0 || r.feeds != nil && len(r.feeds) == 0 {
			l.errf(en, "when", "indicator %s can never match: its feed or operation conditions contradict each other or its feeds", id)
		}
		rs.indicators[id] = r
		rs.indOrder = append(rs.indOrder, id)
	}
	byCategory := map[string][]string{}
	for _, id := range rs.indOrder {
		c := rs.indicators[id].ind.Category
		byCategory[c] = append(byCategory[c], id)
	}

	// Sequences.
	for _, id := range seqOrder {
		d, en := seqDocs[id], seqs[id].en
		sq := &Sequence{ID: id, Name: d.Name, Category: d.Category, Description: d.Description,
			Steps: d.Steps, Link: d.Link, File: en.src.name, Builtin: en.src.builtin}
		sq.Line, _ = en.at("id")
		if sq.Name == "" {
			l.errf(en, "id", "sequence %s: name is required", id)
		}
		if sq.Category == "" {
			sq.Category = "exfiltration"
		} else if !slices.Contains(Categories, sq.Category) {
			l.errf(en, "category", "sequence %s: category %q is not one of %s", id, sq.Category, strings.Join(Categories, ", "))
		}
		if len(d.Steps) < 2 {
			l.errf(en, "steps", "sequence %s: needs at least two steps", id)
		}
		for _, st := range d.Steps {
			var set []string
			for _, alt := range strings.Split(st, "|") {
				alt = strings.TrimSpace(alt)
				if c, ok := strings.CutPrefix(alt, "@"); ok {
					if !slices.Contains(Categories, c) {
						l.errAt(en, "steps", "@"+c, "sequence %s: step %q: unknown category %q", id, st, c)
					} else if len(byCategory[c]) == 0 {
						l.errAt(en, "steps", "@"+c, "sequence %s: step %q: no indicator has category %q", id, st, c)
					}
					set = append(set, byCategory[c]...)
					continue
				}
				if _, ok := rs.indicators[alt]; !ok {
					if _, defined := inds[alt]; !defined {
						l.errAt(en, "steps", alt, "sequence %s: step %q: unknown indicator %q", id, st, alt)
					}
					continue
				}
				set = append(set, alt)
			}
			sq.StepSets = append(sq.StepSets, set)
		}
		if d.Within == "" {
			sq.Within = 7 * 24 * time.Hour
		} else if w, err := parseDuration(d.Within); err != nil {
			l.errf(en, "within", "sequence %s: within: %v", id, err)
		} else {
			sq.Within = w
		}
		switch sq.Link {
		case "":
			sq.Link = "file"
		case "file", "user":
		default:
			l.errf(en, "link", "sequence %s: link must be \"file\" or \"user\", not %q", id, sq.Link)
		}
		sq.Thresholds = l.thresholds(en, d.Thresholds, [3]int{1, 2, 3})
		rs.sequences[id] = sq
		rs.seqOrder = append(rs.seqOrder, id)
	}

	// Templates.
	for _, id := range tmplOrder {
		d, en := tmplDocs[id], tmpls[id].en
		t := &Template{ID: id, Name: d.Name, Category: d.Category, Description: d.Description,
			RequiredFeeds: d.RequiredFeeds, Indicators: d.Indicators, Sequences: d.Sequences,
			Cumulative: d.Cumulative, Priority: d.Priority, File: en.src.name, Builtin: en.src.builtin}
		t.Line, _ = en.at("id")
		if t.Name == "" {
			l.errf(en, "id", "template %s: name is required", id)
		}
		if !slices.Contains(TemplateCategories, d.Category) {
			l.errf(en, "category", "template %s: category %q is not one of %s", id, d.Category, strings.Join(TemplateCategories, ", "))
		}
		l.checkFeeds(en, "required_feeds", d.RequiredFeeds)
		for _, ii := range d.Indicators {
			if _, ok := inds[ii]; !ok {
				l.errAt(en, "indicators", strconv.Quote(ii), "template %s: unknown indicator %q", id, ii)
			}
		}
		for _, s := range d.Sequences {
			if _, ok := seqs[s]; !ok {
				l.errAt(en, "sequences", strconv.Quote(s), "template %s: unknown sequence %q", id, s)
			}
		}
		tr := &templateRule{t: t}
		var tblocks []*block
		if en.blk != nil {
			tblocks = en.ix.children(en.blk, "template.trigger")
		}
		if len(d.Trigger) == 0 {
			l.errf(en, "id", "template %s: needs at least one [[template.trigger]]", id)
		}
		seen := map[string]bool{}
		for i, td := range d.Trigger {
			// Triggers written inline (trigger = [{...}]) have no block of their own:
			// their problems point at the template.
			ten := entry{src: en.src, ix: en.ix, blk: en.blk}
			if i < len(tblocks) {
				ten.blk = tblocks[i]
			}
			if td.ID == "" || !idPattern.MatchString(td.ID) {
				l.errf(ten, "id", "template %s: trigger id %q: use lower-case letters, digits and _", id, td.ID)
			} else if seen[td.ID] {
				l.errf(ten, "id", "template %s: duplicate trigger id %q", id, td.ID)
			}
			seen[td.ID] = true
			trig := Trigger{ID: td.ID, Name: td.Name, When: td.When, Feeds: td.Feeds, Indicators: td.Indicators}
			if trig.Name == "" {
				l.errf(ten, "id", "template %s: trigger %s: name is required", id, td.ID)
			}
			l.checkFeeds(ten, "feeds", td.Feeds)
			if td.When == "" && len(td.Indicators) == 0 {
				l.errf(ten, "id", "template %s: trigger %s: needs when or indicators", id, td.ID)
			}
			if td.MinCount < 0 {
				l.errf(ten, "min_count", "template %s: trigger %s: min_count must be 0 or more", id, td.ID)
			}
			ct := compiledTrigger{}
			if len(td.Indicators) > 0 {
				trig.Thresholds = map[string]int{}
			}
			for _, ii := range td.Indicators {
				r, ok := rs.indicators[ii]
				if !ok {
					if _, defined := inds[ii]; !defined {
						l.errAt(ten, "indicators", strconv.Quote(ii), "template %s: trigger %s: unknown indicator %q", id, td.ID, ii)
					}
					continue
				}
				n := td.MinCount
				if n == 0 {
					n = r.ind.Thresholds[0]
				}
				trig.Thresholds[ii] = n
				ct.inds = append(ct.inds, r)
			}
			if td.When != "" {
				var ast *cel.Ast
				ct.prg, ast = l.compileExpr(ten, "when", td.When, false)
				if ct.prg == nil {
					ct.broken = true
				} else {
					var feeds []string
					feeds, ct.ops = analyse(ast)
					ct.guards, ct.exact = guards(ast)
					ct.feeds = intersectFeeds(td.Feeds, feeds)
					if len(td.Indicators) == 0 && (ct.ops != nil && len(ct.ops) == 0 || ct.feeds != nil && len(ct.feeds) == 0) {
						l.errf(ten, "when", "template %s: trigger %s can never fire: its feed or operation conditions contradict each other or its feeds", id, td.ID)
					}
				}
			}
			t.Triggers = append(t.Triggers, trig)
			tr.trig = append(tr.trig, ct)
		}
		rs.templates[id] = tr
		rs.tmplOrder = append(rs.tmplOrder, id)
	}

	// Tests: a built-in test no longer applies when a user file replaced its target or
	// anything the target uses (a list, a step's indicator).
	for _, pf := range files {
		for i, d := range pf.doc.Test {
			en := entry{pf.src, pf.ix, pf.ix.nth("test", i)}
			t := l.test(en, d)
			if t == nil {
				continue
			}
			if pf.src.builtin && l.dependsOnOverride(t, overridden) {
				continue
			}
			rs.tests = append(rs.tests, t)
		}
	}

	// Lists used by rules must exist (in a file or as a settings list).
	l.checkListRefs(files)

	if len(l.diags) > 0 {
		fileOrder := map[string]int{}
		for i, src := range srcs {
			fileOrder[src.name] = i
		}
		sort.SliceStable(l.diags, func(i, j int) bool {
			a, b := l.diags[i], l.diags[j]
			if a.File != b.File {
				return fileOrder[a.File] < fileOrder[b.File]
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, &LoadError{Diags: l.diags}
	}
	rs.buildIndex()
	return rs, nil
}

func (l *loader) checkKeys(pf *parsedFile, md toml.MetaData) {
	known := map[string]bool{"": true}
	for k := range allowedKeys {
		known[k] = true
	}
	for _, b := range pf.ix.blocks {
		en := entry{pf.src, pf.ix, b}
		if !known[b.header] {
			l.diags = append(l.diags, Diag{pf.src.name, b.line, 1, fmt.Sprintf("unknown table [[%s]] (want list, indicator, sequence, template, template.trigger or test)", b.header)})
			continue
		}
		if b.header == "" {
			for _, k := range b.order {
				l.errf(en, k, "unknown key %q outside any table", k)
			}
			continue
		}
		if !b.array {
			l.diags = append(l.diags, Diag{pf.src.name, b.line, 1, fmt.Sprintf("[%s] must be an array of tables: write [[%s]]", b.header, b.header)})
		}
		for _, k := range b.order {
			if !slices.Contains(allowedKeys[b.header], k) {
				l.errf(en, k, "unknown key %q in [[%s]] (allowed: %s)", k, b.header, strings.Join(allowedKeys[b.header], ", "))
			}
		}
	}
	// The scanner covers ordinary layouts; report anything else the decoder did not use.
	reported := map[string]bool{}
	for _, d := range l.diags {
		if d.File == pf.src.name {
			reported[d.Msg] = true
		}
	}
	for _, k := range md.Undecoded() {
		if len(k) >= 2 && (k[0] == "test" && (k[1] == "event" || k[1] == "events" || k[1] == "profile" || k[1] == "lists")) {
			continue
		}
		found := false
		for m := range reported {
			if strings.Contains(m, strconv.Quote(k[len(k)-1])) {
				found = true
			}
		}
		if !found {
			l.diags = append(l.diags, Diag{pf.src.name, 1, 1, fmt.Sprintf("unknown key %q", k.String())})
		}
	}
}

func (l *loader) checkFeeds(en entry, key string, feeds []string) {
	for _, f := range feeds {
		if !slices.Contains(event.Feeds, f) {
			l.errf(en, key, "unknown feed %q (feeds: %s)", f, strings.Join(event.Feeds, ", "))
		}
	}
}

func (l *loader) thresholds(en entry, v []int, def [3]int) [3]int {
	if v == nil {
		return def
	}
	if len(v) != 3 {
		l.errf(en, "thresholds", "thresholds must be three numbers [low, medium, high]")
		return def
	}
	if v[0] < 1 || v[1] < v[0] || v[2] < v[1] {
		l.errf(en, "thresholds", "thresholds must be at least 1 and not decreasing, got %v", v)
	}
	return [3]int{v[0], v[1], v[2]}
}

// compileExpr compiles a CEL string value; CEL errors point into the file.
func (l *loader) compileExpr(en entry, key, src string, required bool) (cel.Program, *cel.Ast) {
	if strings.TrimSpace(src) == "" {
		if required {
			l.errf(en, key, "%s is required", key)
		}
		return nil, nil
	}
	ast, iss := l.rs.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			line, col := l.exprPos(en, key, src, e.Location.Line(), e.Location.Column())
			msg := e.Message
			l.diags = append(l.diags, Diag{en.src.name, line, col, msg})
		}
		return nil, nil
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		l.errf(en, key, "%s must be a bool expression, but it is %s", key, ast.OutputType())
		return nil, nil
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	// Runtime cost tracking is not free (it roughly doubles the cost of a simple rule), so
	// only expressions whose static worst case exceeds the limit get it: those that
	// iterate over lists of unknown size.
	if est, err := l.rs.env.EstimateCost(ast, sizeEstimator{}); err != nil || est.Max > CostLimit {
		opts = append(opts, cel.CostLimit(CostLimit))
	}
	prg, err := l.rs.env.Program(ast, opts...)
	if err != nil {
		l.errf(en, key, "%s: %v", key, err)
		return nil, nil
	}
	return prg, ast
}

// sizeEstimator gives the static cost estimate realistic bounds: strings of at most
// 64 KiB and lists of at most maxListEstimate elements (an email has at most a few
// hundred recipients). A single pass over a list then stays under the limit and runs
// without runtime cost tracking; nested comprehensions (the runaway kind) do not.
type sizeEstimator struct{}

const maxListEstimate = 10_000

func (sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.Type() == nil {
		return nil
	}
	switch n.Type().Kind() {
	case types.StringKind:
		return &cost.SizeEstimate{Min: 0, Max: 1 << 16}
	case types.ListKind:
		return &cost.SizeEstimate{Min: 0, Max: maxListEstimate}
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

// exprPos maps a CEL location (1-based line, 0-based column in runes) inside the string
// value of key to a file line and column.
func (l *loader) exprPos(en entry, key, src string, line, col int) (int, int) {
	if en.blk == nil {
		return en.at(key)
	}
	kp, ok := en.blk.keys[key]
	if !ok {
		return en.at(key)
	}
	offs, _ := decodeString(en.ix.text, kp.valueOff)
	if offs == nil {
		return kp.line, kp.col
	}
	// Byte offset inside src of (line, col).
	b := 0
	for ln := 1; ln < line && b < len(src); b++ {
		if src[b] == '\n' {
			ln++
		}
	}
	for c := 0; c < col && b < len(src); c++ {
		_, size := utf8.DecodeRuneInString(src[b:])
		b += size
	}
	if b >= len(offs) {
		b = len(offs) - 1
	}
	return en.ix.pos(offs[b])
}

// test decodes one [[test]].
func (l *loader) test(en entry, d testDoc) *Test {
	t := &Test{Name: d.Name, Indicator: d.Indicator, Sequence: d.Sequence, Template: d.Template, Trigger: d.Trigger, Lists: d.Lists, File: en.src.name}
	t.Line = 1
	if en.blk != nil {
		t.Line = en.blk.line
	}
	n := 0
	for _, s := range []string{d.Indicator, d.Sequence, d.Template} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		l.errf(en, "name", "test needs exactly one of indicator, sequence or template (with trigger)")
		return nil
	}
	if d.Expect == nil {
		l.errf(en, "name", "test needs expect = true or false")
		return nil
	}
	t.Expect = *d.Expect
	defFeed := event.FeedAudit
	ok := true
	switch {
	case d.Indicator != "":
		r, found := l.rs.indicators[d.Indicator]
		if !found {
			l.errf(en, "indicator", "test: unknown indicator %q", d.Indicator)
			ok = false
		} else if len(r.ind.Feeds) > 0 {
			defFeed = r.ind.Feeds[0]
		}
		if d.Event == nil || d.Events != nil {
			l.errf(en, "indicator", "indicator test needs event = { ... } (not events)")
			ok = false
		}
	case d.Sequence != "":
		if _, found := l.rs.sequences[d.Sequence]; !found {
			l.errf(en, "sequence", "test: unknown sequence %q", d.Sequence)
			ok = false
		}
		if len(d.Events) == 0 || d.Event != nil {
			l.errf(en, "sequence", "sequence test needs events = [ {...}, ... ] (not event)")
			ok = false
		}
	default:
		tr, found := l.rs.templates[d.Template]
		if !found {
			l.errf(en, "template", "test: unknown template %q", d.Template)
			ok = false
		} else {
			idx := slices.IndexFunc(tr.t.Triggers, func(x Trigger) bool { return x.ID == d.Trigger })
			if idx < 0 {
				l.errf(en, "trigger", "test: template %s has no trigger %q", d.Template, d.Trigger)
				ok = false
			} else if f := tr.t.Triggers[idx].Feeds; len(f) > 0 {
				defFeed = f[0]
			}
		}
		if d.Event == nil || d.Events != nil {
			l.errf(en, "template", "trigger test needs event = { ... } (not events)")
			ok = false
		}
	}
	if !ok {
		return nil
	}
	evs := d.Events
	key := "events"
	if d.Event != nil {
		evs = []map[string]any{d.Event}
		key = "event"
	}
	for i, m := range evs {
		ev, err := decodeTestEvent(m, defFeed, i)
		if err != nil {
			l.errf(en, key, "test event %d: %v", i+1, err)
			return nil
		}
		t.Events = append(t.Events, ev)
	}
	if d.Profile != nil {
		var p struct {
			event.Profile
			PriorityGroups []string `json:"priority_groups"`
		}
		if err := strictJSON(d.Profile, &p); err != nil {
			l.errf(en, "profile", "test profile: %v", err)
			return nil
		}
		prof := p.Profile
		t.Profile = &prof
		t.PriorityGroups = p.PriorityGroups
	}
	return t
}

// TestUser is the user of test events that name none.
const TestUser = "test.user@contoso.com"

var testTime = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func decodeTestEvent(m map[string]any, defFeed string, i int) (*event.Event, error) {
	ev := &event.Event{}
	if err := strictJSON(m, ev); err != nil {
		return nil, err
	}
	if ev.Feed == "" {
		ev.Feed = defFeed
	}
	if !slices.Contains(event.Feeds, ev.Feed) {
		return nil, fmt.Errorf("unknown feed %q", ev.Feed)
	}
	if ev.Time.IsZero() {
		ev.Time = testTime.Add(time.Duration(i) * time.Minute)
	}
	ev.Time = ev.Time.UTC()
	if ev.User == "" {
		ev.User = TestUser
	}
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("test-%d", i+1)
	}
	if ev.FileExt == "" && ev.FileName != "" {
		if k := strings.LastIndexByte(ev.FileName, '.'); k > 0 {
			ev.FileExt = strings.ToLower(ev.FileName[k+1:])
		}
	}
	if ev.Feed == event.FeedHR && ev.HR == nil {
		ev.HR = &event.HR{}
	}
	if ev.HR != nil {
		if ev.HR.Scenario == "" {
			ev.HR.Scenario = ev.Operation
		}
		if ev.HR.EffectiveDate.IsZero() {
			ev.HR.EffectiveDate = ev.Time
		}
	}
	return ev, nil
}

// strictJSON converts a decoded TOML table to a struct by its JSON names, rejecting
// unknown fields.
func strictJSON(m map[string]any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

var listRef = regexp.MustCompile(`\blists\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|\blists\s*\[\s*["']([^"']+)["']\s*\]`)

// checkListRefs reports lists.<name> references to lists that no file defines and that
// are not settings lists, since those always read as empty: almost surely a typo.
func (l *loader) checkListRefs(files []*parsedFile) {
	for _, pf := range files {
		check := func(blk *block, key, src string) {
			for _, m := range listRef.FindAllStringSubmatchIndex(src, -1) {
				name := ""
				if m[2] >= 0 {
					name = src[m[2]:m[3]]
				} else {
					name = src[m[4]:m[5]]
				}
				if _, ok := l.rs.lists[name]; ok || slices.Contains(SettingsLists, name) {
					continue
				}
				en := entry{pf.src, pf.ix, blk}
				line, col := en.at(key)
				if blk != nil {
					if kp, ok := blk.keys[key]; ok {
						if offs, _ := decodeString(pf.ix.text, kp.valueOff); offs != nil && m[0] < len(offs) {
							line, col = pf.ix.pos(offs[m[0]])
						}
					}
				}
				l.diags = append(l.diags, Diag{pf.src.name, line, col, fmt.Sprintf("unknown list %q (define it with [[list]] or use a settings list: %s)", name, strings.Join(SettingsLists, ", "))})
			}
		}
		for i, d := range pf.doc.Indicator {
			check(pf.ix.nth("indicator", i), "when", d.When)
		}
		for i, d := range pf.doc.Template {
			tb := pf.ix.nth("template", i)
			var kids []*block
			if tb != nil {
				kids = pf.ix.children(tb, "template.trigger")
			}
			for j, td := range d.Trigger {
				var b *block
				if j < len(kids) {
					b = kids[j]
				}
				check(b, "when", td.When)
			}
		}
	}
}

// dependsOnOverride reports whether a test's target, or an indicator or list it uses,
// was replaced by a user file.
func (l *loader) dependsOnOverride(t *Test, overridden map[string]bool) bool {
	usesOverride := func(when string) bool {
		for _, m := range listRef.FindAllStringSubmatch(when, -1) {
			if overridden["list:"+m[1]] || overridden["list:"+m[2]] {
				return true
			}
		}
		return false
	}
	indicator := func(id string) bool {
		if overridden["indicator:"+id] {
			return true
		}
		r, ok := l.rs.indicators[id]
		return ok && usesOverride(r.ind.When)
	}
	switch {
	case t.Indicator != "":
		return indicator(t.Indicator)
	case t.Sequence != "":
		if overridden["sequence:"+t.Sequence] {
			return true
		}
		for _, set := range l.rs.sequences[t.Sequence].StepSets {
			for _, id := range set {
				if indicator(id) {
					return true
				}
			}
		}
		return false
	}
	if overridden["template:"+t.Template] {
		return true
	}
	for _, tr := range l.rs.templates[t.Template].t.Triggers {
		if tr.ID != t.Trigger {
			continue
		}
		if usesOverride(tr.When) {
			return true
		}
		for _, id := range tr.Indicators {
			if indicator(id) {
				return true
			}
		}
	}
	return false
}

// parseDuration accepts Go durations plus days ("7d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("bad duration %q (use e.g. 7d, 36h, 90m)", s)
		}
		total = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return total, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (use e.g. 7d, 36h, 90m)", s)
	}
	if total+d <= 0 {
		return 0, fmt.Errorf("duration must be positive")
	}
	return total + d, nil
}
