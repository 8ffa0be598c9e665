package callerid

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/directory/phone"
)

// fakeSource is a Source whose changes the test sends itself.
type fakeSource struct {
	contacts []directory.Contact
	observe  func(directory.ChangeEvent)
}

func (s *fakeSource) ScanContacts(fn func(c *directory.Contact)) {
	for i := range s.contacts {
		fn(&s.contacts[i])
	}
}
func (s *fakeSource) AddChangeObserver(fn func(directory.ChangeEvent)) { s.observe = fn }
func (s *fakeSource) BuiltinMarks(string, []string) (vip, fav, blocked bool) {
	return false, false, false
}

// TestLookupChurn updates, re-kinds, deletes and re-creates contacts many
// times and checks after every round that each live number resolves to
// its contact, each dropped number to nothing, and that the table stays
// within its bound: slots follow the peak contact count, the slab twice
// the live bytes.
func TestLookupChurn(t *testing.T) {
	ctx := context.Background()
	const n, dom, callee = 60, "pbx.example.com", "201@pbx.example.com"
	rng := rand.New(rand.NewPCG(5, 6))
	contact := func(i, round int, version uint64) directory.Contact {
		kind := directory.KindCompany
		if rng.IntN(4) == 0 {
			kind = directory.KindTeam
		}
		c := directory.Contact{ID: fmt.Sprintf("c_%03d", i), Kind: kind, Domain: dom, Version: version,
			FirstName: fmt.Sprintf("F%d", i), LastName: fmt.Sprintf("Round%d", round), Company: "Acme",
			Phones: []directory.Phone{{Type: directory.PhoneWork, Number: fmt.Sprintf("+33 1 42 %02d %02d %02d", i, round%100, 0)}}}
		if rng.IntN(2) == 0 { // a number kept across rounds
			c.Phones = append(c.Phones, directory.Phone{Type: directory.PhoneMobile, Number: fmt.Sprintf("06 00 00 00 %02d", i)})
		}
		return c
	}
	src := &fakeSource{}
	for i := range n {
		src.contacts = append(src.contacts, contact(i, 0, 1))
	}
	lk, err := New(ctx, src, Config{DefaultRegion: "FR", DefaultDomain: dom}, testLogger())
	require.NoError(t, err)
	live := map[int]directory.Contact{}
	for i, c := range src.contacts {
		live[i] = c
	}
	dropped := map[string]bool{}
	for round := 1; round <= 30; round++ {
		for i := range n {
			old, ok := live[i]
			switch {
			case ok && rng.IntN(5) == 0:
				src.observe(directory.ChangeEvent{Op: directory.ChangeDeleted, Contact: old})
				delete(live, i)
			case ok:
				c := contact(i, round, old.Version+1)
				src.observe(directory.ChangeEvent{Op: directory.ChangeUpdated, Contact: c})
				live[i] = c
			default:
				c := contact(i, round, 1)
				src.observe(directory.ChangeEvent{Op: directory.ChangeCreated, Contact: c})
				live[i] = c
			}
			for _, p := range old.Phones {
				dropped[p.Number] = true
			}
		}
		require.Equal(t, len(live), lk.Len())
		for _, c := range live {
			for _, p := range c.Phones {
				delete(dropped, p.Number)
				got, ok := lk.Resolve(ctx, p.Number, callee)
				require.True(t, ok, "round %d: %s of %s", round, p.Number, c.ID)
				assert.Equal(t, c.ID, got.ContactID)
				assert.Equal(t, c.Kind, got.Kind)
				assert.Equal(t, phone.RankExact, got.Rank)
				assert.Equal(t, c.DisplayName(), got.Name)
			}
		}
		for num := range dropped {
			got, ok := lk.Resolve(ctx, num, callee)
			assert.False(t, ok, "round %d: dropped %s resolves to %+v", round, num, got)
		}
		total, liveBytes := lk.tab.slabBytes()
		require.LessOrEqual(t, total, 2*liveBytes+chunkSize, "round %d", round)
	}
	slots := 0
	for _, p := range lk.tab.pages {
		slots += len(p)
	}
	assert.LessOrEqual(t, slots, n, "deleted contacts' slots are reused")
	// A stale replay changes nothing.
	var c directory.Contact
	for _, c = range live {
		break
	}
	stale := c
	stale.Version--
	stale.LastName = "Stale"
	src.observe(directory.ChangeEvent{Op: directory.ChangeUpdated, Contact: stale})
	got, ok := lk.Resolve(ctx, c.Phones[0].Number, callee)
	require.True(t, ok)
	assert.Equal(t, c.DisplayName(), got.Name)
}
