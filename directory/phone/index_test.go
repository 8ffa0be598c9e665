package phone

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// directory is the fixture every region's index is loaded with: stored
// numbers as users type them, in international format so they mean the
// same whatever the PBX's region.
var directory = []struct{ id, raw string }{
	{"alice-fr", "+33 4 91 55 01 42"},
	{"bob-de", "+49 (0)30 1234567"},
	{"carol-us", "+1 (202) 555-0142"},
	{"dave-gb", "+44 20 7946 0958"},
	{"erik-se", "+46 8-123 456 78"},
	{"fleur-nl", "+31 20 530 9100"},
	{"grace-au", "+61 2 9374 4000"},
	{"reception", "201"},
	{"helpdesk", "2015"},
}

// owners hands out owner handles for the names tests use, descending in
// the order names are first seen, so handle order differs from name order
// and a test notices results that are unsorted or mapped back wrongly.
type owners struct {
	mu    sync.Mutex // guards the maps
	ids   map[string]uint32
	names map[uint32]string
}

var testOwners = owners{ids: map[string]uint32{}, names: map[uint32]string{}}

// id returns name's handle.
func (o *owners) id(name string) uint32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if h, ok := o.ids[name]; ok {
		return h
	}
	h := uint32(1<<20 - 7*len(o.ids))
	o.ids[name], o.names[h] = h, name
	return h
}

// named is a Result with owners mapped back to names, sorted by name.
type named struct {
	IDs       []string
	Rank      Rank
	Ambiguous bool
}

// name checks that r's owners are sorted by handle without duplicates and
// maps them back to names.
func (o *owners) name(t testing.TB, r Result) named {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	assert.True(t, slices.IsSorted(r.Owners) && len(slices.Compact(slices.Clone(r.Owners))) == len(r.Owners), "owners %v not sorted and unique", r.Owners)
	var ids []string
	for _, h := range r.Owners {
		n, ok := o.names[h]
		require.True(t, ok, "unknown owner %d", h)
		ids = append(ids, n)
	}
	slices.Sort(ids)
	return named{IDs: ids, Rank: r.Rank, Ambiguous: r.Ambiguous}
}

// lookup is x.Lookup with the result named.
func lookup(t testing.TB, x *Index, raw string) (named, error) {
	t.Helper()
	r, err := x.Lookup(raw)
	return testOwners.name(t, r), err
}

// add and remove are x.Add and x.Remove by owner name.
func add(x *Index, name, raw string) error   { return x.Add(testOwners.id(name), raw) }
func remove(x *Index, name, raw string) bool { return x.Remove(testOwners.id(name), raw) }

// newIndex is a test helper: an Index for region loaded with directory.
func newIndex(t testing.TB, region string) *Index {
	t.Helper()
	x := NewIndex(newNormalizer(t, region))
	for _, d := range directory {
		require.NoError(t, add(x, d.id, d.raw), d.raw)
	}
	require.Equal(t, len(directory), x.Len())
	return x
}

func TestIndexLookup(t *testing.T) {
	tests := []struct {
		name      string
		region    string
		incoming  string
		wantIDs   []string
		wantRank  Rank
		ambiguous bool
	}{
		// FR: every form the issue lists must find Alice exactly.
		{name: "fr national", region: "FR", incoming: "0491550142", wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "fr idd", region: "FR", incoming: "0033491550142", wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "fr plus", region: "FR", incoming: "+33491550142", wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "fr missing plus", region: "FR", incoming: "33491550142", wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "fr tel uri", region: "FR", incoming: "tel:+33-4-91-55-01-42", wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "fr sip uri", region: "FR", incoming: "sip:+33491550142@trunk;user=phone", wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "fr sip national", region: "FR", incoming: "sip:0491550142@10.0.0.1", wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "fr p-asserted-identity", region: "FR", incoming: `"Alice" <sip:+33491550142@trunk;user=phone>`, wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "fr german idd", region: "FR", incoming: "0049 30 1234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "fr german missing plus", region: "FR", incoming: "49301234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "fr us idd", region: "FR", incoming: "00 1 202 555 0142", wantIDs: []string{"carol-us"}, wantRank: RankExact},
		{name: "fr extension", region: "FR", incoming: "201", wantIDs: []string{"reception"}, wantRank: RankExact},

		// DE: "+49… does not match 49… or 0049…".
		{name: "de national", region: "DE", incoming: "030 1234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "de idd", region: "DE", incoming: "0049301234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "de missing plus", region: "DE", incoming: "49301234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "de plus", region: "DE", incoming: "+49301234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "de tel phone-context", region: "DE", incoming: "tel:0301234567;phone-context=+49", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "de national without trunk zero", region: "DE", incoming: "30 1234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "de sip extension", region: "DE", incoming: "sip:2015@pbx.local", wantIDs: []string{"helpdesk"}, wantRank: RankExact},
		// Berlin local call without area code: only the tail is known.
		{name: "de local without area code", region: "DE", incoming: "123 45 67", wantIDs: []string{"bob-de"}, wantRank: RankTrailingDigits},
		// 33491550142 is a valid German number (area code 033491), so in DE
		// it is read as one; the tail still points at Alice, weakly.
		{name: "de french missing plus is german", region: "DE", incoming: "33491550142", wantIDs: []string{"alice-fr"}, wantRank: RankTrailingDigits},

		// GB.
		{name: "gb national", region: "GB", incoming: "020 7946 0958", wantIDs: []string{"dave-gb"}, wantRank: RankExact},
		{name: "gb plus with (0)", region: "GB", incoming: "+44 (0)20 7946 0958", wantIDs: []string{"dave-gb"}, wantRank: RankExact},
		{name: "gb idd", region: "GB", incoming: "00442079460958", wantIDs: []string{"dave-gb"}, wantRank: RankExact},
		{name: "gb missing plus", region: "GB", incoming: "442079460958", wantIDs: []string{"dave-gb"}, wantRank: RankExact},
		{name: "gb sip national", region: "GB", incoming: "sip:02079460958@192.0.2.10", wantIDs: []string{"dave-gb"}, wantRank: RankExact},

		// US.
		{name: "us national", region: "US", incoming: "(202) 555-0142", wantIDs: []string{"carol-us"}, wantRank: RankExact},
		{name: "us trunk 1", region: "US", incoming: "1 202 555 0142", wantIDs: []string{"carol-us"}, wantRank: RankExact},
		{name: "us plus", region: "US", incoming: "+1 202 555 0142", wantIDs: []string{"carol-us"}, wantRank: RankExact},
		{name: "us 011 to fr", region: "US", incoming: "011 33 4 91 55 01 42", wantIDs: []string{"alice-fr"}, wantRank: RankExact},
		{name: "us 011 to de", region: "US", incoming: "011-49-30-1234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "us foreign 00 to de", region: "US", incoming: "0049301234567", wantIDs: []string{"bob-de"}, wantRank: RankExact},
		{name: "us sip", region: "US", incoming: "sip:+12025550142@trunk.example.net;user=phone", wantIDs: []string{"carol-us"}, wantRank: RankExact},
		{name: "us local 7 digits", region: "US", incoming: "555-0142", wantIDs: []string{"carol-us"}, wantRank: RankTrailingDigits},

		// NL, SE, AU.
		{name: "nl national", region: "NL", incoming: "020-530 9100", wantIDs: []string{"fleur-nl"}, wantRank: RankExact},
		{name: "nl idd", region: "NL", incoming: "0031 20 530 9100", wantIDs: []string{"fleur-nl"}, wantRank: RankExact},
		{name: "nl missing plus", region: "NL", incoming: "31205309100", wantIDs: []string{"fleur-nl"}, wantRank: RankExact},
		{name: "se national", region: "SE", incoming: "08-123 456 78", wantIDs: []string{"erik-se"}, wantRank: RankExact},
		{name: "se idd", region: "SE", incoming: "0046 8 12345678", wantIDs: []string{"erik-se"}, wantRank: RankExact},
		{name: "se missing plus", region: "SE", incoming: "46812345678", wantIDs: []string{"erik-se"}, wantRank: RankExact},
		{name: "au national", region: "AU", incoming: "(02) 9374 4000", wantIDs: []string{"grace-au"}, wantRank: RankExact},
		{name: "au idd 0011", region: "AU", incoming: "0011 61 2 9374 4000", wantIDs: []string{"grace-au"}, wantRank: RankExact},
		{name: "au missing plus", region: "AU", incoming: "61293744000", wantIDs: []string{"grace-au"}, wantRank: RankExact},
		{name: "au to gb", region: "AU", incoming: "0011 44 20 7946 0958", wantIDs: []string{"dave-gb"}, wantRank: RankExact},

		// A national-format number only assumed the region's country: in FR,
		// 03 01 23 45 67 is a French number sharing Bob's national number.
		{name: "fr national same nsn as german", region: "FR", incoming: "03 01 23 45 67", wantIDs: []string{"bob-de"}, wantRank: RankNationalNumber},

		// Misses that must stay misses.
		// An explicit country code is authoritative: Belgium's +32 with
		// Alice's national number is a different line, at every rank.
		{name: "explicit other country same nsn", region: "FR", incoming: "+32 491 55 01 42", wantRank: RankNone},
		{name: "explicit other country idd", region: "FR", incoming: "0032491550142", wantRank: RankNone},
		{name: "one digit off", region: "FR", incoming: "04 91 55 01 43", wantRank: RankNone},
		// Shares the last 6 digits, fewer than MinTrailingDigits.
		{name: "short shared tail", region: "FR", incoming: "04 99 55 01 42", wantRank: RankNone},
		{name: "unknown extension", region: "FR", incoming: "202", wantRank: RankNone},
		// Extensions never meet numbers: 4000 is Grace's tail, not hers.
		{name: "extension vs number tail", region: "AU", incoming: "4000", wantRank: RankNone},
	}
	indexes := map[string]*Index{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, ok := indexes[tt.region]
			if !ok {
				x = newIndex(t, tt.region)
				indexes[tt.region] = x
			}
			got, err := lookup(t, x, tt.incoming)
			require.NoError(t, err)
			assert.Equal(t, named{IDs: tt.wantIDs, Rank: tt.wantRank, Ambiguous: tt.ambiguous}, got)
		})
	}
}

func TestIndexLookupInvalid(t *testing.T) {
	x := newIndex(t, "FR")
	got, err := lookup(t, x, "anonymous")
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, named{}, got)
}

func TestIndexAmbiguous(t *testing.T) {
	tests := []struct {
		name      string
		incoming  string
		wantIDs   []string
		wantRank  Rank
		ambiguous bool
	}{
		// Berlin and Munich numbers share the tail 1234567; a local call
		// without area code could be either.
		{name: "shared tail", incoming: "1234567", wantIDs: []string{"berlin", "berlin-2", "munich"}, wantRank: RankTrailingDigits, ambiguous: true},
		// A shared line owned by two contacts is one number: not ambiguous.
		{name: "shared line exact", incoming: "030 1234567", wantIDs: []string{"berlin", "berlin-2"}, wantRank: RankExact},
		{name: "other exact", incoming: "+49 89 1234567", wantIDs: []string{"munich"}, wantRank: RankExact},
		// The national and trailing keys match too; exact wins.
		{name: "exact beats national", incoming: "0301234567", wantIDs: []string{"berlin", "berlin-2"}, wantRank: RankExact},
	}
	x := NewIndex(newNormalizer(t, "DE"))
	require.NoError(t, add(x, "berlin", "+49 30 1234567"))
	require.NoError(t, add(x, "berlin-2", "030/123 45 67"))
	require.NoError(t, add(x, "munich", "+49 89 1234567"))
	require.NoError(t, add(x, "vienna", "+43 1 23456789"))
	require.Equal(t, 3, x.Len())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookup(t, x, tt.incoming)
			require.NoError(t, err)
			assert.Equal(t, named{IDs: tt.wantIDs, Rank: tt.wantRank, Ambiguous: tt.ambiguous}, got)
		})
	}
}

func TestIndexNationalAmbiguous(t *testing.T) {
	// A French and a Belgian number share the national number 491550142;
	// in DE, 0491 550142 is a number in Leer. A national-format call
	// matches both foreign numbers at RankNationalNumber; it must not pick
	// one.
	x := NewIndex(newNormalizer(t, "DE"))
	require.NoError(t, add(x, "alice-fr", "+33 4 91 55 01 42"))
	require.NoError(t, add(x, "jan-be", "+32 491 55 01 42"))
	got, err := lookup(t, x, "0491 550142")
	require.NoError(t, err)
	assert.Equal(t, RankNationalNumber, got.Rank)
	assert.True(t, got.Ambiguous)
	assert.Equal(t, []string{"alice-fr", "jan-be"}, got.IDs)

	// Written with a country code, the same digits pick exactly one.
	got, err = lookup(t, x, "0032 491 55 01 42")
	require.NoError(t, err)
	assert.Equal(t, named{IDs: []string{"jan-be"}, Rank: RankExact}, got)
}

func TestIndexDeduplicatesFormatting(t *testing.T) {
	x := NewIndex(newNormalizer(t, "FR"))
	for _, raw := range []string{"+33 4 91 55 01 42", "04 91 55 01 42", "0033491550142", "tel:+33-4-91-55-01-42", "sip:0491550142@pbx"} {
		require.NoError(t, add(x, "alice", raw), raw)
	}
	require.NoError(t, add(x, "alice-assistant", "04.91.55.01.42"))
	assert.Equal(t, 1, x.Len())

	got, err := lookup(t, x, "+33491550142")
	require.NoError(t, err)
	assert.Equal(t, named{IDs: []string{"alice", "alice-assistant"}, Rank: RankExact}, got)

	// Removing in yet another formatting removes the one ownership.
	assert.True(t, remove(x, "alice", "33491550142"))
	assert.False(t, remove(x, "alice", "+33491550142"), "already removed")
	got, err = lookup(t, x, "0491550142")
	require.NoError(t, err)
	assert.Equal(t, []string{"alice-assistant"}, got.IDs)

	assert.True(t, remove(x, "alice-assistant", "0491550142"))
	assert.Equal(t, 0, x.Len())
	got, err = lookup(t, x, "0491550142")
	require.NoError(t, err)
	assert.Equal(t, named{}, got)
}

func TestIndexRemoveKeepsChains(t *testing.T) {
	// Three numbers chained under one tail; removing the middle and head
	// must keep the rest reachable at every rank.
	x := NewIndex(newNormalizer(t, "DE"))
	require.NoError(t, add(x, "berlin", "+49 30 1234567"))
	require.NoError(t, add(x, "munich", "+49 89 1234567"))
	require.NoError(t, add(x, "hamburg", "+49 40 1234567"))
	require.NoError(t, add(x, "local", "201"))

	assert.True(t, remove(x, "munich", "089 1234567"))
	got, err := lookup(t, x, "1234567")
	require.NoError(t, err)
	assert.Equal(t, named{IDs: []string{"berlin", "hamburg"}, Rank: RankTrailingDigits, Ambiguous: true}, got)

	assert.True(t, remove(x, "hamburg", "040 1234567"))
	got, err = lookup(t, x, "1234567")
	require.NoError(t, err)
	assert.Equal(t, named{IDs: []string{"berlin"}, Rank: RankTrailingDigits}, got)

	assert.True(t, remove(x, "local", "201"))
	assert.False(t, remove(x, "local", "201"))
	assert.False(t, remove(x, "nobody", "030 1234567"))
	assert.False(t, remove(x, "berlin", "not a number"))
	assert.Equal(t, 1, x.Len())
	// Berlin's national and tail keys are all that is left.
	assert.Equal(t, 2, x.keys.Len())
	assert.Empty(t, x.spill)
	assert.Len(t, x.free, 3, "removed entries are kept for reuse")
}

func TestIndexLocalOnlyNumbers(t *testing.T) {
	// A directory entry without area code (US 7 digits) has no E.164
	// form; it is stored by national number and found by it or its tail.
	x := NewIndex(newNormalizer(t, "US"))
	require.NoError(t, add(x, "deli", "555-0199"))
	require.NoError(t, add(x, "deli-2", "555 0199"))
	assert.Equal(t, 1, x.Len())

	got, err := lookup(t, x, "5550199")
	require.NoError(t, err)
	assert.Equal(t, named{IDs: []string{"deli", "deli-2"}, Rank: RankNationalNumber}, got)

	got, err = lookup(t, x, "+1 202 555 0199")
	require.NoError(t, err)
	assert.Equal(t, named{IDs: []string{"deli", "deli-2"}, Rank: RankTrailingDigits}, got)

	assert.True(t, remove(x, "deli", "5550199"))
	assert.True(t, remove(x, "deli-2", "5550199"))
	assert.Equal(t, 0, x.Len())
}

func TestIndexAddErrors(t *testing.T) {
	x := NewIndex(newNormalizer(t, "FR"))
	require.ErrorIs(t, add(x, "alice", "n/a"), ErrInvalid)
	assert.Equal(t, 0, x.Len())
}

func TestIndexResultIsACopy(t *testing.T) {
	x := NewIndex(newNormalizer(t, "FR"))
	require.NoError(t, x.Add(1, "0491550142"))
	require.NoError(t, x.Add(2, "0491550143"))
	require.NoError(t, x.Add(3, "0491550143"))
	for _, raw := range []string{"0491550142", "0491550143"} {
		got, err := x.Lookup(raw)
		require.NoError(t, err)
		want := slices.Clone(got.Owners)
		got.Owners[0] = 99
		again, err := x.Lookup(raw)
		require.NoError(t, err)
		assert.Equal(t, want, again.Owners, raw)
	}
}

func TestIndexOwners(t *testing.T) {
	// A number shared by several owners keeps them sorted whatever the
	// order they come in, and falls back to one owner when the others go.
	x := NewIndex(newNormalizer(t, "FR"))
	for _, o := range []uint32{7, 3, 9, 3, 0} {
		require.NoError(t, x.Add(o, "+33 4 91 55 01 42"))
	}
	got, err := x.Lookup("0491550142")
	require.NoError(t, err)
	assert.Equal(t, Result{Owners: []uint32{0, 3, 7, 9}, Rank: RankExact}, got)
	assert.False(t, x.Remove(5, "0491550142"))
	for _, o := range []uint32{0, 9, 3} {
		assert.True(t, x.Remove(o, "0491550142"), o)
	}
	got, err = x.Lookup("0491550142")
	require.NoError(t, err)
	assert.Equal(t, Result{Owners: []uint32{7}, Rank: RankExact}, got)
	assert.Empty(t, x.owners, "a single owner lives in the entry")
	assert.False(t, x.Remove(3, "0491550142"))
	assert.True(t, x.Remove(7, "0491550142"))
	assert.Equal(t, 0, x.Len())
	assert.Zero(t, x.keys.Len())
}

func TestIndexReusesEntries(t *testing.T) {
	// Churn must not grow the index: removed entries are reused.
	x := NewIndex(newNormalizer(t, "FR"))
	for round := range 50 {
		for i := range 100 {
			require.NoError(t, x.Add(uint32(i), fmt.Sprintf("+33 1 %02d %02d 00 %02d", round, i, i)))
		}
		for i := range 100 {
			require.True(t, x.Remove(uint32(i), fmt.Sprintf("01 %02d %02d 00 %02d", round, i, i)))
		}
	}
	assert.Equal(t, 0, x.Len())
	assert.Zero(t, x.keys.Len())
	require.Len(t, x.pages, 1)
	assert.LessOrEqual(t, len(x.pages[0]), 101)
}

func TestIndexSpilledKeys(t *testing.T) {
	// Keys that do not pack into 64 bits (longer than 17 digits, or not
	// digits) take the string path and match exactly like packed ones.
	x := NewIndex(newNormalizer(t, "FR"))
	long := Number{Kind: KindNational, National: "123456789012345678901", CountryCode: 33}
	odd := Number{Kind: KindE164, E164: "+3312345678x", National: "12345678x", CountryCode: 33}
	ext := Number{Kind: KindExtension, Digits: "1234567890123456789"}
	x.AddNumber(1, long)
	x.AddNumber(2, odd)
	x.AddNumber(3, ext)
	x.AddNumber(4, Number{Kind: KindE164, E164: "+33345678901", National: "345678901", CountryCode: 33})
	assert.Equal(t, 4, x.Len())
	assert.Len(t, x.spilled, 3)

	assert.Equal(t, Result{Owners: []uint32{1}, Rank: RankNationalNumber}, x.LookupNumber(Number{Kind: KindNational, National: long.National}))
	assert.Equal(t, Result{Owners: []uint32{2}, Rank: RankExact}, x.LookupNumber(odd))
	assert.Equal(t, Result{Owners: []uint32{3}, Rank: RankExact}, x.LookupNumber(ext))
	// The spilled national number's tail (5678901) is a packed key, shared
	// with owner 4's number.
	assert.Equal(t, Result{Owners: []uint32{1, 4}, Rank: RankTrailingDigits, Ambiguous: true},
		x.LookupNumber(Number{Kind: KindNational, National: "99995678901"}))

	assert.True(t, x.RemoveNumber(1, long))
	assert.True(t, x.RemoveNumber(2, odd))
	assert.True(t, x.RemoveNumber(3, ext))
	assert.Equal(t, 1, x.Len())
	assert.Empty(t, x.spill)
	assert.Empty(t, x.spilled)
	assert.Equal(t, 2, x.keys.Len())
}

func TestIndexE164WithoutKey(t *testing.T) {
	// E.164 numbers are found through their national number's chain; an
	// E.164 string of another form (not from libphonenumber) keeps a key
	// of its own. Either way a number is matched exactly by its E.164
	// string, as with a key per string.
	x := NewIndex(newNormalizer(t, "FR"))
	plain := Number{Kind: KindE164, E164: "+4930123456", National: "30123456", CountryCode: 49}
	odd := Number{Kind: KindE164, E164: "+4989000000", National: "777777", CountryCode: 49}
	x.AddNumber(1, plain)
	x.AddNumber(2, odd)
	assert.Equal(t, 1, x.odd)
	// The same strings, split otherwise.
	assert.Equal(t, Result{Owners: []uint32{1}, Rank: RankExact},
		x.LookupNumber(Number{Kind: KindE164, E164: "+4930123456", National: "5555", CountryCode: 1}))
	assert.Equal(t, Result{Owners: []uint32{2}, Rank: RankExact},
		x.LookupNumber(Number{Kind: KindE164, E164: "+4989000000", National: "89000000", CountryCode: 49}))
	// The same national number in another country is not exact.
	assert.Equal(t, Result{Owners: []uint32{1}, Rank: RankNationalNumber},
		x.LookupNumber(Number{Kind: KindNational, E164: "+3330123456", National: "30123456", CountryCode: 33}))
	// A parsed number is found at its own country code alone: real
	// codes are prefix-free (TestCountryCodesPrefixFree), so no other
	// split of its E.164 string can be stored.
	x.AddNumber(3, Number{Kind: KindE164, E164: "+33145557710", National: "145557710", CountryCode: 33})
	x.AddNumber(4, Number{Kind: KindE164, E164: "+33145557710", National: "145557710", CountryCode: 33})
	assert.Equal(t, 3, x.Len())
	assert.Equal(t, Result{Owners: []uint32{3, 4}, Rank: RankExact},
		x.LookupNumber(Number{Kind: KindE164, E164: "+33145557710", National: "145557710", CountryCode: 33}))

	assert.True(t, x.RemoveNumber(2, Number{Kind: KindE164, E164: "+4989000000", National: "89000000", CountryCode: 49}))
	assert.Equal(t, 0, x.odd)
	assert.True(t, x.RemoveNumber(1, plain))
	assert.True(t, x.RemoveNumber(3, Number{Kind: KindE164, E164: "+33145557710", National: "145557710", CountryCode: 33}))
	assert.True(t, x.RemoveNumber(4, Number{Kind: KindE164, E164: "+33145557710", National: "145557710", CountryCode: 33}))
	assert.Equal(t, 0, x.Len())
	assert.Zero(t, x.keys.Len())
	assert.Empty(t, x.spill)
	assert.Empty(t, x.spilled)
}

func TestEntryIsSmall(t *testing.T) {
	// A million numbers per index is a large host's load: keep the entry
	// at 24 bytes.
	assert.LessOrEqual(t, unsafe.Sizeof(entry{}), uintptr(24))
}

func TestPackedTail(t *testing.T) {
	// The tail of a packed national key, computed on the integer, must be
	// the key of the tail string, or chains would split.
	for _, nsn := range []string{"491550142", "0301234567", "1234567", "123456", "00000000000000001", "99999999999999999"} {
		k := keyOf(keyNational, nsn)
		require.NotZero(t, k.p, nsn)
		for n := range 14 {
			got, ok := tailKey(k, nsn, n)
			want, wantOK := tail(nsn, n)
			require.Equal(t, wantOK, ok, "%s %d", nsn, n)
			if ok {
				assert.Equal(t, keyOf(keyTail, want), got, "%s %d", nsn, n)
			}
		}
	}
	_, ok := pack(keyNational, "123456789012345678")
	assert.False(t, ok, "18 digits do not fit")
	a, _ := pack(keyNational, "0123")
	b, _ := pack(keyNational, "123")
	c, _ := pack(keyExt, "123")
	assert.NotEqual(t, a, b, "leading zeros count")
	assert.NotEqual(t, b, c, "kinds differ")
}

func TestIndexConcurrent(t *testing.T) {
	// Run with -race: writers and readers share the index.
	x := NewIndex(newNormalizer(t, "FR"))
	const writers, perWriter = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				assert.NoError(t, add(x, fmt.Sprintf("c%d-%d", w, i), fmt.Sprintf("+33 1 %02d %02d %02d %02d", w, i, w, i)))
			}
		}()
		go func() {
			defer wg.Done()
			for i := range perWriter {
				_, err := lookup(t, x, fmt.Sprintf("01 %02d %02d %02d %02d", w, i, w, i))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, writers*perWriter, x.Len())
	got, err := lookup(t, x, "01 03 07 03 07")
	require.NoError(t, err)
	assert.Equal(t, named{IDs: []string{"c3-7"}, Rank: RankExact}, got)
}

func TestIndexAppendLookupUsesBuffer(t *testing.T) {
	// Caller-ID lookups pass a buffer on their stack: a single owner must
	// land in it, without allocating.
	x := NewIndex(newNormalizer(t, "FR"))
	require.NoError(t, x.Add(42, "+33 4 91 55 01 42"))
	num, err := x.Normalizer().Parse("0491550142")
	require.NoError(t, err)
	var buf [2]uint32
	r := x.AppendLookup(buf[:1], num)
	require.Equal(t, []uint32{42}, r.Owners)
	assert.Same(t, &buf[0], &r.Owners[0])
	assert.Zero(t, testing.AllocsPerRun(100, func() { x.AppendLookup(buf[:0], num) }))
}

// TestCountryCodesPrefixFree checks what AddNumber's single probe relies
// on: no country code libphonenumber knows is a prefix of another, so an
// E.164 string has one reading as country code and national number.
func TestCountryCodesPrefixFree(t *testing.T) {
	codes := maps.Clone(phonenumbers.GetSupportedCallingCodes()) // the library's own map otherwise
	maps.Copy(codes, phonenumbers.GetSupportedGlobalNetworkCallingCodes())
	require.Greater(t, len(codes), 200)
	for cc := range codes {
		for p := cc / 10; p > 0; p /= 10 {
			assert.False(t, codes[p], "country code %d is a prefix of %d", p, cc)
		}
	}
}
