package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"

	"irm/event"
)

// ParseOptions tune the feed parsers.
type ParseOptions struct {
	HRColumns    map[string]string // canonical column name -> name in the file (config [hr.columns])
	MaxLineBytes int               // 0 = 1 MiB; a longer line/record is rejected, not fatal
}

const defaultMaxLineBytes = 1 << 20

func (o ParseOptions) maxLine() int {
	if o.MaxLineBytes <= 0 {
		return defaultMaxLineBytes
	}
	return o.MaxLineBytes
}

// RecordError is one rejected record of a drop file.
type RecordError struct {
	Line   int    // 1-based line of the record's first byte (0 = unknown)
	Record int    // 1-based record index (JSON element, JSON line or CSV data row; 0 = none)
	Field  string // the source field at fault, if one is
	Reason string
}

func (e RecordError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Record > 0 {
		if b.Len() > 0 {
			b.WriteString(" (record ")
			b.WriteString(strconv.Itoa(e.Record))
			b.WriteString(")")
		} else {
			b.WriteString("record ")
			b.WriteString(strconv.Itoa(e.Record))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Parse streams one drop file of a feed: emit is called for every good record in file
// order (returning an error from emit aborts and Parse returns it). Rejected records come
// back in order. A non-nil error means the file cannot be read as this feed at all
// (empty, binary, not JSON / not CSV, unrecognised HR header, the wrong feed's format)
// and nothing was emitted; the exceptions are an error returned by emit or by the reader,
// which are returned as they happen.
//
// Memory stays constant in the file size: records are read one at a time.
//
// Each event belongs to the receiver, except ev.Raw: for JSON feeds it points into the
// reader's buffer and is valid only until emit returns, so a receiver that keeps it must
// copy it. The pipeline copies the raw records of a batch into shared chunks anyway, and
// a copy here as well was 1.5 GB of the 20.7 GB allocated by the 20,000-user bench/e2e.sh
// run (7 % of the allocations, each one paid for again by the collector).
func Parse(feed string, r io.Reader, opt ParseOptions, emit func(ev *event.Event) error) (rejects []RecordError, err error) {
	// The parsers are fuzzed not to panic; should one still do so on some input, that
	// file fails with the reason instead of taking the appliance down. A panic in emit is
	// the caller's and is passed on.
	inEmit := false
	defer func() {
		if p := recover(); p != nil {
			if inEmit {
				panic(p)
			}
			rejects, err = nil, fmt.Errorf("%s: internal parser error (please report it with the file): %v\n%s", feed, p, truncate(string(debug.Stack()), 4000))
		}
	}()
	userEmit := emit
	emit = func(ev *event.Event) error {
		inEmit = true
		err := userEmit(ev)
		inEmit = false
		return err
	}
	switch feed {
	case event.FeedAudit:
		return parseJSONFeed(feed, r, opt, decodeAudit, emit)
	case event.FeedDLP:
		return parseJSONFeed(feed, r, opt, decodeDLP, emit)
	case event.FeedBadging:
		return parseJSONFeed(feed, r, opt, decodeBadging, emit)
	case event.FeedDefender:
		return parseJSONFeed(feed, r, opt, decodeDefender, emit)
	case event.FeedHR:
		return parseHR(r, opt, emit)
	}
	return nil, fmt.Errorf("unknown feed %q (feeds: %s)", feed, strings.Join(event.Feeds, ", "))
}

// recordReject is why one record was rejected by a feed decoder.
type recordReject struct {
	field, reason string
	// syntaxOffset >= 0 marks a JSON syntax error at this byte offset of the record: in a
	// JSON array the framing of everything after it is in doubt, so parsing stops there.
	syntaxOffset int64
}

func reject(field, format string, args ...any) *recordReject {
	return &recordReject{field: field, reason: fmt.Sprintf(format, args...), syntaxOffset: -1}
}

// jsonDecodeFunc turns one JSON record into an event (Feed and Raw are set by the caller).
type jsonDecodeFunc func(users *userCache, data []byte) (*event.Event, *recordReject)

// userCache maps user ids as written in one file to their lower-cased form. A file
// holds a few thousand users at most, repeated in every record: the cache saves an
// allocation per record and makes the events of one user share one string.
type userCache struct{ m map[string]string }

const userCacheMax = 4096

func (c *userCache) lower(s string) string {
	if v, ok := c.m[s]; ok {
		return v
	}
	// Copies: s may be a slice of a whole record, which the cache must not keep alive.
	v := strings.Clone(lowerTrim(s))
	if c.m == nil || len(c.m) >= userCacheMax {
		c.m = make(map[string]string, 64)
	}
	c.m[strings.Clone(s)] = v
	return v
}

// unmarshalRecord decodes a JSON record into a typed struct, turning decoding errors into
// rejections that name the field at fault.
func unmarshalRecord(data []byte, v any) *recordReject {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &recordReject{reason: "malformed JSON: " + se.Error(), syntaxOffset: se.Offset}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return reject("", "record is a JSON %s, not an object", te.Value)
		}
		return reject(field, "JSON %s where %s was expected", te.Value, jsonKind(te.Type.Kind().String()))
	}
	var fe *fieldValueError
	if errors.As(err, &fe) {
		return reject(fe.field, "%s", fe.reason)
	}
	return reject("", "%v", err)
}

// parseJSONFeed runs a JSON feed's decoder over every record of the file.
func parseJSONFeed(feed string, r io.Reader, opt ParseOptions, decode jsonDecodeFunc, emit func(*event.Event) error) ([]RecordError, error) {
	jr, err := newJSONReader(r, opt.maxLine())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", feed, err)
	}
	var rejects []RecordError
	var users userCache
	identified := false
	for {
		it, ok, err := jr.next()
		if err != nil {
			return rejects, fmt.Errorf("%s: %w", feed, err)
		}
		if !ok {
			break
		}
		if it.fatal != nil {
			if !identified {
				return nil, fmt.Errorf("%s: not a readable JSON file: %s", feed, firstProblem(rejects, it.fatal))
			}
			rejects = append(rejects, *it.fatal)
			break
		}
		if it.reject != nil {
			rejects = append(rejects, *it.reject)
			continue
		}
		if !identified {
			kind, why, rj := probeJSONFeed(it.data)
			if rj != nil {
				if jr.array {
					re := syntaxRecordError(it, rj, true)
					return nil, fmt.Errorf("%s: not a readable JSON file: %s", feed, firstProblem(rejects, &re))
				}
				rejects = append(rejects, syntaxRecordError(it, rj, false))
				continue
			}
			if kind != "" && kind != feed {
				return nil, fmt.Errorf("%s: wrong feed: record %d (line %d) is %s data, not %s (%s); was the file dropped in the wrong directory?",
					feed, it.record, it.line, kind, feed, why)
			}
			identified = kind == feed
		}
		ev, rj := decode(&users, it.data)
		if rj == nil {
			rj = checkKeys(ev)
		}
		if rj != nil {
			if rj.syntaxOffset >= 0 {
				re := syntaxRecordError(it, rj, jr.array)
				rejects = append(rejects, re)
				if jr.array {
					break
				}
				continue
			}
			rejects = append(rejects, RecordError{Line: it.line, Record: it.record, Field: rj.field, Reason: rj.reason})
			continue
		}
		identified = true
		ev.Feed = feed
		ev.Raw = it.data // the read buffer: emit copies what it keeps
		if err := emit(ev); err != nil {
			return rejects, err
		}
	}
	if !identified && (len(rejects) > 0 || !jr.array) {
		if len(rejects) == 0 {
			return nil, fmt.Errorf("%s: no records", feed)
		}
		hint := ""
		if !jr.array {
			hint = " (a JSON lines file holds one complete record per line; other files must be one JSON array)"
		}
		return nil, fmt.Errorf("%s: no %s records in the file%s: %s", feed, feed, hint, firstProblem(rejects, nil))
	}
	return rejects, nil
}

// maxKeyPart bounds the user and ID, which become parts of store keys.
const maxKeyPart = 512

// checkKeys rejects an event whose user or ID cannot be part of a store key
// (e/<user>/<time>/<id>): a '/' in a user would mix its events with another user's.
func checkKeys(ev *event.Event) *recordReject {
	for _, k := range [...]struct{ field, v string }{{"user", ev.User}, {"id", ev.ID}} {
		switch {
		case len(k.v) > maxKeyPart:
			return reject(k.field, "longer than %d bytes", maxKeyPart)
		case k.field == "user" && strings.Contains(k.v, "/"):
			return reject(k.field, "%q contains '/', which no UPN does", truncate(k.v, 80))
		case strings.ContainsFunc(k.v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return reject(k.field, "%q contains control characters", truncate(k.v, 80))
		}
	}
	return nil
}

func firstProblem(rejects []RecordError, fatal *RecordError) string {
	if len(rejects) > 0 {
		s := rejects[0].Error()
		if len(rejects) > 1 {
			s += fmt.Sprintf(" (and %d more problems)", len(rejects)-1)
		}
		return s
	}
	if fatal != nil {
		return fatal.Error()
	}
	return "no records"
}

// syntaxRecordError places a JSON syntax error on its line.
func syntaxRecordError(it jsonItem, rj *recordReject, stop bool) RecordError {
	line := it.line
	if off := rj.syntaxOffset; off > 0 && off <= int64(len(it.data)) {
		line += bytes.Count(it.data[:off], newline)
	}
	reason := rj.reason
	if stop {
		reason += "; parsing stopped, later records were not read"
	}
	return RecordError{Line: line, Record: it.record, Field: rj.field, Reason: reason}
}

// probeJSONFeed tells which feed a JSON record belongs to, by the fields that only that
// feed has, so that a file dropped in the wrong directory fails as a whole instead of
// producing one rejection per record.
func probeJSONFeed(data []byte) (feed, why string, rj *recordReject) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", "", &recordReject{reason: "malformed JSON: " + se.Error(), syntaxOffset: se.Offset}
		}
		return "", "", nil
	}
	get := func(name string) (json.RawMessage, bool) {
		if v, ok := m[name]; ok {
			return v, true
		}
		for k, v := range m {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
		return nil, false
	}
	var op string
	if v, ok := get("Operation"); ok {
		_ = json.Unmarshal(v, &op)
	}
	switch {
	case strings.HasPrefix(strings.ToLower(op), "dlp"):
		return event.FeedDLP, fmt.Sprintf("Operation %q", op), nil
	}
	if _, ok := get("PolicyDetails"); ok {
		return event.FeedDLP, "it has PolicyDetails", nil
	}
	if op != "" {
		return event.FeedAudit, fmt.Sprintf("Operation %q", op), nil
	}
	if _, ok := get("CreationTime"); ok {
		return event.FeedAudit, "it has CreationTime", nil
	}
	if _, ok := get("AlertId"); ok {
		return event.FeedDefender, "it has AlertId", nil
	}
	if _, ok := get("AccessStatus"); ok {
		return event.FeedBadging, "it has AccessStatus", nil
	}
	if _, ok := get("AssetId"); ok {
		return event.FeedBadging, "it has AssetId", nil
	}
	return "", "", nil
}
