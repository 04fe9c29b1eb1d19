package engine

import (
	"fmt"
	"math"
	"testing"
)

// TestLevelOfBoundaries: every boundary of every level, and zero thresholds that are
// never reached.
func TestLevelOfBoundaries(t *testing.T) {
	th := [3]int{3, 10, 20}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, LevelNone}, {2, LevelNone}, {3, LevelLow}, {9, LevelLow}, {10, LevelMedium}, {19, LevelMedium}, {20, LevelHigh}, {1000, LevelHigh},
	} {
		if got := levelOf(tc.n, th); got != tc.want {
			t.Errorf("levelOf(%d, %v) = %s, want %s", tc.n, th, got, tc.want)
		}
	}
	for _, tc := range []struct {
		n    int
		th   [3]int
		want string
	}{
		{5, [3]int{0, 0, 0}, LevelNone}, {5, [3]int{0, 5, 0}, LevelMedium}, {1, [3]int{1, 1, 1}, LevelHigh}, {4, [3]int{5, 0, 0}, LevelNone},
	} {
		if got := levelOf(tc.n, tc.th); got != tc.want {
			t.Errorf("levelOf(%d, %v) = %s, want %s", tc.n, tc.th, got, tc.want)
		}
	}
}

func TestSeverityAndCutoffs(t *testing.T) {
	for _, tc := range []struct {
		score int
		want  string
	}{{0, LevelLow}, {54, LevelLow}, {55, LevelMedium}, {74, LevelMedium}, {75, LevelHigh}, {100, LevelHigh}} {
		if got := SeverityOf(tc.score); got != tc.want {
			t.Errorf("SeverityOf(%d) = %s, want %s", tc.score, got, tc.want)
		}
	}
	if AlertCutoff[VolumeFewer] != 60 || AlertCutoff[VolumeDefault] != 45 || AlertCutoff[VolumeMore] != 25 {
		t.Errorf("cut-offs %v", AlertCutoff)
	}
	// One plain high indicator day is below the default cut-off; weighted or boosted it
	// is not. A high day plus a low one is not; a high day plus a medium one is.
	if high := int(indicatorPoints[3]); high >= AlertCutoff[VolumeDefault] || points(indicatorPoints[3], categoryWeight["security"]) < AlertCutoff[VolumeDefault] ||
		points(indicatorPoints[3], boostPriorityContent) < AlertCutoff[VolumeDefault] {
		t.Errorf("points: high %d, weighted %d, boosted %d", high, points(indicatorPoints[3], categoryWeight["security"]), points(indicatorPoints[3], boostPriorityContent))
	}
	cut := AlertCutoff[VolumeDefault]
	if hl := CombineScore([]Insight{{Points: 35}, {Points: 10}}); hl >= cut {
		t.Errorf("high + low = %d, reaches the default cut-off %d", hl, cut)
	}
	if hm := CombineScore([]Insight{{Points: 35}, {Points: 20}}); hm < cut {
		t.Errorf("high + medium = %d, under the default cut-off %d", hm, cut)
	}
	if u := points(indicatorPoints[3], boostUnallowed); u < cut {
		t.Errorf("a high day with an unallowed domain = %d, under the default cut-off %d", u, cut)
	}
}

func TestOwnBaseline(t *testing.T) {
	counts := func(ns ...int32) []int32 { return ns }
	// Too few active days: no baseline.
	if u := ownBaseline(counts(5), 9, 10); u.ok {
		t.Errorf("9 active days gave a baseline: %+v", u)
	}
	// 20 active days, no activity: anything stands out.
	u := ownBaseline(nil, 20, 10)
	if !u.ok || u.limit != 0 || !u.standsOut(1) || u.standsOut(0) {
		t.Errorf("empty history: %+v", u)
	}
	// 20 days: 18 zeros, a 2 and a 40. Nearest rank 95% of 20 = the 19th value = 2;
	// mean 2.1, sd 8.7: limit = 2.1 + 3*8.7 = 28.2.
	u = ownBaseline(counts(2, 40), 20, 10)
	if u.p95 != 2 || u.lo != 0 || math.Abs(u.mean-2.1) > 1e-9 || math.Abs(u.limit-(2.1+3*u.sd)) > 1e-9 || u.standsOut(28) || !u.standsOut(29) {
		t.Errorf("sparse history: %+v", u)
	}
	// A perfectly regular 12 a day: sd 0, but the floor is sqrt(12): limit 12 + 3*3.46.
	var twelve []int32
	for range 20 {
		twelve = append(twelve, 12)
	}
	u = ownBaseline(counts(twelve...), 20, 10)
	if u.lo != 12 || u.p95 != 12 || math.Abs(u.limit-(12+3*math.Sqrt(12))) > 1e-9 || u.standsOut(22) || !u.standsOut(23) {
		t.Errorf("regular history: %+v", u)
	}
	if got := u.describe("events"); got != "this user's usual is 12–12 events a day (20 active days in the 30 before this week)" {
		t.Errorf("describe: %q", got)
	}
	// The p95 wins over mean + 3 sd when the days are many and even.
	var ramp []int32
	for i := range 30 {
		ramp = append(ramp, int32(i%3)*10)
	}
	u = ownBaseline(counts(ramp...), 30, 10)
	if u.p95 != 20 || u.limit < 20 {
		t.Errorf("ramp: %+v", u)
	}
}

func TestDailyTable(t *testing.T) {
	var d dailyTable
	for _, c := range []struct {
		day int32
		ind uint16
	}{{10, 2}, {10, 1}, {10, 2}, {12, 1}, {9, 1}, {11, 3}, {12, 1}, {12, 1}} {
		d.add(c.day, c.ind)
	}
	want := dailyTable{{9, 1, 1}, {10, 1, 1}, {10, 2, 2}, {11, 3, 1}, {12, 1, 3}}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Fatalf("table %v, want %v", d, want)
	}
	if got := d.collect(1, 10, 12, nil); fmt.Sprint(got) != "[1 3]" {
		t.Errorf("collect(1, 10..12) = %v", got)
	}
	if d.count(2, 10) != 2 || d.count(2, 11) != 0 || d.count(9, 9) != 0 {
		t.Error("count")
	}
}

func TestHistoryWindow(t *testing.T) {
	from, to := historyOf(100)
	if to != 100-scoreWindowDays || to-from+1 != baselineDays {
		t.Errorf("historyOf(100) = %d..%d", from, to)
	}
}

func ins(kind, id string, day int32, points int) Insight {
	return Insight{Kind: kind, ID: id, Day: fmt.Sprint(day), day: day, Points: points}
}

func TestScoreWindows(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []Insight
		score  int
		scored []bool
	}{
		{"one", []Insight{ins("indicator", "a", 10, 35)}, 35, []bool{true}},
		// The same indicator on several days counts fully once, with its strongest day,
		// and a quarter for each other day: 1 - 0.65 x 0.95 x 0.95 = 41.
		{"repeated", []Insight{ins("indicator", "a", 10, 20), ins("indicator", "a", 11, 35), ins("indicator", "a", 12, 20)}, 41, []bool{true, true, true}},
		// Two indicators in one week add up: 1 - 0.65*0.8 = 48.
		{"two in a week", []Insight{ins("indicator", "a", 10, 35), ins("indicator", "b", 16, 20)}, 48, []bool{true, true}},
		// A week apart they do not (days 10 and 17: the window of 17 starts at 11).
		{"a week apart", []Insight{ins("indicator", "a", 10, 35), ins("indicator", "b", 17, 20)}, 35, []bool{true, false}},
		// Cumulative alone scores nothing; beside another insight it counts.
		{"cumulative alone", []Insight{ins("cumulative", "cumulative_exfiltration", 10, 30)}, 0, []bool{false}},
		{"cumulative beside", []Insight{ins("cumulative", "cumulative_exfiltration", 10, 30), ins("indicator", "a", 9, 10)}, 37, []bool{true, true}},
		// Cumulative covers the 30 days to its day: an insight 11 days before pairs with it,
		// one 30 days before does not.
		{"cumulative over its month", []Insight{ins("cumulative", "cumulative_exfiltration", 20, 30), ins("indicator", "a", 9, 10)}, 37, []bool{true, true}},
		{"cumulative out of its month", []Insight{ins("cumulative", "cumulative_exfiltration", 40, 30), ins("indicator", "a", 9, 10)}, 10, []bool{false, true}},
		// A sequence and an indicator of the same id are different evidence.
		{"kinds", []Insight{ins("sequence", "x", 10, 45), ins("indicator", "x", 10, 10)}, 50, []bool{true, true}},
	} {
		got := scoreWindows(tc.in)
		if got != tc.score {
			t.Errorf("%s: score %d, want %d", tc.name, got, tc.score)
		}
		for i, want := range tc.scored {
			if tc.in[i].Scored != want {
				t.Errorf("%s: insight %d scored=%v, want %v", tc.name, i, tc.in[i].Scored, want)
			}
		}
	}
}

func TestDayset(t *testing.T) {
	var s dayset
	for _, d := range []int32{100, 5, 300, -7, 100} {
		s.set(d)
	}
	for _, tc := range []struct {
		from, to int32
		want     int
	}{{-100, 400, 4}, {5, 100, 2}, {6, 99, 0}, {100, 100, 1}, {-7, -7, 1}, {301, 1000, 0}, {200, 100, 0}} {
		if got := s.count(tc.from, tc.to); got != tc.want {
			t.Errorf("count(%d, %d) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
	if !s.has(-7) || s.has(-6) || !s.has(300) || s.has(1000) {
		t.Error("has")
	}
	if d, ok := s.first(); !ok || d != -7 {
		t.Errorf("first = %d %v", d, ok)
	}
	if s.set(5) || !s.set(6) {
		t.Error("set reports new days wrongly")
	}
}

func TestStrtab(t *testing.T) {
	st := newStrtab()
	a, b := st.intern("report.docx"), st.intern("budget.xlsx")
	if a == 0 || b == 0 || a == b || st.intern("report.docx") != a || st.intern("") != 0 {
		t.Fatalf("ids %d %d", a, b)
	}
	if st.get(a) != "report.docx" || st.get(b) != "budget.xlsx" || st.get(0) != "" {
		t.Errorf("get: %q %q", st.get(a), st.get(b))
	}
	for i := range 10000 {
		st.intern(fmt.Sprint("f", i))
	}
	if st.get(a) != "report.docx" || st.get(st.intern("f9999")) != "f9999" {
		t.Error("strings moved when the arena grew")
	}
}
