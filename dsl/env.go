// Package dsl compiles and evaluates irm's rule language: indicators, lists, sequences
// and policy templates written as TOML files with CEL expressions inside strings.
//
// Rules see three variables: event (the normalized event), user (the profile of the
// person the event is about) and lists (named string lists from rule files and
// settings). Every rule is compiled once into a cel.Program; evaluation reads the Go
// structs directly through a custom type provider, so no per-event conversion to maps
// happens (see BenchmarkSimpleIndicatorCEL for the cost).
package dsl

import (
	"fmt"
	"log/slog"
	"math/bits"
	"reflect"
	"slices"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"irm/event"
)

// Options configure how rules are compiled.
type Options struct {
	// OrgDomains are the organisation's domains ([org] domains); "*.x.com" also matches
	// subdomains. isExternal() is true for anything outside them.
	OrgDomains []string
	// OrgTimezone is the organisation's time zone ([org] timezone), an IANA name such as
	// "Europe/Berlin" ("" = "UTC"). Rules read it as the constant org.timezone.
	OrgTimezone string
	Logger      *slog.Logger // nil = discard
	// Debounce is how long the Reloader waits after the last change before reloading
	// (0 = 300ms); Poll is its periodic re-check of the directory (0 = 5s), because
	// fsnotify can miss events (editors that replace files, network filesystems).
	Debounce, Poll time.Duration
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// CEL type names of the objects rules see.
const (
	eventTypeName = "irm.Event"
	hrTypeName    = "irm.HR"
	userTypeName  = "irm.User"
)

var (
	eventType = cel.ObjectType(eventTypeName)
	hrType    = cel.ObjectType(hrTypeName)
	userType  = cel.ObjectType(userTypeName)
	strList   = cel.ListType(cel.StringType)
)

// field is one field of an object type: its CEL type, how to read it from the Go value
// and whether it counts as set for has().
type field struct {
	name  string
	typ   *types.Type
	get   func(target any) ref.Val
	isSet func(target any) bool
	doc   string
	// Native getters of plain event fields, for guards (guard.go): str for strings,
	// flag for booleans; nil for every other field.
	str  func(*event.Event) string
	flag func(*event.Event) bool
}

// structDesc describes one object type.
type structDesc struct {
	typ    *types.Type
	fields map[string]*types.FieldType
	names  []string
	order  []field
}

// provider layers irm's object types over the standard registry. Field getters read the
// Go structs directly: this is what makes evaluation cheap compared with reflection
// (ext.NativeTypes) or converting each event into a map.
type provider struct {
	*types.Registry
	structs map[string]*structDesc
}

func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if d, ok := p.structs[name]; ok {
		return types.NewTypeTypeWithParam(d.typ), true
	}
	return p.Registry.FindStructType(name)
}

func (p *provider) FindIdent(name string) (ref.Val, bool) {
	if d, ok := p.structs[name]; ok {
		return d.typ, true
	}
	return p.Registry.FindIdent(name)
}

func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if d, ok := p.structs[name]; ok {
		return d.names, true
	}
	return p.Registry.FindStructFieldNames(name)
}

func (p *provider) FindStructFieldType(name, fieldName string) (*types.FieldType, bool) {
	if d, ok := p.structs[name]; ok {
		ft, ok := d.fields[fieldName]
		return ft, ok
	}
	return p.Registry.FindStructFieldType(name, fieldName)
}

// maxFields bounds the fields of one object type (the size of a view's value cache).
const maxFields = 40

// cached is implemented by the per-evaluation views of event, HR and user: each field
// value is converted to a CEL value once per input, not once per rule that reads it.
type cached interface {
	slot(i int) *ref.Val
}

func newStruct(typ *types.Type, fields []field) *structDesc {
	if len(fields) > maxFields {
		panic("dsl: too many fields for " + typ.TypeName())
	}
	d := &structDesc{typ: typ, fields: map[string]*types.FieldType{}, order: fields}
	for i, f := range fields {
		d.names = append(d.names, f.name)
		d.fields[f.name] = &types.FieldType{
			Type:  f.typ,
			IsSet: f.isSet,
			GetFrom: func(target any) (any, error) {
				if c, ok := target.(cached); ok {
					p := c.slot(i)
					if *p == nil {
						*p = f.get(target)
					}
					return *p, nil
				}
				return f.get(target), nil
			},
		}
	}
	return d
}

// evView is the event as one evaluation sees it: the event, its HR part and the cache.
type evView struct {
	ev    *event.Event
	hr    hrView
	hrObj object
	used  uint64 // slots filled since the last reset
	cache [maxFields]ref.Val
}

func (v *evView) slot(i int) *ref.Val { v.used |= 1 << i; return &v.cache[i] }

type hrView struct {
	h     *event.HR
	used  uint64
	cache [maxFields]ref.Val
}

func (v *hrView) slot(i int) *ref.Val { v.used |= 1 << i; return &v.cache[i] }

// object wraps a Go struct pointer so that an expression may also use the object
// itself (event.hr == null, type(event)); field access unwraps it via Value().
type object struct {
	typ *types.Type
	v   any
}

func (o *object) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("%s cannot be converted to a native value", o.typ.TypeName())
}
func (o *object) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return o.typ
	}
	return types.NewErr("type conversion error from %s to %s", o.typ.TypeName(), t.TypeName())
}
func (o *object) Equal(other ref.Val) ref.Val {
	if oo, ok := other.(*object); ok {
		return types.Bool(oo.v == o.v)
	}
	if other == types.NullValue {
		return types.Bool(isNil(o.v))
	}
	return types.False
}
func (o *object) Type() ref.Type { return o.typ }
func (o *object) Value() any     { return o.v }

func isNil(v any) bool {
	switch x := v.(type) {
	case *event.HR:
		return x == nil
	case *event.Event:
		return x == nil
	case *userIn:
		return x == nil
	case *hrView:
		return x == nil || x.h == nil
	case *evView:
		return x == nil || x.ev == nil
	}
	return v == nil
}

func str(s string) ref.Val { return types.String(s) }

func ts(t time.Time) ref.Val { return types.Timestamp{Time: t} }

func strs(v []string) ref.Val {
	if v == nil {
		return emptyList
	}
	return types.NewStringList(types.DefaultTypeAdapter, v)
}

var emptyList = types.NewStringList(types.DefaultTypeAdapter, []string{})

var zeroEvent event.Event

func evOf(t any) *event.Event {
	switch e := t.(type) {
	case *evView:
		if e.ev != nil {
			return e.ev
		}
	case *event.Event:
		if e != nil {
			return e
		}
	}
	return &zeroEvent
}

func hrOf(t any) *event.HR {
	switch h := t.(type) {
	case *hrView:
		if h.h != nil {
			return h.h
		}
	case *event.HR:
		if h != nil {
			return h
		}
	}
	return &zeroHR
}

var zeroHR event.HR

func evStr(name string, f func(*event.Event) string, doc string) field {
	return field{name: name, typ: types.StringType,
		get:   func(t any) ref.Val { return str(f(evOf(t))) },
		isSet: func(t any) bool { return f(evOf(t)) != "" }, doc: doc, str: f}
}

func evList(name string, f func(*event.Event) []string, doc string) field {
	return field{name, strList,
		func(t any) ref.Val { return strs(f(evOf(t))) },
		func(t any) bool { return len(f(evOf(t))) > 0 }, doc, nil, nil}
}

func hrStr(name string, f func(*event.HR) string, doc string) field {
	return field{name, types.StringType,
		func(t any) ref.Val { return str(f(hrOf(t))) },
		func(t any) bool { return f(hrOf(t)) != "" }, doc, nil, nil}
}

func hrTime(name string, f func(*event.HR) time.Time, doc string) field {
	return field{name, types.TimestampType,
		func(t any) ref.Val { return ts(f(hrOf(t))) },
		func(t any) bool { return !f(hrOf(t)).IsZero() }, doc, nil, nil}
}

var eventStruct = newStruct(eventType, []field{
	evStr("id", func(e *event.Event) string { return e.ID }, "stable event id"),
	evStr("feed", func(e *event.Event) string { return e.Feed }, "audit, hr, badging, dlp or defender"),
	{"time", types.TimestampType,
		func(t any) ref.Val { return ts(evOf(t).Time) },
		func(t any) bool { return !evOf(t).Time.IsZero() }, "when it happened (UTC timestamp)", nil, nil},
	evStr("user", func(e *event.Event) string { return e.User }, "lower-case UPN of the person the event is about"),
	evStr("actor", func(e *event.Event) string { return e.Actor }, "who acted, when not the user"),
	evStr("operation", func(e *event.Event) string { return e.Operation }, "audit Operation, DlpRuleMatch, PhysicalAccess, the HR scenario, ..."),
	evStr("workload", func(e *event.Event) string { return e.Workload }, "SharePoint, OneDrive, Exchange, Endpoint, ..."),
	{"record_type", types.IntType,
		func(t any) ref.Val { return types.Int(evOf(t).RecordType) },
		func(t any) bool { return evOf(t).RecordType != 0 }, "audit RecordType", nil, nil},
	evStr("object", func(e *event.Event) string { return e.Object }, "ObjectId: URL, path, message id, asset id"),
	evStr("file_name", func(e *event.Event) string { return e.FileName }, "base name of the file"),
	evStr("file_ext", func(e *event.Event) string { return e.FileExt }, "lower-case extension without the dot"),
	evStr("site", func(e *event.Event) string { return e.Site }, "SharePoint/OneDrive site URL"),
	evStr("url", func(e *event.Event) string { return e.URL }, "URL (browsing, downloads)"),
	evStr("target_domain", func(e *event.Event) string { return e.TargetDomain }, "lower-case target domain"),
	evStr("target_user", func(e *event.Event) string { return e.TargetUser }, "sharing target user or group"),
	evStr("target_user_type", func(e *event.Event) string { return e.TargetUserType }, "Member, Guest, Group, Partner"),
	evList("recipients", func(e *event.Event) []string { return e.Recipients }, "lower-case recipient addresses"),
	evStr("device", func(e *event.Event) string { return e.Device }, "device name"),
	evStr("client_ip", func(e *event.Event) string { return e.ClientIP }, "client IP address"),
	evList("labels", func(e *event.Event) []string { return e.Labels }, "sensitivity labels"),
	evStr("label_event", func(e *event.Event) string { return e.LabelEvent }, "upgraded, downgraded, removed or changed"),
	evList("sensitive_types", func(e *event.Event) []string { return e.SensitiveTypes }, "sensitive information types found"),
	evStr("severity", func(e *event.Event) string { return e.Severity }, "low, medium or high (DLP, defender)"),
	evStr("status", func(e *event.Event) string { return e.Status }, "defender: new|inprogress|resolved; badging: success|failed"),
	evStr("category", func(e *event.Event) string { return e.Category }, "defender alert category, e.g. DefenseEvasion"),
	evStr("title", func(e *event.Event) string { return e.Title }, "defender alert title"),
	evList("policies", func(e *event.Event) []string { return e.Policies }, "DLP policy names"),
	evList("rules", func(e *event.Event) []string { return e.Rules }, "DLP rule names"),
	{"size", types.IntType,
		func(t any) ref.Val { return types.Int(evOf(t).Size) },
		func(t any) bool { return evOf(t).Size != 0 }, "bytes", nil, nil},
	{"attachments", types.IntType,
		func(t any) ref.Val { return types.Int(evOf(t).Attachments) },
		func(t any) bool { return evOf(t).Attachments != 0 }, "number of email attachments", nil, nil},
	{name: "hidden", typ: types.BoolType,
		get:   func(t any) ref.Val { return types.Bool(evOf(t).Hidden) },
		isSet: func(t any) bool { return evOf(t).Hidden }, doc: "endpoint: the file is hidden",
		flag: func(e *event.Event) bool { return e.Hidden }},
	evStr("asset", func(e *event.Event) string { return e.Asset }, "badging AssetId"),
	evStr("asset_name", func(e *event.Event) string { return e.AssetName }, "badging AssetName"),
	{"hr", hrType,
		func(t any) ref.Val {
			if v, ok := t.(*evView); ok {
				return &v.hrObj
			}
			return &object{typ: hrType, v: evOf(t).HR}
		},
		func(t any) bool { return evOf(t).HR != nil }, "HR fields (empty values for non-HR events; has(event.hr) tests presence)", nil, nil},
})

var hrStruct = newStruct(hrType, []field{
	hrStr("scenario", func(h *event.HR) string { return h.Scenario }, "resignation, job_level_change, performance_review, improvement_plan"),
	hrTime("effective_date", func(h *event.HR) time.Time { return h.EffectiveDate }, ""),
	hrTime("resignation_date", func(h *event.HR) time.Time { return h.ResignationDate }, ""),
	hrTime("last_working_date", func(h *event.HR) time.Time { return h.LastWorkingDate }, ""),
	hrStr("remarks", func(h *event.HR) string { return h.Remarks }, ""),
	hrStr("old_level", func(h *event.HR) string { return h.OldLevel }, ""),
	hrStr("new_level", func(h *event.HR) string { return h.NewLevel }, ""),
	hrStr("level_change", func(h *event.HR) string { return LevelDirection(h.OldLevel, h.NewLevel) }, `"down", "up", "changed" or "" (see LevelDirection)`),
	hrStr("rating", func(h *event.HR) string { return h.Rating }, ""),
	hrStr("department", func(h *event.HR) string { return h.Department }, ""),
	hrStr("manager", func(h *event.HR) string { return h.Manager }, ""),
})

// userIn is what the user variable reads: the stored profile plus the priority user
// groups the engine resolved from settings.
type userIn struct {
	p      *event.Profile
	groups []string
	used   uint64
	cache  [maxFields]ref.Val
}

// resetCache drops the values of the slots in use, so that the next input starts
// empty and the pool keeps no references to old values.
func resetCache(used *uint64, cache *[maxFields]ref.Val) {
	for u := *used; u != 0; u &= u - 1 {
		cache[bits.TrailingZeros64(u)] = nil
	}
	*used = 0
}

func (u *userIn) slot(i int) *ref.Val { u.used |= 1 << i; return &u.cache[i] }

func userOf(t any) *userIn {
	if u, ok := t.(*userIn); ok && u != nil {
		return u
	}
	return &userIn{}
}

func (u *userIn) prof() *event.Profile {
	if u.p == nil {
		return &zeroProfile
	}
	return u.p
}

var zeroProfile event.Profile

// endDate is when employment ended or ends: the last working date, else the date the
// account was deleted; zero when neither is known.
func endDate(p *event.Profile) time.Time {
	if !p.LastWorkingDate.IsZero() {
		return p.LastWorkingDate
	}
	return p.AccountDeleted
}

func latestLevelChange(p *event.Profile) string {
	if len(p.LevelChanges) == 0 {
		return ""
	}
	lc := p.LevelChanges[len(p.LevelChanges)-1]
	return LevelDirection(lc.OldLevel, lc.NewLevel)
}

func userStr(name string, f func(*event.Profile) string, doc string) field {
	return field{name, types.StringType,
		func(t any) ref.Val { return str(f(userOf(t).prof())) },
		func(t any) bool { return f(userOf(t).prof()) != "" }, doc, nil, nil}
}

func userTime(name string, f func(*event.Profile) time.Time, doc string) field {
	return field{name, types.TimestampType,
		func(t any) ref.Val { return ts(f(userOf(t).prof())) },
		func(t any) bool { return !f(userOf(t).prof()).IsZero() }, doc, nil, nil}
}

func userBool(name string, f func(*userIn) bool, doc string) field {
	return field{name, types.BoolType,
		func(t any) ref.Val { return types.Bool(f(userOf(t))) },
		func(t any) bool { return f(userOf(t)) }, doc, nil, nil}
}

var userStruct = newStruct(userType, []field{
	{"upn", types.StringType,
		func(t any) ref.Val { return str(userOf(t).prof().UPN) },
		func(t any) bool { return userOf(t).prof().UPN != "" }, "the user's UPN", nil, nil},
	userStr("department", func(p *event.Profile) string { return p.Department }, "from HR"),
	userStr("manager", func(p *event.Profile) string { return p.Manager }, "from HR"),
	{"priority_groups", strList,
		func(t any) ref.Val { return strs(userOf(t).groups) },
		func(t any) bool { return len(userOf(t).groups) > 0 }, "priority user groups the user belongs to (from settings, via Input.PriorityGroups)", nil, nil},
	userBool("priority", func(u *userIn) bool { return len(u.groups) > 0 }, "member of at least one priority user group"),
	userTime("resignation_date", func(p *event.Profile) time.Time { return p.ResignationDate }, "zero timestamp when unknown; test with has()"),
	userTime("last_working_date", func(p *event.Profile) time.Time { return p.LastWorkingDate }, ""),
	userTime("account_deleted", func(p *event.Profile) time.Time { return p.AccountDeleted }, `when "Delete user." was seen`),
	userTime("end_date", endDate, "last working date, else account deletion date"),
	userBool("departing", func(u *userIn) bool { return u.prof().Departing() }, "resigned or account deleted"),
	userStr("latest_rating", func(p *event.Profile) string { return p.LatestRating }, "latest performance rating"),
	userTime("latest_review_date", func(p *event.Profile) time.Time { return p.LatestReviewDate }, ""),
	userBool("poor_rating", func(u *userIn) bool { return IsPoorRating(u.prof().LatestRating) }, "latest rating is poor (see isPoorRating)"),
	userBool("on_improvement_plan", func(u *userIn) bool { return u.prof().OnImprovementPlan() }, "ever put on an improvement plan"),
	userTime("improvement_plan_date", func(p *event.Profile) time.Time { return p.ImprovementPlan }, "date of the latest plan"),
	userStr("level_change", latestLevelChange, `direction of the latest job level change: "down", "up", "changed" or ""`),
})

// listsVal is the lists variable: lists passed with the input (from settings) win over
// rule-file lists with the same id. A settings list (SettingsLists) that the admin has
// not filled in reads as empty, so a rule that uses it simply does not match; any other
// unknown name is an error (and lint reports it before it can happen).
type listsVal struct {
	input map[string][]string
	files map[string]ref.Val
}

var listsType = cel.MapType(cel.StringType, strList)

func (l *listsVal) lookup(name string) (ref.Val, bool) {
	if v, ok := l.input[name]; ok {
		return strs(v), true
	}
	if v, ok := l.files[name]; ok {
		return v, true
	}
	for _, n := range SettingsLists {
		if n == name {
			return emptyList, true
		}
	}
	return nil, false
}

func (l *listsVal) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("lists cannot be converted to a native value")
}
func (l *listsVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return types.MapType
	}
	return types.NewErr("type conversion error from map to %s", t.TypeName())
}
func (l *listsVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(*listsVal)
	return types.Bool(ok && o == l)
}
func (l *listsVal) Type() ref.Type { return types.MapType }
func (l *listsVal) Value() any     { return l }
func (l *listsVal) Contains(key ref.Val) ref.Val {
	k, ok := key.(types.String)
	if !ok {
		return types.False
	}
	_, found := l.lookup(string(k))
	return types.Bool(found)
}
func (l *listsVal) Get(key ref.Val) ref.Val {
	v, ok := l.Find(key)
	if !ok {
		return types.NewErr("no such list: %v", key)
	}
	return v
}
func (l *listsVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.NewErr("lists keys are strings"), false
	}
	return l.lookup(string(k))
}
func (l *listsVal) Size() ref.Val { return types.Int(len(l.names())) }
func (l *listsVal) Iterator() traits.Iterator {
	names := l.names()
	vals := make([]ref.Val, len(names))
	for i, n := range names {
		vals[i] = types.String(n)
	}
	return types.NewRefValList(types.DefaultTypeAdapter, vals).(traits.Lister).Iterator()
}
func (l *listsVal) names() []string {
	seen := map[string]bool{}
	var out []string
	for n := range l.input {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for n := range l.files {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// activation resolves the three variables without building a map per event.
type activation struct {
	ev    object
	view  evView
	user  object
	u     userIn
	lists listsVal
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		return &a.ev, true
	case "user":
		return &a.user, true
	case "lists":
		return &a.lists, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// newEnv builds the one CEL environment shared by every rule of a RuleSet. The
// organisation's time zone is a constant of the environment (org.timezone): the checker
// records its value, so guards resolve it at compile time and the planner folds it.
func newEnv(org *domainSet, orgTimezone string) (*cel.Env, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	p := &provider{Registry: reg, structs: map[string]*structDesc{
		eventTypeName: eventStruct,
		hrTypeName:    hrStruct,
		userTypeName:  userStruct,
	}}
	opts := []cel.EnvOption{
		cel.CustomTypeProvider(p),
		cel.Variable("event", eventType),
		cel.Variable("user", userType),
		cel.Variable("lists", listsType),
		cel.Constant("org.timezone", cel.StringType, types.String(orgTimezone)),
		cel.OptionalTypes(),
	}
	opts = append(opts, functions(org)...)
	return cel.NewEnv(opts...)
}

// VariableDoc describes one field rules can read (for docs, the UI and `irm rules list`).
type VariableDoc struct {
	Name string `json:"name"` // e.g. "event.operation"
	Type string `json:"type"`
	Doc  string `json:"doc,omitempty"`
}

// Variables lists the fields of event, event.hr and user, the lists variable and the
// org constants.
func Variables() []VariableDoc {
	var out []VariableDoc
	for _, s := range []struct {
		prefix string
		d      *structDesc
	}{{"event.", eventStruct}, {"event.hr.", hrStruct}, {"user.", userStruct}} {
		for _, f := range s.d.order {
			typ := f.typ.String()
			switch f.typ {
			case hrType:
				typ = "object"
			case strList:
				typ = "list(string)"
			case types.TimestampType:
				typ = "timestamp"
			}
			out = append(out, VariableDoc{Name: s.prefix + f.name, Type: typ, Doc: f.doc})
		}
	}
	return append(out,
		VariableDoc{Name: "lists.<id>", Type: "list(string)", Doc: "a settings list, else the rule-file list of that id"},
		VariableDoc{Name: "org.timezone", Type: "string", Doc: `the organisation's time zone ([org] timezone, an IANA name; "UTC" in rule tests unless a test sets org_timezone), a constant: event.time.getHours(org.timezone)`})
}

// ProfileFieldsEqual reports whether rules that read the named user fields ("end_date",
// "department", ...) see the same values for profiles a and b (nil = no profile). A name
// that is not a user field compares unequal, so callers err on the side of re-matching.
// The engine uses it to skip re-matching a user's stored events when an HR record
// changed only fields no rule reads.
func ProfileFieldsEqual(a, b *event.Profile, names []string) bool {
	ua, ub := &userIn{p: a}, &userIn{p: b}
	for _, n := range names {
		i := slices.IndexFunc(userStruct.order, func(f field) bool { return f.name == n })
		if i < 0 {
			return false
		}
		f := userStruct.order[i]
		if f.isSet(ua) != f.isSet(ub) || f.get(ua).Equal(f.get(ub)) != types.True {
			return false
		}
	}
	return true
}
