package ui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"irm/account"
	"irm/engine"
	"irm/event"
	"irm/store"
)

// TestAlertEvents: the alert page's explorer lists the alert user's events in time
// order, and names the ids that are no longer stored. Another user's event with the
// same ID is a different event and is not shown.
func TestAlertEvents(t *testing.T) {
	const upn = "trent@contoso.com"
	now := time.Now().UTC()
	mine := event.Event{ID: "ev-shared", Feed: event.FeedAudit, Time: now.Add(-time.Hour), User: upn,
		Operation: "FileDownloaded", FileName: "mine.docx"}
	theirs := mine
	theirs.User, theirs.FileName = "victor@contoso.com", "theirs.docx"
	second := event.Event{ID: "ev-second", Feed: event.FeedAudit, Time: now.Add(-2 * time.Hour), User: upn,
		Operation: "FileDownloaded", FileName: "second.docx"}
	a := engine.Alert{ID: "AEVTS", User: upn, Policy: "P", Template: "data_theft_departing", Severity: "high", Score: 80,
		Status: engine.StatusNeedsReview, Created: now, Updated: now, EventIDs: []string{mine.ID, "ev-gone", second.ID}}
	env := newTestEnv(t, func(db *store.DB) {
		if _, err := db.CommitEvents([]event.Event{mine, theirs, second}); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(a)
		if err := db.PutDocs([]store.Doc{{Key: store.AlertDocKey(a.ID), Value: b}}); err != nil {
			t.Fatal(err)
		}
	})
	page := env.signIn(account.RoleInvestigator).get("/alerts/AEVTS")
	iMine, iGone, iSecond := strings.Index(page, "mine.docx"), strings.Index(page, "no longer stored (retention): ev-gone"), strings.Index(page, "second.docx")
	if iMine < 0 || iGone < 0 || iSecond < 0 || !(iSecond < iMine && iMine < iGone) {
		t.Fatalf("alert page: second at %d, mine at %d, missing at %d (want all, in that order)", iSecond, iMine, iGone)
	}
	if strings.Contains(page, "theirs.docx") {
		t.Fatal("alert page shows another user's event with the same ID")
	}
}
