package engine

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The arena packs canonical UUIDs; every id must come back as it went in, and ids must
// compare as their text does whichever way each is stored.
func TestIndexIDArena(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const hex = "0123456789abcdef"
	uuid := func() string {
		var b strings.Builder
		for i := 0; i < 36; i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				b.WriteByte('-')
			} else {
				b.WriteByte(hex[rng.IntN(16)])
			}
		}
		return b.String()
	}
	ids := []string{
		"", "x", "0", "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000",
		"6B862141-FD35-EEA8-CEC3-B4C1983CB8C9", // upper case: stored as text
		"6b862141-fd35-eea8-cec3-b4c1983cb8c",  // 35 characters
		"6b862141-fd35-eea8-cec3-b4c1983cb8c9a",
		"6b862141-fd35-eea8-cec3+b4c1983cb8c9",
		"6b862141-fd35-eea8-cec3-b4c1983cb8cg",
		"da366385814273344300_-1381555352",
	}
	for i := 0; i < 300; i++ {
		u := uuid()
		ids = append(ids, u, u[:20], u+"z")
	}
	ux := newUserIndex("u")
	type ref struct {
		off uint32
		n   uint8
	}
	var refs []ref
	for _, id := range ids {
		off, n := ux.addID(id)
		refs = append(refs, ref{off, n})
		if got := ux.id(off, n); got != id {
			t.Fatalf("id %q came back as %q", id, got)
		}
	}
	if _, n := ux.addID("6b862141-fd35-eea8-cec3-b4c1983cb8c9"); n != idPacked {
		t.Fatalf("a canonical UUID was not packed")
	}
	if _, n := ux.addID("6B862141-FD35-EEA8-CEC3-B4C1983CB8C9"); n == idPacked {
		t.Fatalf("an upper-case UUID was packed: it would come back lower-case")
	}
	long := strings.Repeat("a", 400)
	if off, n := ux.addID(long); ux.id(off, n) != long[:254] {
		t.Fatalf("a 400-byte id was not cut at 254 bytes")
	}
	for i := range ids {
		for j := range ids {
			a, b := refs[i], refs[j]
			if got, want := ux.idCmp(a.off, a.n, b.off, b.n), strings.Compare(ids[i], ids[j]); got != want {
				t.Fatalf("idCmp(%q, %q) = %d, want %d", ids[i], ids[j], got, want)
			}
		}
	}
	// compact keeps every id of the hits.
	ux.hits = nil
	for _, r := range refs {
		ux.hits = append(ux.hits, hit{idOff: r.off, idLen: r.n})
	}
	ux.compact()
	for i := range ux.hits {
		if got := ux.hitID(&ux.hits[i]); got != ids[i] {
			t.Fatalf("after compact: %q, want %q", got, ids[i])
		}
	}
	// sortHits orders same-time hits by id text.
	rng.Shuffle(len(ux.hits), func(i, j int) { ux.hits[i], ux.hits[j] = ux.hits[j], ux.hits[i] })
	ux.sorted = false
	ux.sortHits()
	var got []string
	for i := range ux.hits {
		got = append(got, ux.hitID(&ux.hits[i]))
	}
	if !slices.IsSorted(got) {
		t.Fatalf("sortHits did not order the ids: %q", got[:10])
	}
}
