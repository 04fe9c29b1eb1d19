package engine

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"irm/demo"
	"irm/store"
)

// TestBacktestPredictsTheEngine: replaying the demo's whole window through each policy
// finds exactly the users the engine alerted on while ingesting it, and changes
// nothing: no alert, no audit entry.
func TestBacktestPredictsTheEngine(t *testing.T) {
	m, files := demoData(t, demo.Options{Users: 120, Days: 75, Seed: 7, End: demoEnd})
	e, db := loadDemo(t, m, files, 0)
	e.now = func() time.Time { return demoEnd.Add(12 * time.Hour) }
	audits := func() int {
		n := 0
		db.AuditEntries(store.AuditFilter{}, func(store.AuditEntry) error { n++; return nil })
		return n
	}
	beforeAlerts, beforeAudit := len(e.Alerts(AlertFilter{})), audits()
	for _, p := range e.Policies() {
		res, err := e.Backtest(context.Background(), p, BacktestOptions{Days: 75})
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, a := range e.Alerts(AlertFilter{Policy: p.Name}) {
			want = append(want, a.User)
		}
		for _, a := range res.Alerted {
			got = append(got, a.User)
			if a.Severity != SeverityOf(a.Score) || a.Score < res.Cutoff || len(a.Insights) == 0 {
				t.Errorf("%s: %+v", p.Name, a)
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: backtest alerts %v, the engine alerted %v", p.Name, got, want)
		}
		if res.Users != len(m.Users) || res.Days != 75 || res.Volume != VolumeDefault || res.Cutoff != AlertCutoff[VolumeDefault] {
			t.Errorf("%s: users %d (want %d), days %d, volume %s, cut-off %d", p.Name, res.Users, len(m.Users), res.Days, res.Volume, res.Cutoff)
		}
		if wantRate := float64(len(got)) * 1000 / float64(res.Users) * 30 / 75; res.AlertsPer1000 != wantRate {
			t.Errorf("%s: rate %.2f, want %.2f", p.Name, res.AlertsPer1000, wantRate)
		}
	}
	if a, n := len(e.Alerts(AlertFilter{})), audits(); a != beforeAlerts || n != beforeAudit {
		t.Errorf("backtests changed state: alerts %d -> %d, audit entries %d -> %d", beforeAlerts, a, beforeAudit, n)
	}
}

// TestBacktestCandidateAndVolume: a candidate policy (not saved) is replayed; the
// volume changes the cut-off; bad options are refused with the reason.
func TestBacktestCandidateAndVolume(t *testing.T) {
	m, files := demoData(t, demo.Options{Users: 120, Days: 75, Seed: 7, End: demoEnd})
	e, _ := loadDemo(t, m, files, 0)
	e.now = func() time.Time { return demoEnd.Add(12 * time.Hour) }
	ps, err := e.ParsePolicyFile("candidate.toml", []byte(`
[[policy]]
name = "Candidate"
template = "data_theft_departing"
users = ["*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	more, err := e.Backtest(context.Background(), ps[0], BacktestOptions{Days: 75, Volume: VolumeMore})
	if err != nil {
		t.Fatal(err)
	}
	fewer, err := e.Backtest(context.Background(), ps[0], BacktestOptions{Days: 75, Volume: VolumeFewer})
	if err != nil {
		t.Fatal(err)
	}
	if more.Cutoff != AlertCutoff[VolumeMore] || fewer.Cutoff != AlertCutoff[VolumeFewer] || len(fewer.Alerted) >= len(more.Alerted) || len(fewer.Alerted) == 0 {
		t.Errorf("more: cut %d, %d alerted; fewer: cut %d, %d alerted", more.Cutoff, len(more.Alerted), fewer.Cutoff, len(fewer.Alerted))
	}
	for _, a := range fewer.Alerted {
		if a.Severity == LevelLow {
			t.Errorf("volume fewer alerted low: %+v", a)
		}
	}
	if _, ok := e.Policy("Candidate"); ok {
		t.Error("the candidate was saved")
	}
	for _, bad := range []BacktestOptions{{Days: 400}, {Volume: "lots"}} {
		if _, err := e.Backtest(context.Background(), ps[0], bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Backtest(ctx, ps[0], BacktestOptions{}); err == nil {
		t.Error("a cancelled backtest finished")
	}
}
