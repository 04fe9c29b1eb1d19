package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"irm/event"
)

// Stored event values use a small positional binary encoding instead of JSON: the value is
// written once per event on the ingest hot path and read on every scan, and encoding/json
// would spend most of its time re-validating Raw and quoting field names. Layout (v1):
//
//	version byte (1)
//	feed                       string
//	id, user, actor, operation, workload        string
//	time                       time
//	record_type                varint
//	object, file_name, file_ext, site, url, target_domain, target_user, target_user_type string
//	recipients                 []string
//	device, client_ip          string
//	labels                     []string
//	label_event                string
//	sensitive_types            []string
//	severity, status, category, title string
//	policies, rules            []string
//	size                       varint
//	attachments                varint
//	hidden                     byte
//	asset, asset_name          string
//	hr present                 byte; if 1: scenario string, effective, resignation, last_working time,
//	                           remarks, old_level, new_level, rating, department, manager string
//	raw                        bytes
//
// string/bytes = uvarint length + bytes; []string = uvarint count + strings (a nil and an
// empty slice both decode as nil); time = varint Unix seconds + uvarint nanoseconds, in UTC.
// Feed comes first so a feed filter can reject a value without decoding the rest.
const codecV1 = 1

var errCorrupt = errors.New("corrupt event value")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// encodeEvent appends the stored form of ev to b.
func encodeEvent(b []byte, ev *event.Event) []byte {
	b = append(b, codecV1)
	b = appendString(b, ev.Feed)
	b = appendString(b, ev.ID)
	b = appendString(b, ev.User)
	b = appendString(b, ev.Actor)
	b = appendString(b, ev.Operation)
	b = appendString(b, ev.Workload)
	b = appendTime(b, ev.Time)
	b = binary.AppendVarint(b, int64(ev.RecordType))
	b = appendString(b, ev.Object)
	b = appendString(b, ev.FileName)
	b = appendString(b, ev.FileExt)
	b = appendString(b, ev.Site)
	b = appendString(b, ev.URL)
	b = appendString(b, ev.TargetDomain)
	b = appendString(b, ev.TargetUser)
	b = appendString(b, ev.TargetUserType)
	b = appendStrings(b, ev.Recipients)
	b = appendString(b, ev.Device)
	b = appendString(b, ev.ClientIP)
	b = appendStrings(b, ev.Labels)
	b = appendString(b, ev.LabelEvent)
	b = appendStrings(b, ev.SensitiveTypes)
	b = appendString(b, ev.Severity)
	b = appendString(b, ev.Status)
	b = appendString(b, ev.Category)
	b = appendString(b, ev.Title)
	b = appendStrings(b, ev.Policies)
	b = appendStrings(b, ev.Rules)
	b = binary.AppendVarint(b, ev.Size)
	b = binary.AppendVarint(b, int64(ev.Attachments))
	if ev.Hidden {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendString(b, ev.Asset)
	b = appendString(b, ev.AssetName)
	if h := ev.HR; h != nil {
		b = append(b, 1)
		b = appendString(b, h.Scenario)
		b = appendTime(b, h.EffectiveDate)
		b = appendTime(b, h.ResignationDate)
		b = appendTime(b, h.LastWorkingDate)
		b = appendString(b, h.Remarks)
		b = appendString(b, h.OldLevel)
		b = appendString(b, h.NewLevel)
		b = appendString(b, h.Rating)
		b = appendString(b, h.Department)
		b = appendString(b, h.Manager)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ev.Raw)))
	return append(b, ev.Raw...)
}

// decoder reads a value that the caller owns and never modifies afterwards: decoded
// strings and Raw point into it, so one allocation (the value copy) backs a whole event.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string {
	s := d.bytes()
	if len(s) == 0 {
		return ""
	}
	return unsafe.String(&s[0], len(s))
}

func (d *decoder) strings() []string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.b)) { // every string takes at least one byte
		d.err = errCorrupt
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	ns := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(ns)).UTC()
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// valueFeed returns the feed of a stored event value without decoding the rest.
func valueFeed(v []byte) string {
	if len(v) == 0 || v[0] != codecV1 {
		return ""
	}
	d := decoder{b: v[1:]}
	s := d.bytes()
	return string(s)
}

// decodeEvent decodes v into ev. v must not be modified afterwards (see decoder).
func decodeEvent(v []byte, ev *event.Event) error {
	if len(v) == 0 || v[0] != codecV1 {
		return fmt.Errorf("%w: unknown version", errCorrupt)
	}
	d := decoder{b: v[1:]}
	ev.Feed = d.string()
	ev.ID = d.string()
	ev.User = d.string()
	ev.Actor = d.string()
	ev.Operation = d.string()
	ev.Workload = d.string()
	ev.Time = d.time()
	ev.RecordType = int(d.varint())
	ev.Object = d.string()
	ev.FileName = d.string()
	ev.FileExt = d.string()
	ev.Site = d.string()
	ev.URL = d.string()
	ev.TargetDomain = d.string()
	ev.TargetUser = d.string()
	ev.TargetUserType = d.string()
	ev.Recipients = d.strings()
	ev.Device = d.string()
	ev.ClientIP = d.string()
	ev.Labels = d.strings()
	ev.LabelEvent = d.string()
	ev.SensitiveTypes = d.strings()
	ev.Severity = d.string()
	ev.Status = d.string()
	ev.Category = d.string()
	ev.Title = d.string()
	ev.Policies = d.strings()
	ev.Rules = d.strings()
	ev.Size = d.varint()
	ev.Attachments = int(d.varint())
	ev.Hidden = d.byte() == 1
	ev.Asset = d.string()
	ev.AssetName = d.string()
	ev.HR = nil
	if d.byte() == 1 {
		h := &event.HR{}
		h.Scenario = d.string()
		h.EffectiveDate = d.time()
		h.ResignationDate = d.time()
		h.LastWorkingDate = d.time()
		h.Remarks = d.string()
		h.OldLevel = d.string()
		h.NewLevel = d.string()
		h.Rating = d.string()
		h.Department = d.string()
		h.Manager = d.string()
		ev.HR = h
	}
	raw := d.bytes()
	if len(raw) > 0 {
		ev.Raw = raw
	} else {
		ev.Raw = nil
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return nil
}
