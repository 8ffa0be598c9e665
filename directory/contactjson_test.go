package directory

import (
	"bytes"
	"encoding"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// nastyPieces are the fragments random strings are made of: everything
// json.Marshal escapes or replaces, and plain text around it.
var nastyPieces = []string{
	"a", "Ada", "Lovelace", " ", "company", "team", "work", "fax", "mobil", "+33 1 23 45 67 89", "x@example.com",
	`"`, `\`, "<", ">", "&", "<script>", "'", "/", "\u007f",
	"\x00", "\x01", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1b", "\x1f",
	"é", "Müller", "日本語", "😀", "\U0010FFFF", "\ufffd", "\u2028", "\u2029", "\u2027", "\u202a", "\u0085",
	"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xf0\x9f\x98",
}

func nastyString(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return ""
	case 1:
		return strings.Repeat(nastyPieces[r.IntN(len(nastyPieces))], 1+r.IntN(300))
	}
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(nastyPieces[r.IntN(len(nastyPieces))])
	}
	return b.String()
}

// randomTime returns times time.Time.MarshalJSON writes in every shape
// (zero, trailing zeros of nanoseconds trimmed, UTC as Z, offsets with
// seconds, monotonic readings) and, rarely, ones it refuses (a year
// outside 0–9999, an offset of 24 hours or more).
func randomTime(r *rand.Rand) time.Time {
	const minSec, maxSec = -62167219200, 253402300799 // 0000-01-01, 9999-12-31T23:59:59Z
	var zone *time.Location
	switch r.IntN(5) {
	case 0:
		zone = time.UTC
	case 1:
		zone = time.Local
	case 2:
		zone = time.FixedZone("", 0)
	case 3:
		zone = time.FixedZone("X", (r.IntN(48)-24)*1800+r.IntN(2)*r.IntN(60))
	default:
		zone = time.FixedZone("Y", r.IntN(200*3600)-100*3600) // rarely 24 h or more
	}
	var nsec int64
	switch r.IntN(4) {
	case 0:
	case 1:
		nsec = int64(r.IntN(1000)) * 1e6
	default:
		nsec = r.Int64N(1e9)
	}
	switch r.IntN(12) {
	case 0:
		return time.Time{}
	case 1:
		return time.Now()
	case 2:
		return time.Unix(maxSec+1+r.Int64N(1e9), nsec).In(zone) // year 10000 or later
	case 3:
		return time.Unix(minSec-1-r.Int64N(1e9), nsec).In(zone) // before year 0
	}
	return time.Unix(minSec+r.Int64N(maxSec-minSec), nsec).In(zone)
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
)

// fillRandom sets every exported field reachable from v to random values by
// reflection, so a field added to a stored type is exercised (and fails
// the differential tests until the encoder writes it). It fails the test
// on a kind it does not know, and on a custom marshaler other than
// time.Time's, which the encoder would have to follow.
func fillRandom(t testing.TB, r *rand.Rand, v reflect.Value) {
	t.Helper()
	typ := v.Type()
	if typ == timeType {
		v.Set(reflect.ValueOf(randomTime(r)))
		return
	}
	if typ.Implements(marshalerType) || typ.Implements(textType) ||
		reflect.PointerTo(typ).Implements(marshalerType) || reflect.PointerTo(typ).Implements(textType) {
		t.Fatalf("%s has its own marshaler: contactjson.go must call it", typ)
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(nastyString(r))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Uint64, reflect.Uint, reflect.Uint32:
		v.SetUint([]uint64{0, 0, 1, 7, math.MaxUint32, math.MaxUint64, r.Uint64()}[r.IntN(7)])
	case reflect.Int64, reflect.Int, reflect.Int32:
		v.SetInt([]int64{0, 0, 1, -1, math.MinInt64, math.MaxInt64, r.Int64()}[r.IntN(7)])
	case reflect.Slice:
		switch n := r.IntN(5); n {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(typ, 0, 0)) // empty, not nil
		default:
			v.Set(reflect.MakeSlice(typ, n-1, n-1))
			for i := range n - 1 {
				fillRandom(t, r, v.Index(i))
			}
		}
	case reflect.Pointer:
		if r.IntN(2) == 0 {
			v.Set(reflect.New(typ.Elem()))
			fillRandom(t, r, v.Elem())
		}
	case reflect.Struct:
		for i := range typ.NumField() {
			if typ.Field(i).IsExported() {
				fillRandom(t, r, v.Field(i))
			}
		}
	default:
		t.Fatalf("fillRandom: %s of kind %s", typ, v.Kind())
	}
}

func randomValue[T any](t testing.TB, r *rand.Rand) T {
	var v T
	fillRandom(t, r, reflect.ValueOf(&v).Elem())
	return v
}

// checkEncoding compares an appending encoder with json.Marshal: same
// bytes after the prefix, or an error when json.Marshal has one, and the
// prefix never touched.
func checkEncoding(t testing.TB, v any, enc func(dst []byte) ([]byte, error)) (failed bool) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	prefix := []byte("prefix")
	got, err := enc(prefix[:len(prefix):len(prefix)])
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("prefix lost: %q", got)
	}
	got = got[len(prefix):]
	switch {
	case wantErr != nil:
		if err == nil {
			t.Fatalf("json.Marshal fails (%v), the encoder wrote %q for %#v", wantErr, got, v)
		}
		if len(got) != 0 {
			t.Fatalf("the encoder failed (%v) but wrote %q", err, got)
		}
		return true
	case err != nil:
		t.Fatalf("encoder: %v; json.Marshal wrote %s", err, want)
	case !bytes.Equal(got, want):
		t.Fatalf("differs from json.Marshal for %#v:\n got %q\nwant %q", v, got, want)
	}
	return false
}

func TestContactJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 2026))
	failures := 0
	for range 20000 {
		c := randomValue[Contact](t, r)
		if checkEncoding(t, c, func(dst []byte) ([]byte, error) { return appendContactJSON(dst, &c) }) {
			failures++
		}
	}
	// Both outcomes must have been compared.
	if failures == 0 || failures > 15000 {
		t.Fatalf("%d of 20000 contacts fail to encode: the generator is off", failures)
	}
}

func TestMarkGroupJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		m, g := randomValue[Mark](t, r), randomValue[Group](t, r)
		checkEncoding(t, m, func(dst []byte) ([]byte, error) { return appendMarkJSON(dst, &m), nil })
		checkEncoding(t, g, func(dst []byte) ([]byte, error) { return appendGroupJSON(dst, &g), nil })
	}
	// Mark.Groups has no omitempty: nil and empty must stay apart.
	for _, m := range []Mark{{Owner: "a"}, {Owner: "a", Groups: []string{}}} {
		checkEncoding(t, m, func(dst []byte) ([]byte, error) { return appendMarkJSON(dst, &m), nil })
	}
}

func TestBatchJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	failures, spans := 0, 0
	for range 4000 {
		b := randomValue[Batch](t, r)
		var got []jsonSpan
		failed := checkEncoding(t, b, func(dst []byte) ([]byte, error) {
			var err error
			dst, got, err = appendBatchJSON(dst, &b, []jsonSpan{{-1, -1}})
			if got[0] != (jsonSpan{-1, -1}) {
				t.Fatalf("spans passed in were overwritten: %v", got)
			}
			if err == nil {
				// Each span is the contact's own encoding.
				if len(got) != len(b.Contacts)+1 {
					t.Fatalf("%d spans for %d contacts", len(got)-1, len(b.Contacts))
				}
				for i, sp := range got[1:] {
					want, _ := json.Marshal(b.Contacts[i].Contact)
					if !bytes.Equal(dst[sp.start:sp.end], want) {
						t.Fatalf("span %d is %q, want %q", i, dst[sp.start:sp.end], want)
					}
					spans++
				}
			} else if len(got) != 1 {
				t.Fatalf("failed encoding left spans %v", got)
			}
			return dst, err
		})
		if failed {
			failures++
		}
	}
	if failures == 0 || spans == 0 {
		t.Fatalf("%d failures, %d spans checked: the generator is off", failures, spans)
	}
	checkEncoding(t, Batch{}, func(dst []byte) ([]byte, error) {
		dst, _, err := appendBatchJSON(dst, &Batch{}, nil)
		return dst, err
	})
}

// FuzzContactJSON compares the encoder with json.Marshal on fuzzed
// strings, times and numbers.
func FuzzContactJSON(f *testing.F) {
	f.Add("Ada", "+44 20 7946 0018", "ada@example.com", int64(1764700000), int64(123456789), 0, uint64(1))
	f.Add("<&>\"\\\x00\x1f\u2028\u2029", "\xff\xc3", "é😀\ufffd", int64(0), int64(0), 3600*5+1800, uint64(0))
	f.Add("", "", "", int64(253402300800), int64(1), -86400, uint64(math.MaxUint64))
	f.Add("\xed\xa0\x80", "\t\r\n\b\f", "\u007f", int64(-62167219201), int64(999999999), 86399, uint64(2))
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, sec, nsec int64, offset int, version uint64) {
		ts := time.Unix(sec, nsec).In(time.FixedZone("F", offset))
		c := Contact{ID: s1, Kind: Kind(s2), Owner: s3, FirstName: s1, Company: s2, Notes: s3,
			Phones: []Phone{{Type: PhoneType(s1), Number: s2}}, Emails: []string{s3, s1},
			Address: Address{City: s2}, Created: ts, Updated: ts.UTC(), Version: version}
		checkEncoding(t, c, func(dst []byte) ([]byte, error) { return appendContactJSON(dst, &c) })
		b := Batch{Contacts: []ContactWrite{{Contact: c, Expected: version}},
			DeleteContacts: []ContactDelete{{ID: s2}}, Marks: []Mark{{Owner: s1, ContactID: s2, Groups: []string{s3}}},
			Groups: []Group{{ID: s1, Name: s2, Domain: s3}}, Keys: []string{s1}, Actor: s2, Origin: s3}
		checkEncoding(t, b, func(dst []byte) ([]byte, error) {
			dst, _, err := appendBatchJSON(dst, &b, nil)
			return dst, err
		})
	})
}

// checkDecoding holds the fast decoder to json.Unmarshal on data: when
// the scanner accepts data, json.Unmarshal must accept it too and decode
// the same value. It reports whether the scanner accepted it.
func checkDecoding[T any](t testing.TB, data []byte, scan func([]byte) (T, bool)) bool {
	t.Helper()
	got, ok := scan(data)
	if !ok {
		return false
	}
	var want T
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("the scanner accepts %q, json.Unmarshal fails: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoding %q:\n got %#v\nwant %#v", data, got, want)
	}
	return true
}

// mutate returns data with a few random edits: the scanner must refuse
// what is not canonical or decode it as json.Unmarshal does.
func mutate(r *rand.Rand, data []byte) []byte {
	out := bytes.Clone(data)
	edits := []string{" ", ",", "\"", "\\", "0", "1", "-", ".", "e", "null", "[]", "{}", "\\u00e9", "\\ud83d\\ude00", "\\/", "\xff", "\n", "ID", "Z", "+01:00"}
	for range 1 + r.IntN(3) {
		if len(out) == 0 {
			break
		}
		i := r.IntN(len(out))
		switch r.IntN(4) {
		case 0:
			out = append(out[:i], out[i+1:]...)
		case 1:
			out = slices.Insert(out, i, []byte(edits[r.IntN(len(edits))])...)
		case 2:
			out[i] ^= 1 << r.IntN(8)
		default:
			j := r.IntN(len(out))
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func TestContactDecodeMatchesUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	fast, mutants := 0, 0
	for range 10000 {
		c := randomValue[Contact](t, r)
		if r.IntN(2) == 0 { // the values the scanner shares
			c.Kind = []Kind{KindCompany, KindPersonal, KindTeam}[r.IntN(3)]
			for i := range c.Phones {
				c.Phones[i].Type = phoneTypes[r.IntN(len(phoneTypes))]
			}
		}
		raw, err := json.Marshal(c)
		if err != nil {
			continue
		}
		if checkDecoding(t, raw, scanContactJSON) {
			fast++
		} else {
			t.Fatalf("the scanner refuses canonical %s", raw)
		}
		if checkDecoding(t, mutate(r, raw), scanContactJSON) {
			mutants++
		}
		var got Contact
		require.NoError(t, decodeContactJSON(raw, &got))
	}
	if fast < 5000 || mutants == 0 {
		t.Fatalf("%d canonical and %d mutated contacts took the fast path: the generator is off", fast, mutants)
	}
}

func TestBatchDecodeMatchesUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	fast, mutants := 0, 0
	for range 3000 {
		b := randomValue[Batch](t, r)
		if r.IntN(2) == 0 {
			b.Users = nil // users always go to json.Unmarshal
		}
		raw, err := json.Marshal(b)
		if err != nil {
			continue
		}
		if checkDecoding(t, raw, scanBatchJSON) {
			fast++
		} else if len(b.Users) == 0 {
			t.Fatalf("the scanner refuses canonical %s", raw)
		}
		if checkDecoding(t, mutate(r, raw), scanBatchJSON) {
			mutants++
		}
		var got, want Batch
		require.NoError(t, decodeBatchJSON(raw, &got))
		require.NoError(t, json.Unmarshal(raw, &want))
		require.Equal(t, want, got)
	}
	if fast < 300 || mutants == 0 {
		t.Fatalf("%d canonical and %d mutated batches took the fast path: the generator is off", fast, mutants)
	}
	// Not canonical, and left to json.Unmarshal: its errors stay.
	var b Batch
	require.Error(t, decodeBatchJSON([]byte(`{"contacts":[{"contact":{"id":1}}]}`), &b))
}

// FuzzDecodeBatchJSON holds the fast batch decoder to json.Unmarshal on
// arbitrary input.
func FuzzDecodeBatchJSON(f *testing.F) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 8 {
		b := randomValue[Batch](f, r)
		b.Users = nil
		if raw, err := json.Marshal(b); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte(`{"contacts":[{"contact":{"id":"a\u00e9\ud83d\ude00","kind":"company","address":{},"created":"2026-12-02T20:14:03.5+01:00","updated":"0001-01-01T00:00:00Z","version":1},"expected":3}],"marks":[{"owner":"o","contact_id":"a","groups":[]}],"origin":"x"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoding(t, data, scanBatchJSON)
		checkDecoding(t, data, scanContactJSON)
	})
}

// typicalContact is what an import stores: names, a company, two phones
// and an email.
func typicalContact() Contact {
	ts := time.Date(2026, 12, 2, 20, 14, 3, 123456789, time.UTC)
	return Contact{ID: "c_0123456789abcdef", Kind: KindCompany, Domain: "pbx.example.com",
		FirstName: "Jean", LastName: "Dupont", Company: "Import SARL",
		Phones: []Phone{{Type: PhoneWork, Number: "+33 1 23 45 67 89"}, {Type: PhoneMobile, Number: "+33 7 12 34 56 78"}},
		Emails: []string{"jean.dupont@example.com"}, Created: ts, Updated: ts, Version: 1}
}

func BenchmarkContactJSON(b *testing.B) {
	c := typicalContact()
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendContactJSON(buf[:0], &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkContactDecode(b *testing.B) {
	raw, err := json.Marshal(typicalContact())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c Contact
			if err := json.Unmarshal(raw, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c Contact
			if err := decodeContactJSON(raw, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
