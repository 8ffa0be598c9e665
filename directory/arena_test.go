package directory

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// collideIDs makes every contact ID hash to one of n values for the rest
// of the test.
func collideIDs(t *testing.T, n uint64) {
	t.Helper()
	idHashMask = n - 1
	t.Cleanup(func() { idHashMask = ^uint64(0) })
}

// checkIDs checks that x finds exactly the live contacts of want, by ID
// and by ID hash.
func checkIDs(t *testing.T, x *index, want map[string]Contact) {
	t.Helper()
	require.Equal(t, len(want), x.len())
	byHash := map[uint64][]string{}
	for id, c := range want {
		d, ok := x.get(id)
		require.True(t, ok, id)
		require.Equal(t, c, d.contact(x))
		byHash[idHash(id)] = append(byHash[idHash(id)], id)
	}
	for h, ids := range byHash {
		var got []string
		x.eachWithIDHash(h, func(d *doc) bool {
			require.True(t, d.alive)
			got = append(got, d.id(x))
			return true
		})
		assert.ElementsMatch(t, ids, got, "docs of ID hash %d", h)
	}
}

// TestIndexIDsCollide puts, replaces and removes contacts whose IDs share
// four hashes, through a rebuild: each ID still finds its own live doc.
func TestIndexIDsCollide(t *testing.T) {
	for _, tt := range []struct {
		name   string
		hashes uint64
	}{
		{name: "four hashes", hashes: 4},
		{name: "one hash", hashes: 1},
		{name: "no collision", hashes: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hashes > 0 {
				collideIDs(t, tt.hashes)
			}
			r := rand.New(rand.NewPCG(11, 12))
			x := newIndex()
			x.finish()
			want := map[string]Contact{}
			for i := range 2000 {
				id := fmt.Sprintf("c_%04d", r.IntN(300))
				if r.IntN(4) == 0 {
					x.remove(id)
					delete(want, id)
					continue
				}
				c := genContact(r, i)
				c.ID = id
				x.put(c)
				want[id] = c
			}
			checkIDs(t, x, want)
			_, ok := x.get("c_absent")
			assert.False(t, ok)
			x.rebuild()
			checkIDs(t, x, want)
		})
	}
}

// TestIndexRebuildDropsSlabs checks that retired docs' bytes stay only
// until the rebuild, and that a doc larger than a slab is kept whole.
func TestIndexRebuildDropsSlabs(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := newIndex()
	x.finish()
	big := genContact(r, 0)
	big.Notes = strings.Repeat("n", slabSize+10)
	x.put(big)
	for round := range 20 {
		for i := 1; i <= 1000; i++ {
			c := genContact(r, i)
			c.Version = uint64(round + 1)
			x.put(c)
		}
	}
	d, ok := x.get(big.ID)
	require.True(t, ok)
	assert.Equal(t, big, d.contact(x))
	before := x.data.size()
	assert.Greater(t, x.deadBytes, 19*1000*100, "replaced docs' bytes stay until the rebuild")
	x.rebuild()
	assert.Zero(t, x.deadBytes)
	assert.Equal(t, 1001, x.len())
	// The big doc's own slab and one for the rest.
	assert.Equal(t, 2, len(x.data.bufs))
	assert.Less(t, x.data.size(), before/2)
	d, ok = x.get(big.ID)
	require.True(t, ok)
	assert.Equal(t, big, d.contact(x))
}

// TestIndexSettleBoundsDeadBytes replaces every contact until settle
// rebuilds: the slabs never hold much more than twice the live bytes.
func TestIndexSettleBoundsDeadBytes(t *testing.T) {
	rebuildMinDead = 1000
	t.Cleanup(func() { rebuildMinDead = 100000 })
	r := rand.New(rand.NewPCG(15, 16))
	x := newIndex()
	x.finish()
	const n, chunk = 2000, 16
	contacts := make([]Contact, n)
	for i := range contacts {
		contacts[i] = genContact(r, i)
		contacts[i].Notes = strings.Repeat("n", 1000) // live bytes well above rebuildMinDead docs
		x.put(contacts[i])
	}
	live := x.data.size()
	rebuilt := false
	for round := range 10 {
		for i := range contacts {
			contacts[i].Version = uint64(round + 2)
			x.put(contacts[i])
			if i%chunk == chunk-1 {
				dead := x.dead
				x.settle()
				rebuilt = rebuilt || x.dead < dead
				require.LessOrEqual(t, x.data.size(), 2*live+chunk*2000, "round %d, contact %d", round, i)
			}
		}
	}
	assert.True(t, rebuilt, "settle rebuilt")
	for _, c := range contacts[:100] {
		d, ok := x.get(c.ID)
		require.True(t, ok)
		assert.Equal(t, c, d.contact(x))
	}
}

// TestFindDupWithCollidingIDs records two contacts with one duplicate key
// whose IDs share their hash: each is found, oldest first, until it is
// removed.
func TestFindDupWithCollidingIDs(t *testing.T) {
	collideIDs(t, 1)
	s := &Service{idx: newIndex(), dups: newDupIndex()}
	s.idx.finish()
	r := rand.New(rand.NewPCG(17, 18))
	var cs []Contact
	for i := range 3 {
		c := genContact(r, i)
		c.FirstName, c.LastName = "Ana", "Silva"
		c.Phones = []Phone{{Type: PhoneWork, Number: "+33 4 91 55 01 42"}, {Type: PhoneMobile, Number: fmt.Sprintf("06 00 00 00 %02d", i)}}
		cs = append(cs, c)
		s.idx.put(c)
		s.dups.add(&c)
	}
	other := genContact(r, 9) // no shared key
	s.idx.put(other)
	s.dups.add(&other)

	shared := dupKeys(&cs[0])[:1]
	scope := dupScope(&cs[0])
	for i := range cs {
		got, ok := s.findDup(scope, shared)
		require.True(t, ok)
		assert.Equal(t, cs[i].ID, got.ID, "oldest first")
		own, ok := s.findDup(scope, dupKeys(&cs[i])[1:])
		require.True(t, ok)
		assert.Equal(t, cs[i].ID, own.ID)
		s.dups.remove(&cs[i])
		s.idx.remove(cs[i].ID)
		_, ok = s.findDup(scope, dupKeys(&cs[i])[1:])
		assert.False(t, ok, "removed")
	}
	_, ok := s.findDup(scope, shared)
	assert.False(t, ok)
	got, ok := s.findDup(dupScope(&other), dupKeys(&other))
	require.True(t, ok)
	assert.Equal(t, other.ID, got.ID)
	assert.Empty(t, s.dups.more)
	assert.Equal(t, len(dupKeys(&other)), s.dups.first.Len())
	assert.True(t, slices.Equal(dupKeys(&other), dupKeys(&got)))
}

// TestDocArraysNeverMove: the index's doc arrays keep every entry where
// it was as they grow (a growth that copied them was a 60 MB copy at a
// million contacts), and hold what was put.
func TestDocArraysNeverMove(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	x := newIndex()
	x.finish()
	const n = 3*pagedLen + 5
	contacts := make([]Contact, n)
	var first *doc
	var firstHead *uint64
	for i := range contacts {
		contacts[i] = genContact(r, i)
		x.put(contacts[i])
		if i == 0 {
			first, firstHead = x.docs.at(0), x.heads.at(0)
		}
	}
	require.Equal(t, n, x.docs.len())
	assert.Same(t, first, x.docs.at(0), "doc 0 moved")
	assert.Same(t, firstHead, x.heads.at(0), "head 0 moved")
	for _, i := range []int{0, 1, pagedLen - 1, pagedLen, n / 2, n - 1} {
		d, ok := x.get(contacts[i].ID)
		require.True(t, ok)
		assert.Equal(t, contacts[i], d.contact(x))
		assert.Equal(t, d.head, *x.heads.at(uint32(i)))
	}
}
