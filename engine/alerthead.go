package engine

import (
	"encoding/binary"
	"errors"
	"time"
)

// The stored head of an alert is a small positional binary record rather than JSON:
// start-up decodes one per stored alert, and at 100,000 alerts JSON decoding was most of
// the start. Layout (version 1): a version byte, then id, user, policy, template,
// severity, status, title, case, assignee as length-prefixed strings, the score, the
// created and updated times (unix nanos, zig-zag varints), the risk factors (count,
// strings), and the insights (count; kind, id, day, level each).

const headVersion = 1

type headWriter struct{ b []byte }

func (w *headWriter) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *headWriter) num(n int64) { w.b = binary.AppendVarint(w.b, n) }

func encodeHead(a *Alert) []byte {
	w := headWriter{b: make([]byte, 0, 256)}
	w.b = append(w.b, headVersion)
	for _, s := range []string{a.ID, a.User, a.Policy, a.Template, a.Severity, a.Status, a.Title, a.Case, a.Assignee} {
		w.str(s)
	}
	w.num(int64(a.Score))
	w.num(a.Created.UnixNano())
	w.num(a.Updated.UnixNano())
	w.num(int64(len(a.RiskFactors)))
	for _, f := range a.RiskFactors {
		w.str(f)
	}
	w.num(int64(len(a.Insights)))
	for _, in := range a.Insights {
		w.str(in.Kind)
		w.str(in.ID)
		w.str(in.Day)
		w.str(in.Level)
	}
	return w.b
}

var errHead = errors.New("malformed alert head")

type headReader struct {
	b   []byte
	err error
}

func (r *headReader) num() int64 {
	if r.err != nil {
		return 0
	}
	n, k := binary.Varint(r.b)
	if k <= 0 {
		r.err = errHead
		return 0
	}
	r.b = r.b[k:]
	return n
}

func (r *headReader) str() string {
	if r.err != nil {
		return ""
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = errHead
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

// count reads a list length, refusing one longer than the bytes left could hold.
func (r *headReader) count() int {
	n := r.num()
	if n < 0 || n > int64(len(r.b)) {
		r.err = errHead
		return 0
	}
	return int(n)
}

// coverRef is what scoring remembers of one insight of a closed alert (Engine.cover).
type coverRef struct {
	key  string // kind/id/day
	rank int
}

// decodeHead makes the partial alert of a stored head (without insights: a partial
// alert is read whole before anyone looks at them) and its insights' cover keys.
func decodeHead(b []byte) (*Alert, []coverRef, error) {
	if len(b) == 0 || b[0] != headVersion {
		return nil, nil, errHead
	}
	r := headReader{b: b[1:]}
	a := &Alert{partial: true}
	for _, p := range []*string{&a.ID, &a.User, &a.Policy, &a.Template, &a.Severity, &a.Status, &a.Title, &a.Case, &a.Assignee} {
		*p = r.str()
	}
	a.Score = int(r.num())
	a.Created = time.Unix(0, r.num()).UTC()
	a.Updated = time.Unix(0, r.num()).UTC()
	a.RiskFactors = make([]string, r.count())
	for i := range a.RiskFactors {
		a.RiskFactors[i] = r.str()
	}
	refs := make([]coverRef, r.count())
	for i := range refs {
		kind, id, day, level := r.str(), r.str(), r.str(), r.str()
		refs[i] = coverRef{key: kind + "/" + id + "/" + day, rank: levelRank(level)}
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, nil, errHead
	}
	return a, refs, nil
}
