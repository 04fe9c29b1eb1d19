package store

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"irm/event"
)

func fullEvent() event.Event {
	return event.Event{
		ID: "id-1", Feed: event.FeedDLP, Time: time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC),
		User: "alice@contoso.com", Actor: "admin@contoso.com", Operation: "DlpRuleMatch", Workload: "Exchange",
		RecordType: 13, Object: "<msg@contoso.com>", FileName: "plan.docx", FileExt: "docx",
		Site: "https://contoso.sharepoint.com/", URL: "https://x.example/", TargetDomain: "gmail.com",
		TargetUser: "bob@gmail.com", TargetUserType: "Guest", Recipients: []string{"bob@gmail.com", "c@d.e"},
		Device: "LAPTOP-1", ClientIP: "198.51.100.7", Labels: []string{"Confidential"}, LabelEvent: event.LabelDowngraded,
		SensitiveTypes: []string{"Credit Card Number", "U.S. Social Security Number (SSN)"}, Severity: "high",
		Status: "new", Category: "Exfiltration", Title: "t", Policies: []string{"P1"}, Rules: []string{"R1", "R2"},
		Size: -1 << 40, Attachments: 3, Hidden: true, Asset: "B1-D2", AssetName: "Lab door",
		HR: &event.HR{Scenario: event.HRResignation, EffectiveDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			ResignationDate: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Remarks: "r", OldLevel: "L1",
			NewLevel: "L2", Rating: "3", Department: "Finance", Manager: "m@contoso.com"},
		Raw: []byte(`{"Id":"id-1","ünïcode":"✓"}`),
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, ev := range []event.Event{fullEvent(), {ID: "x"}, auditEvent(7, "u@x.com", t0)} {
		v := encodeEvent(nil, &ev)
		var got event.Event
		if err := decodeEvent(v, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, ev)
		}
		if f := valueFeed(v); f != ev.Feed {
			t.Errorf("valueFeed = %q, want %q", f, ev.Feed)
		}
		// Every truncation must be an error, never a panic.
		for n := range len(v) {
			if err := decodeEvent(v[:n], &got); err == nil {
				t.Fatalf("truncated to %d of %d bytes: no error", n, len(v))
			}
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	ev := fullEvent()
	f.Add(encodeEvent(nil, &ev))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, v []byte) {
		var got event.Event
		if decodeEvent(v, &got) != nil {
			return
		}
		// Whatever decodes must survive a re-encode unchanged.
		var again event.Event
		if err := decodeEvent(encodeEvent(nil, &got), &again); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("re-encode changed the event:\n%+v\n%+v", got, again)
		}
	})
}

func TestCommitEventsDedup(t *testing.T) {
	db := openTest(t, Options{})
	a, b, c := auditEvent(1, "alice@contoso.com", t0), auditEvent(2, "bob@contoso.com", t0.Add(time.Minute)), auditEvent(3, "alice@contoso.com", t0.Add(2*time.Minute))
	added, err := db.CommitEvents([]event.Event{a, b, a})
	if err != nil {
		t.Fatal(err)
	}
	if got := evIDs(added); !slices.Equal(got, []string{a.ID, b.ID}) {
		t.Fatalf("first commit added %v", got)
	}
	// Re-ingest of a partly committed file: only c is new.
	added, err = db.CommitEvents([]event.Event{b, c, a, c})
	if err != nil {
		t.Fatal(err)
	}
	if got := evIDs(added); !slices.Equal(got, []string{c.ID}) {
		t.Fatalf("second commit added %v", got)
	}
	if added, err = db.CommitEvents([]event.Event{a, b, c}); err != nil || len(added) != 0 {
		t.Fatalf("third commit added %v, %v", evIDs(added), err)
	}
	if got := ids(collect(t, db, Query{})); !slices.Equal(got, []string{a.ID, b.ID, c.ID}) {
		t.Fatalf("stored %v", got)
	}
	got, err := db.UserEvents(c.User, []string{c.ID, a.ID, b.ID, "nope"})
	if err != nil {
		t.Fatal(err)
	}
	// b is bob's event, "nope" was never stored.
	if len(got) != 2 || !reflect.DeepEqual(*got[c.ID], c) || !reflect.DeepEqual(*got[a.ID], a) {
		t.Fatalf("UserEvents(alice) = %+v", got)
	}
	if got, err := db.UserEvents("carol@contoso.com", []string{a.ID}); err != nil || len(got) != 0 {
		t.Fatalf("UserEvents(carol) = %+v, %v", got, err)
	}
	st, err := db.FeedStats()
	if err != nil {
		t.Fatal(err)
	}
	if st[event.FeedAudit].Events != 3 || st[event.FeedHR].Events != 0 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := db.CommitEvents([]event.Event{{Feed: "audit"}}); err == nil {
		t.Fatal("event without id accepted")
	}
}

// TestEventIdentity: an event is (user, time, ID). The same ID under another user or at
// another time is another event; the filter (built from the e/ keys on reopen) and the
// lookups agree, also for users whose key segment is escaped.
func TestEventIdentity(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := auditEvent(1, "alice@contoso.com", t0)
	otherUser := a
	otherUser.User = "bob@contoso.com"
	otherTime := a
	otherTime.Time = t0.Add(time.Second)
	odd := auditEvent(2, "we/ird%user", t0)
	all := []event.Event{a, otherUser, otherTime, odd}
	added, err := db.CommitEvents([]event.Event{a, otherUser, a, otherTime, odd, otherUser})
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 4 {
		t.Fatalf("added %d events, want 4", len(added))
	}
	if n := len(collect(t, db, Query{})); n != 4 {
		t.Fatalf("stored %d events, want 4", n)
	}
	got, err := db.UserEvents(a.User, []string{a.ID})
	if err != nil || len(got) != 1 || !got[a.ID].Time.Equal(otherTime.Time) {
		t.Fatalf("UserEvents(alice) = %+v, %v; want the later of the two", got, err)
	}
	if got, err := db.UserEvents(odd.User, []string{odd.ID}); err != nil || len(got) != 1 || got[odd.ID].User != odd.User {
		t.Fatalf("UserEvents(%s) = %+v, %v", odd.User, got, err)
	}
	for round := range 2 {
		if added, err := db.CommitEvents(all); err != nil || len(added) != 0 {
			t.Fatalf("round %d: re-commit added %d, %v", round, len(added), err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if db, err = Open(dir, Options{}); err != nil {
			t.Fatal(err)
		}
		f := waitFilter(db)
		if f == nil || f.n.Load() != 4 {
			t.Fatalf("filter after reopen: %+v", f)
		}
		for _, ev := range all {
			if !f.mayContain(hashIDString(ev.ID)) {
				t.Fatalf("filter built from e/ keys misses %s", ev.ID)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEventKeyID(t *testing.T) {
	for _, c := range []struct{ user, id string }{{"u@x.com", "id-1"}, {"a/b%c", "x/y"}, {"u", ""}} {
		k := appendEventKey(nil, c.user, t0, c.id)
		id, ok := eventKeyID(k)
		if !ok || string(id) != c.id {
			t.Fatalf("eventKeyID(%q) = %q, %v", k, id, ok)
		}
	}
	for _, k := range []string{"t/x", "e/user", "e/user/1234567/x", "e/user/12345678x"} {
		if _, ok := eventKeyID([]byte(k)); ok {
			t.Fatalf("eventKeyID(%q) accepted", k)
		}
	}
	for _, c := range []struct{ user, id string }{{"u@x.com", "id-1"}, {"a/b%c", "x/y"}, {"u", ""}} {
		tk := appendTimeKey(nil, t0, c.id, c.user)
		ek, ok := appendEventKeyOfTimeKey([]byte("junk"), tk)
		if want := append([]byte("junk"), appendEventKey(nil, c.user, t0, c.id)...); !ok || !bytes.Equal(ek, want) {
			t.Fatalf("appendEventKeyOfTimeKey(%q) = %q, %v; want %q", tk, ek, ok, want)
		}
	}
	for _, k := range []string{"e/x", "t/1234567/x", "t/12345678/x", "t/12345678x/u"} {
		if _, ok := appendEventKeyOfTimeKey(nil, []byte(k)); ok {
			t.Fatalf("appendEventKeyOfTimeKey(%q) accepted", k)
		}
	}
}

func evIDs(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}

func TestCommitEventsLargeBatch(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{RetentionDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	// More than eventsPerTxn events, so the batch spans several transactions.
	var evs []event.Event
	for i := range 2*eventsPerTxn + 17 {
		evs = append(evs, auditEvent(i, fmt.Sprintf("user%d@contoso.com", i%7), t0.Add(time.Duration(i)*time.Second)))
	}
	added, err := db.CommitEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != len(evs) {
		t.Fatalf("added %d of %d", len(added), len(evs))
	}
	if n := len(collect(t, db, Query{})); n != len(evs) {
		t.Fatalf("stored %d", n)
	}
	st, _ := db.FeedStats()
	if st[event.FeedAudit].Events != uint64(len(evs)) {
		t.Fatalf("counter %d", st[event.FeedAudit].Events)
	}
	// Events and counters survive a reopen.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{RetentionDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, _ = db.FeedStats()
	if st[event.FeedAudit].Events != uint64(len(evs)) {
		t.Fatalf("counter after reopen %d", st[event.FeedAudit].Events)
	}
	if n := len(collect(t, db, Query{User: "user3@contoso.com"})); n != (len(evs)+3)/7 {
		t.Fatalf("user3 has %d events after reopen", n)
	}
}

func TestCommitEventsConcurrent(t *testing.T) {
	db := openTest(t, Options{})
	var evs []event.Event
	for i := range 300 {
		evs = append(evs, auditEvent(i, "u@x.com", t0.Add(time.Duration(i)*time.Millisecond)))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Overlapping windows of the same events.
			part := evs[w*50 : w*50+150]
			added, err := db.CommitEvents(part)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += len(added)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 300 {
		t.Fatalf("added %d in total, want 300", total)
	}
}

func TestEventsOrderAndRanges(t *testing.T) {
	db := openTest(t, Options{})
	users := []string{"alice@contoso.com", "bob@contoso.com", "a", "a/b", "50%@x"}
	var evs []event.Event
	for i := range 60 {
		u := users[i%len(users)]
		// Times out of order, some equal (then ID order), one before 1970.
		at := t0.Add(time.Duration((i*37)%23) * time.Hour)
		if i == 59 {
			at = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		ev := auditEvent(i, u, at)
		if i%3 == 0 {
			ev.Feed = event.FeedDLP
		}
		evs = append(evs, ev)
	}
	if _, err := db.CommitEvents(evs); err != nil {
		t.Fatal(err)
	}
	want := func(q Query) []string {
		var out []event.Event
		for _, ev := range evs {
			if (q.User == "" || ev.User == q.User) && (q.Feed == "" || ev.Feed == q.Feed) &&
				(q.Since.IsZero() || !ev.Time.Before(q.Since)) && (q.Until.IsZero() || ev.Time.Before(q.Until)) {
				out = append(out, ev)
			}
		}
		sort.Slice(out, func(i, j int) bool {
			if !out[i].Time.Equal(out[j].Time) {
				return out[i].Time.Before(out[j].Time)
			}
			return out[i].ID < out[j].ID
		})
		return evIDs(out)
	}
	since, until := t0.Add(3*time.Hour), t0.Add(11*time.Hour)
	queries := []Query{{}, {Feed: event.FeedDLP}, {Since: since}, {Until: until}, {Since: since, Until: until},
		{Since: since, Until: until, Feed: event.FeedAudit}, {Since: until, Until: since}}
	for _, u := range users {
		queries = append(queries, Query{User: u}, Query{User: u, Since: since, Until: until}, Query{User: u, Feed: event.FeedDLP, Until: until})
	}
	queries = append(queries, Query{User: "nobody"})
	for _, q := range queries {
		got := ids(collect(t, db, q))
		if w := want(q); !slices.Equal(got, w) {
			t.Errorf("%+v:\n got %v\nwant %v", q, got, w)
		}
	}
	// The boundary itself: Since inclusive, Until exclusive.
	at := evs[5].Time
	for _, ev := range collect(t, db, Query{Since: at, Until: at.Add(1)}) {
		if !ev.Time.Equal(at) {
			t.Errorf("event at %v in [%v, +1ns)", ev.Time, at)
		}
	}
	if n := len(collect(t, db, Query{Since: at, Until: at})); n != 0 {
		t.Errorf("empty range returned %d", n)
	}
	// ErrStop ends early without an error.
	n := 0
	err := db.Events(Query{}, func(*event.Event) error { n++; return ErrStop })
	if err != nil || n != 1 {
		t.Fatalf("ErrStop: n=%d err=%v", n, err)
	}
	boom := errors.New("boom")
	if err := db.Events(Query{User: "a"}, func(*event.Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("callback error not returned: %v", err)
	}

	var gotUsers []string
	if err := db.Users(func(u string) error { gotUsers = append(gotUsers, u); return nil }); err != nil {
		t.Fatal(err)
	}
	wantUsers := slices.Clone(users)
	slices.SortFunc(wantUsers, func(a, b string) int { // key order: escaped form
		return cmpStr(escapeUser(a)+"/", escapeUser(b)+"/")
	})
	if !slices.Equal(gotUsers, wantUsers) {
		t.Fatalf("users %q, want %q", gotUsers, wantUsers)
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestProfiles(t *testing.T) {
	db := openTest(t, Options{RetentionDays: 1})
	u := "carol@contoso.com"
	d := func(m, day int) time.Time { return time.Date(2026, time.Month(m), day, 0, 0, 0, 0, time.UTC) }
	batch1 := []event.Event{
		hrEvent("hr1", u, event.HRPerformanceReview, d(3, 1), func(h *event.HR) { h.Rating = "2"; h.Remarks = "meh"; h.Department = "Sales" }),
		hrEvent("hr2", u, event.HRJobLevelChange, d(4, 1), func(h *event.HR) { h.OldLevel = "L3"; h.NewLevel = "L2" }),
		auditEvent(1, u, d(4, 2)),
	}
	batch2 := []event.Event{
		hrEvent("hr3", u, event.HRResignation, d(5, 1), func(h *event.HR) { h.ResignationDate = d(5, 1); h.LastWorkingDate = d(5, 30) }),
		hrEvent("hr2", u, event.HRJobLevelChange, d(4, 1), func(h *event.HR) { h.OldLevel = "L3"; h.NewLevel = "L2" }), // duplicate
		{ID: "del1", Feed: event.FeedAudit, Time: d(6, 1), User: u, Actor: "admin@contoso.com", Operation: "Delete user.", Workload: "AzureActiveDirectory"},
		hrEvent("hr4", "dave@contoso.com", event.HRImprovementPlan, d(2, 1), func(h *event.HR) { h.Rating = "1" }),
	}
	for _, b := range [][]event.Event{batch1, batch2} {
		if _, err := db.CommitEvents(b); err != nil {
			t.Fatal(err)
		}
	}
	want := event.Profile{UPN: u, Department: "Sales", ResignationDate: d(5, 1), LastWorkingDate: d(5, 30),
		AccountDeleted: d(6, 1), LatestRating: "2", LatestReviewDate: d(3, 1), LatestReviewRemarks: "meh",
		LevelChanges: []event.LevelChange{{Date: d(4, 1), OldLevel: "L3", NewLevel: "L2"}}}
	check := func() {
		t.Helper()
		p, ok, err := db.Profile(u)
		if err != nil || !ok {
			t.Fatalf("profile: %v %v", ok, err)
		}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("profile\n got %+v\nwant %+v", p, want)
		}
	}
	check()
	// Re-ingesting everything (e.g. after a crash between events and profiles) changes nothing.
	if _, err := db.CommitEvents(append(batch2, batch1...)); err != nil {
		t.Fatal(err)
	}
	check()
	if _, ok, err := db.Profile("nobody@contoso.com"); ok || err != nil {
		t.Fatalf("profile of nobody: %v %v", ok, err)
	}
	var upns []string
	if err := db.Profiles(func(p *event.Profile) error { upns = append(upns, p.UPN); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(upns, []string{u, "dave@contoso.com"}) {
		t.Fatalf("profiles %v", upns)
	}
	// Profiles do not expire.
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("p/" + u))
		if err != nil {
			return err
		}
		if item.ExpiresAt() != 0 {
			return fmt.Errorf("profile expires at %d", item.ExpiresAt())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRetentionTTL(t *testing.T) {
	db := openTest(t, Options{RetentionDays: 10})
	now := time.Now()
	recent := auditEvent(1, "u@x.com", now.Add(-time.Hour))
	old := auditEvent(2, "u@x.com", now.AddDate(-1, 0, 0))
	future := auditEvent(3, "u@x.com", now.AddDate(0, 0, 3))
	before := time.Now()
	if _, err := db.CommitEvents([]event.Event{recent, old, future}); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	ttl := 10 * 24 * time.Hour
	cases := []struct {
		ev     event.Event
		lo, hi time.Time
	}{
		{recent, before.Add(ttl), after.Add(ttl)}, // ingest time dominates an event an hour old
		{old, before.Add(ttl), after.Add(ttl)},    // back-fill: kept for the retention after ingest
		{future, future.Time.Add(ttl), future.Time.Add(ttl)},
	}
	err := db.bdb.View(func(txn *badger.Txn) error {
		for _, c := range cases {
			keys := [][]byte{appendEventKey(nil, c.ev.User, c.ev.Time, c.ev.ID), appendTimeKey(nil, c.ev.Time, c.ev.ID, c.ev.User)}
			for _, k := range keys {
				item, err := txn.Get(k)
				if err != nil {
					return fmt.Errorf("%q: %w", k, err)
				}
				exp := int64(item.ExpiresAt())
				if exp < c.lo.Unix() || exp > c.hi.Unix()+1 {
					return fmt.Errorf("%q expires %v, want in [%v, %v]", k, time.Unix(exp, 0), c.lo, c.hi)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Retention 0: nothing expires.
	db0 := openTest(t, Options{})
	if _, err := db0.CommitEvents([]event.Event{recent}); err != nil {
		t.Fatal(err)
	}
	err = db0.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(appendEventKey(nil, recent.User, recent.Time, recent.ID))
		if err != nil {
			return err
		}
		if item.ExpiresAt() != 0 {
			return fmt.Errorf("expires at %d without retention", item.ExpiresAt())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExpiredEventsInvisible writes keys the way CommitEvents does but already expired (a
// TTL cannot be shortened to seconds through Options), and checks that reads skip them
// and that the same record can be ingested again.
func TestExpiredEventsInvisible(t *testing.T) {
	db := openTest(t, Options{})
	ev := auditEvent(1, "u@x.com", t0)
	past := uint64(time.Now().Add(-time.Minute).Unix())
	err := db.bdb.Update(func(txn *badger.Txn) error {
		for _, e := range []*badger.Entry{
			{Key: appendTimeKey(nil, ev.Time, ev.ID, ev.User), ExpiresAt: past},
			{Key: appendEventKey(nil, ev.User, ev.Time, ev.ID), Value: encodeEvent(nil, &ev), ExpiresAt: past},
		} {
			if err := txn.SetEntry(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, db, Query{})) + len(collect(t, db, Query{User: ev.User})); n != 0 {
		t.Fatalf("expired events visible: %d", n)
	}
	if got, err := db.UserEvents(ev.User, []string{ev.ID}); err != nil || len(got) != 0 {
		t.Fatalf("UserEvents: %+v, %v", got, err)
	}
	added, err := db.CommitEvents([]event.Event{ev})
	if err != nil || len(added) != 1 {
		t.Fatalf("re-ingest after expiry: %d %v", len(added), err)
	}
}

func TestLedgerAndFeedStats(t *testing.T) {
	db := openTest(t, Options{})
	recs := []FileRecord{
		{Digest: "aa", Feed: event.FeedAudit, Name: "a1.json", Size: 10, Started: t0, Finished: t0.Add(time.Second), Records: 5, Added: 4, Duplicates: 1},
		{Digest: "bb", Feed: event.FeedAudit, Name: "a2.json", Started: t0.Add(time.Hour), Records: 3, Rejected: 2, Errors: []string{"line 2: bad CreationTime: x"}},
		{Digest: "cc", Feed: event.FeedHR, Name: "h.csv", Started: t0.Add(2 * time.Hour), Failed: "unrecognised HR header"},
	}
	for _, r := range recs {
		if err := db.LedgerPut(r); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := db.LedgerGet("bb")
	if err != nil || !ok || !reflect.DeepEqual(got, recs[1]) {
		t.Fatalf("LedgerGet = %+v %v %v", got, ok, err)
	}
	if _, ok, err := db.LedgerGet("zz"); ok || err != nil {
		t.Fatalf("LedgerGet(zz) = %v %v", ok, err)
	}
	// Finish bb: replaces the entry.
	recs[1].Finished = t0.Add(2 * time.Hour)
	if err := db.LedgerPut(recs[1]); err != nil {
		t.Fatal(err)
	}
	names := func(rs []FileRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return out
	}
	all, err := db.LedgerList("", 0)
	if err != nil || !slices.Equal(names(all), []string{"h.csv", "a2.json", "a1.json"}) {
		t.Fatalf("LedgerList all = %v %v", names(all), err)
	}
	audit, err := db.LedgerList(event.FeedAudit, 1)
	if err != nil || !slices.Equal(names(audit), []string{"a2.json"}) {
		t.Fatalf("LedgerList audit 1 = %v %v", names(audit), err)
	}
	if err := db.LedgerPut(FileRecord{}); err == nil {
		t.Fatal("empty digest accepted")
	}

	if _, err := db.CommitEvents([]event.Event{auditEvent(1, "u@x.com", t0), auditEvent(2, "u@x.com", t0)}); err != nil {
		t.Fatal(err)
	}
	st, err := db.FeedStats()
	if err != nil {
		t.Fatal(err)
	}
	a := st[event.FeedAudit]
	if a.Events != 2 || a.Files != 2 || a.Records != 8 || a.Rejected != 2 || a.Duplicates != 1 || !a.LastFile.Equal(t0.Add(2*time.Hour)) || a.InProgress != 0 {
		t.Fatalf("audit stats %+v", a)
	}
	if h := st[event.FeedHR]; h.Files != 1 || h.FailedFiles != 1 || h.Events != 0 {
		t.Fatalf("hr stats %+v", h)
	}
	for _, f := range event.Feeds {
		if st[f].Feed != f {
			t.Fatalf("feed %s missing from stats", f)
		}
	}
}
