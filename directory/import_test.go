package directory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIndexSettleKeepsDisplayOrder puts and removes contacts at random,
// settling after a random number of changes as the import's chunks do, and
// checks that the display order walks every live contact in key order.
func TestIndexSettleKeepsDisplayOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := newIndex()
	x.finish() // loaded (empty): puts now go into the sorted lists
	live := map[string]bool{}
	for round := range 400 {
		for range 1 + r.IntN(40) {
			id := fmt.Sprintf("c_%05d", r.IntN(6000))
			if r.IntN(5) == 0 {
				x.remove(id)
				delete(live, id)
				continue
			}
			c := genContact(r, round)
			c.ID = id
			x.put(c)
			live[id] = true
		}
		x.settle()
	}
	// Every contact is in one domain's partition: walk each partition's
	// display order.
	n := 0
	for _, pt := range x.parts {
		var keys []string
		pt.order.ascend(func(ordered) bool { return false }, func(o ordered) bool {
			id := o.id
			if d := x.docs.at(id); d.alive {
				keys = append(keys, d.fullKey(x))
			}
			return true
		})
		assert.True(t, slices.IsSorted(keys), "display order sorted")
		n += len(keys)
	}
	assert.Equal(t, len(live), n, "every live contact once")
}

func TestImportFindsStoredDuplicates(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	// Loaded at start: a contact written before the Service existed.
	old := company("Loaded")
	old.ID, old.Version, old.FirstName, old.LastName = "c_loaded", 1, "Ana", "Silva"
	_, err := store.Apply(ctx, Batch{Contacts: []ContactWrite{{Contact: old}}})
	require.NoError(t, err)
	svc, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)

	// Created through the API (applied from the log): two contacts with the
	// same key, since Create does not deduplicate.
	mk := func(first, last, number, domain string) Contact {
		c, err := svc.Create(ctx, admin, Contact{Kind: KindCompany, Domain: domain, FirstName: first, LastName: last,
			Phones: []Phone{{Type: PhoneWork, Number: number}}})
		require.NoError(t, err)
		return c
	}
	twin1 := mk("Bo", "Berg", "+33 4 72 00 00 01", "pbx.example.com")
	mk("Bo", "Berg", "+33 4 72 00 00 01", "pbx.example.com")
	moved := mk("Cy", "Roux", "+33 4 72 00 00 02", "pbx.example.com")
	mk("Di", "Fox", "+33 4 72 00 00 03", "other.example.org") // another tenant: never a duplicate
	gone := mk("Ed", "Nye", "+33 4 72 00 00 04", "pbx.example.com")

	require.NoError(t, svc.Delete(ctx, admin, twin1.ID, twin1.Version)) // its twin still counts
	require.NoError(t, svc.Delete(ctx, admin, gone.ID, gone.Version))   // no longer a duplicate
	moved.Phones[0].Number = "+33 4 72 00 00 05"
	_, err = svc.Update(ctx, admin, moved, moved.Version) // its old number is free, the new one taken

	require.NoError(t, err)
	csv := "first_name,last_name,phone_work\n" +
		"ana,SILVA,+33 4 91 55 01 42\n" + // line 2: loaded contact
		"Bo,Berg,+33 (4) 72.00.00.01\n" + // 3: the remaining twin
		"Cy,Roux,+33 (4) 72.00.00.02\n" + // 4: old number: new
		"Cy,Roux,+33 (4) 72.00.00.05\n" + // 5: new number: duplicate
		"Di,Fox,+33 (4) 72.00.00.03\n" + // 6: other tenant: new
		"Ed,Nye,+33 (4) 72.00.00.04\n" + // 7: deleted: new
		"Ed,Nye,+33 (4) 72.00.00.04\n" // 8: duplicate of line 7
	rep, err := svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv), ImportOptions{Domain: "pbx.example.com"})
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Imported)
	assert.Equal(t, []RowError{
		{Line: 2, Reason: "duplicate of an existing contact"},
		{Line: 3, Reason: "duplicate of an existing contact"},
		{Line: 5, Reason: "duplicate of an existing contact"},
		{Line: 8, Reason: "duplicate of line 7"},
	}, rep.Skips)
	// A second pass finds every row stored.
	rep, err = svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv), ImportOptions{Domain: "pbx.example.com"})
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Imported)
	assert.Equal(t, 7, rep.Skipped)
}

// TestImportDuplicatesAcrossBatches checks that rows written by earlier
// store batches of the same import are still reported against their line,
// and that an update finds the contact as the import left it.
func TestImportDuplicatesAcrossBatches(t *testing.T) {
	svc, err := New(context.Background(), NewMemStore(), Config{}, testLogger())
	require.NoError(t, err)
	n := importBatch + 10
	var csv strings.Builder
	csv.WriteString("first_name,last_name,company,phone_work\n")
	for i := range n {
		fmt.Fprintf(&csv, "Jo,Row%d,First,+33 1 %08d\n", i, i)
	}
	fmt.Fprintf(&csv, "Jo,Row0,Second,+33 1 %08d\n", 0) // line n+2
	fmt.Fprintf(&csv, "Jo,Row0,Third,+33 1 %08d\n", 0)  // line n+3
	fmt.Fprintf(&csv, "Jo,Row%d,Fourth,+33 1 %08d\n", n-1, n-1)
	ctx := context.Background()

	rep, err := svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv.String()), ImportOptions{Domain: "pbx.example.com"})
	require.NoError(t, err)
	assert.Equal(t, n, rep.Imported)
	assert.Equal(t, []RowError{
		{Line: n + 2, Reason: "duplicate of line 2"},
		{Line: n + 3, Reason: "duplicate of line 2"},
		{Line: n + 4, Reason: fmt.Sprintf("duplicate of line %d", n+1)},
	}, rep.Skips)

	rep, err = svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv.String()), ImportOptions{Domain: "pbx.example.com", OnDuplicate: DupUpdate})
	require.NoError(t, err)
	assert.Equal(t, ImportReport{Updated: n + 3}, rep)
	page, err := svc.Search(ctx, alice, Query{Text: "row0"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "Third", page.Items[0].Contact.Company)
	// Created; updated by line 2; then by lines n+2 and n+3, which fall in
	// one store batch and so make one version.
	assert.Equal(t, uint64(3), page.Items[0].Contact.Version)
}

func TestFindDupChecksCandidates(t *testing.T) {
	f := newFixture(t)
	// A stale or colliding entry pointing at a contact without the key is
	// no duplicate.
	scope := dupScope(&f.company)
	key := "ana silva|33491550142"
	f.svc.mu.Lock()
	f.svc.dups.first.Set(f.svc.dups.hash(scope, key), idHash(f.company.ID))
	f.svc.mu.Unlock()
	f.svc.mu.RLock()
	_, found := f.svc.findDup(scope, []string{key})
	c, same := f.svc.findDup(scope, dupKeys(&f.company))
	f.svc.mu.RUnlock()
	assert.False(t, found)
	assert.True(t, same)
	assert.Equal(t, f.company.ID, c.ID)
}

// TestImportReachesTheOtherInstance imports on one instance of two on one
// Redis: the other converges to the same contacts, and its duplicate
// detection knows them.
func TestImportReachesTheOtherInstance(t *testing.T) {
	a, b, _ := twoServices(t)
	ctx := context.Background()
	const rows = 3*importBatch + 7
	var csv strings.Builder
	csv.WriteString("first_name,last_name,phone_work,phone_mobile\n")
	for i := range rows {
		fmt.Fprintf(&csv, "Lu,Imported%d,+33 1 %08d,+33 6 %08d\n", i, i, i)
	}
	csv.WriteString("Lu,Imported5,+33 1 00000005,\n") // a duplicate
	rep, err := a.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv.String()), ImportOptions{Domain: "pbx.example.com"})
	require.NoError(t, err)
	require.Equal(t, rows, rep.Imported)
	require.Equal(t, 1, rep.Skipped)

	all := func(s *Service) []string {
		var out []string
		require.NoError(t, s.ForEachNumber(ctx, alice, func(digits string, c Contact) bool {
			out = append(out, fmt.Sprintf("%s %d %s", c.ID, c.Version, digits))
			return true
		}))
		slices.Sort(out)
		return out
	}
	require.Eventually(t, func() bool { return slices.Equal(all(a), all(b)) }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 2*rows, len(all(b)), "two numbers per row")

	rep, err = b.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv.String()), ImportOptions{Domain: "pbx.example.com"})
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Imported)
	assert.Equal(t, rows+1, rep.Skipped)
}

// failingStore fails every Apply after the first ok ones.
type failingStore struct {
	Store
	mu sync.Mutex
	ok int
}

func (s *failingStore) Apply(ctx context.Context, b Batch) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok == 0 {
		return 0, assert.AnError
	}
	s.ok--
	return s.Store.Apply(ctx, b)
}

// TestImportStopsAtAStoreFailure: the batches before a failed one are
// stored, none after it, and the import returns the store's error.
func TestImportStopsAtAStoreFailure(t *testing.T) {
	ctx := context.Background()
	inner := NewMemStore()
	store := &failingStore{Store: inner, ok: 1}
	svc, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	var csv strings.Builder
	csv.WriteString("first_name,last_name,phone_work\n")
	for i := range 5 * importBatch {
		fmt.Fprintf(&csv, "Al,Fail%d,+33 1 %08d\n", i, i)
	}
	_, err = svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv.String()), ImportOptions{Domain: "pbx.example.com"})
	require.ErrorIs(t, err, assert.AnError)
	n := 0
	require.NoError(t, inner.ForEachContact(ctx, func(Contact) error { n++; return nil }))
	assert.Equal(t, importBatch, n, "the first batch only")
}

// TestLookupDuringImport: while an import's second store batch is held
// in the store, caller-ID style lookups (ForEachNumber) and searches are
// served and already see the first batch.
func TestLookupDuringImport(t *testing.T) {
	ctx := context.Background()
	gate := &gatedStore{Store: NewMemStore(), release: make(chan struct{}), entered: make(chan struct{}, 1)}
	svc, err := New(ctx, gate, Config{}, testLogger())
	require.NoError(t, err)
	_, err = svc.Create(ctx, admin, company("Before"))
	require.NoError(t, err)
	var csv strings.Builder
	csv.WriteString("first_name,last_name,phone_work\n")
	for i := range 2 * importBatch {
		fmt.Fprintf(&csv, "Ida,Held%d,+33 1 %08d\n", i, i)
	}
	gate.pass = 1 // the first batch goes through
	gate.arm()
	done := make(chan error, 1)
	go func() {
		_, err := svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv.String()), ImportOptions{Domain: "pbx.example.com"})
		done <- err
	}()
	<-gate.entered // the second batch waits in the store, the first is applied
	var found []string
	require.NoError(t, svc.ForEachNumber(ctx, alice, func(digits string, c Contact) bool {
		if digits == "33491550142" || digits == "33100000000" {
			found = append(found, c.Company+c.LastName)
		}
		return true
	}))
	slices.Sort(found)
	assert.Equal(t, []string{"Before", "Held0"}, found)
	page, err := svc.Search(ctx, alice, Query{Text: "held1"})
	require.NoError(t, err)
	assert.NotEmpty(t, page.Items)
	close(gate.release)
	require.NoError(t, <-done)
}

// TestImportPrefetchKeepsTheImportsOwnState: stored duplicates are read a
// group of rows ahead (prefetchDups), but a row must still find a stored
// contact as this import left it. A stored contact updated by the first
// row is updated again by a row of a later group, and both rows are
// reported against the right contact; a row of the later group
// duplicating an earlier row of the import is a skip of that line.
func TestImportPrefetchKeepsTheImportsOwnState(t *testing.T) {
	ctx := context.Background()
	svc, err := New(ctx, NewMemStore(), Config{}, testLogger())
	require.NoError(t, err)
	stored, err := svc.Create(ctx, admin, Contact{Kind: KindCompany, Domain: "pbx.example.com", FirstName: "Ana", LastName: "Silva",
		Company: "Before", Phones: []Phone{{Type: PhoneWork, Number: "+33 4 72 00 00 01"}}})
	require.NoError(t, err)

	var csv strings.Builder
	csv.WriteString("first_name,last_name,company,phone_work\n")
	csv.WriteString("Ana,Silva,First,+33 4 72 00 00 01\n") // line 2: updates the stored contact
	for i := range 2 * prefetchGroup {                     // lines 3 to 130
		fmt.Fprintf(&csv, "Jo,Row%d,Filler,+33 1 %08d\n", i, i)
	}
	csv.WriteString("Ana,Silva,Second,+33 4 72 00 00 01\n") // line 131: the same contact again
	csv.WriteString("Jo,Row0,Again,+33 1 00000000\n")       // line 132: duplicates line 3

	rep, err := svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv.String()), ImportOptions{Domain: "pbx.example.com", OnDuplicate: DupUpdate})
	require.NoError(t, err)
	assert.Equal(t, 2*prefetchGroup, rep.Imported)
	assert.Equal(t, 3, rep.Updated) // lines 2, 131 and 132
	got, err := svc.Get(ctx, admin, stored.ID)
	require.NoError(t, err)
	assert.Equal(t, "Second", got.Contact.Company)
	assert.Equal(t, stored.Version+1, got.Contact.Version, "both updates fall in one store batch")

	rep, err = svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv.String()), ImportOptions{Domain: "pbx.example.com"})
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Imported)
	assert.Equal(t, 2*prefetchGroup+3, rep.Skipped)
	assert.Contains(t, rep.Skips, RowError{Line: 131, Reason: "duplicate of an existing contact"})
	assert.Contains(t, rep.Skips, RowError{Line: 132, Reason: "duplicate of an existing contact"})
}
