package store

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// idFilter is an in-memory Bloom filter over the IDs of stored events. It only speeds up
// deduplication: an event whose ID the filter has never seen is certainly not stored, so
// CommitEvents skips the Badger lookup of its e/<user>/<time>/<id> key (about 15% of the
// CPU of committing an event). Any other answer falls back to the lookup, so a full, stale
// or missing filter costs speed, never correctness. It holds IDs only, not whole
// identities (user, time, ID): the same ID under another user or time is merely a lookup.
//
// Invariant: every ID stored in Badger is in the filter once it is in use (DB.filter).
// IDs present when a filter is built come from a key-only scan of the e/ keys taken after
// the filter was installed as DB.nextFilter; IDs committed after that are added by
// CommitEvents to both the current and the next filter before they are written.
type idFilter struct {
	words    []atomic.Uint64
	mask     uint64 // number of bits - 1 (a power of two)
	capacity int64  // IDs it holds at about 1% false positives
	n        atomic.Int64
	built    chan struct{} // closed when the build that created it has finished
}

const (
	filterBitsPerID  = 10 // with filterHashes = 7: ~1% false positives at capacity
	filterHashes     = 7
	filterMinIDs     = 1 << 21 // 2.5 MiB
	filterMaxBits    = 1 << 28 // 32 MiB: beyond ~27M live IDs the filter just gets less useful
	filterScanCancel = 1 << 16 // check for shutdown every this many keys while building
)

var filterSeed = maphash.MakeSeed()

func newIDFilter(capacity int64) *idFilter {
	capacity = max(capacity, filterMinIDs)
	nbits := uint64(1) << bits.Len64(uint64(capacity*filterBitsPerID)-1)
	return newIDFilterBits(min(nbits, filterMaxBits))
}

// newIDFilterBits makes a filter of nbits bits, a power of two of at least 64.
func newIDFilterBits(nbits uint64) *idFilter {
	return &idFilter{
		words:    make([]atomic.Uint64, nbits/64),
		mask:     nbits - 1,
		capacity: int64(nbits / filterBitsPerID),
		built:    make(chan struct{}),
	}
}

func hashID(id []byte) uint64 { return maphash.Bytes(filterSeed, id) }

func hashIDString(id string) uint64 { return maphash.String(filterSeed, id) }

func (f *idFilter) add(h uint64) {
	h1, h2 := h, h>>32|h<<32|1
	for i := range uint64(filterHashes) {
		b := (h1 + i*h2) & f.mask
		f.words[b/64].Or(1 << (b % 64))
	}
	f.n.Add(1)
}

func (f *idFilter) mayContain(h uint64) bool {
	h1, h2 := h, h>>32|h<<32|1
	for i := range uint64(filterHashes) {
		b := (h1 + i*h2) & f.mask
		if f.words[b/64].Load()&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// full reports whether the filter holds more IDs than it was sized for. A filter that is
// already as large as allowed is rebuilt only when it holds twice its capacity, so that
// more live IDs than the largest filter holds do not cause a rebuild after every batch.
func (f *idFilter) full() bool {
	n := f.n.Load()
	if f.mask+1 >= filterMaxBits {
		return n > 2*f.capacity
	}
	return n > f.capacity
}

// startFilterBuild installs a new filter sized for capacity IDs as db.nextFilter and fills
// it from the stored e/ keys in the background; when done it replaces db.filter. The
// caller holds commitMu. It does nothing while a build is running or after Close.
func (db *DB) startFilterBuild(capacity int64) {
	if db.nextFilter != nil || db.maintainCtx == nil || db.maintainCtx.Err() != nil {
		return
	}
	f := newIDFilter(capacity)
	db.nextFilter = f
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		defer close(f.built)
		err := db.fillFilter(db.maintainCtx, f)
		db.commitMu.Lock()
		defer db.commitMu.Unlock()
		if db.nextFilter != f {
			return // replaced by Restore
		}
		db.nextFilter = nil
		if err != nil {
			if db.maintainCtx.Err() == nil {
				db.log.Warn("building the event-ID filter failed; deduplication uses lookups only", "err", err)
			}
			return
		}
		db.filter = f
		db.log.Debug("event-ID filter ready", "ids", f.n.Load(), "capacity", f.capacity, "bytes", len(f.words)*8)
	}()
}

func (db *DB) fillFilter(ctx context.Context, f *idFilter) error {
	prefix := []byte(prefixEvent)
	return db.bdb.View(func(txn *badger.Txn) error {
		// Keys only: the values (the events) are never read.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			id, ok := eventKeyID(it.Item().Key())
			if !ok {
				return fmt.Errorf("build event-ID filter: malformed event key %q", it.Item().Key())
			}
			f.add(hashID(id))
			if n++; n%filterScanCancel == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	})
}
