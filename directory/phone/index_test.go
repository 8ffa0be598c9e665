package phone

import (
	"fmt"
	"sync"
	"testing"

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

// newIndex is a test helper: an Index for region loaded with directory.
func newIndex(t testing.TB, region string) *Index {
	t.Helper()
	x := NewIndex(newNormalizer(t, region))
	for _, d := range directory {
		require.NoError(t, x.Add(d.id, d.raw), d.raw)
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
			got, err := x.Lookup(tt.incoming)
			require.NoError(t, err)
			assert.Equal(t, Result{IDs: tt.wantIDs, Rank: tt.wantRank, Ambiguous: tt.ambiguous}, got)
		})
	}
}

func TestIndexLookupInvalid(t *testing.T) {
	x := newIndex(t, "FR")
	got, err := x.Lookup("anonymous")
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, Result{}, got)
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
	require.NoError(t, x.Add("berlin", "+49 30 1234567"))
	require.NoError(t, x.Add("berlin-2", "030/123 45 67"))
	require.NoError(t, x.Add("munich", "+49 89 1234567"))
	require.NoError(t, x.Add("vienna", "+43 1 23456789"))
	require.Equal(t, 3, x.Len())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := x.Lookup(tt.incoming)
			require.NoError(t, err)
			assert.Equal(t, Result{IDs: tt.wantIDs, Rank: tt.wantRank, Ambiguous: tt.ambiguous}, got)
		})
	}
}

func TestIndexNationalAmbiguous(t *testing.T) {
	// A French and a Belgian number share the national number 491550142;
	// in DE, 0491 550142 is a number in Leer. A national-format call
	// matches both foreign numbers at RankNationalNumber; it must not pick
	// one.
	x := NewIndex(newNormalizer(t, "DE"))
	require.NoError(t, x.Add("alice-fr", "+33 4 91 55 01 42"))
	require.NoError(t, x.Add("jan-be", "+32 491 55 01 42"))
	got, err := x.Lookup("0491 550142")
	require.NoError(t, err)
	assert.Equal(t, RankNationalNumber, got.Rank)
	assert.True(t, got.Ambiguous)
	assert.Equal(t, []string{"alice-fr", "jan-be"}, got.IDs)

	// Written with a country code, the same digits pick exactly one.
	got, err = x.Lookup("0032 491 55 01 42")
	require.NoError(t, err)
	assert.Equal(t, Result{IDs: []string{"jan-be"}, Rank: RankExact}, got)
}

func TestIndexDeduplicatesFormatting(t *testing.T) {
	x := NewIndex(newNormalizer(t, "FR"))
	for _, raw := range []string{"+33 4 91 55 01 42", "04 91 55 01 42", "0033491550142", "tel:+33-4-91-55-01-42", "sip:0491550142@pbx"} {
		require.NoError(t, x.Add("alice", raw), raw)
	}
	require.NoError(t, x.Add("alice-assistant", "04.91.55.01.42"))
	assert.Equal(t, 1, x.Len())

	got, err := x.Lookup("+33491550142")
	require.NoError(t, err)
	assert.Equal(t, Result{IDs: []string{"alice", "alice-assistant"}, Rank: RankExact}, got)

	// Removing in yet another formatting removes the one ownership.
	assert.True(t, x.Remove("alice", "33491550142"))
	assert.False(t, x.Remove("alice", "+33491550142"), "already removed")
	got, err = x.Lookup("0491550142")
	require.NoError(t, err)
	assert.Equal(t, []string{"alice-assistant"}, got.IDs)

	assert.True(t, x.Remove("alice-assistant", "0491550142"))
	assert.Equal(t, 0, x.Len())
	got, err = x.Lookup("0491550142")
	require.NoError(t, err)
	assert.Equal(t, Result{}, got)
}

func TestIndexRemoveKeepsChains(t *testing.T) {
	// Three numbers chained under one tail; removing the middle and head
	// must keep the rest reachable at every rank.
	x := NewIndex(newNormalizer(t, "DE"))
	require.NoError(t, x.Add("berlin", "+49 30 1234567"))
	require.NoError(t, x.Add("munich", "+49 89 1234567"))
	require.NoError(t, x.Add("hamburg", "+49 40 1234567"))
	require.NoError(t, x.Add("local", "201"))

	assert.True(t, x.Remove("munich", "089 1234567"))
	got, err := x.Lookup("1234567")
	require.NoError(t, err)
	assert.Equal(t, Result{IDs: []string{"berlin", "hamburg"}, Rank: RankTrailingDigits, Ambiguous: true}, got)

	assert.True(t, x.Remove("hamburg", "040 1234567"))
	got, err = x.Lookup("1234567")
	require.NoError(t, err)
	assert.Equal(t, Result{IDs: []string{"berlin"}, Rank: RankTrailingDigits}, got)

	assert.True(t, x.Remove("local", "201"))
	assert.False(t, x.Remove("local", "201"))
	assert.False(t, x.Remove("nobody", "030 1234567"))
	assert.False(t, x.Remove("berlin", "not a number"))
	assert.Equal(t, 1, x.Len())
	assert.Len(t, x.byTail, 1)
	assert.Len(t, x.byNational, 1)
	assert.Empty(t, x.byExt)
}

func TestIndexLocalOnlyNumbers(t *testing.T) {
	// A directory entry without area code (US 7 digits) has no E.164
	// form; it is stored by national number and found by it or its tail.
	x := NewIndex(newNormalizer(t, "US"))
	require.NoError(t, x.Add("deli", "555-0199"))
	require.NoError(t, x.Add("deli-2", "555 0199"))
	assert.Equal(t, 1, x.Len())

	got, err := x.Lookup("5550199")
	require.NoError(t, err)
	assert.Equal(t, Result{IDs: []string{"deli", "deli-2"}, Rank: RankNationalNumber}, got)

	got, err = x.Lookup("+1 202 555 0199")
	require.NoError(t, err)
	assert.Equal(t, Result{IDs: []string{"deli", "deli-2"}, Rank: RankTrailingDigits}, got)

	assert.True(t, x.Remove("deli", "5550199"))
	assert.True(t, x.Remove("deli-2", "5550199"))
	assert.Equal(t, 0, x.Len())
}

func TestIndexAddErrors(t *testing.T) {
	x := NewIndex(newNormalizer(t, "FR"))
	require.ErrorIs(t, x.Add("alice", "n/a"), ErrInvalid)
	require.Error(t, x.Add("", "0491550142"))
	assert.Equal(t, 0, x.Len())
}

func TestIndexResultIsACopy(t *testing.T) {
	x := NewIndex(newNormalizer(t, "FR"))
	require.NoError(t, x.Add("alice", "0491550142"))
	got, err := x.Lookup("0491550142")
	require.NoError(t, err)
	got.IDs[0] = "mallory"
	again, err := x.Lookup("0491550142")
	require.NoError(t, err)
	assert.Equal(t, []string{"alice"}, again.IDs)
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
				assert.NoError(t, x.Add(fmt.Sprintf("c%d-%d", w, i), fmt.Sprintf("+33 1 %02d %02d %02d %02d", w, i, w, i)))
			}
		}()
		go func() {
			defer wg.Done()
			for i := range perWriter {
				_, err := x.Lookup(fmt.Sprintf("01 %02d %02d %02d %02d", w, i, w, i))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, writers*perWriter, x.Len())
	got, err := x.Lookup("01 03 07 03 07")
	require.NoError(t, err)
	assert.Equal(t, Result{IDs: []string{"c3-7"}, Rank: RankExact}, got)
}
