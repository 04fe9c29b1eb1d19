package dsl

import (
	"slices"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"irm/event"
)

// A guard is one conjunct of a condition that tests a plain event field against
// literals: `event.f == "x"`, `event.f != "x"`, `event.f in ["x", "y"]` (string fields),
// `event.f` (bool fields), `event.f > 0` and the other comparisons (int fields), or
// `event.f.matchesDomain(lists.x)`. Match checks a rule's guards on the Go struct
// before running its program: most events fail a guard of most candidate rules (every
// audit event is a candidate of the label indicators, which test event.label_event
// only), and a guard costs a comparison or a map lookup where the program costs an
// interpreted evaluation. A condition that is nothing but guards is decided by them
// alone (rule.exact).
type guard struct {
	kind guardKind
	str  func(*event.Event) string
	vals []string // strIn, strNe
	flag func(*event.Event) bool
	num  func(*event.Event) int64
	cmp  string // intCmp: the CEL operator, e.g. "_>_"
	n    int64
	list string // domain: the list id
	// timeCmp: accessor of event.time (in loc; nil = UTC) compared (cmp, n).
	acc func(time.Time) int
	loc *time.Location
	any []guard // anyOf: true when one of them is
}

type guardKind uint8

const (
	strIn guardKind = iota
	strNe
	boolTrue
	intCmp
	domain
	timeCmp
	anyOf
)

// guardCtx is what guards read besides the event: the input's lists, the rule set's
// lists, and the host of the last string matchesDomain looked at (the browsing
// indicators all test the same target_domain).
type guardCtx struct {
	in       *Input
	rs       *RuleSet
	hostOf   string
	host     string
	hostDone bool
}

func (c *guardCtx) hostFor(s string) string {
	if !c.hostDone || c.hostOf != s {
		c.hostOf, c.host, c.hostDone = s, hostOf(s), true
	}
	return c.host
}

// check reports whether the guard holds; known is false when the guard cannot decide
// (a list that does not exist: the program reports the error).
func (g *guard) check(c *guardCtx) (ok, known bool) {
	ev := c.in.Event
	switch g.kind {
	case strIn:
		return slices.Contains(g.vals, g.str(ev)), true
	case strNe:
		return g.str(ev) != g.vals[0], true
	case boolTrue:
		return g.flag(ev), true
	case intCmp:
		return compare(g.num(ev), g.cmp, g.n), true
	case timeCmp:
		t := ev.Time.UTC()
		if g.loc != nil {
			t = ev.Time.In(g.loc)
		}
		return compare(int64(g.acc(t)), g.cmp, g.n), true
	case anyOf:
		// CEL's ||: true if any is true, whatever the others; false if all are false.
		sure := true
		for i := range g.any {
			ok, known := g.any[i].check(c)
			if known && ok {
				return true, true
			}
			sure = sure && known
		}
		return false, sure
	case domain:

		// As listsVal.lookup: a list passed with the input wins over a rule-file list.
		if l, ok := c.in.Lists[g.list]; ok {
			d := c.hostFor(g.str(ev))
			return d != "" && slices.ContainsFunc(l, func(p string) bool { return domainMatches(d, p) }), true
		}
		if fl, ok := c.rs.listVals[g.list].(*fileList); ok {
			d := c.hostFor(g.str(ev))
			return d != "" && fl.domains.match(d), true
		}
		if slices.Contains(SettingsLists, g.list) {
			return false, true
		}
	}
	return false, false
}

func compare(v int64, cmp string, n int64) bool {
	switch cmp {
	case "_<_":
		return v < n
	case "_<=_":
		return v <= n
	case "_>_":
		return v > n
	case "_>=_":
		return v >= n
	case "_==_":
		return v == n
	case "_!=_":
		return v != n
	}
	return false
}

// decide runs the guards, then (unless they decide alone) the program on the activation
// act returns (made once per event, only when some rule needs it).
func (r *rule) decide(c *guardCtx, act func() *activation) bool {
	sure := true
	for i := range r.guards {
		ok, known := r.guards[i].check(c)
		if !known {
			sure = false
		} else if !ok {
			return false
		}
	}
	if r.exact && sure {
		return true
	}
	return r.eval(act())
}

// guards returns the guards among the top-level conjuncts of a checked condition, and
// whether the condition is exactly their conjunction.
func guards(a *cel.Ast) ([]guard, bool) {
	if a == nil {
		return nil, false
	}
	var gs []guard
	exact := true
	sc := guardScan{refs: a.NativeRep().ReferenceMap()}
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == "_&&_" {
			for _, x := range e.AsCall().Args() {
				walk(x)
			}
			return
		}
		if g, ok := sc.guardOf(e); ok {
			gs = append(gs, g)
			return
		}
		exact = false
	}
	walk(a.NativeRep().Expr())
	return gs, exact && len(gs) > 0
}

// intFields are the int event fields guards can read natively.
var intFields = map[string]func(*event.Event) int64{
	"record_type": func(e *event.Event) int64 { return int64(e.RecordType) },
	"size":        func(e *event.Event) int64 { return e.Size },
	"attachments": func(e *event.Event) int64 { return int64(e.Attachments) },
}

// guardScan recognises guards in one checked expression; refs is its reference map,
// which holds the values of constants such as org.timezone.
type guardScan struct {
	refs map[int64]*ast.ReferenceInfo
}

// guardOf recognises one conjunct that is a guard.
func (sc guardScan) guardOf(e ast.Expr) (guard, bool) {
	if f, ok := eventField(e); ok && f.flag != nil {
		return guard{kind: boolTrue, flag: f.flag}, true
	}
	if e.Kind() != ast.CallKind {
		return guard{}, false
	}
	c := e.AsCall()
	args := c.Args()
	switch fn := c.FunctionName(); fn {
	case "_==_", "_!=_":
		if len(args) != 2 {
			return guard{}, false
		}
		for i := range 2 {
			if f, ok := eventField(args[i]); ok && f.str != nil {
				if s, ok := stringLit(args[1-i]); ok {
					if fn == "_!=_" {
						return guard{kind: strNe, str: f.str, vals: []string{s}}, true
					}
					return guard{kind: strIn, str: f.str, vals: []string{s}}, true
				}
			}
		}
		if g, ok := intGuard(fn, args); ok {
			return g, true
		}
		if g, ok := sc.timeGuard(fn, args); ok {
			return g, true
		}
	case "_<_", "_<=_", "_>_", "_>=_":
		if len(args) == 2 {
			if g, ok := intGuard(fn, args); ok {
				return g, true
			}
			return sc.timeGuard(fn, args)
		}
	case "_||_":
		var any []guard
		for _, x := range args {
			g, ok := sc.guardOf(x)
			if !ok {
				return guard{}, false
			}
			any = append(any, g)
		}
		return guard{kind: anyOf, any: any}, len(any) > 0
	case "matchesDomain":
		// event.f.matchesDomain(lists.x)
		if !c.IsMemberFunction() || len(args) != 1 {
			return guard{}, false
		}
		f, ok := eventField(c.Target())
		if !ok || f.str == nil || args[0].Kind() != ast.SelectKind {
			return guard{}, false
		}
		sel := args[0].AsSelect()
		if sel.IsTestOnly() || sel.Operand().Kind() != ast.IdentKind || sel.Operand().AsIdent() != "lists" {
			return guard{}, false
		}
		return guard{kind: domain, str: f.str, list: sel.FieldName()}, true
	case "@in":
		if len(args) != 2 || args[1].Kind() != ast.ListKind {
			return guard{}, false
		}
		f, ok := eventField(args[0])
		if !ok || f.str == nil {
			return guard{}, false
		}
		vals := []string{}
		for _, el := range args[1].AsList().Elements() {
			s, ok := stringLit(el)
			if !ok {
				return guard{}, false
			}
			vals = append(vals, s)
		}
		return guard{kind: strIn, str: f.str, vals: vals}, true
	}
	return guard{}, false
}

var flipCmp = map[string]string{"_<_": "_>_", "_<=_": "_>=_", "_>_": "_<_", "_>=_": "_<=_", "_==_": "_==_", "_!=_": "_!=_"}

// timeGuard recognises `event.time.getHours() <op> n` and the other accessors, with no
// zone, a zone literal or a string constant (org.timezone) that resolves (as the rule's
// own evaluation would).
func (sc guardScan) timeGuard(fn string, args []ast.Expr) (guard, bool) {
	for i := range 2 {
		if args[i].Kind() != ast.CallKind || args[1-i].Kind() != ast.LiteralKind {
			continue
		}
		lit, isInt := args[1-i].AsLiteral().(types.Int)
		c := args[i].AsCall()
		if !isInt || !c.IsMemberFunction() || len(c.Args()) > 1 {
			continue
		}
		t := c.Target()
		if t.Kind() != ast.SelectKind || t.AsSelect().IsTestOnly() || t.AsSelect().FieldName() != "time" ||
			t.AsSelect().Operand().Kind() != ast.IdentKind || t.AsSelect().Operand().AsIdent() != "event" {
			continue
		}
		ai := slices.IndexFunc(timeAccessors, func(a struct {
			fn, overload string
			get          func(t time.Time) int
		}) bool {
			return a.fn == c.FunctionName()
		})
		if ai < 0 {
			continue
		}
		g := guard{kind: timeCmp, acc: timeAccessors[ai].get, cmp: fn, n: int64(lit)}
		if i == 1 {
			g.cmp = flipCmp[fn]
		}
		if len(c.Args()) == 1 {
			tz, ok := sc.constString(c.Args()[0])
			if !ok {
				continue
			}
			loc, err := zone(tz)
			if err != nil {
				continue
			}
			g.loc = loc
		}
		return g, true
	}
	return guard{}, false
}

// intGuard recognises `event.f <op> n` for an int field (the literal on the left turns
// the comparison around).
func intGuard(fn string, args []ast.Expr) (guard, bool) {
	for i := range 2 {
		if args[i].Kind() != ast.SelectKind || args[1-i].Kind() != ast.LiteralKind {
			continue
		}
		sel := args[i].AsSelect()
		op := sel.Operand()
		if sel.IsTestOnly() || op.Kind() != ast.IdentKind || op.AsIdent() != "event" {
			continue
		}
		num, ok := intFields[sel.FieldName()]
		lit, isInt := args[1-i].AsLiteral().(types.Int)
		if !ok || !isInt {
			continue
		}
		cmp := fn
		if i == 1 {
			cmp = flipCmp[fn]
		}
		return guard{kind: intCmp, num: num, cmp: cmp, n: int64(lit)}, true
	}
	return guard{}, false
}

// eventField returns the event field a select expression `event.<name>` reads, when it
// has a native getter.
func eventField(e ast.Expr) (field, bool) {
	if e.Kind() != ast.SelectKind {
		return field{}, false
	}
	s := e.AsSelect()
	if s.IsTestOnly() {
		return field{}, false
	}
	op := s.Operand()
	if op.Kind() != ast.IdentKind || op.AsIdent() != "event" {
		return field{}, false
	}
	i := slices.IndexFunc(eventStruct.order, func(f field) bool { return f.name == s.FieldName() })
	if i < 0 {
		return field{}, false
	}
	f := eventStruct.order[i]
	if (f.str == nil || f.typ != types.StringType) && (f.flag == nil || f.typ != types.BoolType) {
		return field{}, false
	}
	return f, true
}

// constString returns the value of a string literal, or of an identifier the checker
// resolved to a string constant (org.timezone).
func (sc guardScan) constString(e ast.Expr) (string, bool) {
	if s, ok := stringLit(e); ok {
		return s, true
	}
	if e.Kind() != ast.IdentKind {
		return "", false
	}
	if r, ok := sc.refs[e.ID()]; ok && r.Value != nil {
		if s, ok := r.Value.(types.String); ok {
			return string(s), true
		}
	}
	return "", false
}
