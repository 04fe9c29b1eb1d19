package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"irm/event"
)

// TestOrgDomains are the [org] domains rule tests run with, so that tests give the same
// result on every appliance: in a test, contoso.com is the organisation.
var TestOrgDomains = []string{"contoso.com"}

// TestOrgTimezone is the organisation's time zone rule tests run with (a [[test]] may
// set org_timezone), for the same reason.
const TestOrgTimezone = "UTC"

// test decodes one [[test]].
func (l *loader) test(en entry, d testDoc) *Test {
	t := &Test{Name: d.Name, Indicator: d.Indicator, Sequence: d.Sequence, Template: d.Template, Trigger: d.Trigger, Lists: d.Lists, File: en.src.name}
	t.Line = 1
	if en.blk != nil {
		t.Line = en.blk.line
	}
	n := 0
	for _, s := range []string{d.Indicator, d.Sequence, d.Template} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		l.errf(en, "name", "test needs exactly one of indicator, sequence or template (with trigger)")
		return nil
	}
	if d.Expect == nil {
		l.errf(en, "name", "test needs expect = true or false")
		return nil
	}
	t.Expect = *d.Expect
	defFeed := event.FeedAudit
	ok := true
	switch {
	case d.Indicator != "":
		r, found := l.rs.indicators[d.Indicator]
		if !found {
			l.errf(en, "indicator", "test: unknown indicator %q", d.Indicator)
			ok = false
			break
		}
		if len(r.ind.Feeds) > 0 {
			defFeed = r.ind.Feeds[0]
		}
		fs := r.ind.FirstSeen
		switch {
		case fs != nil && (d.Event == nil) == (d.Events == nil):
			l.errf(en, "indicator", "test of first_seen indicator %s needs event = { ... } or events = [ {...}, ... ] (the history, then the event judged: the latest)", d.Indicator)
			ok = false
		case fs == nil && (d.Event == nil || d.Events != nil):
			l.errf(en, "indicator", "indicator test needs event = { ... } (not events; a history of events is for first_seen indicators)")
			ok = false
		case fs == nil && d.ActiveDays != nil:
			l.errf(en, "active_days", "active_days applies only to tests of first_seen indicators; %s has no first_seen", d.Indicator)
			ok = false
		case fs != nil:
			t.ActiveDays = fs.Days
			if d.ActiveDays != nil {
				t.ActiveDays = *d.ActiveDays
				if t.ActiveDays < 0 || t.ActiveDays > fs.Days {
					l.errf(en, "active_days", "active_days must be 0 to the indicator's days (%d), not %d", fs.Days, t.ActiveDays)
					ok = false
				}
			}
		}
	case d.Sequence != "":
		if _, found := l.rs.sequences[d.Sequence]; !found {
			l.errf(en, "sequence", "test: unknown sequence %q", d.Sequence)
			ok = false
		}
		if len(d.Events) == 0 || d.Event != nil {
			l.errf(en, "sequence", "sequence test needs events = [ {...}, ... ] (not event)")
			ok = false
		}
	default:
		tr, found := l.rs.templates[d.Template]
		if !found {
			l.errf(en, "template", "test: unknown template %q", d.Template)
			ok = false
		} else {
			idx := slices.IndexFunc(tr.t.Triggers, func(x Trigger) bool { return x.ID == d.Trigger })
			if idx < 0 {
				l.errf(en, "trigger", "test: template %s has no trigger %q", d.Template, d.Trigger)
				ok = false
			} else if f := tr.t.Triggers[idx].Feeds; len(f) > 0 {
				defFeed = f[0]
			}
		}
		if d.Event == nil || d.Events != nil {
			l.errf(en, "template", "trigger test needs event = { ... } (not events)")
			ok = false
		}
	}
	if d.ActiveDays != nil && d.Indicator == "" {
		l.errf(en, "active_days", "active_days applies only to tests of first_seen indicators")
		ok = false
	}
	t.OrgTimezone = TestOrgTimezone
	if d.OrgTimezone != "" {
		if _, err := zone(d.OrgTimezone); err != nil {
			l.errf(en, "org_timezone", "test org_timezone %q: %v", d.OrgTimezone, err)
			ok = false
		}
		t.OrgTimezone = d.OrgTimezone
	}
	if !ok {
		return nil
	}
	evs := d.Events
	key := "events"
	if d.Event != nil {
		evs = []map[string]any{d.Event}
		key = "event"
	}
	for i, m := range evs {
		ev, err := decodeTestEvent(m, defFeed, i)
		if err != nil {
			l.errf(en, key, "test event %d: %v", i+1, err)
			return nil
		}
		t.Events = append(t.Events, ev)
	}
	if d.Profile != nil {
		var p struct {
			event.Profile
			PriorityGroups []string `json:"priority_groups"`
		}
		if err := strictJSON(d.Profile, &p); err != nil {
			l.errf(en, "profile", "test profile: %v", err)
			return nil
		}
		prof := p.Profile
		t.Profile = &prof
		t.PriorityGroups = p.PriorityGroups
	}
	return t
}

// TestUser is the user of test events that name none.
const TestUser = "test.user@contoso.com"

var testTime = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

func decodeTestEvent(m map[string]any, defFeed string, i int) (*event.Event, error) {
	ev := &event.Event{}
	if err := strictJSON(m, ev); err != nil {
		return nil, err
	}
	if ev.Feed == "" {
		ev.Feed = defFeed
	}
	if !slices.Contains(event.Feeds, ev.Feed) {
		return nil, fmt.Errorf("unknown feed %q", ev.Feed)
	}
	if ev.Time.IsZero() {
		ev.Time = testTime.Add(time.Duration(i) * time.Minute)
	}
	ev.Time = ev.Time.UTC()
	if ev.User == "" {
		ev.User = TestUser
	}
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("test-%d", i+1)
	}
	if ev.FileExt == "" && ev.FileName != "" {
		if k := strings.LastIndexByte(ev.FileName, '.'); k > 0 {
			ev.FileExt = strings.ToLower(ev.FileName[k+1:])
		}
	}
	if ev.Feed == event.FeedHR && ev.HR == nil {
		ev.HR = &event.HR{}
	}
	if ev.HR != nil {
		if ev.HR.Scenario == "" {
			ev.HR.Scenario = ev.Operation
		}
		if ev.HR.EffectiveDate.IsZero() {
			ev.HR.EffectiveDate = ev.Time
		}
	}
	return ev, nil
}

// strictJSON converts a decoded TOML table to a struct by its JSON names, rejecting
// unknown fields.
func strictJSON(m map[string]any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
