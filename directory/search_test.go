package directory

import (
	"context"
	"fmt"
	"math/rand/v2"
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
			for _, d := range svc.idx.docs {
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
