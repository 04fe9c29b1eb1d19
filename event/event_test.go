package event

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func day(m, d int) time.Time { return time.Date(2026, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func hr(scenario string, eff time.Time, mod func(h *HR)) *Event {
	h := &HR{Scenario: scenario, EffectiveDate: eff}
	if mod != nil {
		mod(h)
	}
	return &Event{Feed: FeedHR, User: "ann@contoso.com", Time: eff, Operation: scenario, HR: h}
}

func TestProfileApplyScenarios(t *testing.T) {
	cases := []struct {
		name string
		evs  []*Event
		want Profile
	}{
		{"resignation", []*Event{hr(HRResignation, day(5, 1), func(h *HR) {
			h.ResignationDate, h.LastWorkingDate = day(5, 1), day(5, 31)
		})}, Profile{UPN: "ann@contoso.com", ResignationDate: day(5, 1), LastWorkingDate: day(5, 31)}},
		{"later resignation wins", []*Event{
			hr(HRResignation, day(6, 1), func(h *HR) { h.ResignationDate, h.LastWorkingDate = day(6, 1), day(6, 30) }),
			hr(HRResignation, day(5, 1), func(h *HR) { h.ResignationDate, h.LastWorkingDate = day(5, 1), day(5, 31) }),
		}, Profile{UPN: "ann@contoso.com", ResignationDate: day(6, 1), LastWorkingDate: day(6, 30)}},
		{"latest review wins", []*Event{
			hr(HRPerformanceReview, day(3, 1), func(h *HR) { h.Rating, h.Remarks = "4", "good" }),
			hr(HRPerformanceReview, day(9, 1), func(h *HR) { h.Rating, h.Remarks = "2", "slipping" }),
			hr(HRPerformanceReview, day(1, 1), func(h *HR) { h.Rating, h.Remarks = "5", "great" }),
		}, Profile{UPN: "ann@contoso.com", LatestRating: "2", LatestReviewDate: day(9, 1), LatestReviewRemarks: "slipping"}},
		{"improvement plan sets plan date and a newer rating", []*Event{
			hr(HRPerformanceReview, day(3, 1), func(h *HR) { h.Rating = "3" }),
			hr(HRImprovementPlan, day(4, 1), func(h *HR) { h.Rating = "1" }),
			hr(HRImprovementPlan, day(2, 1), nil),
		}, Profile{UPN: "ann@contoso.com", ImprovementPlan: day(4, 1), LatestRating: "1", LatestReviewDate: day(4, 1)}},
		{"level changes sorted and deduplicated", []*Event{
			hr(HRJobLevelChange, day(7, 1), func(h *HR) { h.OldLevel, h.NewLevel = "L3", "L2" }),
			hr(HRJobLevelChange, day(2, 1), func(h *HR) { h.OldLevel, h.NewLevel = "L2", "L3" }),
			hr(HRJobLevelChange, day(7, 1), func(h *HR) { h.OldLevel, h.NewLevel = "L3", "L2" }),
		}, Profile{UPN: "ann@contoso.com", LevelChanges: []LevelChange{
			{Date: day(2, 1), OldLevel: "L2", NewLevel: "L3"}, {Date: day(7, 1), OldLevel: "L3", NewLevel: "L2"}}}},
		{"department and manager from any scenario", []*Event{
			hr(HRPerformanceReview, day(3, 1), func(h *HR) { h.Department, h.Manager = "Sales", "boss@contoso.com" }),
		}, Profile{UPN: "ann@contoso.com", Department: "Sales", Manager: "boss@contoso.com", LatestReviewDate: day(3, 1)}},
		{"account deletion keeps the earliest", []*Event{
			{Feed: FeedAudit, User: "ann@contoso.com", Operation: "Delete user.", Time: day(8, 2)},
			{Feed: FeedAudit, User: "ann@contoso.com", Operation: "Delete user.", Time: day(8, 1)},
		}, Profile{UPN: "ann@contoso.com", AccountDeleted: day(8, 1)}},
		{"other events leave the profile alone", []*Event{
			{Feed: FeedAudit, User: "ann@contoso.com", Operation: "FileDownloaded", Time: day(8, 1)},
		}, Profile{UPN: "ann@contoso.com"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Profile
			for _, ev := range c.evs {
				p.Apply(ev)
			}
			if !reflect.DeepEqual(p, c.want) {
				t.Fatalf("\n got %+v\nwant %+v", p, c.want)
			}
		})
	}
}

// Applying the same events again, or in another order, gives the same profile: ingest
// re-applies HR events after a crash and files arrive in any order.
func TestProfileApplyIdempotentAndOrderFree(t *testing.T) {
	evs := []*Event{
		hr(HRResignation, day(5, 1), func(h *HR) { h.ResignationDate, h.LastWorkingDate = day(5, 1), day(5, 31) }),
		hr(HRPerformanceReview, day(3, 1), func(h *HR) { h.Rating, h.Remarks, h.Department = "2", "meh", "Sales" }),
		hr(HRImprovementPlan, day(4, 1), nil),
		hr(HRJobLevelChange, day(2, 1), func(h *HR) { h.OldLevel, h.NewLevel = "L2", "L3" }),
		hr(HRJobLevelChange, day(6, 1), func(h *HR) { h.OldLevel, h.NewLevel = "L3", "L4" }),
		{Feed: FeedAudit, User: "ann@contoso.com", Operation: "Delete user.", Time: day(8, 1)},
	}
	var want Profile
	for _, ev := range evs {
		want.Apply(ev)
	}
	again := want
	again.LevelChanges = append([]LevelChange(nil), want.LevelChanges...)
	for _, ev := range evs {
		again.Apply(ev)
	}
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("re-applying changed the profile:\n got %+v\nwant %+v", again, want)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		perm := r.Perm(len(evs))
		var p Profile
		for _, i := range perm {
			p.Apply(evs[i])
		}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("order %v:\n got %+v\nwant %+v", perm, p, want)
		}
	}
}

func TestProfileFlags(t *testing.T) {
	var nilp *Profile
	if nilp.Departing() || nilp.OnImprovementPlan() {
		t.Fatal("nil profile flags")
	}
	p := &Profile{}
	if p.Departing() || p.OnImprovementPlan() {
		t.Fatal("empty profile flags")
	}
	p.Apply(hr(HRImprovementPlan, day(4, 1), nil))
	if !p.OnImprovementPlan() || p.Departing() {
		t.Fatalf("after plan: %+v", p)
	}
	p.Apply(&Event{User: "ann@contoso.com", Operation: "Delete user.", Time: day(8, 1)})
	if !p.Departing() {
		t.Fatal("deleted account is not departing")
	}
}
