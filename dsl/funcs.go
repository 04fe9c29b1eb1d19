package dsl

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// FunctionDoc describes one irm-specific CEL function (for docs and `irm rules list`).
type FunctionDoc struct{ Signature, Doc string }

// Functions lists the functions irm adds to CEL's standard library (size, contains,
// startsWith, endsWith, matches, exists, all, filter, map, timestamps, durations). The
// cel-go extension libraries (lowerAscii, split, ...) are not part of the environment.
var Functions = []FunctionDoc{
	{"string.matchesDomain(list<string>) -> bool", `true when the domain of the string is in the list. The string may be a domain, an email address (its domain is used) or a URL (its host is used). Case-insensitive; "*.x.com" matches subdomains of x.com only; a bare name matches exactly.`},
	{"string.isExternal() -> bool", `true when the address or domain lies outside the [org] domains; a guest account ("...#EXT#@tenant.onmicrosoft.com") is always external. Strings that are neither an address nor a domain (empty, no dot, spaces) are not external.`},
	{"string.globMatch(string) -> bool", `path glob: "**" matches any run of characters including separators, "*" any run within one path segment, "?" one character. "/" and "\" are both separators; case-insensitive when the path is Windows-style (contains "\" or starts with a drive letter).`},
	{"string.host() -> string", `lower-case host of a URL ("https://x.com:8443/a" -> "x.com"), a bare domain for "x.com/path", the domain of an email address; "" when empty.`},
	{"string.isPoorRating() -> bool", `true for a performance rating that irm treats as poor: a number of at most 2 (on a 5-point scale: "1", "2", "2.0", "2/5", "2 of 5"; "x/n" or "x of n" with x/n <= 0.4), or one of: poor, unsatisfactory, below expectations, does not meet expectations, did not meet expectations, partially meets expectations, needs improvement, low (case-insensitive).`},
	{"string.isPersonalAddressOf(string) -> bool", `true when the recipient address (the string) is external and its local part looks like the user's own (the argument, a UPN): it contains the user's local part with punctuation removed, or contains both first and last name tokens of it. Used for "email to self".`},
	{"timestamp.getHours(tz) and getMinutes, getDayOfWeek, getDate, getDayOfMonth, getMonth, getDayOfYear, getFullYear with a time zone", `CEL's standard accessors; tz is an IANA name ("Europe/Berlin") or an offset ("+01:00"). irm resolves each zone once (the standard implementation reads the zoneinfo database on every call).`},
	{"string.ipNetwork() -> string", `the network of an IP address, for first_seen keys: the /24 of an IPv4 address ("203.0.113.77" -> "203.0.113.0/24"), the /48 of an IPv6 address ("2001:db8:1:2::5" -> "2001:db8:1::/48"); a port ("203.0.113.77:443", "[2001:db8::1]:443") is ignored and an IPv4-mapped IPv6 address counts as IPv4; "" when the string is not an IP address.`},
	{"levelChange(string, string) -> string", `direction of a job level change from old to new: "down", "up", "changed" or "". Compares the first number in each level ("Level 61" -> "Level 60" is down); when either has none, "changed" if they differ.`},
}

// timeAccessors are CEL's timestamp accessors, as irm defines them (zoned) and as
// guards compute them.
var timeAccessors = []struct {
	fn, overload string
	get          func(t time.Time) int
}{
	{"getFullYear", "timestamp_to_year", func(t time.Time) int { return t.Year() }},
	{"getMonth", "timestamp_to_month", func(t time.Time) int { return int(t.Month()) - 1 }},
	{"getDayOfYear", "timestamp_to_day_of_year", func(t time.Time) int { return t.YearDay() - 1 }},
	{"getDayOfMonth", "timestamp_to_day_of_month", func(t time.Time) int { return t.Day() - 1 }},
	{"getDate", "timestamp_to_day_of_month_1_based", func(t time.Time) int { return t.Day() }},
	{"getDayOfWeek", "timestamp_to_day_of_week", func(t time.Time) int { return int(t.Weekday()) }},
	{"getHours", "timestamp_to_hours", func(t time.Time) int { return t.Hour() }},
	{"getMinutes", "timestamp_to_minutes", func(t time.Time) int { return t.Minute() }},
}

// zoned redefines the time-zone overloads of CEL's timestamp accessors with the same
// signatures and results, but with the zone looked up once: the standard
// implementation calls time.LoadLocation, which reads the zoneinfo database on every
// evaluation (about 15 µs), so `event.time.getHours("Europe/Berlin")` in a rule would
// cost more than the rest of the catalog together.
func zoned() []cel.EnvOption {
	var opts []cel.EnvOption
	for _, a := range timeAccessors {
		get := a.get
		// Without a zone: UTC, read directly (the standard version parses "UTC" each time).
		opts = append(opts, cel.Function(a.fn,
			cel.MemberOverload(a.overload, []*cel.Type{cel.TimestampType}, cel.IntType,
				cel.UnaryBinding(func(ts ref.Val) ref.Val {
					return types.Int(get(ts.(types.Timestamp).Time.UTC()))
				}))))
		opts = append(opts, cel.Function(a.fn,
			cel.MemberOverload(a.overload+"_with_tz", []*cel.Type{cel.TimestampType, cel.StringType}, cel.IntType,
				cel.BinaryBinding(func(ts, tz ref.Val) ref.Val {
					loc, err := zone(string(tz.(types.String)))
					if err != nil {
						return types.NewErrFromString(err.Error())
					}
					return types.Int(get(ts.(types.Timestamp).Time.In(loc)))
				}))))
	}
	return opts
}

var zones sync.Map // name or offset -> *time.Location

// zone resolves an IANA zone name ("Europe/Berlin") or a UTC offset ("+01:00", "-05:30"),
// as CEL does, and remembers it.
func zone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	var loc *time.Location
	if h, m, ok := strings.Cut(name, ":"); ok {
		hr, err1 := strconv.Atoi(h)
		min, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil || hr < -23 || hr > 23 || min < 0 || min > 59 {
			return nil, fmt.Errorf("bad time zone offset %q (want e.g. +01:00)", name)
		}
		off := hr*3600 + min*60
		if strings.HasPrefix(h, "-") {
			off = hr*3600 - min*60
		}
		loc = time.FixedZone(name, off)
	} else {
		l, err := time.LoadLocation(name)
		if err != nil {
			return nil, err
		}
		loc = l
	}
	zones.Store(name, loc)
	return loc, nil
}

func functions(org *domainSet) []cel.EnvOption {
	return append(zoned(),
		cel.Function("matchesDomain",
			cel.MemberOverload("string_matchesDomain_list", []*cel.Type{cel.StringType, strList}, cel.BoolType,
				cel.BinaryBinding(func(s, l ref.Val) ref.Val {
					return types.Bool(matchesDomainVal(string(s.(types.String)), l))
				}))),
		cel.Function("isExternal",
			cel.MemberOverload("string_isExternal", []*cel.Type{cel.StringType}, cel.BoolType,
				cel.UnaryBinding(func(s ref.Val) ref.Val {
					return types.Bool(org.isExternal(string(s.(types.String))))
				}))),
		cel.Function("globMatch",
			cel.MemberOverload("string_globMatch_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(s, p ref.Val) ref.Val {
					return types.Bool(GlobMatch(string(p.(types.String)), string(s.(types.String))))
				}))),
		cel.Function("host",
			cel.MemberOverload("string_host", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(s ref.Val) ref.Val {
					return types.String(hostOf(string(s.(types.String))))
				}))),
		cel.Function("isPoorRating",
			cel.MemberOverload("string_isPoorRating", []*cel.Type{cel.StringType}, cel.BoolType,
				cel.UnaryBinding(func(s ref.Val) ref.Val {
					return types.Bool(IsPoorRating(string(s.(types.String))))
				}))),
		cel.Function("isPersonalAddressOf",
			cel.MemberOverload("string_isPersonalAddressOf_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(r, u ref.Val) ref.Val {
					return types.Bool(org.isPersonalAddressOf(string(r.(types.String)), string(u.(types.String))))
				}))),
		cel.Function("ipNetwork",
			cel.MemberOverload("string_ipNetwork", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(func(s ref.Val) ref.Val {
					return types.String(IPNetwork(string(s.(types.String))))
				}))),
		cel.Function("levelChange",
			cel.Overload("levelChange_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.StringType,
				cel.BinaryBinding(func(o, n ref.Val) ref.Val {
					return types.String(LevelDirection(string(o.(types.String)), string(n.(types.String))))
				}))),
	)
}

// IPNetwork returns the network an IP address belongs to for novelty purposes: the /24
// of an IPv4 address, the /48 of an IPv6 address (a site: home and office lines get a
// /48 to /64, and the interface part changes with privacy addressing), "" when s is not
// an address. A port is ignored.
func IPNetwork(s string) string {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return ""
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// hostOf returns the lower-case domain part of a URL, email address or domain.
func hostOf(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if i := strings.Index(s, "://"); i >= 0 {
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		}
		s = s[i+3:]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 && !strings.ContainsAny(s[:i], "/") {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i+1:], ".") {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

// domainMatches reports whether the lower-case domain d matches one pattern.
func domainMatches(d, pattern string) bool {
	p := strings.ToLower(strings.TrimSpace(pattern))
	if strings.HasPrefix(p, "*.") {
		suf := p[1:] // ".x.com"
		return len(d) > len(suf) && strings.HasSuffix(d, suf)
	}
	return d == p
}

// MatchesDomain reports whether the domain of s (a domain, address or URL) is in list.
func MatchesDomain(s string, list []string) bool {
	d := hostOf(s)
	if d == "" {
		return false
	}
	for _, p := range list {
		if domainMatches(d, p) {
			return true
		}
	}
	return false
}

// domainMatcher is a domain list compiled for MatchesDomain: exact names and "*."
// suffixes in sets, so a match costs one lookup per label of the domain instead of a
// pass over the list.
type domainMatcher struct {
	exact, suffix map[string]bool // suffix holds ".x.com" for "*.x.com"
}

func newDomainMatcher(list []string) *domainMatcher {
	m := &domainMatcher{exact: map[string]bool{}, suffix: map[string]bool{}}
	for _, p := range list {
		p = strings.ToLower(strings.TrimSpace(p))
		if strings.HasPrefix(p, "*.") {
			m.suffix[p[1:]] = true
		} else {
			m.exact[p] = true
		}
	}
	return m
}

// match is MatchesDomain against the compiled list (d: hostOf the string, not empty).
func (m *domainMatcher) match(d string) bool {
	if m.exact[d] {
		return true
	}
	if len(m.suffix) == 0 {
		return false
	}
	for i := 1; i < len(d); i++ {
		if d[i] == '.' && m.suffix[d[i:]] {
			return true
		}
	}
	return false
}

// fileList is a rule-file list as rules see it: the CEL list, plus its items compiled
// for matchesDomain (rule-file lists are fixed for the life of a RuleSet).
type fileList struct {
	traits.Lister
	domains *domainMatcher
}

func newFileList(items []string) ref.Val {
	return &fileList{Lister: strs(items).(traits.Lister), domains: newDomainMatcher(items)}
}

func matchesDomainVal(s string, l ref.Val) bool {
	if fl, ok := l.(*fileList); ok {
		d := hostOf(s)
		return d != "" && fl.domains.match(d)
	}
	if ss, ok := l.Value().([]string); ok {
		return MatchesDomain(s, ss)
	}
	d := hostOf(s)
	if d == "" {
		return false
	}
	lister, ok := l.(traits.Lister)
	if !ok {
		return false
	}
	for it := lister.Iterator(); it.HasNext() == types.True; {
		if p, ok := it.Next().(types.String); ok && domainMatches(d, string(p)) {
			return true
		}
	}
	return false
}

// domainSet is the organisation's own domains.
type domainSet struct {
	exact    map[string]bool
	suffixes []string // ".x.com" for "*.x.com"
}

func newDomainSet(domains []string) *domainSet {
	ds := &domainSet{exact: map[string]bool{}}
	for _, d := range domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if strings.HasPrefix(d, "*.") {
			ds.suffixes = append(ds.suffixes, d[1:])
		} else if d != "" {
			ds.exact[d] = true
		}
	}
	return ds
}

func (ds *domainSet) internal(d string) bool {
	if ds.exact[d] {
		return true
	}
	for _, s := range ds.suffixes {
		if len(d) > len(s) && strings.HasSuffix(d, s) {
			return true
		}
	}
	return false
}

// isExternal reports whether s, an address or domain, lies outside the organisation.
func (ds *domainSet) isExternal(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t") {
		return false
	}
	// Entra ID guest accounts are external whatever the tenant domain after the @.
	if strings.Contains(strings.ToLower(s), "#ext#") {
		return true
	}
	d := hostOf(s)
	if d == "" || !strings.Contains(d, ".") {
		return false
	}
	return !ds.internal(d)
}

func alnum(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

func localPart(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}

func (ds *domainSet) isPersonalAddressOf(recipient, user string) bool {
	if !strings.Contains(recipient, "@") || !ds.isExternal(recipient) {
		return false
	}
	rl := alnum(localPart(strings.ToLower(recipient)))
	ulRaw := strings.ToLower(localPart(user))
	ul := alnum(ulRaw)
	if len(ul) >= 3 && strings.Contains(rl, ul) {
		return true
	}
	tokens := strings.FieldsFunc(ulRaw, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	if len(tokens) < 2 {
		return false
	}
	first, last := alnum(tokens[0]), alnum(tokens[len(tokens)-1])
	return len(first) >= 2 && len(last) >= 2 && strings.Contains(rl, first) && strings.Contains(rl, last)
}

// poorRatings are the words irm reads as a poor performance rating.
var poorRatings = map[string]bool{
	"poor": true, "unsatisfactory": true, "below expectations": true, "does not meet expectations": true,
	"did not meet expectations": true, "partially meets expectations": true, "needs improvement": true,
	"low": true, "not meeting expectations": true,
}

var ratingNum = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*(?:(?:/|of|out of)\s*(\d+(?:\.\d+)?))?\s*$`)

// IsPoorRating reports whether an HR performance rating counts as poor: a number of at
// most 2 (of 5), "x/n" or "x of n" with x/n <= 0.4, or one of the words in poorRatings.
func IsPoorRating(r string) bool {
	s := strings.ToLower(strings.Join(strings.Fields(r), " "))
	if s == "" {
		return false
	}
	if poorRatings[s] {
		return true
	}
	m := ratingNum.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	x, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return false
	}
	if m[2] != "" {
		n, err := strconv.ParseFloat(m[2], 64)
		if err != nil || n <= 0 {
			return false
		}
		return x/n <= 0.4
	}
	return x <= 2
}

var firstNumber = regexp.MustCompile(`\d+(?:\.\d+)?`)

// LevelDirection compares two job levels by the first number in each: "down" when the
// new level is lower, "up" when higher. Levels without numbers that differ give
// "changed"; equal or empty levels give "".
func LevelDirection(oldLevel, newLevel string) string {
	o, n := strings.TrimSpace(oldLevel), strings.TrimSpace(newLevel)
	if o == "" && n == "" || strings.EqualFold(o, n) {
		return ""
	}
	on, nn := firstNumber.FindString(o), firstNumber.FindString(n)
	if on != "" && nn != "" {
		a, _ := strconv.ParseFloat(on, 64)
		b, _ := strconv.ParseFloat(nn, 64)
		switch {
		case b < a:
			return "down"
		case b > a:
			return "up"
		}
	}
	return "changed"
}

// globCache holds compiled glob patterns; patterns are rule constants, so it stays small.
var globCache sync.Map // key: pattern + "\x00" + "i"/"s" -> *regexp.Regexp

func windowsPath(p string) bool {
	return strings.Contains(p, `\`) || len(p) >= 2 && p[1] == ':' && unicode.IsLetter(rune(p[0]))
}

// GlobMatch matches a path against a glob pattern (see Functions for the syntax).
func GlobMatch(pattern, path string) bool {
	ci := windowsPath(path) || windowsPath(pattern)
	key := pattern + "\x00s"
	if ci {
		key = pattern + "\x00i"
	}
	re, ok := globCache.Load(key)
	if !ok {
		re, _ = globCache.LoadOrStore(key, compileGlob(pattern, ci))
	}
	return re.(*regexp.Regexp).MatchString(strings.ReplaceAll(path, `\`, "/"))
}

func compileGlob(pattern string, ci bool) *regexp.Regexp {
	p := []rune(strings.ReplaceAll(pattern, `\`, "/"))
	var b strings.Builder
	if ci {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			// "**/" also matches zero directories.
			if i+1 < len(p) && p[i+1] == '/' {
				i++
				b.WriteString("(?:.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
