package phone

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTyped(t *testing.T) {
	tests := []struct {
		name, in  string
		main, ext string
		vanity    bool
		wantErr   string
	}{
		{name: "plain", in: "+44 20 7183 8750", main: "+442071838750"},
		{name: "x", in: "+1 415 555 0132 x45", main: "+14155550132", ext: "45"},
		{name: "ext dot", in: "+1 415 555 0132 ext. 45", main: "+14155550132", ext: "45"},
		{name: "Ext colon", in: "(415) 555-0132 Ext: 45", main: "4155550132", ext: "45"},
		{name: "extension word", in: "0491550142 extension 7", main: "0491550142", ext: "7"},
		{name: "rfc 3966 ext param", in: "+14155550132;ext=45", main: "+14155550132", ext: "45"},
		{name: "hash", in: "4155550132#45", main: "4155550132", ext: "45"},
		{name: "hash with space and trailing hash", in: "415 555 0132 #45#", main: "4155550132", ext: "45"},
		{name: "comma x", in: "415-555-0132, x 9", main: "4155550132", ext: "9"},
		{name: "vanity", in: "1-800-FLOWERS", main: "18003569377", vanity: true},
		{name: "vanity lower case with plus", in: "+1 800 flowers", main: "+18003569377", vanity: true},
		{name: "vanity with extension", in: "1-800-FLOWERS x12", main: "18003569377", ext: "12", vanity: true},
		{name: "vanity ending in fax digits is no extension", in: "1-800-FAX1234", main: "18003291234", vanity: true},
		{name: "full-width", in: "＋４４ ２０ ７１８３ ８７５０", main: "+442071838750"},
		{name: "full-width extension", in: "＋１ ４１５ ５５５ ０１３２ ｅｘｔ．４５", main: "+14155550132", ext: "45"},
		{name: "arabic-indic digits", in: "٠٤٩١٥٥٠١٤٢", main: "0491550142"},
		{name: "ideographic space", in: "03\u30001234\u30005678", main: "0312345678"},
		{name: "letters only", in: "FLOWERS", wantErr: "before any digit"},
		{name: "two letters", in: "0491550142 ab", wantErr: "vanity"},
		{name: "control character", in: "0491\x00550142", wantErr: "control character"},
		{name: "C1 control", in: "0491\u0085550142", wantErr: "control character"},
		{name: "symbol", in: "0491*550142", wantErr: "unexpected character"},
		{name: "non-latin letters", in: "0491 доб 45", wantErr: "unexpected character"},
		{name: "extension alone", in: "x45", wantErr: "before any digit"},
		{name: "too many digits", in: "123456789012345678901", wantErr: "too many digits"},
		{name: "second plus", in: "+44 +20", wantErr: "misplaced +"},
		{name: "empty", in: " ", wantErr: "no digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTyped(tt.in)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, Typed{Main: tt.main, Extension: tt.ext, Vanity: tt.vanity}, got)
		})
	}
}

func TestParseAsTyped(t *testing.T) {
	us := mustNormalizer(t, "US")
	fr := mustNormalizer(t, "FR")
	tests := []struct {
		name string
		n    *Normalizer
		in   string
		e164 string
		ext  string
	}{
		{name: "extension suffix", n: us, in: "+1 415 555 0132 ext. 45", e164: "+14155550132", ext: "45"},
		{name: "hash extension", n: us, in: "(415) 555-0132 #45", e164: "+14155550132", ext: "45"},
		{name: "vanity toll-free", n: us, in: "1-800-FLOWERS", e164: "+18003569377"},
		{name: "full-width international", n: fr, in: "＋４４ ２０ ７１８３ ８７５０", e164: "+442071838750"},
		{name: "full-width national", n: fr, in: "０４ ９１ ５５ ０１ ４２ x3", e164: "+33491550142", ext: "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			num, err := tt.n.Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.e164, num.E164)
			assert.Equal(t, tt.ext, num.Extension)
			assert.Equal(t, tt.in, num.Raw)
		})
	}
	// A SIP user part is a user name, never a vanity number.
	_, err := us.Parse("sip:flowers1800@pbx.example.com")
	require.ErrorIs(t, err, ErrInvalid)
}

func TestDial(t *testing.T) {
	us := mustNormalizer(t, "US")
	fr := mustNormalizer(t, "FR")
	tests := []struct {
		name     string
		n        *Normalizer
		in       string
		national string
		e164     string
	}{
		{name: "US number in US", n: us, in: "(415) 555-0142", national: "14155550142", e164: "+14155550142"},
		{name: "UK number from US", n: us, in: "+44 20 7183 8750", national: "011442071838750", e164: "+442071838750"},
		{name: "FR number in FR", n: fr, in: "+33 4 91 55 01 42", national: "0491550142", e164: "+33491550142"},
		{name: "UK mobile from FR", n: fr, in: "+44 7700 900123", national: "00447700900123", e164: "+447700900123"},
		{name: "extension is dialed as is", n: fr, in: "201", national: "201", e164: "201"},
		{name: "extension suffix is not dialed", n: us, in: "415-555-0132 x45", national: "14155550132", e164: "+14155550132"},
		{name: "vanity dialed as digits", n: us, in: "1-800-FLOWERS", national: "18003569377", e164: "+18003569377"},
		{name: "full-width", n: fr, in: "０４ ９１ ５５ ０１ ４２", national: "0491550142", e164: "+33491550142"},
		{name: "local-only US number", n: us, in: "555-0142", national: "5550142", e164: "5550142"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			num, err := tt.n.Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.national, tt.n.Dial(num, false))
			assert.Equal(t, tt.e164, tt.n.Dial(num, true))
		})
	}
}

func mustNormalizer(t *testing.T, region string) *Normalizer {
	t.Helper()
	n, err := NewNormalizer(Config{DefaultRegion: region})
	require.NoError(t, err)
	return n
}
