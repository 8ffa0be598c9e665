package callerid

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/directory"
)

// TestAddProbedMatchesAdd drives two tables through one sequence of
// writes under a hash that collides often: one finds and adds as the
// table tests do, the other with the probe apply passes from findProbe
// to addProbed. Their hash slots and collisions must stay the same.
func TestAddProbedMatchesAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	plain, probed := newTable(), newTable()
	collide := func(id string) uint64 { return uint64(len(id) % 5) }
	plain.hash, probed.hash = collide, collide
	live := map[string]bool{}
	for step := range 2000 {
		id := fmt.Sprintf("c_%d", rng.IntN(300))
		r := testRecord(id, step, rng)
		if live[id] && rng.IntN(3) == 0 {
			for _, tab := range []*table{plain, probed} {
				h, ok := tab.find(id)
				require.True(t, ok, id)
				tab.remove(h)
			}
			delete(live, id)
			continue
		}
		h1, ok1 := plain.find(id)
		h2, ok2, at := probed.findProbe(id)
		require.Equal(t, ok1, ok2, id)
		require.Equal(t, h1, h2, id)
		if ok1 {
			plain.update(h1, r, 1, 0)
			probed.update(h2, r, 1, 0)
		} else {
			require.Equal(t, plain.add(r, 1, 0), probed.addProbed(r, 1, 0, at), id)
		}
		live[id] = true
		require.Equal(t, plain.byHash.Len(), probed.byHash.Len(), "step %d", step)
		require.True(t, maps.Equal(plain.collide, probed.collide), "step %d", step)
		if step%50 != 0 {
			continue
		}
		for id := range live {
			h1, ok1 := plain.find(id)
			h2, ok2 := probed.find(id)
			require.True(t, ok1 && ok2, id)
			require.Equal(t, h1, h2, id)
			require.Equal(t, plain.record(h1), probed.record(h2), id)
		}
	}
}

// TestApplyWithCollidingHashes creates, updates and deletes contacts
// through the change observer while every contact ID shares a few hash
// values, and checks each contact resolves by its number.
func TestApplyWithCollidingHashes(t *testing.T) {
	const dom, callee = "pbx.example.com", "201@pbx.example.com"
	src := &fakeSource{}
	lk, err := New(context.Background(), src, Config{DefaultRegion: "FR", DefaultDomain: dom}, testLogger())
	require.NoError(t, err)
	lk.tab.hash = func(id string) uint64 { return uint64(len(id) % 3) }
	contact := func(i, round int) directory.Contact {
		return directory.Contact{ID: fmt.Sprintf("c_%d", i), Kind: directory.KindCompany, Domain: dom, Version: uint64(round + 1),
			LastName: fmt.Sprintf("L%d-%d", i, round),
			Phones:   []directory.Phone{{Type: directory.PhoneWork, Number: fmt.Sprintf("+33 1 42 %02d %02d %02d", i, round, 7)}}}
	}
	live := map[int]int{} // contact → round
	rng := rand.New(rand.NewPCG(23, 24))
	for step := range 400 {
		i := rng.IntN(40)
		round, ok := live[i]
		switch {
		case ok && rng.IntN(3) == 0:
			src.observe(directory.ChangeEvent{Op: directory.ChangeDeleted, Contact: contact(i, round)})
			delete(live, i)
		case ok:
			live[i] = round + 1
			src.observe(directory.ChangeEvent{Op: directory.ChangeUpdated, Contact: contact(i, round+1)})
		default:
			live[i] = step % 90
			src.observe(directory.ChangeEvent{Op: directory.ChangeCreated, Contact: contact(i, step%90)})
		}
		require.Equal(t, len(live), lk.Len())
	}
	for i, round := range live {
		c := contact(i, round)
		res, ok := lk.Resolve(context.Background(), c.Phones[0].Number, callee)
		require.True(t, ok, c.ID)
		require.Equal(t, c.ID, res.ContactID)
		require.Equal(t, c.LastName, res.Name)
	}
}
