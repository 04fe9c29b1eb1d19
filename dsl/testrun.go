package dsl

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"irm/event"
)

// TestResult is the outcome of one [[test]].
type TestResult struct {
	Test *Test
	Pass bool
	Got  bool
	// Matched lists, for a failing indicator or trigger test, what did match.
	Matched []string
	// Why explains the result of a first_seen indicator test (which of its conditions
	// decided), or why a test could not run.
	Why string
}

// String describes a failing test as file:line: message.
func (r TestResult) String() string {
	kind, id := r.Test.Kind()
	name := ""
	if r.Test.Name != "" {
		name = fmt.Sprintf(" %q", r.Test.Name)
	}
	s := fmt.Sprintf("%s:%d:1: test%s: %s %s: expected %v, got %v", r.Test.File, r.Test.Line, name, kind, id, r.Test.Expect, r.Got)
	if len(r.Matched) > 0 {
		s += " (matched: " + strings.Join(r.Matched, ", ") + ")"
	}
	if r.Why != "" {
		s += ": " + r.Why
	}
	return s
}

// RunTests runs every [[test]] of the set. Load the set with TestOrgDomains as the
// organisation so that results do not depend on the appliance's [org] domains. Each test
// runs with its own org time zone (TestOrgTimezone unless it sets org_timezone): when
// that is not the set's, against the same rule files compiled with that zone.
func (rs *RuleSet) RunTests() []TestResult {
	out := make([]TestResult, 0, len(rs.tests))
	variants := map[string]*RuleSet{rs.opt.OrgTimezone: rs}
	errs := map[string]error{}
	for i, t := range rs.tests {
		tz := t.OrgTimezone
		if tz == "" {
			tz = TestOrgTimezone
		}
		v, ok := variants[tz]
		if !ok && errs[tz] == nil {
			opt := rs.opt
			opt.OrgTimezone = tz
			if v, errs[tz] = compile(rs.srcs, opt); errs[tz] == nil {
				variants[tz] = v
			}
		}
		if v == nil {
			out = append(out, TestResult{Test: t, Why: fmt.Sprintf("the rules do not compile with org timezone %q: %v", tz, errs[tz])})
			continue
		}
		res := v.runTest(v.tests[i])
		res.Test = t
		if tz != TestOrgTimezone {
			res.Why = strings.TrimPrefix(res.Why+"; ", "; ") + "org timezone " + tz
		}
		out = append(out, res)
	}
	return out
}

func (rs *RuleSet) runTest(t *Test) TestResult {
	res := TestResult{Test: t}
	prof := t.Profile
	if prof == nil && len(t.Events) > 0 {
		prof = &event.Profile{UPN: t.Events[0].User}
	} else if prof != nil && prof.UPN == "" && len(t.Events) > 0 {
		p := *prof
		p.UPN = t.Events[0].User
		prof = &p
	}
	switch {
	case t.Indicator != "" && rs.Indicator(t.Indicator).FirstSeen != nil:
		res.Got, res.Why = rs.runNoveltyTest(t, rs.Indicator(t.Indicator), prof)
	case t.Indicator != "":
		ids := rs.Match(&Input{Event: t.Events[0], User: prof, PriorityGroups: t.PriorityGroups, Lists: t.Lists})
		res.Got = slices.Contains(ids, t.Indicator)
		res.Matched = ids
	case t.Sequence != "":
		hits := rs.FindSequences(t.Events, prof, t.PriorityGroups, t.Lists, rs.sequences[t.Sequence])
		res.Got = len(hits) > 0
	default:
		trs := rs.MatchTriggers(t.Template, &Input{Event: t.Events[0], User: prof, PriorityGroups: t.PriorityGroups, Lists: t.Lists})
		for _, tr := range trs {
			res.Matched = append(res.Matched, tr.ID)
			if tr.ID == t.Trigger {
				res.Got = true
			}
		}
	}
	res.Pass = res.Got == t.Expect
	return res
}

// runNoveltyTest runs a first_seen indicator test the way the engine decides: the
// events in time order through Match, FirstSeenKey and one NoveltyTracker, with
// t.ActiveDays as the user's active days before each. It reports whether the latest
// event counts, and why.
func (rs *RuleSet) runNoveltyTest(t *Test, ind *Indicator, prof *event.Profile) (bool, string) {
	fs := ind.FirstSeen
	evs := slices.Clone(t.Events)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	nt := NewNoveltyTracker(fs)
	type seen struct {
		key string
		at  time.Time
	}
	var history []seen // matching events before the latest
	for i, ev := range evs {
		in := &Input{Event: ev, User: prof, PriorityGroups: t.PriorityGroups, Lists: t.Lists}
		latest := i == len(evs)-1
		if !slices.Contains(rs.Match(in), ind.ID) {
			if latest {
				return false, fmt.Sprintf("the latest event (%s at %s) does not match when", ev.Operation, stamp(ev.Time))
			}
			continue
		}
		key := rs.FirstSeenKey(ind, in)
		novel := nt.Observe(ev.Time.UnixNano(), KeyHash(key), t.ActiveDays)
		if !latest {
			history = append(history, seen{key, ev.Time})
			continue
		}
		what := "the latest event"
		if fs.Key != "" {
			what = fmt.Sprintf("the latest event's key %q", key)
		}
		if t.ActiveDays < fs.MinActiveDays {
			return novel, fmt.Sprintf("too little history: active_days %d < min_active_days %d", t.ActiveDays, fs.MinActiveDays)
		}
		for j := len(history) - 1; j >= 0; j-- {
			h := history[j]
			if h.key == key && h.at.Before(ev.Time) && ev.Time.Sub(h.at) <= fs.Window() {
				return novel, fmt.Sprintf("%s was seen at %s, %s before (within %d days)", what, stamp(h.at), ev.Time.Sub(h.at), fs.Days)
			}
		}
		return novel, fmt.Sprintf("%s was not seen in the %d days before it (%d active days)", what, fs.Days, t.ActiveDays)
	}
	return false, "no events"
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
