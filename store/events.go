package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"irm/event"
)

const (
	prefixEvent   = "e/"
	prefixTime    = "t/"
	prefixProfile = "p/"
	prefixLedger  = "f/"
	prefixStats   = "m/stats/"

	// opDeleteUser is the Azure AD audit operation that marks an account deleted.
	opDeleteUser = "Delete user."

	// eventsPerTxn bounds one Badger transaction: about 1,000 events x 2 keys stays far
	// under Badger's batch limit (15% of a memtable) even with long ids, so each
	// transaction can also carry the feed counters that match exactly the events in it.
	eventsPerTxn = 1000

	// maxKeptArena bounds the encoding buffer kept between CommitEvents calls (enough for
	// batches of several thousand typical events).
	maxKeptArena = 16 << 20
)

// ---- keys ----

// Times in keys are Unix nanoseconds with the sign bit flipped, big-endian, so that byte
// order is time order for every representable time (including before 1970).
var (
	minKeyTime = time.Unix(0, math.MinInt64)
	maxKeyTime = time.Unix(0, math.MaxInt64)
)

func timeBits(t time.Time) uint64 {
	switch {
	case t.Before(minKeyTime):
		t = minKeyTime
	case t.After(maxKeyTime):
		t = maxKeyTime
	}
	return uint64(t.UnixNano()) ^ (1 << 63)
}

// escapeUser keeps "/" out of the user segment of e/<user>/..., so a prefix scan of one
// user can never run into another user whose name extends it ("a" vs "a/b"). Real UPNs
// contain neither "/" nor "%", so their keys read as plain text.
func escapeUser(u string) string {
	if !strings.ContainsAny(u, "/%") {
		return u
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		switch c := u[i]; c {
		case '/':
			b.WriteString("%2F")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unescapeUser(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	s = strings.ReplaceAll(s, "%2F", "/")
	return strings.ReplaceAll(s, "%25", "%")
}

func appendUserPrefix(b []byte, user string) []byte {
	b = append(b, prefixEvent...)
	b = append(b, escapeUser(user)...)
	return append(b, '/')
}

func appendEventKey(b []byte, user string, t time.Time, id string) []byte {
	b = appendUserPrefix(b, user)
	b = binary.BigEndian.AppendUint64(b, timeBits(t))
	b = append(b, '/')
	return append(b, id...)
}

// appendTimeKey appends t/<time>/<id>/<user>. The user is part of the key, not its value,
// because the same ID at the same time under two users is two events (see CommitEvents);
// the escaped user contains no '/', so it is what follows the last '/'.
func appendTimeKey(b []byte, t time.Time, id, user string) []byte {
	b = append(b, prefixTime...)
	b = binary.BigEndian.AppendUint64(b, timeBits(t))
	b = append(b, '/')
	b = append(b, id...)
	b = append(b, '/')
	return append(b, escapeUser(user)...)
}

// appendEventKeyOfTimeKey appends the e/ key of the event that t/ key k indexes
// (false if k is not a t/ key).
func appendEventKeyOfTimeKey(b, k []byte) ([]byte, bool) {
	if !bytes.HasPrefix(k, []byte(prefixTime)) {
		return b, false
	}
	rest := k[len(prefixTime):]
	slash := bytes.LastIndexByte(rest, '/')
	if slash < 9 || rest[8] != '/' {
		return b, false
	}
	b = append(b, prefixEvent...)
	b = append(b, rest[slash+1:]...) // user, escaped
	b = append(b, '/')
	return append(b, rest[:slash]...), true // time, '/', id
}

// eventKeyID returns the <id> part of an e/<user>/<time>/<id> key (false if k is not one).
// Escaped users contain no '/', so the first '/' after the prefix ends the user.
func eventKeyID(k []byte) ([]byte, bool) {
	if !bytes.HasPrefix(k, []byte(prefixEvent)) {
		return nil, false
	}
	rest := k[len(prefixEvent):]
	slash := bytes.IndexByte(rest, '/')
	if slash < 0 || len(rest) < slash+1+8+1 || rest[slash+1+8] != '/' {
		return nil, false
	}
	return rest[slash+1+8+1:], true
}

func statsKey(feed string) []byte { return []byte(prefixStats + feed) }

// ---- commit ----

// expiresAt is the Badger ExpiresAt (Unix seconds) of an event: retention counts from the
// event time, but never from before ingest, so back-filled history stays visible (and
// deduplicated) for the full retention period after it arrives.
func (db *DB) expiresAt(evTime, now time.Time) uint64 {
	if db.opt.RetentionDays <= 0 {
		return 0
	}
	base := evTime
	if base.Before(now) {
		base = now
	}
	return uint64(base.Add(time.Duration(db.opt.RetentionDays) * 24 * time.Hour).Unix())
}

// CommitEvents stores the events that are not already stored, in one or more
// transactions, updates profiles from HR and "Delete user." events, and returns only when
// the data is synced to disk. It returns the events that were new (in input order); when
// every event is new, added is evs itself (same backing array), so the caller must not
// modify evs while added is in use. Safe against duplicates inside evs and against
// re-ingest of a partly committed file. Calls are serialised.
//
// An event's identity is (user, time, ID): its e/<user>/<time>/<id> key. A re-ingested
// record has the same three, so the e/ key itself is the dedup marker; the same ID with
// another user or time is a different event and is stored as well.
//
// Crash safety: an event's t/ and e/ keys go into the same transaction (Badger commits a
// transaction atomically) and in that order, so even a transaction split between them
// (only with pathological key sizes) can leave a t/ key without its event, which reads
// skip and re-ingest rewrites, but never an e/ key (the dedup marker) without its t/ key.
// Profiles are updated from every HR/deletion event in evs, including duplicates, because
// Profile.Apply is idempotent and a crash may have come between the events and the profile.
func (db *DB) CommitEvents(evs []event.Event) (added []event.Event, err error) {
	if len(evs) == 0 {
		return nil, nil
	}
	if added, err = db.WriteEvents(evs); err != nil {
		return nil, err
	}
	if err := db.Sync(); err != nil {
		return nil, fmt.Errorf("commit events: %w", err)
	}
	return added, nil
}

// WriteEvents is CommitEvents without the final sync: when it returns, the events are
// written and visible, and they survive a crash of the process, but they survive a power
// cut only once a later DB.Sync has returned. A caller that pipelines writes (the ingest
// pipeline writes batch N+1 while batch N is synced) must not report or act on them before
// that. Calls are serialised with each other and with CommitEvents.
func (db *DB) WriteEvents(evs []event.Event) (added []event.Event, err error) {
	if len(evs) == 0 {
		return nil, nil
	}
	for i := range evs {
		if evs[i].ID == "" || evs[i].User == "" {
			return nil, fmt.Errorf("commit events: event %d (%s %s id %q user %q): id and user are required",
				i, evs[i].Feed, evs[i].Operation, evs[i].ID, evs[i].User)
		}
	}
	db.commitMu.Lock()
	defer db.commitMu.Unlock()

	isNew, hashes, err := db.newEvents(evs)
	if err != nil {
		return nil, err
	}
	n := 0
	for i, ok := range isNew {
		if ok {
			n++
			// Before the write, so that a failed or partial write leaves the filter
			// over-full (a lookup later), never missing a stored ID.
			if db.filter != nil {
				db.filter.add(hashes[i])
			}
			if db.nextFilter != nil {
				db.nextFilter.add(hashes[i])
			}
		}
	}
	if db.filter != nil && db.filter.full() {
		db.startFilterBuild(2 * db.filter.n.Load())
	}
	if n > 0 {
		if err := db.writeEvents(evs, isNew, n); err != nil {
			// Some transactions may have committed; resynchronise the counters from disk.
			if lerr := db.loadStatsLocked(); lerr != nil {
				db.log.Error("reload feed counters", "err", lerr)
			}
			return nil, err
		}
	}
	if err := db.applyProfiles(evs); err != nil {
		return nil, err
	}
	if db.files != nil {
		// The mapped pages just written are only cache: dirty ones stay in the page cache
		// until they are written back (or synced), so keep them out of the resident set.
		if err := releaseMapped(db.files.dir); err != nil {
			db.log.Debug("release mapped pages", "err", err)
		}
	}
	if n == len(evs) {
		return evs[:n:n], nil // the common case: no copy of a large batch
	}
	added = make([]event.Event, 0, n)
	for i, ok := range isNew {
		if ok {
			added = append(added, evs[i])
		}
	}
	return added, nil
}

// eventIdentity is what makes two events the same event (see CommitEvents).
type eventIdentity struct {
	user, id string
	time     uint64 // timeBits
}

// newEvents reports, for each event, whether it is neither stored nor earlier in evs, and
// returns the filter hash of each ID. IDs the filter has never seen are new without a
// lookup; for the others the e/ key is looked up, in one read transaction for the batch.
func (db *DB) newEvents(evs []event.Event) ([]bool, []uint64, error) {
	isNew := make([]bool, len(evs))
	hashes := make([]uint64, len(evs))
	seen := make(map[eventIdentity]struct{}, len(evs))
	f := db.filter
	var key []byte
	err := db.bdb.View(func(txn *badger.Txn) error {
		for i := range evs {
			ev := &evs[i]
			k := eventIdentity{ev.User, ev.ID, timeBits(ev.Time)}
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			h := hashIDString(ev.ID)
			hashes[i] = h
			if f != nil && !f.mayContain(h) {
				isNew[i] = true
				continue
			}
			key = appendEventKey(key[:0], ev.User, ev.Time, ev.ID)
			_, err := txn.Get(key)
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
				isNew[i] = true
			case err != nil:
				return fmt.Errorf("event %s: %w", ev.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("commit events: dedup: %w", err)
	}
	return isNew, hashes, nil
}

// writeEvents writes the new events in transactions of eventsPerTxn events, pipelined
// with CommitWith like a WriteBatch, each carrying the feed counters as of its last event.
func (db *DB) writeEvents(evs []event.Event, isNew []bool, n int) error {
	now := time.Now()
	// One allocation for all entries; Badger keeps the pointers until the commits finish.
	ents := make([]badger.Entry, 2*n)
	// All keys and values live in one arena that is never modified once a slice of it is
	// handed to Badger; when append grows it, earlier slices keep the old backing array.
	// Badger copies entries into its memtable and logs before the commit callbacks run, so
	// after wg.Wait the arena is free for the next batch (commitMu is held throughout).
	arena := db.arena[:0]
	counts := make(map[string]uint64, 2)

	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	setErr := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	getErr := func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return firstErr
	}

	// Badger's NewTransaction waits until every transaction committed before it has been
	// applied (so that its reads see them). Creating the batch's transactions up front,
	// before the first commit, lets building transaction k+1 overlap Badger's writing of
	// transaction k instead of waiting for it. They only write, so they cannot conflict.
	pool := make([]*badger.Txn, (n+eventsPerTxn-1)/eventsPerTxn)
	for i := range pool {
		pool[i] = db.bdb.NewTransaction(true)
	}
	defer func() {
		for _, t := range pool { // those not used: only after an error
			t.Discard()
		}
	}()
	var txn *badger.Txn // nil between a commit and the next entry
	inTxn := 0
	commit := func(withCounters bool) error {
		if withCounters {
			for feed, c := range counts {
				var v [8]byte
				binary.BigEndian.PutUint64(v[:], db.stats[feed]+c)
				if err := txn.Set(statsKey(feed), v[:]); err != nil {
					return err
				}
			}
		}
		wg.Add(1)
		txn.CommitWith(func(err error) {
			if err != nil {
				setErr(err)
			}
			wg.Done()
		})
		txn = nil
		inTxn = 0
		return nil
	}
	begin := func() {
		if len(pool) > 0 {
			txn, pool = pool[0], pool[1:]
		} else {
			txn = db.bdb.NewTransaction(true) // only after an ErrTxnTooBig split
		}
	}
	set := func(e *badger.Entry) error {
		if txn == nil {
			begin()
		}
		err := txn.SetEntry(e)
		if errors.Is(err, badger.ErrTxnTooBig) {
			// Only with pathological key sizes; the counters then ride in a later transaction.
			if err := commit(false); err != nil {
				return err
			}
			begin()
			err = txn.SetEntry(e)
		}
		return err
	}

	err := func() error {
		for i := range evs {
			if !isNew[i] {
				continue
			}
			ev := &evs[i]
			exp := db.expiresAt(ev.Time, now)

			start := len(arena)
			arena = appendEventKey(arena, ev.User, ev.Time, ev.ID)
			ekey := arena[start:len(arena):len(arena)]
			start = len(arena)
			arena = encodeEvent(arena, ev)
			val := arena[start:len(arena):len(arena)]
			start = len(arena)
			arena = appendTimeKey(arena, ev.Time, ev.ID, ev.User)
			tkey := arena[start:len(arena):len(arena)]

			// Order matters: e/, the dedup marker, last (see CommitEvents).
			two := ents[:2:2]
			ents = ents[2:]
			two[0] = badger.Entry{Key: tkey, ExpiresAt: exp}
			two[1] = badger.Entry{Key: ekey, Value: val, ExpiresAt: exp}
			for k := range two {
				if err := set(&two[k]); err != nil {
					return fmt.Errorf("event %s: %w", ev.ID, err)
				}
			}
			counts[ev.Feed]++
			inTxn++
			if inTxn >= eventsPerTxn {
				if err := commit(true); err != nil {
					return err
				}
				if err := getErr(); err != nil {
					return err
				}
			}
		}
		if inTxn > 0 {
			return commit(true)
		}
		return nil
	}()
	if txn != nil {
		txn.Discard() // after an error
	}
	wg.Wait()
	if cap(arena) <= maxKeptArena {
		db.arena = arena[:0]
	}
	if err == nil {
		err = getErr()
	}
	if err != nil {
		return fmt.Errorf("commit events: write: %w", err)
	}
	db.statsMu.Lock()
	for feed, c := range counts {
		db.stats[feed] += c
	}
	db.statsMu.Unlock()
	return nil
}

// applyProfiles folds HR and account-deletion events into the p/<user> profiles.
func (db *DB) applyProfiles(evs []event.Event) error {
	var users []string
	byUser := map[string][]*event.Event{}
	for i := range evs {
		ev := &evs[i]
		if ev.HR == nil && ev.Operation != opDeleteUser {
			continue
		}
		if _, ok := byUser[ev.User]; !ok {
			users = append(users, ev.User)
		}
		byUser[ev.User] = append(byUser[ev.User], ev)
	}
	if len(users) == 0 {
		return nil
	}
	// Several small transactions, so a large HR file never exceeds a transaction; retry on
	// conflict in case another writer touched a profile.
	const usersPerTxn = 500
	for len(users) > 0 {
		chunk := users[:min(usersPerTxn, len(users))]
		users = users[len(chunk):]
		var err error
		for range 5 {
			err = db.bdb.Update(func(txn *badger.Txn) error {
				for _, u := range chunk {
					key := []byte(prefixProfile + u)
					var p event.Profile
					item, err := txn.Get(key)
					switch {
					case errors.Is(err, badger.ErrKeyNotFound):
					case err != nil:
						return err
					default:
						if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &p) }); err != nil {
							return fmt.Errorf("profile %s: %w", u, err)
						}
					}
					before, _ := json.Marshal(&p)
					for _, ev := range byUser[u] {
						p.Apply(ev)
					}
					after, err := json.Marshal(&p)
					if err != nil {
						return fmt.Errorf("profile %s: %w", u, err)
					}
					if bytes.Equal(before, after) {
						continue
					}
					if err := txn.Set(key, after); err != nil {
						return err
					}
				}
				return nil
			})
			if !errors.Is(err, badger.ErrConflict) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("commit events: profiles: %w", err)
		}
	}
	return nil
}

func (db *DB) loadStats() error {
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	return db.loadStatsLocked()
}

func (db *DB) loadStatsLocked() error {
	stats := map[string]uint64{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: []byte(prefixStats)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			feed := string(item.Key()[len(prefixStats):])
			err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("feed counter %s: %d bytes", feed, len(v))
				}
				stats[feed] = binary.BigEndian.Uint64(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load feed counters: %w", err)
	}
	db.statsMu.Lock()
	db.stats = stats
	db.statsMu.Unlock()
	return nil
}

// ---- reads ----

// Query selects events. Zero fields are unbounded; Until is exclusive.
type Query struct {
	User, Feed   string
	Since, Until time.Time
}

// Events calls fn for each matching event in time order (then ID). A user query is one
// prefix scan of e/<user>/...; a time query scans t/<time>/... and fetches each event.
// Return ErrStop from fn to stop early (Events then returns nil). The *event.Event passed
// to fn is fn's to keep.
func (db *DB) Events(q Query, fn func(ev *event.Event) error) error {
	var err error
	if q.User != "" {
		err = db.userEvents(q, fn)
	} else {
		err = db.timeEvents(q, fn)
	}
	if errors.Is(err, ErrStop) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("events %+v: %w", q, err)
	}
	return nil
}

// rangeKeys returns the seek key and exclusive end key (nil = to the end of prefix).
func rangeKeys(prefix []byte, q Query) (start, end []byte) {
	start = prefix
	if !q.Since.IsZero() {
		start = binary.BigEndian.AppendUint64(bytes.Clone(prefix), timeBits(q.Since))
	}
	if !q.Until.IsZero() {
		end = binary.BigEndian.AppendUint64(bytes.Clone(prefix), timeBits(q.Until))
	}
	return start, end
}

func (db *DB) userEvents(q Query, fn func(ev *event.Event) error) error {
	prefix := appendUserPrefix(nil, q.User)
	start, end := rangeKeys(prefix, q)
	return db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: q.Feed == "", PrefetchSize: 64, Prefix: prefix})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			item := it.Item()
			if end != nil && bytes.Compare(item.Key(), end) >= 0 {
				break
			}
			if err := emitItem(item, q.Feed, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

func (db *DB) timeEvents(q Query, fn func(ev *event.Event) error) error {
	prefix := []byte(prefixTime)
	start, end := rangeKeys(prefix, q)
	return db.bdb.View(func(txn *badger.Txn) error {
		// Keys only: a t/ key names its event, and its value is empty.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var ekey []byte
		for it.Seek(start); it.Valid(); it.Next() {
			k := it.Item().Key()
			if end != nil && bytes.Compare(k, end) >= 0 {
				break
			}
			var ok bool
			if ekey, ok = appendEventKeyOfTimeKey(ekey[:0], k); !ok {
				return fmt.Errorf("malformed time key %q", k)
			}
			eitem, err := txn.Get(ekey)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // expired between the two reads, or a crash came between t/ and e/
			}
			if err != nil {
				return err
			}
			if err := emitItem(eitem, q.Feed, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// emitItem decodes an e/ item and passes it to fn if it is of the wanted feed.
func emitItem(item *badger.Item, feed string, fn func(ev *event.Event) error) error {
	if feed != "" {
		match := false
		if err := item.Value(func(v []byte) error { match = valueFeed(v) == feed; return nil }); err != nil {
			return err
		}
		if !match {
			return nil
		}
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	ev := new(event.Event)
	if err := decodeEvent(v, ev); err != nil {
		return fmt.Errorf("event key %q: %w", item.Key(), err)
	}
	return fn(ev)
}

// UserEvents returns the stored events of user whose ID is in ids, by ID; IDs not found
// (never stored, or expired) are absent from the map. It scans the keys of the user's
// events and reads only the values of the wanted ones. Should the user have several
// events with one of the IDs (at different times), the latest is returned.
func (db *DB) UserEvents(user string, ids []string) (map[string]*event.Event, error) {
	out := make(map[string]*event.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	prefix := appendUserPrefix(nil, user)
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			id, ok := eventKeyID(item.Key())
			if !ok {
				return fmt.Errorf("malformed event key %q", item.Key())
			}
			if !want[string(id)] {
				continue
			}
			err := emitItem(item, "", func(ev *event.Event) error { out[ev.ID] = ev; return nil })
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", user, err)
	}
	return out, nil
}

// Profile returns the HR profile of user (found = false if no HR record or deletion has
// been seen for them).
func (db *DB) Profile(user string) (event.Profile, bool, error) {
	var p event.Profile
	found := false
	err := db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(prefixProfile + user))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &p) })
	})
	if err != nil {
		return event.Profile{}, false, fmt.Errorf("profile %s: %w", user, err)
	}
	return p, found, nil
}

// Profiles calls fn for every stored profile, in user order. Return ErrStop to stop early.
func (db *DB) Profiles(fn func(p *event.Profile) error) error {
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: []byte(prefixProfile)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			p := new(event.Profile)
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, p) }); err != nil {
				return fmt.Errorf("profile %q: %w", it.Item().Key(), err)
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrStop) {
		return fmt.Errorf("profiles: %w", err)
	}
	return nil
}

// Users calls fn for every user with at least one (unexpired) event, in key order
// (alphabetical for ordinary UPNs). It reads one key per user: after each user it seeks
// past all of that user's events. Return ErrStop to stop early.
func (db *DB) Users(fn func(user string) error) error {
	prefix := []byte(prefixEvent)
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var seek []byte
		for it.Seek(prefix); it.Valid(); it.Seek(seek) {
			k := it.Item().Key()[len(prefix):]
			slash := bytes.IndexByte(k, '/')
			if slash < 0 {
				return fmt.Errorf("malformed event key %q", it.Item().Key())
			}
			if err := fn(unescapeUser(string(k[:slash]))); err != nil {
				return err
			}
			// "e/<user>0" sorts after every "e/<user>/..." key ('0' follows '/'), and
			// escaped users contain no '/', so no other user lies in between.
			seek = append(append(append(seek[:0], prefix...), k[:slash]...), '/'+1)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrStop) {
		return fmt.Errorf("users: %w", err)
	}
	return nil
}
