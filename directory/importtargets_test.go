package directory

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImportTargetsKeepContactsAndKeys(t *testing.T) {
	tg := newImportTargets()
	at := time.Date(2026, 12, 2, 20, 45, 0, 123, time.UTC)
	a := Contact{ID: "c_a", Kind: KindPersonal, Owner: "101@pbx.example.com", FirstName: "Ana", LastName: "Lima",
		Phones: []Phone{{Type: PhoneWork, Number: "+33 1 45 55 77 10"}}, Emails: []string{"ana@example.com"},
		Address: Address{City: "Lyon"}, Notes: "n", Created: at, Updated: at, Version: 3}
	b := Contact{ID: "c_b", Kind: KindCompany, Domain: "pbx.example.com", Company: "Acme", Version: 1}
	ia := tg.add(&a, 7, 2, []string{"ana lima|33145557710"})
	ib := tg.add(&b, 0, -1, []string{"acme|1", "ana lima|33145557710"})

	assert.Equal(t, a, tg.contact(ia))
	assert.Equal(t, b, tg.contact(ib))
	assert.Equal(t, importTarget{slab: tg.ts[ia].slab, off: tg.ts[ia].off, n: tg.ts[ia].n, line: 7, batch: 2}, tg.ts[ia])

	// The first target having a key keeps it.
	i, ok := tg.withKey("ana lima|33145557710")
	require.True(t, ok)
	assert.Equal(t, ia, i)
	i, ok = tg.withKey("acme|1")
	require.True(t, ok)
	assert.Equal(t, ib, i)
	_, ok = tg.withKey("acme|2")
	assert.False(t, ok)

	// An update re-encodes the contact and adds its new keys; the old key
	// still names the target, as the import left it.
	a.Phones[0].Number, a.Version = "+33 1 45 55 77 11", 4
	tg.set(ia, &a, []string{"ana lima|33145557711"})
	assert.Equal(t, a, tg.contact(ia))
	for _, k := range []string{"ana lima|33145557710", "ana lima|33145557711"} {
		i, ok := tg.withKey(k)
		assert.True(t, ok && i == ia, k)
	}
	i, ok = tg.withID("c_b")
	assert.True(t, ok && i == ib)
	_, ok = tg.withID("c_c")
	assert.False(t, ok)
}

// TestFreshWritesSkipTheVersionRead: a contact whose ID newID just drew
// is not looked up in the store; any other write is.
func TestFreshWritesSkipTheVersionRead(t *testing.T) {
	var read []string
	current := func(id string) (uint64, error) { read = append(read, id); return 0, nil }
	b := Batch{Contacts: []ContactWrite{
		{Contact: Contact{ID: "c_fresh", Version: 1}, fresh: true},
		{Contact: Contact{ID: "c_given", Version: 1}},
		{Contact: Contact{ID: "c_fresh", Version: 2}, Expected: 1}, // this batch's own write
	}}
	require.NoError(t, b.checkVersions(current))
	assert.Equal(t, []string{"c_given"}, read)
}
