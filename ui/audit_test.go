package ui

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"irm/account"
	"irm/store"
)

// TestAuditPage: filters, pagination, CSV export, and the export recorded in the log.
func TestAuditPage(t *testing.T) {
	env := newTestEnv(t)
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 120 {
		cat := "policies"
		if i%2 == 1 {
			cat = "settings"
		}
		if _, err := env.db.AppendAudit(store.AuditEntry{Time: day.Add(time.Duration(i) * time.Hour), Actor: fmt.Sprintf("actor%d", i%3),
			Category: cat, Activity: "changed", Target: fmt.Sprintf("thing-%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := env.signIn(account.RoleAuditor)
	count := func(page string) int { return strings.Count(page, `<td class="wrap">thing-`) }

	p1 := c.get("/audit?category=policies")
	if n := count(p1); n != auditPageSize {
		t.Fatalf("page 1: %d rows, want %d", n, auditPageSize)
	}
	if !strings.Contains(p1, "thing-118") || strings.Contains(p1, "thing-119") {
		t.Error("page 1 is not the newest policies entries")
	}
	if !strings.Contains(p1, `data-testid="older"`) {
		t.Error("no link to older entries")
	}
	p2 := c.get("/audit?category=policies&page=2")
	if n := count(p2); n != 10 || strings.Contains(p2, `data-testid="older"`) {
		t.Errorf("page 2: %d rows (want 10), older link %v", n, strings.Contains(p2, `data-testid="older"`))
	}
	if n := count(c.get("/audit?actor=actor1&category=settings")); n != 20 {
		t.Errorf("actor1+settings: %d rows, want 20", n)
	}
	if n := count(c.get("/audit?q=thing-00")); n != 10 {
		t.Errorf("text thing-00: %d rows, want 10", n)
	}
	// 2026-03-01 12:00 + i h: the 2nd of March holds i = 12..35.
	if n := count(c.get("/audit?from=2026-03-02&to=2026-03-02")); n != 24 {
		t.Errorf("one day: %d rows, want 24", n)
	}
	if r := c.do("GET", "/audit?from=yesterday", nil, nil); r.StatusCode != 400 {
		t.Errorf("bad date: %d, want 400", r.StatusCode)
	}

	resp := c.do("GET", "/audit/export.csv?category=settings", nil, nil)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("export content type %q", ct)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 61 || recs[0][2] != "Activity performed by" {
		t.Fatalf("export: %d records (want header + 60), header %v", len(recs), recs[0])
	}
	var exported []store.AuditEntry
	env.db.AuditEntries(store.AuditFilter{Category: "export"}, func(e store.AuditEntry) error {
		exported = append(exported, e)
		return nil
	})
	if len(exported) != 1 || exported[0].Actor != account.RoleAuditor || !strings.Contains(exported[0].Details, "60 entries") || !strings.Contains(exported[0].Details, "category=settings") {
		t.Fatalf("export not audited as expected: %+v", exported)
	}
	if r, err := env.db.VerifyAudit(""); err != nil || r.Broken || r.Checked == 0 {
		t.Fatalf("chain after UI use: %+v err %v", r, err)
	}
}
