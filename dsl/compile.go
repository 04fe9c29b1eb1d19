package dsl

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"github.com/BurntSushi/toml"

	"irm/event"
)

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

// loader holds the state of one compile: the set being built, the problems found, and
// the entries of each kind by id.
type loader struct {
	opt   Options
	diags []Diag
	rs    *RuleSet

	lists      *claimed[listDoc]
	inds       *claimed[indicatorDoc]
	seqs       *claimed[sequenceDoc]
	tmpls      *claimed[templateDoc]
	overridden map[string]bool // "indicator:x" etc. whose built-in a user file replaced
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

// claimed collects the entries of one kind ("list", "indicator", ...) by id, in the
// order they were first defined; a user file's entry replaces a built-in one in place.
type claimed[D any] struct {
	kind  string
	order []string
	en    map[string]entry
	docs  map[string]D
}

func newClaimed[D any](kind string) *claimed[D] {
	return &claimed[D]{kind: kind, en: map[string]entry{}, docs: map[string]D{}}
}

func (c *claimed[D]) has(id string) bool { _, ok := c.en[id]; return ok }

// claim records the entry for id unless the id is missing, malformed or a duplicate
// (an error); a user file's entry replaces a built-in and is remembered in
// l.overridden.
func claim[D any](l *loader, c *claimed[D], id string, en entry, d D) {
	if id == "" {
		l.errf(en, "id", "%s without id", c.kind)
		return
	}
	if !idPattern.MatchString(id) {
		l.errf(en, "id", "%s id %q: use lower-case letters, digits and _ (starting with a letter)", c.kind, id)
		return
	}
	if have, ok := c.en[id]; ok {
		if have.src.builtin && !en.src.builtin {
			c.en[id], c.docs[id] = en, d
			l.overridden[c.kind+":"+id] = true
			o := Override{Kind: c.kind, ID: id, File: en.src.name, BuiltinFile: have.src.name}
			o.Line, _ = en.at("id")
			o.BuiltinLine, _ = have.at("id")
			l.rs.overrides = append(l.rs.overrides, o)
			return
		}
		hl, _ := have.at("id")
		l.errf(en, "id", "duplicate %s id %q (first defined at %s:%d)", c.kind, id, have.src.name, hl)
		return
	}
	c.en[id], c.docs[id] = en, d
	c.order = append(c.order, id)
}

// compile builds a RuleSet from rule file texts (built-ins first), or returns every
// problem found as a *LoadError.
func compile(srcs []source, opt Options) (*RuleSet, error) {
	if opt.OrgTimezone == "" {
		opt.OrgTimezone = "UTC"
	}
	if _, err := zone(opt.OrgTimezone); err != nil {
		return nil, fmt.Errorf("rules: org timezone %q: %w", opt.OrgTimezone, err)
	}
	org := newDomainSet(opt.OrgDomains)
	env, err := newEnv(org, opt.OrgTimezone)
	if err != nil {
		return nil, fmt.Errorf("rules: CEL environment: %w", err)
	}
	rs := &RuleSet{opt: opt, env: env, lists: map[string]*List{}, listVals: map[string]ref.Val{},
		indicators: map[string]*rule{}, sequences: map[string]*Sequence{}, templates: map[string]*templateRule{}}
	l := &loader{opt: opt, rs: rs, overridden: map[string]bool{},
		lists: newClaimed[listDoc]("list"), inds: newClaimed[indicatorDoc]("indicator"),
		seqs: newClaimed[sequenceDoc]("sequence"), tmpls: newClaimed[templateDoc]("template")}

	files := l.parse(srcs)
	// Collect every entry by id first (user files override built-ins), so that
	// references between entries resolve whatever the file order.
	for _, pf := range files {
		for i, d := range pf.doc.List {
			claim(l, l.lists, d.ID, entry{pf.src, pf.ix, pf.ix.nth("list", i)}, d)
		}
		for i, d := range pf.doc.Indicator {
			claim(l, l.inds, d.ID, entry{pf.src, pf.ix, pf.ix.nth("indicator", i)}, d)
		}
		for i, d := range pf.doc.Sequence {
			claim(l, l.seqs, d.ID, entry{pf.src, pf.ix, pf.ix.nth("sequence", i)}, d)
		}
		for i, d := range pf.doc.Template {
			claim(l, l.tmpls, d.ID, entry{pf.src, pf.ix, pf.ix.nth("template", i)}, d)
		}
	}
	l.compileLists()
	l.compileIndicators()
	l.compileSequences()
	l.compileTemplates()
	l.compileTests(files)
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
	rs.srcs = srcs
	rs.buildIndex()
	return rs, nil
}

// parse decodes every source; a file that is not valid TOML is reported and skipped.
func (l *loader) parse(srcs []source) []*parsedFile {
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
		l.rs.files = append(l.rs.files, src.name)
	}
	return files
}

func (l *loader) compileLists() {
	rs := l.rs
	for _, id := range l.lists.order {
		d, en := l.lists.docs[id], l.lists.en[id]
		lst := &List{ID: id, Name: d.Name, Description: d.Description, File: en.src.name}
		lst.Line, _ = en.at("id")
		for _, it := range d.Items {
			lst.Items = append(lst.Items, strings.TrimSpace(it))
		}
		rs.lists[id] = lst
		rs.listOrder = append(rs.listOrder, id)
		rs.listVals[id] = newFileList(lst.Items)
	}
}

func (l *loader) compileIndicators() {
	rs := l.rs
	for _, id := range l.inds.order {
		d, en := l.inds.docs[id], l.inds.en[id]
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
		if d.FirstSeen != nil {
			ind.FirstSeen = l.firstSeen(en, id, d.FirstSeen)
		} else if _, written := en.blk.keyOf("first_seen"); written {
			// The decoder leaves the map nil for a value that is not a table.
			l.errf(en, "first_seen", "indicator %s: first_seen must be a table, e.g. first_seen = { key = 'event.device', days = 30 }", id)
		}
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
}

func (l *loader) compileSequences() {
	rs := l.rs
	byCategory := map[string][]string{}
	for _, id := range rs.indOrder {
		c := rs.indicators[id].ind.Category
		byCategory[c] = append(byCategory[c], id)
	}
	for _, id := range l.seqs.order {
		d, en := l.seqs.docs[id], l.seqs.en[id]
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
					if !l.inds.has(alt) {
						l.errAt(en, "steps", alt, "sequence %s: step %q: unknown indicator %q", id, st, alt)
					}
					continue
				}
				set = append(set, alt)
			}
			ixs := make([]int, len(set))
			for i, ind := range set {
				ixs[i] = rs.indicators[ind].order
			}
			sq.StepSets = append(sq.StepSets, set)
			sq.StepIx = append(sq.StepIx, ixs)
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
}

func (l *loader) compileTemplates() {
	rs := l.rs
	for _, id := range l.tmpls.order {
		d, en := l.tmpls.docs[id], l.tmpls.en[id]
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
			if !l.inds.has(ii) {
				l.errAt(en, "indicators", strconv.Quote(ii), "template %s: unknown indicator %q", id, ii)
			}
		}
		for _, s := range d.Sequences {
			if !l.seqs.has(s) {
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
			trig, ct := l.compileTrigger(id, ten, td, seen)
			t.Triggers = append(t.Triggers, trig)
			tr.trig = append(tr.trig, ct)
		}
		rs.templates[id] = tr
		rs.tmplOrder = append(rs.tmplOrder, id)
	}
}

// compileTrigger compiles one [[template.trigger]] of template id.
func (l *loader) compileTrigger(id string, ten entry, td triggerDoc, seen map[string]bool) (Trigger, compiledTrigger) {
	rs := l.rs
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
			if !l.inds.has(ii) {
				l.errAt(ten, "indicators", strconv.Quote(ii), "template %s: trigger %s: unknown indicator %q", id, td.ID, ii)
			}
			continue
		}
		// By default a count trigger needs the indicator's medium threshold: its low
		// one is reached on ordinary days by many people (a few USB copies, three mails
		// with attachments to a customer), and a trigger opens a scope of months.
		n := td.MinCount
		if n == 0 {
			n = r.ind.Thresholds[2]
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
	return trig, ct
}

// compileTests decodes the [[test]]s. A built-in test no longer applies when a user
// file replaced its target or anything the target uses (a list, a step's indicator).
func (l *loader) compileTests(files []*parsedFile) {
	for _, pf := range files {
		for i, d := range pf.doc.Test {
			en := entry{pf.src, pf.ix, pf.ix.nth("test", i)}
			t := l.test(en, d)
			if t == nil {
				continue
			}
			if pf.src.builtin && l.dependsOnOverride(t, l.overridden) {
				continue
			}
			l.rs.tests = append(l.rs.tests, t)
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

// compileExpr compiles a CEL condition (a string value of type bool); CEL errors point
// into the file.
func (l *loader) compileExpr(en entry, key, src string, required bool) (cel.Program, *cel.Ast) {
	if strings.TrimSpace(src) == "" {
		if required {
			l.errf(en, key, "%s is required", key)
		}
		return nil, nil
	}
	return l.compileTyped(en, key, key, src, cel.BoolType)
}

// compileTyped compiles the CEL expression src, the string value of key, which must be
// of type want; label names it in messages.
func (l *loader) compileTyped(en entry, key, label, src string, want *cel.Type) (cel.Program, *cel.Ast) {
	ast, iss := l.rs.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			line, col := l.exprPos(en, key, src, e.Location.Line(), e.Location.Column())
			msg := e.Message
			l.diags = append(l.diags, Diag{en.src.name, line, col, msg})
		}
		return nil, nil
	}
	if !ast.OutputType().IsExactType(want) {
		l.errf(en, key, "%s must be a %s expression, but it is %s", label, want, ast.OutputType())
		return nil, nil
	}
	prg, err := l.rs.env.Program(ast, programOptions(l.rs.env, ast)...)
	if err != nil {
		l.errf(en, key, "%s: %v", label, err)
		return nil, nil
	}
	return prg, ast
}

// firstSeen compiles the first_seen table m of indicator id (inline, or written as
// [indicator.first_seen]); problems point at its keys.
func (l *loader) firstSeen(en entry, id string, m map[string]any) *FirstSeen {
	fen := en
	if b := en.ix.subTable(en.blk, "first_seen"); b != nil {
		fen.blk = b
	}
	fs := &FirstSeen{Days: FirstSeenDefaultDays, MinActiveDays: -1}
	whole := func(k string) (int, bool) {
		n, ok := m[k].(int64)
		if !ok {
			l.errf(fen, k, "indicator %s: first_seen.%s must be a whole number, not %v", id, k, m[k])
			return 0, false
		}
		return int(n), true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "key":
			s, ok := m[k].(string)
			if !ok {
				l.errf(fen, k, "indicator %s: first_seen.key must be a CEL expression in a string, e.g. key = 'event.device'", id)
				continue
			}
			fs.Key = strings.TrimSpace(s)
		case "days":
			if n, ok := whole(k); ok {
				if n < 1 || n > FirstSeenMaxDays {
					l.errf(fen, k, "indicator %s: first_seen.days must be 1 to %d, not %d", id, FirstSeenMaxDays, n)
				} else {
					fs.Days = n
				}
			}
		case "min_active_days": // after days: the keys are sorted
			if n, ok := whole(k); ok {
				if n < 0 || n > fs.Days {
					l.errf(fen, k, "indicator %s: first_seen.min_active_days must be 0 to days (%d), not %d", id, fs.Days, n)
				} else {
					fs.MinActiveDays = n
				}
			}
		default:
			l.errf(fen, k, "indicator %s: first_seen: unknown key %q (allowed: %s)", id, k, strings.Join(firstSeenKeys, ", "))
		}
	}
	if fs.MinActiveDays < 0 {
		fs.MinActiveDays = min(FirstSeenDefaultMinActiveDays, fs.Days)
	}
	if fs.Key != "" {
		// The expression as written, so that positions map back into the file.
		src, _ := m["key"].(string)
		fs.prg, _ = l.compileTyped(fen, "key", "first_seen.key", src, cel.StringType)
	}
	return fs
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
			blk := pf.ix.nth("indicator", i)
			check(blk, "when", d.When)
			if key, ok := d.FirstSeen["key"].(string); ok {
				check(pf.ix.subTable(blk, "first_seen"), "key", key)
			}
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
		return ok && (usesOverride(r.ind.When) || r.ind.FirstSeen != nil && usesOverride(r.ind.FirstSeen.Key))
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
