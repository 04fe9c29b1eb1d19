package store

import (
	"fmt"
	"testing"
	"time"

	"irm/event"
)

func openTest(t testing.TB, opt Options) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// auditEvent is a realistic SharePoint download record of about 560 bytes of Raw.
func auditEvent(i int, user string, at time.Time) event.Event {
	id := fmt.Sprintf("5b1c2a9e-%04x-4d3f-9c1a-%012x", i&0xffff, i)
	raw := fmt.Sprintf(`{"CreationTime":"%s","Id":"%s","Operation":"FileDownloaded","OrganizationId":"4f1a2b3c-9d8e-4f70-a1b2-c3d4e5f60718","RecordType":6,"UserKey":"i:0h.f|membership|10032001a1b2c3d4@live.com","UserType":0,"Version":1,"Workload":"SharePoint","ClientIP":"203.0.113.%d","ObjectId":"https://contoso.sharepoint.com/sites/finance/Shared Documents/Q%d forecast.xlsx","UserId":"%s","EventSource":"SharePoint","ItemType":"File","SiteUrl":"https://contoso.sharepoint.com/sites/finance/","SourceFileExtension":"xlsx","SourceFileName":"Q%d forecast.xlsx","SourceRelativeUrl":"Shared Documents"}`,
		at.Format(time.RFC3339), id, i%250, i%4+1, user, i%4+1)
	return event.Event{
		ID:           id,
		Feed:         event.FeedAudit,
		Time:         at,
		User:         user,
		Operation:    "FileDownloaded",
		Workload:     "SharePoint",
		RecordType:   6,
		Object:       fmt.Sprintf("https://contoso.sharepoint.com/sites/finance/Shared Documents/Q%d forecast.xlsx", i%4+1),
		FileName:     fmt.Sprintf("Q%d forecast.xlsx", i%4+1),
		FileExt:      "xlsx",
		Site:         "https://contoso.sharepoint.com/sites/finance/",
		ClientIP:     fmt.Sprintf("203.0.113.%d", i%250),
		TargetDomain: "",
		Raw:          []byte(raw),
	}
}

func hrEvent(id, user, scenario string, eff time.Time, mod func(h *event.HR)) event.Event {
	h := &event.HR{Scenario: scenario, EffectiveDate: eff}
	if mod != nil {
		mod(h)
	}
	return event.Event{ID: id, Feed: event.FeedHR, Time: eff, User: user, Operation: scenario, HR: h,
		Raw: []byte(`{"EmailAddress":"` + user + `"}`)}
}

func collect(t testing.TB, db *DB, q Query) []*event.Event {
	t.Helper()
	var out []*event.Event
	if err := db.Events(q, func(ev *event.Event) error { out = append(out, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}
