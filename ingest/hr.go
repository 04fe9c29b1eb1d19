package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"irm/event"
)

// Canonical HR column names (the connector documentation's example names). A file may
// use other names when config [hr.columns] maps the canonical name to the file's name.
const (
	hrEmail              = "EmailAddress"
	hrResignationDate    = "ResignationDate"
	hrLastWorkingDate    = "LastWorkingDate"
	hrEffectiveDate      = "EffectiveDate"
	hrRemarks            = "Remarks"
	hrOldLevel           = "OldLevel"
	hrNewLevel           = "NewLevel"
	hrRating             = "Rating"
	hrImprovementRemarks = "ImprovementRemarks"
	hrPerformanceRating  = "PerformanceRating"
	hrScenarioColumn     = "HRScenario"
	hrDepartment         = "Department"
	hrManager            = "Manager"
)

// HRColumnNames lists the canonical HR column names that [hr.columns] may remap.
var HRColumnNames = []string{hrEmail, hrResignationDate, hrLastWorkingDate, hrEffectiveDate, hrRemarks,
	hrOldLevel, hrNewLevel, hrRating, hrImprovementRemarks, hrPerformanceRating, hrScenarioColumn,
	hrDepartment, hrManager}

// A quoted CSV field may span lines; a quote left open for longer than this is a broken
// row, not a long remark, and the lines after it are read as rows again.
const hrMaxRecordLines = 50

// hrHeader is a recognised HR CSV header.
type hrHeader struct {
	names    []string       // the file's column names, in order
	col      map[string]int // canonical name -> column index
	scenario string         // the file's one scenario, or "" when rows carry HRScenario
}

func (h *hrHeader) has(c string) bool { _, ok := h.col[c]; return ok }

func (h *hrHeader) get(row []string, c string) string {
	i, ok := h.col[c]
	if !ok || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

// fileName is the name the file uses for a canonical column, for messages.
func (h *hrHeader) fileName(c string) string {
	if i, ok := h.col[c]; ok {
		return h.names[i]
	}
	return c
}

// parseHR parses an HR connector CSV file.
func parseHR(r io.Reader, opt ParseOptions, emit func(*event.Event) error) ([]RecordError, error) {
	remap, err := hrRemap(opt.HRColumns)
	if err != nil {
		return nil, err
	}
	lr := &hrLineReader{br: bufio.NewReaderSize(r, 64<<10), max: opt.maxLine()}
	head, perr := lr.br.Peek(4096)
	if perr != nil && perr != io.EOF && len(head) == 0 {
		return nil, fmt.Errorf("hr: read: %w", perr)
	}
	if err := sniffText(head); err != nil {
		return nil, fmt.Errorf("hr: %w", err)
	}
	if bytes.HasPrefix(head, utf8BOM) {
		_, _ = lr.br.Discard(len(utf8BOM))
	}

	// The header is the first non-blank line.
	var hdr *hrHeader
	for hdr == nil {
		text, lineNo, overlong, err := lr.next()
		if err == io.EOF {
			return nil, errors.New("hr: empty file")
		}
		if err != nil {
			return nil, fmt.Errorf("hr: read: %w", err)
		}
		if overlong {
			return nil, fmt.Errorf("hr: line %d: header longer than %d bytes", lineNo, lr.max)
		}
		t := strings.TrimSpace(text)
		if t == "" {
			continue
		}
		if t[0] == '[' || t[0] == '{' {
			return nil, errors.New("hr: this is JSON, not an HR CSV file; was it dropped in the wrong directory?")
		}
		fields, open, perr := splitCSVLine(text)
		if perr != nil || open {
			return nil, fmt.Errorf("hr: line %d: malformed CSV header", lineNo)
		}
		if hdr, err = recognizeHRHeader(fields, remap); err != nil {
			return nil, fmt.Errorf("hr: line %d: %w", lineNo, err)
		}
	}

	var rejects []RecordError
	record := 0
	for {
		text, lineNo, overlong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rejects, fmt.Errorf("hr: read: %w", err)
		}
		if !overlong && strings.TrimSpace(text) == "" {
			continue
		}
		record++
		if overlong {
			rejects = append(rejects, RecordError{Line: lineNo, Record: record, Reason: fmt.Sprintf("line longer than %d bytes; skipped", lr.max)})
			continue
		}
		fields, open, perr := splitCSVLine(text)
		if open {
			// A quoted field continues on the next lines.
			var extra []hrLine
			joined := text
			for open && perr == nil && len(extra) < hrMaxRecordLines && len(joined) <= lr.max {
				t, n, long, err := lr.next()
				if err != nil || long {
					if err == nil {
						extra = append(extra, hrLine{text: t, line: n, overlong: true})
					} else if err != io.EOF {
						return rejects, fmt.Errorf("hr: read: %w", err)
					}
					break
				}
				extra = append(extra, hrLine{text: t, line: n})
				joined += "\n" + t
				fields, open, perr = splitCSVLine(joined)
			}
			if open || perr != nil {
				// Not a multi-line field after all: report this row, read the others again.
				lr.unread(extra)
				perr = errors.New("a quoted field is not closed (on this line or the ones after it)")
			}
		}
		if perr != nil {
			rejects = append(rejects, RecordError{Line: lineNo, Record: record, Reason: "malformed CSV: " + perr.Error()})
			continue
		}
		ev, rj := hr2event(hdr, fields)
		if rj == nil {
			rj = checkKeys(ev)
		}
		if rj != nil {
			rejects = append(rejects, RecordError{Line: lineNo, Record: record, Field: rj.field, Reason: rj.reason})
			continue
		}
		if err := emit(ev); err != nil {
			return rejects, err
		}
	}
	return rejects, nil
}

// hrRemap validates [hr.columns] and returns it keyed by canonical name.
func hrRemap(cols map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(cols))
	for k, v := range cols {
		canon := ""
		for _, c := range HRColumnNames {
			if strings.EqualFold(c, strings.TrimSpace(k)) {
				canon = c
			}
		}
		if canon == "" {
			return nil, fmt.Errorf("hr: [hr.columns] names an unknown column %q (known: %s)", k, strings.Join(HRColumnNames, ", "))
		}
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("hr: [hr.columns] %s maps to an empty name", canon)
		}
		out[canon] = strings.TrimSpace(v)
	}
	return out, nil
}

// recognizeHRHeader finds the canonical columns in a header and the file's scenario.
func recognizeHRHeader(names []string, remap map[string]string) (*hrHeader, error) {
	h := &hrHeader{col: map[string]int{}}
	for _, n := range names {
		h.names = append(h.names, strings.TrimSpace(n))
	}
	index := func(name string) (int, error) {
		found := -1
		for i, n := range h.names {
			if strings.EqualFold(n, name) {
				if found >= 0 {
					return -1, fmt.Errorf("column %q appears twice in the header", n)
				}
				found = i
			}
		}
		return found, nil
	}
	for _, c := range HRColumnNames {
		i := -1
		var err error
		if m, ok := remap[c]; ok {
			if i, err = index(m); err != nil {
				return nil, err
			}
		}
		if i < 0 {
			if i, err = index(c); err != nil {
				return nil, err
			}
		}
		if i >= 0 {
			h.col[c] = i
		}
	}
	if !h.has(hrEmail) {
		if len(h.names) == 1 && strings.ContainsAny(h.names[0], ";\t|") {
			return nil, fmt.Errorf("unrecognised HR header %q: HR files must be comma-separated", h.names[0])
		}
		return nil, fmt.Errorf("unrecognised HR header %q: no %s column%s", strings.Join(h.names, ","), hrEmail, remapHint(remap, hrEmail))
	}
	if h.has(hrScenarioColumn) {
		return h, nil
	}
	var found []string
	if h.has(hrResignationDate) {
		found = append(found, event.HRResignation)
	}
	if h.has(hrOldLevel) || h.has(hrNewLevel) {
		found = append(found, event.HRJobLevelChange)
	}
	if h.has(hrImprovementRemarks) || h.has(hrPerformanceRating) {
		found = append(found, event.HRImprovementPlan)
	}
	if h.has(hrRating) && !h.has(hrImprovementRemarks) && !h.has(hrPerformanceRating) {
		found = append(found, event.HRPerformanceReview)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("unrecognised HR header %q: cannot tell the scenario; expected ResignationDate (resignation), OldLevel/NewLevel (job level change), Rating (performance review), ImprovementRemarks/PerformanceRating (improvement plan), or an HRScenario column", strings.Join(h.names, ","))
	case 1:
	default:
		return nil, fmt.Errorf("HR header %q has columns of several scenarios (%s) but no HRScenario column to tell the rows apart", strings.Join(h.names, ","), strings.Join(found, ", "))
	}
	h.scenario = found[0]
	need := hrEffectiveDate
	if h.scenario == event.HRResignation {
		need = hrResignationDate
	}
	if !h.has(need) {
		return nil, fmt.Errorf("HR header %q: %s needs the %s column%s", strings.Join(h.names, ","), h.scenario, need, remapHint(remap, need))
	}
	return h, nil
}

func remapHint(remap map[string]string, c string) string {
	if m, ok := remap[c]; ok {
		return fmt.Sprintf(" (nor %q as mapped in [hr.columns])", m)
	}
	return ""
}

// hrScenarioValue maps an HRScenario cell to a scenario.
func hrScenarioValue(v string) (string, error) {
	switch normalizeToken(v) {
	case "resignation", "employeeresignation":
		return event.HRResignation, nil
	case "joblevelchange", "levelchange", "joblevel":
		return event.HRJobLevelChange, nil
	case "performancereview", "review":
		return event.HRPerformanceReview, nil
	case "performanceimprovementplan", "improvementplan", "pip":
		return event.HRImprovementPlan, nil
	case "":
		return "", errors.New("missing")
	case "employeeprofile":
		return "", fmt.Errorf("%q rows are not supported (accepted: Resignation, Job level change, Performance review, Performance improvement plan)", v)
	}
	return "", fmt.Errorf("unknown scenario %q (accepted: Resignation, Job level change, Performance review, Performance improvement plan)", truncate(v, 60))
}

// hr2event turns one data row into an event.
func hr2event(h *hrHeader, row []string) (*event.Event, *recordReject) {
	if len(row) > len(h.names) {
		return nil, reject("", "row has %d fields, the header has %d", len(row), len(h.names))
	}
	user := strings.ToLower(h.get(row, hrEmail))
	if user == "" {
		return nil, reject(h.fileName(hrEmail), "missing")
	}
	if !strings.Contains(user, "@") {
		return nil, reject(h.fileName(hrEmail), "%q is not a UPN or email address", truncate(user, 60))
	}
	scenario := h.scenario
	if scenario == "" {
		var err error
		if scenario, err = hrScenarioValue(h.get(row, hrScenarioColumn)); err != nil {
			return nil, reject(h.fileName(hrScenarioColumn), "%v", err)
		}
	}
	date := func(c string, required bool) (time.Time, *recordReject) {
		v := h.get(row, c)
		if v == "" {
			if required {
				return time.Time{}, reject(h.fileName(c), "missing")
			}
			return time.Time{}, nil
		}
		t, err := parseFeedTime(v)
		if err != nil {
			return time.Time{}, reject(h.fileName(c), "%v", err)
		}
		return t, nil
	}
	rec := &event.HR{
		Scenario:   scenario,
		Department: h.get(row, hrDepartment),
		Manager:    h.get(row, hrManager),
	}
	if strings.Contains(rec.Manager, "@") {
		rec.Manager = strings.ToLower(rec.Manager)
	}
	var rj *recordReject
	switch scenario {
	case event.HRResignation:
		if rec.ResignationDate, rj = date(hrResignationDate, true); rj != nil {
			return nil, rj
		}
		if rec.LastWorkingDate, rj = date(hrLastWorkingDate, false); rj != nil {
			return nil, rj
		}
		rec.EffectiveDate = rec.ResignationDate
	default:
		if rec.EffectiveDate, rj = date(hrEffectiveDate, true); rj != nil {
			return nil, rj
		}
		switch scenario {
		case event.HRJobLevelChange:
			rec.Remarks = h.get(row, hrRemarks)
			rec.OldLevel = h.get(row, hrOldLevel)
			rec.NewLevel = h.get(row, hrNewLevel)
		case event.HRPerformanceReview:
			rec.Remarks = h.get(row, hrRemarks)
			rec.Rating = h.get(row, hrRating)
		case event.HRImprovementPlan:
			rec.Remarks = firstNonEmpty(h.get(row, hrImprovementRemarks), h.get(row, hrRemarks))
			rec.Rating = firstNonEmpty(h.get(row, hrPerformanceRating), h.get(row, hrRating))
		}
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	return &event.Event{
		// HR rows carry no ID: the digest of the normalized row makes the same row the
		// same event whatever the file's column names, order or date format.
		ID: contentID("hr-", scenario, user, ts(rec.EffectiveDate), ts(rec.ResignationDate), ts(rec.LastWorkingDate),
			rec.Remarks, rec.OldLevel, rec.NewLevel, rec.Rating, rec.Department, rec.Manager),
		Feed:      event.FeedHR,
		Time:      rec.EffectiveDate,
		User:      user,
		Operation: scenario,
		Workload:  "HR",
		HR:        rec,
		Raw:       hrRaw(h.names, row),
	}, nil
}

// hrRaw keeps the row as a JSON object of the file's column names, in file order.
func hrRaw(names, row []string) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		b.Write(k)
		b.WriteByte(':')
		v := ""
		if i < len(row) {
			v = row[i]
		}
		vb, _ := json.Marshal(v)
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// splitCSVLine splits one CSV record (RFC 4180, comma-separated). open reports a quoted
// field still open at the end of the text: the record continues on the next line.
func splitCSVLine(s string) (fields []string, open bool, err error) {
	var f strings.Builder
	i := 0
	for {
		// Start of a field. Blanks before an opening quote are not part of the field
		// (spreadsheet exports write ", \"a, b\"").
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && s[j] == '"' {
			i = j
		}
		if i < len(s) && s[i] == '"' {
			i++
			f.Reset()
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					return nil, true, nil
				}
				f.WriteString(s[i : i+j])
				i += j + 1
				if i < len(s) && s[i] == '"' {
					f.WriteByte('"')
					i++
					continue
				}
				break
			}
			// Only blanks may follow the closing quote.
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			fields = append(fields, f.String())
			if i == len(s) {
				return fields, false, nil
			}
			if s[i] != ',' {
				return nil, false, fmt.Errorf("text after the closing quote of field %d", len(fields))
			}
			i++
			continue
		}
		k := strings.IndexByte(s[i:], ',')
		if k < 0 {
			fields = append(fields, s[i:])
			return fields, false, nil
		}
		fields = append(fields, s[i:i+k])
		i += k + 1
	}
}

type hrLine struct {
	text     string
	line     int
	overlong bool
}

// hrLineReader reads lines of at most max bytes; a longer line is reported as overlong
// and skipped without being kept in memory.
type hrLineReader struct {
	br      *bufio.Reader
	max     int
	line    int
	pending []hrLine
	buf     []byte
}

func (l *hrLineReader) unread(lines []hrLine) {
	l.pending = append(append([]hrLine(nil), lines...), l.pending...)
}

func (l *hrLineReader) next() (text string, line int, overlong bool, err error) {
	if len(l.pending) > 0 {
		p := l.pending[0]
		l.pending = l.pending[1:]
		return p.text, p.line, p.overlong, nil
	}
	l.buf = l.buf[:0]
	read := false
	for {
		frag, err := l.br.ReadSlice('\n')
		read = read || len(frag) > 0
		if !overlong {
			if len(l.buf)+len(frag) > l.max+2 {
				overlong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if !read {
				return "", 0, false, io.EOF
			}
			break
		}
		if err != nil {
			return "", 0, false, err
		}
		break
	}
	l.line++
	b := bytes.TrimSuffix(l.buf, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if len(b) > l.max {
		overlong = true
	}
	if overlong {
		return "", l.line, true, nil
	}
	return string(b), l.line, false, nil
}
