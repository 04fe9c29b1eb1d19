package dsl

import (
	"fmt"
	"slices"
	"strings"

	"irm/event"
)

// TestResult is the outcome of one [[test]].
type TestResult struct {
	Test *Test
	Pass bool
	Got  bool
	// Matched lists, for a failing indicator or trigger test, what did match.
	Matched []string
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
	return s
}

// RunTests runs every [[test]] of the set. Load the set with TestOrgDomains as the
// organisation so that results do not depend on the appliance's [org] domains.
func (rs *RuleSet) RunTests() []TestResult {
	out := make([]TestResult, 0, len(rs.tests))
	for _, t := range rs.tests {
		out = append(out, rs.runTest(t))
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
