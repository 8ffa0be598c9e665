package directory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSearchTotal(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	r := rand.New(rand.NewPCG(7, 8))
	var b Batch
	for i := range 1500 {
		b.Contacts = append(b.Contacts, ContactWrite{Contact: genContact(r, i)})
	}
	requireApply(t, store, ctx, b)
	svc, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	require.NoError(t, svc.Mark(ctx, alice, "c_00000010", GroupFavorite, true))

	for _, tt := range []struct {
		name, text string
		capped     bool
	}{
		{name: "everyone", text: "", capped: true},
		{name: "common prefix", text: "e", capped: true},
		{name: "one email", text: "user1234"},
		{name: "favorite email", text: "user10"},
		{name: "two words", text: "user12 example"},
		{name: "common digits", text: "06", capped: true},
		{name: "digit run", text: "91 55"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := 0
			pq := parseQuery(tt.text)
			for _, d := range svc.idx.docs.all() {
				if d.alive && d.matches(svc.idx, &pq) {
					want++
				}
			}
			page, err := svc.Search(ctx, alice, Query{Text: tt.text, Limit: 5})
			require.NoError(t, err)
			assert.Equal(t, tt.capped, page.TotalCapped)
			assert.Equal(t, min(want, TotalCap), page.Total)
			if page.Next != "" {
				next, err := svc.Search(ctx, alice, Query{Text: tt.text, Limit: 5, Cursor: page.Next})
				require.NoError(t, err)
				assert.Equal(t, page.Total, next.Total, "the total does not depend on the cursor")
			}
		})
	}
}

func TestContactEncodingRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 50 {
		c := genContact(r, i)
		c.Department, c.JobTitle, c.Notes = "Ventes", "Chef", fmt.Sprintf("note %d\nline", i)
		c.Address = Address{Street: "1 rue", City: "Lyon", Country: "FR"}
		c.Phones = append(c.Phones, Phone{Type: "pager", Number: "123"})
		c.Created, c.Updated = time.Unix(1700000000+int64(i), int64(i)).UTC(), time.Unix(1800000000, 5)
		c.Kind = []Kind{KindPersonal, KindCompany, KindTeam, "odd"}[i%4]
		x := newIndex()
		x.put(c)
		x.finish()
		d, ok := x.get(c.ID)
		require.True(t, ok)
		assert.Equal(t, c, d.contact(x))
	}
}

// TestSearchNarrowsTwoCommonParts: with both parts of a query matching
// more than narrowMin contacts, the candidates are narrowed to those
// holding both, and the page and total are still exactly those of a scan.
func TestSearchNarrowsTwoCommonParts(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	r := rand.New(rand.NewPCG(9, 10))
	var b Batch
	for i := range 6000 {
		b.Contacts = append(b.Contacts, ContactWrite{Contact: genContact(r, i)})
	}
	requireApply(t, store, ctx, b)
	svc, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	x := svc.idx
	pt := x.parts["pbx.example.com"]
	require.NotNil(t, pt)

	for _, text := range []string{"u example", "example u", "example 334", "e example", "user5 example"} {
		t.Run(text, func(t *testing.T) {
			pq := parseQuery(text)
			var want []uint32
			for id := range uint32(x.docs.len()) {
				if d := x.docs.at(id); d.alive && d.matches(x, &pq) {
					want = append(want, uint32(id))
				}
			}
			slices.SortFunc(want, x.cmpDoc)
			_, n, ok := pt.source(x, &pq)
			require.True(t, ok)
			require.GreaterOrEqual(t, n, len(want), "candidates cover the matches")
			page, err := svc.Search(ctx, alice, Query{Text: text, Limit: 20})
			require.NoError(t, err)
			assert.Equal(t, min(len(want), TotalCap), page.Total)
			var got, first []string
			for _, e := range page.Items {
				got = append(got, e.Contact.ID)
			}
			for _, id := range want[:min(20, len(want))] {
				first = append(first, x.docs.at(id).id(x))
			}
			assert.Equal(t, first, got)
		})
	}
}

func TestIntersect(t *testing.T) {
	x := newIndex()
	for range 5000 {
		x.docs.add(doc{})
	}
	r := rand.New(rand.NewPCG(3, 4))
	list := func(p float64) (*plist, map[uint32]bool) {
		l, set := &plist{}, map[uint32]bool{}
		for id := range uint32(5000) {
			if r.Float64() < p {
				l.add(id)
				set[id] = true
			}
		}
		return l, set
	}
	a1, sa1 := list(0.3)
	a2, sa2 := list(0.1)
	b1, sb1 := list(0.5)
	b2, sb2 := list(0.5) // overlaps b1: each ID must come out once
	var want []uint32
	for id := range uint32(5000) {
		if (sa1[id] || sa2[id]) && (sb1[id] || sb2[id]) {
			want = append(want, id)
		}
	}
	for range 2 { // the pooled bitset comes back clean
		var got []uint32
		x.intersect([]*plist{a1, a2}, []*plist{b1, b2}).each(func(id uint32) bool { got = append(got, id); return true })
		require.Equal(t, want, got)
	}
}
