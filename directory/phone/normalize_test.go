package phone

import (
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newNormalizer is a test helper for a Normalizer with defaults for region.
func newNormalizer(t testing.TB, region string) *Normalizer {
	t.Helper()
	n, err := NewNormalizer(Config{DefaultRegion: region})
	require.NoError(t, err)
	return n
}

func TestNewNormalizer(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "defaults", cfg: Config{DefaultRegion: "FR"}},
		{name: "lower case region", cfg: Config{DefaultRegion: " de "}},
		{name: "explicit lengths", cfg: Config{DefaultRegion: "US", MaxExtensionLen: 4, MinTrailingDigits: 8}},
		{name: "missing region", cfg: Config{}, wantErr: true},
		{name: "unknown region", cfg: Config{DefaultRegion: "XX"}, wantErr: true},
		{name: "alpha-3 region", cfg: Config{DefaultRegion: "FRA"}, wantErr: true},
		{name: "negative extension length", cfg: Config{DefaultRegion: "FR", MaxExtensionLen: -1}, wantErr: true},
		{name: "extension length too long", cfg: Config{DefaultRegion: "FR", MaxExtensionLen: 9}, wantErr: true},
		{name: "trailing too short", cfg: Config{DefaultRegion: "FR", MinTrailingDigits: 3}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := NewNormalizer(tt.cfg)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrConfig)
				assert.Nil(t, n)
				return
			}
			require.NoError(t, err)
			assert.Len(t, n.Region(), 2)
		})
	}
}

func TestNewNormalizerJoinsAllProblems(t *testing.T) {
	_, err := NewNormalizer(Config{MaxExtensionLen: 99, MinTrailingDigits: 1})
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "region is required")
	assert.Contains(t, err.Error(), "max extension length 99")
	assert.Contains(t, err.Error(), "min trailing digits 1")
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		region   string
		raw      string
		kind     Kind
		e164     string
		national string
		digits   string
	}{
		// FR: the product issue's examples.
		{name: "fr international spaced", region: "FR", raw: "+33 4 91 55 01 42", kind: KindE164, e164: "+33491550142", national: "491550142", digits: "33491550142"},
		{name: "fr national", region: "FR", raw: "0491550142", kind: KindNational, e164: "+33491550142", national: "491550142", digits: "0491550142"},
		{name: "fr national dotted", region: "FR", raw: "04.91.55.01.42", kind: KindNational, e164: "+33491550142", national: "491550142", digits: "0491550142"},
		{name: "fr idd 00", region: "FR", raw: "0033491550142", kind: KindE164, e164: "+33491550142", national: "491550142", digits: "0033491550142"},
		{name: "fr missing plus", region: "FR", raw: "33491550142", kind: KindE164, e164: "+33491550142", national: "491550142", digits: "33491550142"},
		{name: "fr trunk zero in parens", region: "FR", raw: "+33 (0)4 91 55 01 42", kind: KindE164, e164: "+33491550142", national: "491550142", digits: "330491550142"},
		{name: "fr tel uri", region: "FR", raw: "tel:+33-4-91-55-01-42", kind: KindE164, e164: "+33491550142", national: "491550142", digits: "33491550142"},
		{name: "fr sip uri user=phone", region: "FR", raw: "sip:+33491550142@trunk;user=phone", kind: KindE164, e164: "+33491550142", national: "491550142", digits: "33491550142"},
		{name: "fr sip uri national to ip", region: "FR", raw: "sip:0491550142@10.0.0.1", kind: KindNational, e164: "+33491550142", national: "491550142", digits: "0491550142"},
		{name: "fr sips upper case scheme", region: "FR", raw: "SIPS:+33491550142@pbx.example.com:5061", kind: KindE164, e164: "+33491550142", national: "491550142", digits: "33491550142"},
		{name: "fr name-addr percent-encoded plus", region: "FR", raw: `"Alice" <sip:%2B33491550142@pbx>;tag=9fx`, kind: KindE164, e164: "+33491550142", national: "491550142", digits: "33491550142"},
		{name: "fr fullwidth digits", region: "FR", raw: "０４ ９１ ５５ ０１ ４２", kind: KindNational, e164: "+33491550142", national: "491550142", digits: "0491550142"},
		{name: "fr mobile", region: "FR", raw: "06 12 34 56 78", kind: KindNational, e164: "+33612345678", national: "612345678", digits: "0612345678"},
		{name: "fr german missing plus", region: "FR", raw: "49301234567", kind: KindE164, e164: "+49301234567", national: "301234567", digits: "49301234567"},

		// DE: the top complaint, +49 vs 49 vs 0049.
		{name: "de national slash", region: "DE", raw: "030/1234567", kind: KindNational, e164: "+49301234567", national: "301234567", digits: "0301234567"},
		{name: "de idd", region: "DE", raw: "0049 30 1234567", kind: KindE164, e164: "+49301234567", national: "301234567", digits: "0049301234567"},
		{name: "de missing plus", region: "DE", raw: "4930 1234567", kind: KindE164, e164: "+49301234567", national: "301234567", digits: "49301234567"},
		{name: "de plus", region: "DE", raw: "+49 30 1234567", kind: KindE164, e164: "+49301234567", national: "301234567", digits: "49301234567"},
		{name: "de tel phone-context", region: "DE", raw: "tel:0301234567;phone-context=+49", kind: KindE164, e164: "+49301234567", national: "301234567", digits: "0301234567"},
		{name: "de tel area phone-context", region: "DE", raw: "tel:1234567;phone-context=+49-30", kind: KindE164, e164: "+49301234567", national: "301234567", digits: "1234567"},
		{name: "de sip user phone-context", region: "DE", raw: "sip:0301234567;phone-context=+49@pbx;user=phone", kind: KindE164, e164: "+49301234567", national: "301234567", digits: "0301234567"},
		{name: "de mobile", region: "DE", raw: "0151 23456789", kind: KindNational, e164: "+4915123456789", national: "15123456789", digits: "015123456789"},
		{name: "de local without area code", region: "DE", raw: "1234567", kind: KindNational, e164: "+491234567", national: "1234567", digits: "1234567"},

		// GB.
		{name: "gb london", region: "GB", raw: "020 7946 0958", kind: KindNational, e164: "+442079460958", national: "2079460958", digits: "02079460958"},
		{name: "gb mobile", region: "GB", raw: "07700 900123", kind: KindNational, e164: "+447700900123", national: "7700900123", digits: "07700900123"},
		{name: "gb idd", region: "GB", raw: "00 44 20 7946 0958", kind: KindE164, e164: "+442079460958", national: "2079460958", digits: "00442079460958"},
		{name: "gb plus with (0)", region: "GB", raw: "+44 (0) 20 7946 0958", kind: KindE164, e164: "+442079460958", national: "2079460958", digits: "4402079460958"},

		// US: 011 IDD, trunk 1, local-only 7 digits.
		{name: "us parens", region: "US", raw: "(202) 555-0142", kind: KindNational, e164: "+12025550142", national: "2025550142", digits: "2025550142"},
		{name: "us dotted", region: "US", raw: "202.555.0142", kind: KindNational, e164: "+12025550142", national: "2025550142", digits: "2025550142"},
		// NANP's trunk prefix is its country code, so libphonenumber
		// reports it as a country code written without "+".
		{name: "us leading 1", region: "US", raw: "1-202-555-0142", kind: KindE164, e164: "+12025550142", national: "2025550142", digits: "12025550142"},
		{name: "us idd 011 to fr", region: "US", raw: "011 33 4 91 55 01 42", kind: KindE164, e164: "+33491550142", national: "491550142", digits: "01133491550142"},
		{name: "us foreign idd 00", region: "US", raw: "0049301234567", kind: KindE164, e164: "+49301234567", national: "301234567", digits: "0049301234567"},
		{name: "us local only", region: "US", raw: "555-0142", kind: KindNational, e164: "", national: "5550142", digits: "5550142"},

		// NL, SE, AU.
		{name: "nl national", region: "NL", raw: "020-123 4567", kind: KindNational, e164: "+31201234567", national: "201234567", digits: "0201234567"},
		{name: "nl mobile", region: "NL", raw: "06-12345678", kind: KindNational, e164: "+31612345678", national: "612345678", digits: "0612345678"},
		{name: "nl idd", region: "NL", raw: "0031 20 123 4567", kind: KindE164, e164: "+31201234567", national: "201234567", digits: "0031201234567"},
		{name: "se national", region: "SE", raw: "08-123 456 78", kind: KindNational, e164: "+46812345678", national: "812345678", digits: "0812345678"},
		{name: "se missing plus", region: "SE", raw: "46812345678", kind: KindE164, e164: "+46812345678", national: "812345678", digits: "46812345678"},
		{name: "au national", region: "AU", raw: "(02) 9374 4000", kind: KindNational, e164: "+61293744000", national: "293744000", digits: "0293744000"},
		{name: "au mobile", region: "AU", raw: "0412 345 678", kind: KindNational, e164: "+61412345678", national: "412345678", digits: "0412345678"},
		{name: "au idd 0011", region: "AU", raw: "0011 44 20 7946 0958", kind: KindE164, e164: "+442079460958", national: "2079460958", digits: "0011442079460958"},

		// Extensions: short, never E.164, whatever the region.
		{name: "extension", region: "FR", raw: "201", kind: KindExtension, digits: "201"},
		{name: "extension dashed", region: "DE", raw: "20-15", kind: KindExtension, digits: "2015"},
		{name: "extension sip", region: "US", raw: "sip:4711@pbx.local", kind: KindExtension, digits: "4711"},
		{name: "extension domain phone-context", region: "DE", raw: "tel:201;phone-context=pbx.example.com", kind: KindExtension, digits: "201"},
		{name: "six digit extension", region: "GB", raw: "123456", kind: KindExtension, digits: "123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newNormalizer(t, tt.region).Parse(tt.raw)
			require.NoError(t, err)
			assert.Equal(t, Number{
				Raw:         tt.raw,
				Kind:        tt.kind,
				E164:        tt.e164,
				CountryCode: got.CountryCode, // checked below against E164
				National:    tt.national,
				Digits:      tt.digits,
			}, got)
			switch {
			case tt.kind == KindExtension:
				assert.Zero(t, got.CountryCode)
			case tt.e164 != "":
				assert.Equal(t, tt.e164, "+"+strconv.Itoa(got.CountryCode)+tt.national)
			default:
				assert.Positive(t, got.CountryCode)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	long := "+33491550142"
	for len(long) <= maxRawLen {
		long += " "
	}
	tests := []struct {
		name   string
		region string
		raw    string
		reason string
	}{
		{name: "empty", region: "FR", raw: "", reason: "empty"},
		{name: "blank", region: "FR", raw: " \t ", reason: "empty"},
		{name: "letters", region: "FR", raw: "anonymous", reason: "letter 'a' before any digit"},
		{name: "too few letters for a vanity number", region: "US", raw: "1-800-FL", reason: "2 letters"},
		{name: "vanity word too long", region: "US", raw: "1-800-FLOWERSFORYOUANDME", reason: "too many digits"},
		{name: "feature code", region: "DE", raw: "*72", reason: "unexpected character '*'"},
		{name: "only separators", region: "FR", raw: "--", reason: "no digits"},
		{name: "plus only", region: "FR", raw: "+", reason: "no digits"},
		{name: "plus inside", region: "FR", raw: "04+91550142", reason: "misplaced +"},
		{name: "double plus", region: "FR", raw: "++33491550142", reason: "misplaced +"},
		{name: "too many digits", region: "FR", raw: "+33 4915501424915501424", reason: "too many digits"},
		{name: "too long input", region: "FR", raw: long, reason: "too long"},
		{name: "e164 too long", region: "FR", raw: "+3349155014249155", reason: "not a possible international number"},
		{name: "unknown country code", region: "FR", raw: "+999 491550142", reason: "not an international number"},
		{name: "national too long", region: "FR", raw: "049155014249155", reason: "not a possible number in region FR"},
		{name: "sip uri without user", region: "FR", raw: "sip:pbx.example.com", reason: "sip uri without user part"},
		{name: "sip uri anonymous", region: "FR", raw: "sip:anonymous@anonymous.invalid", reason: "unexpected character 'a'"},
		{name: "unterminated name-addr", region: "FR", raw: "<sip:+33491550142@pbx", reason: "unterminated <"},
		{name: "bad percent-encoding", region: "FR", raw: "sip:%zz33491550142@pbx", reason: "bad percent-encoding"},
		{name: "bad phone-context", region: "DE", raw: "tel:0301234567;phone-context=+4x9", reason: "bad phone-context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newNormalizer(t, tt.region).Parse(tt.raw)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.reason)
			assert.Contains(t, err.Error(), "parse number")
			assert.Equal(t, Number{}, got)
		})
	}
}

func TestParseMaxExtensionLen(t *testing.T) {
	n, err := NewNormalizer(Config{DefaultRegion: "DE", MaxExtensionLen: 3})
	require.NoError(t, err)
	tests := []struct {
		name string
		raw  string
		kind Kind
	}{
		{name: "within limit", raw: "201", kind: KindExtension},
		{name: "over limit is a number", raw: "2015", kind: KindNational},
		{name: "plus is never an extension", raw: "+49 30 1234567", kind: KindE164},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := n.Parse(tt.raw)
			require.NoError(t, err)
			assert.Equal(t, tt.kind, got.Kind)
		})
	}
}

func TestNumberKeys(t *testing.T) {
	tests := []struct {
		name     string
		region   string
		raw      string
		trailing int
		want     []string
	}{
		{name: "e164", region: "FR", raw: "+33 4 91 55 01 42", trailing: 7, want: []string{"e:+33491550142", "n:491550142", "t:1550142"}},
		{name: "national has the same keys", region: "FR", raw: "04 91 55 01 42", trailing: 7, want: []string{"e:+33491550142", "n:491550142", "t:1550142"}},
		{name: "longer trailing key", region: "FR", raw: "0491550142", trailing: 9, want: []string{"e:+33491550142", "n:491550142", "t:491550142"}},
		{name: "national shorter than trailing", region: "FR", raw: "0491550142", trailing: 10, want: []string{"e:+33491550142", "n:491550142"}},
		{name: "local only", region: "US", raw: "555-0142", trailing: 7, want: []string{"n:5550142", "t:5550142"}},
		{name: "extension", region: "DE", raw: "201", trailing: 7, want: []string{"x:201"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			num, err := newNormalizer(t, tt.region).Parse(tt.raw)
			require.NoError(t, err)
			assert.Equal(t, tt.want, num.Keys(tt.trailing))
		})
	}
}

func TestKindAndRankStrings(t *testing.T) {
	assert.Equal(t, "e164", KindE164.String())
	assert.Equal(t, "national", KindNational.String())
	assert.Equal(t, "extension", KindExtension.String())
	assert.Equal(t, "kind(0)", Kind(0).String())
	assert.Equal(t, "none", RankNone.String())
	assert.Equal(t, "trailing_digits", RankTrailingDigits.String())
	assert.Equal(t, "national_number", RankNationalNumber.String())
	assert.Equal(t, "exact", RankExact.String())
	assert.Equal(t, "rank(9)", Rank(9).String())
}

func TestDigitValue(t *testing.T) {
	tests := []struct {
		name string
		r    rune
		want byte
		ok   bool
	}{
		{name: "arabic-indic three", r: '\u0663', want: 3, ok: true},
		{name: "extended arabic-indic seven", r: '\u06f7', want: 7, ok: true},
		{name: "fullwidth five", r: '\uff15', want: 5, ok: true},
		{name: "devanagari nine", r: '\u096f', want: 9, ok: true},
		{name: "mathematical bold eight", r: '\U0001d7d6', want: 8, ok: true},
		{name: "mathematical monospace zero", r: '\U0001d7f6', want: 0, ok: true},
		{name: "ascii is not handled here", r: '4', ok: false},
		{name: "roman numeral is not Nd", r: '\u2163', ok: false},
		{name: "letter", r: 'é', ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := digitValue(tt.r)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestErrInvalidIsNotErrConfig(t *testing.T) {
	_, err := newNormalizer(t, "FR").Parse("x")
	assert.False(t, errors.Is(err, ErrConfig))
}

// Warm builds the region's tables before any number is read: the first
// call after a start must not wait for them. Iceland, which no other test
// reads numbers of, so the tables are not already built.
func TestWarmBuildsTheRegionsTables(t *testing.T) {
	n, err := NewNormalizer(Config{DefaultRegion: "IS"})
	require.NoError(t, err)
	n.Warm()
	require.NotNil(t, fastCountries)
	lc := fastCountries[354]
	require.NotNil(t, lc)
	assert.Nil(t, lc.build, "+354's table is built")
	assert.NotNil(t, lc.table)
	assert.Equal(t, buildNationalTable("IS") != nil, n.national.table != nil, "the national table is built")
}
