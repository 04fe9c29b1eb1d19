package dsl

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"irm/event"
)

// Input is what rules see: the event, the user's profile, the priority user groups the
// user belongs to (resolved by the engine from settings; user.priority_groups), and lists
// from settings (e.g. "unallowed_domains", "third_party_domains", "priority_assets")
// passed per call so that settings changes need no recompile. A settings list replaces
// a rule-file list with the same id.
type Input struct {
	Event          *event.Event
	User           *event.Profile
	PriorityGroups []string
	Lists          map[string][]string
}

// RuleSet is a compiled set of rules. It is immutable once built and safe for
// concurrent use.
type RuleSet struct {
	opt   Options
	env   *cel.Env
	files []string
	srcs  []source // the rule files, for RunTests to compile variants (org time zone)

	lists     map[string]*List
	listVals  map[string]ref.Val
	listOrder []string

	indicators map[string]*rule
	indOrder   []string
	sequences  map[string]*Sequence
	seqOrder   []string
	templates  map[string]*templateRule
	tmplOrder  []string
	tests      []*Test
	overrides  []Override // built-in entries a user file replaced

	// index: feed -> operation -> candidate rules (operation-specific plus
	// operation-agnostic ones, in catalog order); anyOp holds the agnostic ones alone.
	byOp  map[string]map[string]candidates
	anyOp map[string][]*rule
	// opVals holds every operation a condition tests for, as a CEL value.
	opVals map[string]ref.Val
}

// candidates are the rules for one feed and operation, with the operation already as a
// CEL value (seeded into the evaluation's field cache: one conversion less per event).
type candidates struct {
	rules []*rule
	op    ref.Val
}

// opField is the index of event.operation in the event view's cache.
var opField = slices.IndexFunc(eventStruct.order, func(f field) bool { return f.name == "operation" })

// rule is a compiled indicator.
type rule struct {
	ind   *Indicator
	prg   cel.Program
	feeds []string // nil = all feeds
	order int
	// guards are conjuncts checked natively before prg runs; exact: the condition is
	// their conjunction, so prg never needs to run (guard.go).
	guards []guard
	exact  bool

	errors  atomic.Uint64
	lastErr atomic.Pointer[string]
}

type compiledTrigger struct {
	prg    cel.Program // nil: no when condition
	feeds  []string    // from the declared feeds and the condition; nil = any
	ops    []string    // operations the condition can be true for; nil = any
	inds   []*rule
	broken bool
	guards []guard // as rule.guards, for the when condition
	exact  bool
}

type templateRule struct {
	t    *Template
	trig []compiledTrigger
}

// Indicators returns every indicator in catalog order (built-ins by file, then user files).
func (rs *RuleSet) Indicators() []*Indicator {
	out := make([]*Indicator, len(rs.indOrder))
	for i, id := range rs.indOrder {
		out[i] = rs.indicators[id].ind
	}
	return out
}

// Indicator returns the indicator with the id, or nil.
func (rs *RuleSet) Indicator(id string) *Indicator {
	if r, ok := rs.indicators[id]; ok {
		return r.ind
	}
	return nil
}

// IndicatorIndex returns the position of the indicator in Indicators() (catalog order,
// 0 to len-1), stable for the life of the RuleSet: the compact indicator reference of
// Sequence.StepIx and SequenceTracker.Step.
func (rs *RuleSet) IndicatorIndex(id string) (int, bool) {
	if r, ok := rs.indicators[id]; ok {
		return r.order, true
	}
	return 0, false
}

// Sequences returns every sequence in catalog order.
func (rs *RuleSet) Sequences() []*Sequence {
	out := make([]*Sequence, len(rs.seqOrder))
	for i, id := range rs.seqOrder {
		out[i] = rs.sequences[id]
	}
	return out
}

// Sequence returns the sequence with the id, or nil.
func (rs *RuleSet) Sequence(id string) *Sequence { return rs.sequences[id] }

// Templates returns every template in catalog order.
func (rs *RuleSet) Templates() []*Template {
	out := make([]*Template, len(rs.tmplOrder))
	for i, id := range rs.tmplOrder {
		out[i] = rs.templates[id].t
	}
	return out
}

// Template returns the template with the id, or nil.
func (rs *RuleSet) Template(id string) *Template {
	if t, ok := rs.templates[id]; ok {
		return t.t
	}
	return nil
}

// List returns the items of the rule-file list with the id (nil if none).
func (rs *RuleSet) List(id string) []string {
	if l, ok := rs.lists[id]; ok {
		return l.Items
	}
	return nil
}

// Lists returns every rule-file list in catalog order.
func (rs *RuleSet) Lists() []*List {
	out := make([]*List, len(rs.listOrder))
	for i, id := range rs.listOrder {
		out[i] = rs.lists[id]
	}
	return out
}

// Tests returns the [[test]] cases that apply to this set.
func (rs *RuleSet) Tests() []*Test { return rs.tests }

// Files returns the rule files the set was built from.
func (rs *RuleSet) Files() []string { return rs.files }

// RuleHealth is the evaluation health of one indicator.
type RuleHealth struct {
	ID        string
	Errors    uint64 // evaluations that failed (treated as no match)
	LastError string
}

// Health returns the indicators whose evaluation has failed at least once.
func (rs *RuleSet) Health() []RuleHealth {
	var out []RuleHealth
	for _, id := range rs.indOrder {
		r := rs.indicators[id]
		if n := r.errors.Load(); n > 0 {
			h := RuleHealth{ID: id, Errors: n}
			if p := r.lastErr.Load(); p != nil {
				h.LastError = *p
			}
			out = append(out, h)
		}
	}
	return out
}

var actPool = sync.Pool{New: func() any { return new(activation) }}

func (rs *RuleSet) activation(in *Input) *activation {
	a := actPool.Get().(*activation)
	a.view.ev = in.Event
	a.view.hr.h = in.Event.HR
	a.view.hrObj = object{typ: hrType, v: &a.view.hr}
	a.ev = object{typ: eventType, v: &a.view}
	a.u.p, a.u.groups = in.User, in.PriorityGroups
	a.user = object{typ: userType, v: &a.u}
	a.lists = listsVal{input: in.Lists, files: rs.listVals}
	return a
}

// lazyActivation builds an input's activation on the first CEL evaluation only: most
// rules are decided by their native guards and never need one. op, when not nil, is the
// event's operation as a CEL value, put in the view's cache.
type lazyActivation struct {
	rs *RuleSet
	in *Input
	op ref.Val
	a  *activation
}

func (l *lazyActivation) get() *activation {
	if l.a == nil {
		l.a = l.rs.activation(l.in)
		if l.op != nil {
			*l.a.view.slot(opField) = l.op
		}
	}
	return l.a
}

// release returns the activation, if one was built, to the pool.
func (l *lazyActivation) release() {
	if l.a != nil {
		release(l.a)
		l.a = nil
	}
}

// release clears the activation (so the pool holds no references to the input) and
// returns it to the pool.
func release(a *activation) {
	resetCache(&a.view.used, &a.view.cache)
	resetCache(&a.view.hr.used, &a.view.hr.cache)
	resetCache(&a.u.used, &a.u.cache)
	a.view.ev, a.view.hr.h, a.u.p, a.u.groups = nil, nil, nil, nil
	a.ev, a.user, a.view.hrObj = object{}, object{}, object{}
	a.lists = listsVal{}
	actPool.Put(a)
}

// eval runs one compiled condition; an evaluation error counts as false.
func (r *rule) eval(a *activation) bool {
	out, _, err := r.prg.Eval(a)
	if err != nil {
		r.fail(err.Error())
		return false
	}
	return out == types.True
}

// fail records an evaluation error of the indicator (Health).
func (r *rule) fail(msg string) {
	r.errors.Add(1)
	r.lastErr.Store(&msg)
}

// candidates returns the indicators that can match an event of this feed and operation.
func (rs *RuleSet) candidates(feed, op string) candidates {
	if c, ok := rs.byOp[feed][op]; ok {
		return c
	}
	return candidates{rules: rs.anyOp[feed]}
}

// Match returns the ids of the indicators whose condition is true for the input, in
// catalog order. Only candidates by feed and operation are evaluated.
func (rs *RuleSet) Match(in *Input) []string {
	if in == nil || in.Event == nil {
		return nil
	}
	cands := rs.candidates(in.Event.Feed, in.Event.Operation)
	if len(cands.rules) == 0 {
		return nil
	}
	return rs.match(in, cands, nil)
}

// MatchAppend is Match appending the ids to dst (which may be reused across events:
// the ids are the rule set's own strings).
func (rs *RuleSet) MatchAppend(dst []string, in *Input) []string {
	if in == nil || in.Event == nil {
		return dst
	}
	cands := rs.candidates(in.Event.Feed, in.Event.Operation)
	if len(cands.rules) == 0 {
		return dst
	}
	return rs.match(in, cands, dst)
}

// MayTrigger reports whether a trigger of the template that is not a count trigger
// can fire on an event of this feed and operation, judging by the trigger's feeds and
// the operations its condition tests (MatchTriggers decides for a given event).
func (rs *RuleSet) MayTrigger(templateID, feed, op string) bool {
	tr, ok := rs.templates[templateID]
	if !ok {
		return false
	}
	for i := range tr.t.Triggers {
		t := &tr.t.Triggers[i]
		ct := tr.trig[i]
		if len(t.Indicators) > 0 || ct.broken || (len(t.Feeds) > 0 && !slices.Contains(t.Feeds, feed)) ||
			(ct.feeds != nil && !slices.Contains(ct.feeds, feed)) || (ct.ops != nil && !slices.Contains(ct.ops, op)) {
			continue
		}
		return true
	}
	return false
}

// match evaluates the candidates and appends the ids of those that match to out.
func (rs *RuleSet) match(in *Input, cands candidates, out []string) []string {
	c := guardCtx{in: in, rs: rs}
	act := lazyActivation{rs: rs, in: in, op: cands.op}
	for _, r := range cands.rules {
		if r.decide(&c, act.get) {
			out = append(out, r.ind.ID)
		}
	}
	act.release()
	return out
}

// MatchTriggers returns the triggers of the template that fire on this input: a trigger
// fires when its feeds include the event's, its `when` (if any) is true and, for a count
// trigger (Indicators set), the event matches one of its indicators — the engine then
// compares the user's daily count with Trigger.Thresholds.
func (rs *RuleSet) MatchTriggers(templateID string, in *Input) []*Trigger {
	tr, ok := rs.templates[templateID]
	if !ok || in == nil || in.Event == nil {
		return nil
	}
	act := lazyActivation{rs: rs, in: in, op: rs.opVals[in.Event.Operation]}
	c := guardCtx{in: in, rs: rs}
	var out []*Trigger
	for i := range tr.t.Triggers {
		t := &tr.t.Triggers[i]
		ct := tr.trig[i]
		if ct.broken || (len(t.Feeds) > 0 && !slices.Contains(t.Feeds, in.Event.Feed)) ||
			(ct.feeds != nil && !slices.Contains(ct.feeds, in.Event.Feed)) ||
			(ct.ops != nil && !slices.Contains(ct.ops, in.Event.Operation)) {
			continue
		}
		if ct.prg != nil {
			r := rule{prg: ct.prg, guards: ct.guards, exact: ct.exact}
			if !r.decide(&c, act.get) {
				continue
			}
		}
		if len(ct.inds) > 0 {
			hit := false
			for _, r := range ct.inds {
				if r.applies(in.Event) && r.decide(&c, act.get) {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
		}
		out = append(out, t)
	}
	act.release()
	return out
}

// applies reports whether the index would consider the rule for this event.
func (r *rule) applies(ev *event.Event) bool {
	if r.feeds != nil && !slices.Contains(r.feeds, ev.Feed) {
		return false
	}
	return r.ind.Operations == nil || slices.Contains(r.ind.Operations, ev.Operation)
}

func (rs *RuleSet) buildIndex() {
	rs.byOp = map[string]map[string]candidates{}
	rs.opVals = map[string]ref.Val{}
	for _, tr := range rs.templates {
		for _, ct := range tr.trig {
			for _, op := range ct.ops {
				rs.opVals[op] = types.String(op)
			}
		}
	}
	rs.anyOp = map[string][]*rule{}
	for _, feed := range event.Feeds {
		ops := map[string]bool{}
		var specific, any []*rule
		for _, id := range rs.indOrder {
			r := rs.indicators[id]
			if r.feeds != nil && !slices.Contains(r.feeds, feed) {
				continue
			}
			if r.ind.Operations == nil {
				any = append(any, r)
				continue
			}
			specific = append(specific, r)
			for _, op := range r.ind.Operations {
				ops[op] = true
			}
		}
		rs.anyOp[feed] = any
		m := map[string]candidates{}
		for op := range ops {
			var rules []*rule
			for _, r := range specific {
				if slices.Contains(r.ind.Operations, op) {
					rules = append(rules, r)
				}
			}
			rules = append(rules, any...)
			sort.SliceStable(rules, func(i, j int) bool { return rules[i].order < rules[j].order })
			if rs.opVals[op] == nil {
				rs.opVals[op] = types.String(op)
			}
			m[op] = candidates{rules: rules, op: rs.opVals[op]}
		}
		rs.byOp[feed] = m
	}
}

func intersectFeeds(declared, derived []string) []string {
	switch {
	case len(declared) == 0:
		return derived
	case derived == nil:
		return declared
	}
	var out []string
	for _, f := range declared {
		if slices.Contains(derived, f) {
			out = append(out, f)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// analyse derives from a checked expression the feeds and operations it can match,
// from conjuncts of the form event.feed/event.operation == "X" or in ["X", ...]. A nil
// result means "any".
func analyse(a *cel.Ast) (feeds, ops []string) {
	if a == nil {
		return nil, nil
	}
	e := a.NativeRep().Expr()
	return constraint(e, "feed"), constraint(e, "operation")
}

// constraint returns the set of string values event.<field> must have for e to be true,
// or nil when e does not constrain it.
func constraint(e ast.Expr, fieldName string) []string {
	if e.Kind() != ast.CallKind {
		return nil
	}
	c := e.AsCall()
	args := c.Args()
	switch c.FunctionName() {
	case "_&&_":
		var out []string
		constrained := false
		for _, x := range args {
			s := constraint(x, fieldName)
			if s == nil {
				continue
			}
			if !constrained {
				out, constrained = s, true
				continue
			}
			var keep []string
			for _, v := range out {
				if slices.Contains(s, v) {
					keep = append(keep, v)
				}
			}
			if keep == nil {
				keep = []string{}
			}
			out = keep
		}
		return out
	case "_||_":
		var out []string
		for _, x := range args {
			s := constraint(x, fieldName)
			if s == nil {
				return nil
			}
			for _, v := range s {
				if !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
		if out == nil {
			out = []string{}
		}
		return out
	case "_==_":
		if len(args) != 2 {
			return nil
		}
		for i := range 2 {
			if isEventField(args[i], fieldName) {
				if s, ok := stringLit(args[1-i]); ok {
					return []string{s}
				}
			}
		}
	case "@in":
		if len(args) == 2 && isEventField(args[0], fieldName) && args[1].Kind() == ast.ListKind {
			out := []string{}
			for _, el := range args[1].AsList().Elements() {
				s, ok := stringLit(el)
				if !ok {
					return nil
				}
				out = append(out, s)
			}
			return out
		}
	}
	return nil
}

func isEventField(e ast.Expr, name string) bool {
	if e.Kind() != ast.SelectKind {
		return false
	}
	s := e.AsSelect()
	if s.IsTestOnly() || s.FieldName() != name {
		return false
	}
	op := s.Operand()
	return op.Kind() == ast.IdentKind && op.AsIdent() == "event"
}

func stringLit(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}
