package phone

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

// diffRegions are the default regions the differential tests parse in:
// the regions named in the tests, and those whose metadata has the
// national-prefix rules the fast path must leave to the slow one.
var diffRegions = []string{"FR", "DE", "US", "GB", "NL", "SE", "AU", "IT", "JP", "BR", "AR", "MX", "RU", "IN", "CN"}

// requireSameParse fails unless the fast and the slow path agree on raw:
// every field of the Number, and the error, message included.
func requireSameParse(t testing.TB, n *Normalizer, raw string) {
	t.Helper()
	fast, fastErr := n.parse(raw, true)
	slow, slowErr := n.parse(raw, false)
	if fast != slow || (fastErr == nil) != (slowErr == nil) || (fastErr != nil && fastErr.Error() != slowErr.Error()) {
		t.Fatalf("%s: Parse(%q):\nfast %+v, %v\nslow %+v, %v", n.Region(), raw, fast, fastErr, slow, slowErr)
	}
}

// fastTaken reports whether the fast path answers "+"+digits itself.
func fastTaken(digits string) bool {
	_, _, ok := parseFast(Number{}, "+"+digits)
	return ok
}

// exampleNumbers returns libphonenumber's example number of every type for
// every region and non-geographical calling code.
func exampleNumbers(t testing.TB) []*phonenumbers.PhoneNumber {
	t.Helper()
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE,
		phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST,
		phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
		phonenumbers.UAN, phonenumbers.VOICEMAIL,
	}
	regions := make([]string, 0, 256)
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var nums []*phonenumbers.PhoneNumber
	for _, r := range regions {
		for _, typ := range types {
			if pn := phonenumbers.GetExampleNumberForType(r, typ); pn != nil {
				nums = append(nums, pn)
			}
		}
	}
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		if pn := phonenumbers.GetExampleNumberForNonGeoEntity(cc); pn != nil {
			nums = append(nums, pn)
		}
	}
	require.Greater(t, len(nums), 1000, "example numbers")
	return nums
}

// TestParseFastExamples holds the fast path to the slow one on every
// example number, written E.164, international, national and as a tel: URI.
func TestParseFastExamples(t *testing.T) {
	regions := diffRegions
	if testing.Short() || raceEnabled {
		regions = []string{"FR", "US", "AR"}
	}
	norms := make([]*Normalizer, 0, len(regions))
	for _, r := range regions {
		norms = append(norms, newNormalizer(t, r))
	}
	formats := []phonenumbers.PhoneNumberFormat{phonenumbers.E164, phonenumbers.INTERNATIONAL, phonenumbers.NATIONAL, phonenumbers.RFC3966}
	parsed, fast := 0, 0
	for _, pn := range exampleNumbers(t) {
		e164 := phonenumbers.Format(pn, phonenumbers.E164)
		if fastTaken(e164[1:]) {
			fast++
		}
		for _, f := range formats {
			raw := phonenumbers.Format(pn, f)
			for _, n := range norms {
				requireSameParse(t, n, raw)
				parsed++
			}
		}
	}
	t.Logf("%d parses of example numbers; %d of %d example E.164 numbers took the fast path",
		parsed, fast, len(exampleNumbers(t)))
	// Stored numbers are mostly valid: unless nearly all of them take the
	// fast path, it speeds nothing up.
	require.Greater(t, fast, len(exampleNumbers(t))*9/10)
}

// TestParseFastRandom holds the fast path to the slow one on random
// numbers: random or real calling codes, example national numbers with
// digits changed, dropped or added and maybe a trunk prefix, or random
// digits, and separators.
func TestParseFastRandom(t *testing.T) {
	count := 200_000
	if testing.Short() || raceEnabled {
		count = 10_000
	}
	norms := make([]*Normalizer, 0, len(diffRegions))
	for _, r := range diffRegions {
		norms = append(norms, newNormalizer(t, r))
	}
	var codes []string
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		codes = append(codes, strconv.Itoa(cc))
	}
	sort.Strings(codes)
	var nsns []string
	for _, pn := range exampleNumbers(t) {
		nsns = append(nsns, strconv.Itoa(int(pn.GetCountryCode()))+" "+phonenumbers.GetNationalSignificantNumber(pn))
	}
	rng := rand.New(rand.NewPCG(20, 1))
	randDigits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	fast, fastErr, fallback, valid := 0, 0, 0, 0
	for range count {
		var cc, nsn string
		switch rng.IntN(4) {
		case 0, 1: // an example number, mutated
			cc, nsn, _ = strings.Cut(nsns[rng.IntN(len(nsns))], " ")
			nsn = mutate(rng, nsn, randDigits)
			if rng.IntN(3) == 0 { // a trunk or carrier prefix after the code: "+44 (0)20…"
				nsn = []string{"0", "0", "1", "8", "9", "90", "1831", "180020", "0011", "15"}[rng.IntN(10)] + nsn
			}
		case 2: // a real calling code, random digits
			cc, nsn = codes[rng.IntN(len(codes))], randDigits(rng.IntN(19))
		default: // anything
			cc, nsn = randDigits(1+rng.IntN(3)), randDigits(rng.IntN(19))
		}
		digits := cc + nsn
		if len(digits) > maxDigits {
			digits = digits[:maxDigits]
		}
		if digits == "" {
			continue
		}
		if _, err, ok := parseFastAt(Number{}, "+"+digits, true); ok && err == nil {
			fast++
		} else if ok {
			fastErr++
		} else {
			fallback++
		}
		raw := "+" + separate(rng, digits)
		n := norms[rng.IntN(len(norms))]
		requireSameParse(t, n, raw)
		if num, err := n.Parse(raw); err == nil && num.Kind == KindE164 {
			valid++
		}
	}
	t.Logf("%d random numbers: the fast path parsed %d and rejected %d, %d fell back; %d parsed in all",
		fast+fastErr+fallback, fast, fastErr, fallback, valid)
	require.Positive(t, fast)
}

// TestParseFastRandomNational holds the fast path to the slow one on
// numbers written without "+": example numbers of any country behind an
// IDD, example national numbers of the region (or of another) behind a
// trunk prefix, an IDD, the calling code or nothing, all with digits
// changed, and random digit strings.
func TestParseFastRandomNational(t *testing.T) {
	count := 100_000
	if testing.Short() || raceEnabled {
		count = 5_000
	}
	norms := make([]*Normalizer, 0, len(diffRegions))
	for _, r := range diffRegions {
		norms = append(norms, newNormalizer(t, r))
	}
	byCode := map[int][]string{}
	var all []string
	examples := exampleNumbers(t)
	for _, pn := range examples {
		nsn := phonenumbers.GetNationalSignificantNumber(pn)
		byCode[int(pn.GetCountryCode())] = append(byCode[int(pn.GetCountryCode())], nsn)
		all = append(all, nsn)
	}
	rng := rand.New(rand.NewPCG(20, 2))
	randDigits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	var verdicts [3]int
	parsed := 0
	for range count {
		n := norms[rng.IntN(len(norms))]
		cc := phonenumbers.GetCountryCodeForRegion(n.Region())
		var digits string
		switch rng.IntN(3) {
		case 0: // behind an IDD, a number of any country
			pn := examples[rng.IntN(len(examples))]
			idds := []string{"00", "011", "0011", "010", "001", "810"}
			digits = idds[rng.IntN(len(idds))] + strconv.Itoa(int(pn.GetCountryCode())) +
				mutate(rng, phonenumbers.GetNationalSignificantNumber(pn), randDigits)
		case 1:
			nsns := byCode[cc]
			if rng.IntN(5) == 0 {
				nsns = all
			}
			prefixes := []string{"0", "0", "1", "8", "", "00", "00", "011", "0011", "00" + strconv.Itoa(cc), strconv.Itoa(cc), "180020", "90"}
			digits = prefixes[rng.IntN(len(prefixes))] + mutate(rng, nsns[rng.IntN(len(nsns))], randDigits)
		default:
			digits = randDigits(1 + rng.IntN(maxDigits))
		}
		if len(digits) > maxDigits {
			digits = digits[:maxDigits]
		}
		if len(digits) > n.maxExt {
			v := verdictUnknown
			if tbl := n.national.get(); tbl != nil {
				_, v = tbl.parseNationalFast(Number{Digits: digits})
			}
			verdicts[v]++
		}
		raw := separate(rng, digits)
		requireSameParse(t, n, raw)
		if _, err := n.Parse(raw); err == nil {
			parsed++
		}
	}
	t.Logf("%d random numbers without +: the fast path parsed %d and ruled out the first reading of %d, %d fell back; %d parsed in all",
		verdicts[verdictValid]+verdicts[verdictNotValid]+verdicts[verdictUnknown],
		verdicts[verdictValid], verdicts[verdictNotValid], verdicts[verdictUnknown], parsed)
	require.Positive(t, verdicts[verdictValid])
	require.Positive(t, verdicts[verdictNotValid])
}

// mutate changes, drops or adds a digit of nsn, or leaves it alone.
func mutate(rng *rand.Rand, nsn string, randDigits func(int) string) string {
	if nsn == "" {
		return randDigits(1)
	}
	i := rng.IntN(len(nsn))
	switch rng.IntN(5) {
	case 0:
		return nsn[:i] + randDigits(1) + nsn[i+1:]
	case 1:
		return nsn[:i] + nsn[i+1:]
	case 2:
		return nsn[:i] + randDigits(1) + nsn[i:]
	case 3:
		return nsn[:i] + randDigits(len(nsn)-i)
	}
	return nsn
}

// separate writes digits with the separators stored numbers use.
func separate(rng *rand.Rand, digits string) string {
	var b strings.Builder
	seps := []string{" ", "-", ".", "/", " (", ") ", "(", ")"}
	for i := 0; i < len(digits); i++ {
		if i > 0 && rng.IntN(3) == 0 {
			b.WriteString(seps[rng.IntN(len(seps))])
		}
		b.WriteByte(digits[i])
	}
	return b.String()
}

// TestParseFastCorpus holds the fast path to the slow one on the fuzz
// corpus and the fuzz seeds, in every differential region.
func TestParseFastCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParse", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	raws := append([]string(nil), fuzzParseSeeds...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, line := range strings.Split(string(data), "\n") {
			if lit, ok := strings.CutPrefix(line, "string("); ok {
				raw, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
				require.NoError(t, err, f)
				raws = append(raws, raw)
			}
		}
	}
	for _, r := range diffRegions {
		n := newNormalizer(t, r)
		for _, raw := range raws {
			requireSameParse(t, n, raw)
		}
	}
}

// TestParseFastFallsBack checks inputs the fast path must leave alone,
// each for a reason the slow path handles, and inputs it must answer.
func TestParseFastFallsBack(t *testing.T) {
	for _, tt := range []struct {
		digits string
		fast   bool
	}{
		{"33491550142", true},           // FR
		{"16502530000", true},           // US
		{"390669820000", true},          // IT, leading zero kept
		{"330491550142", true},          // FR trunk prefix after +33, stripped as libphonenumber does
		{"611831293744000", true},       // AU carrier prefix 1831, stripped
		{"5511912345678", true},         // BR, its prefix rule not matching
		{"55011912345678", false},       // BR: a prefix with a transform rule matches
		{"5491123456789", false},        // AR: its national prefix pattern matches the empty string
		{"0033491550142", false},        // no calling code starts with 0
		{"99912345678", false},          // unknown calling code
		{"3312", true},                  // too short: an error
		{"33000000000", false},          // all zeros
		{"33491550142491550", true},     // too long for FR: an error
		{"33123456789012345678", false}, // too long for libphonenumber to parse
		{"12", false},                   // fewer than three digits
	} {
		require.Equal(t, tt.fast, fastTaken(tt.digits), tt.digits)
	}
}

// FuzzParseFast holds the fast path to the slow one on the fuzzed digits,
// split by the separators the layout picks, with "+" and without.
func FuzzParseFast(f *testing.F) {
	for _, seed := range []string{"33491550142", "16502530000", "390669820000", "5491123456789", "525512345678", "5511912345678", "819012345678", "4930123456", "79123456789", "0033491550142", "2613201234"} {
		f.Add(seed, uint64(0))
		f.Add(seed, uint64(0x9249249249))
		f.Add("0"+seed[2:], uint64(0x49))
	}
	norms := []*Normalizer{newNormalizer(f, "FR"), newNormalizer(f, "US"), newNormalizer(f, "AR"), newNormalizer(f, "GB"), newNormalizer(f, "RU")}
	f.Fuzz(func(t *testing.T, digits string, layout uint64) {
		var b strings.Builder
		b.WriteByte('+')
		n := 0
		for i := 0; i < len(digits) && n < maxDigits; i++ {
			if c := digits[i]; c >= '0' && c <= '9' {
				if n > 0 && layout&1 != 0 {
					b.WriteString([]string{" ", "-", ".", "/"}[layout>>1&3])
				}
				layout = layout>>3 | layout<<61
				b.WriteByte(c)
				n++
			}
		}
		for _, nz := range norms {
			requireSameParse(t, nz, b.String())
			requireSameParse(t, nz, b.String()[1:])
		}
	})
}

// TestParseFastConcurrent parses every example number from several
// goroutines at once, so that under -race the lazily built tables of
// calling codes and regions are built while others read them.
func TestParseFastConcurrent(t *testing.T) {
	var raws []string
	for _, pn := range exampleNumbers(t) {
		raws = append(raws, phonenumbers.Format(pn, phonenumbers.E164), "00"+phonenumbers.Format(pn, phonenumbers.E164)[1:])
	}
	regions := []string{"FR", "GB", "CN", "MX", "IN", "SE"}
	want := make([][]Number, len(regions))
	for i, r := range regions {
		n := newNormalizer(t, r)
		for _, raw := range raws {
			num, _ := n.parse(raw, false)
			want[i] = append(want[i], num)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(regions))
	for i, r := range regions {
		n := newNormalizer(t, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, raw := range raws {
				if got, _ := n.Parse(raw); got != want[i][j] {
					errs <- fmt.Sprintf("%s: Parse(%q) = %+v, want %+v", r, raw, got, want[i][j])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
