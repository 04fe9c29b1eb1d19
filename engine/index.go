package engine

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"irm/event"
)

// The per-user index is the engine's whole memory of the stored events: for every user,
// the events that matched an enabled indicator ("hits"), the triggering events, the DLP
// matches and the days on which the user was active at all. It is kept nearly free of
// pointers: with 20,000 users and two million events, an index of per-event structs with
// strings and slices was a live heap larger than the then 384 MiB soft limit, and the
// collector ran without pause (55 % of the CPU of bench/e2e.sh). Event ids live in one
// byte arena per user, indicator lists in one []uint16 per user, and file names and
// content attributes in engine-wide tables addressed by uint32.

// hit is one stored event that matched at least one enabled indicator.
type hit struct {
	t       int64  // unix nanos
	day     int32  // day number in the organisation's time zone (see Engine.dayOf)
	idOff   uint32 // event id in userIndex.ids (userIndex.id)
	indOff  uint32 // indicators: userIndex.inds[indOff : indOff+indN] (keys likewise)
	file    uint32 // lower-case file name in Engine.files; 0 = none
	content uint32 // priority-content attributes in Engine.contents; 0 = none
	ct      uint32 // bit i: count trigger i's own condition holds for the event
	idLen   uint8
	indN    uint8
	feed    uint8 // index in event.Feeds
	flags   uint8
}

const (
	hitUnallowed uint8 = 1 << iota // goes to or comes from an unallowed domain
	hitExfil                       // matched an exfiltration indicator
	hitSevere                      // an endpoint security alert its source rated High
)

// trigHit is a plain triggering event (a count trigger is derived from the hits).
type trigHit struct {
	t     int64
	idOff uint32
	tmpl  uint16 // index in RuleSet.Templates()
	trig  uint16 // index in that template's Triggers
	idLen uint8
	feed  uint8
}

// dlpHit is a DLP rule match, for policies whose trigger is a named DLP policy.
type dlpHit struct {
	t        int64
	idOff    uint32
	policies uint32 // the match's DLP policy names, lower-cased, in Engine.dlpSets
	idLen    uint8
	high     bool
}

// userIndex is one user's part of the index.
type userIndex struct {
	upn     string
	profile *event.Profile
	groups  []string // priority groups (settings; a settings change rebuilds the index)
	hits    []hit    // by (t, id) once sortHits has run
	trig    []trigHit
	dlp     []dlpHit
	ids     []byte     // event ids of hits, triggers and DLP matches
	inds    []uint16   // indicator indices (rule-set catalog order) of every hit
	keys    []uint64   // parallel to inds: the first_seen key hash, 0 for other indicators
	daily   dailyTable // events per (day, indicator), kept up to date by add
	active  dayset     // days with any stored event, of any feed
	newest  int64      // time of the newest event of any feed (unix nanos)
	sorted  bool
}

func newUserIndex(upn string) *userIndex {
	return &userIndex{upn: strings.Clone(upn), sorted: true}
}

// Event ids are mostly canonical lower-case UUIDs (Microsoft 365 audit records, DLP and
// Defender alerts): those are packed into 16 bytes, marked by idPacked in place of a
// length; other ids are stored as they are, cut at 254 bytes. Packing saved 20 of every
// 36 bytes of the arena, 40 MB of the live heap of the 20,000-user bench/e2e.sh run.
// Packed ids sort as their text does (hex digits in order, dashes at fixed places).
const idPacked uint8 = 255

func (ux *userIndex) id(off uint32, n uint8) string {
	if n == idPacked {
		var b [36]byte
		return string(unpackUUID(&b, ux.ids[off:off+16]))
	}
	return string(ux.ids[off : off+uint32(n)])
}

// idSpan is the number of arena bytes an id takes.
func idSpan(n uint8) uint32 {
	if n == idPacked {
		return 16
	}
	return uint32(n)
}

// idCmp compares two ids of the arena as strings.
func (ux *userIndex) idCmp(aOff uint32, aN uint8, bOff uint32, bN uint8) int {
	a, b := ux.ids[aOff:aOff+idSpan(aN)], ux.ids[bOff:bOff+idSpan(bN)]
	if (aN == idPacked) == (bN == idPacked) {
		return bytes.Compare(a, b)
	}
	var ba, bb [36]byte
	if aN == idPacked {
		a = unpackUUID(&ba, a)
	}
	if bN == idPacked {
		b = unpackUUID(&bb, b)
	}
	return bytes.Compare(a, b)
}

func (ux *userIndex) hitID(h *hit) string { return ux.id(h.idOff, h.idLen) }

func (ux *userIndex) hitInds(h *hit) []uint16 { return ux.inds[h.indOff : h.indOff+uint32(h.indN)] }

func (ux *userIndex) addID(id string) (uint32, uint8) {
	off := uint32(len(ux.ids))
	if packed, ok := packUUID(ux.ids, id); ok {
		ux.ids = packed
		return off, idPacked
	}
	if len(id) >= int(idPacked) {
		// Ids come from the data; an absurd one is cut rather than widening every hit.
		id = id[:idPacked-1]
	}
	ux.ids = append(ux.ids, id...)
	return off, uint8(len(id))
}

// packUUID appends the 16 bytes of id to dst if id is a canonical lower-case UUID.
func packUUID(dst []byte, id string) ([]byte, bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return dst, false
	}
	var out [16]byte
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i--
			continue
		}
		hi, ok1 := lowerHex(id[i])
		lo, ok2 := lowerHex(id[i+1])
		if !ok1 || !ok2 {
			return dst, false
		}
		out[j] = hi<<4 | lo
		j++
	}
	return append(dst, out[:]...), true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func unpackUUID(b *[36]byte, p []byte) []byte {
	const digits = "0123456789abcdef"
	j := 0
	for i, c := range p[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = digits[c>>4], digits[c&15]
		j += 2
	}
	return b[:]
}

func (ux *userIndex) add(h hit) {
	if n := len(ux.hits); n > 0 {
		last := &ux.hits[n-1]
		if h.t < last.t || (h.t == last.t && ux.idCmp(h.idOff, h.idLen, last.idOff, last.idLen) < 0) {
			ux.sorted = false
		}
	}
	ux.hits = append(ux.hits, h)
	for _, ix := range ux.hitInds(&h) {
		ux.daily.add(h.day, ix)
	}
}

// sortHits restores (time, id) order after late or out-of-order events, so that every
// derived list (event ids, sequences, novelty) is the same whatever the arrival order.
func (ux *userIndex) sortHits() {
	if !ux.sorted {
		sort.Slice(ux.hits, func(i, j int) bool {
			a, b := &ux.hits[i], &ux.hits[j]
			if a.t != b.t {
				return a.t < b.t
			}
			return ux.idCmp(a.idOff, a.idLen, b.idOff, b.idLen) < 0
		})
		ux.sorted = true
	}
	sort.Slice(ux.trig, func(i, j int) bool {
		a, b := &ux.trig[i], &ux.trig[j]
		if a.t != b.t {
			return a.t < b.t
		}
		if c := ux.idCmp(a.idOff, a.idLen, b.idOff, b.idLen); c != 0 {
			return c < 0
		}
		if a.tmpl != b.tmpl {
			return a.tmpl < b.tmpl
		}
		return a.trig < b.trig
	})
	sort.Slice(ux.dlp, func(i, j int) bool {
		a, b := &ux.dlp[i], &ux.dlp[j]
		if a.t != b.t {
			return a.t < b.t
		}
		return ux.idCmp(a.idOff, a.idLen, b.idOff, b.idLen) < 0
	})
}

// compact rewrites the id arena and the indicator lists with only what the hits,
// triggers and DLP matches still use (after rematchProfile dropped some).
func (ux *userIndex) compact() {
	ids := make([]byte, 0, len(ux.ids))
	inds := make([]uint16, 0, len(ux.inds))
	keys := make([]uint64, 0, len(ux.keys))
	move := func(off *uint32, n uint8) {
		o := uint32(len(ids))
		ids = append(ids, ux.ids[*off:*off+idSpan(n)]...)
		*off = o
	}
	for i := range ux.hits {
		h := &ux.hits[i]
		move(&h.idOff, h.idLen)
		o := uint32(len(inds))
		inds = append(inds, ux.inds[h.indOff:h.indOff+uint32(h.indN)]...)
		keys = append(keys, ux.keys[h.indOff:h.indOff+uint32(h.indN)]...)
		h.indOff = o
	}
	for i := range ux.trig {
		move(&ux.trig[i].idOff, ux.trig[i].idLen)
	}
	for i := range ux.dlp {
		move(&ux.dlp[i].idOff, ux.dlp[i].idLen)
	}
	ux.ids, ux.inds, ux.keys = ids, inds, keys
	ux.daily = nil
	for i := range ux.hits {
		for _, ix := range ux.hitInds(&ux.hits[i]) {
			ux.daily.add(ux.hits[i].day, ix)
		}
	}
}

func (ux *userIndex) department() string {
	if ux.profile == nil {
		return ""
	}
	return ux.profile.Department
}

// dayset is a set of day numbers: a bitmap from the first day set.
type dayset struct {
	base  int32 // day of bit 0 of words[0]; a multiple of 64
	words []uint64
}

func floor64(d int32) int32 {
	if d >= 0 {
		return d &^ 63
	}
	return -((-d + 63) &^ 63)
}

// set adds day d and reports whether it was new.
func (s *dayset) set(d int32) bool {
	if len(s.words) == 0 {
		s.base = floor64(d)
		s.words = make([]uint64, 1, 2)
	}
	if d < s.base {
		b := floor64(d)
		grow := int((s.base - b) / 64)
		s.words = append(make([]uint64, grow, grow+len(s.words)), s.words...)
		s.base = b
	}
	i := int((d - s.base) / 64)
	for i >= len(s.words) {
		s.words = append(s.words, 0)
	}
	bit := uint64(1) << uint((d-s.base)%64)
	if s.words[i]&bit != 0 {
		return false
	}
	s.words[i] |= bit
	return true
}

func (s *dayset) has(d int32) bool {
	if len(s.words) == 0 || d < s.base {
		return false
	}
	i := int((d - s.base) / 64)
	return i < len(s.words) && s.words[i]&(1<<uint((d-s.base)%64)) != 0
}

// count is the number of days set in [from, to].
func (s *dayset) count(from, to int32) int {
	if len(s.words) == 0 || to < from {
		return 0
	}
	from = max(from, s.base)
	last := s.base + int32(len(s.words))*64 - 1
	to = min(to, last)
	n := 0
	for d := from; d <= to; {
		i := int((d - s.base) / 64)
		off := uint((d - s.base) % 64)
		w := s.words[i] >> off
		span := 64 - int32(off)
		if rest := to - d + 1; rest < span {
			w &= (1 << uint(rest)) - 1
			span = rest
		}
		n += bits.OnesCount64(w)
		d += span
	}
	return n
}

// first returns the first day set (ok false when empty).
func (s *dayset) first() (int32, bool) {
	for i, w := range s.words {
		if w != 0 {
			return s.base + int32(i*64+bits.TrailingZeros64(w)), true
		}
	}
	return 0, false
}

// strtab interns strings into one byte arena: the index refers to them by number, and
// the collector sees one allocation instead of one per distinct name.
type strtab struct {
	seed  maphash.Seed
	arena []byte
	off   []uint32 // string i (i >= 1) is arena[off[i-1]:off[i]]
	byH   map[uint64]uint32
	clash map[string]uint32 // strings whose hash another string took first (practically never)
}

func newStrtab() *strtab {
	return &strtab{seed: maphash.MakeSeed(), off: []uint32{0}, byH: map[uint64]uint32{}}
}

// get returns string i (0 = "").
func (st *strtab) get(i uint32) string {
	if i == 0 {
		return ""
	}
	a, b := st.off[i-1], st.off[i]
	return unsafe.String(&st.arena[a], int(b-a))
}

// intern returns the number of s (0 for "").
func (st *strtab) intern(s string) uint32 {
	if s == "" {
		return 0
	}
	h := maphash.String(st.seed, s)
	if i, ok := st.byH[h]; ok {
		if st.get(i) == s {
			return i
		}
		if i, ok := st.clash[s]; ok {
			return i
		}
	}
	st.arena = append(st.arena, s...)
	st.off = append(st.off, uint32(len(st.arena)))
	i := uint32(len(st.off) - 1)
	if _, ok := st.byH[h]; ok {
		if st.clash == nil {
			st.clash = map[string]uint32{}
		}
		st.clash[strings.Clone(s)] = i
	} else {
		st.byH[h] = i
	}
	return i
}

// content is what priority content is matched against.
type content struct {
	ext, site    string
	labels, sits []string
}

// contentTab interns content attribute tuples: few distinct ones (site, extension,
// labels) recur across most events.
type contentTab struct {
	byKey map[string]uint32
	list  []content // list[0] is the empty tuple
}

func newContentTab() *contentTab {
	return &contentTab{byKey: map[string]uint32{}, list: []content{{}}}
}

func (ct *contentTab) intern(ev *event.Event) uint32 {
	if ev.FileExt == "" && ev.Site == "" && len(ev.Labels) == 0 && len(ev.SensitiveTypes) == 0 {
		return 0
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(ev.FileExt))
	b.WriteByte(0)
	b.WriteString(strings.ToLower(ev.Site))
	for _, l := range ev.Labels {
		b.WriteByte(1)
		b.WriteString(strings.ToLower(l))
	}
	for _, s := range ev.SensitiveTypes {
		b.WriteByte(2)
		b.WriteString(strings.ToLower(s))
	}
	k := b.String()
	if i, ok := ct.byKey[k]; ok {
		return i
	}
	i := uint32(len(ct.list))
	ct.list = append(ct.list, content{ext: strings.ToLower(ev.FileExt), site: strings.ToLower(ev.Site),
		labels: lowerAll(ev.Labels), sits: lowerAll(ev.SensitiveTypes)})
	ct.byKey[k] = i
	return i
}

func (ct *contentTab) get(i uint32) *content {
	if i == 0 {
		return nil
	}
	return &ct.list[i]
}

func feedIndex(f string) uint8 {
	if i := slices.Index(event.Feeds, f); i >= 0 {
		return uint8(i)
	}
	return uint8(len(event.Feeds))
}

func feedName(i uint8) string {
	if int(i) < len(event.Feeds) {
		return event.Feeds[i]
	}
	return ""
}
