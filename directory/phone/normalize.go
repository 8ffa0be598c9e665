// Package phone normalizes telephone numbers as they arrive from PBXs and SIP
// trunks, and indexes directory numbers for caller-ID lookup.
//
// Normalization unwraps tel: and sip:/sips: URIs, strips display characters,
// handles trunk and international (IDD) prefixes for a configured default
// region and classifies the result as an international number, a national
// number (country taken from the default region) or an internal extension.
// The numbering-plan knowledge comes from github.com/nyaruka/phonenumbers,
// the Go port of libphonenumber. Its regexps cost ~15 µs a number, so the
// common shapes are answered from its metadata compiled into digit DFAs
// (fast.go), with exactly its answers, and everything else goes to it.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid reports input that is not a telephone number: empty, garbage
// characters, too long, or not a possible number in any reading.
var ErrInvalid = errors.New("invalid phone number")

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("invalid phone config")

const (
	// DefaultMaxExtensionLen is used when Config.MaxExtensionLen is zero.
	DefaultMaxExtensionLen = 6
	// DefaultMinTrailingDigits is used when Config.MinTrailingDigits is zero.
	DefaultMinTrailingDigits = 7

	// maxRawLen bounds the work done on untrusted input; libphonenumber
	// itself refuses more than 250 characters.
	maxRawLen = 256
	// maxDigits is the 15 digits of E.164 (ITU-T E.164 §6) plus the longest
	// IDD in use ("0011" in AU) and slack for a trunk prefix.
	maxDigits = 20
	// maxExtensionCap keeps extensions clearly shorter than real numbers.
	maxExtensionCap = 8
	// Trailing-digit keys shorter than this match too many numbers to mean
	// anything; longer than a typical national number they never match.
	minTrailingFloor, minTrailingCap = 5, 12
)

// Config configures a Normalizer.
type Config struct {
	// DefaultRegion is the ISO 3166-1 alpha-2 region the PBX sits in ("FR",
	// "DE", "US"). It decides the trunk prefix, the IDD and the country of
	// numbers dialed in national format. Required.
	DefaultRegion string
	// MaxExtensionLen is the longest digit string, written without "+",
	// IDD or phone-context, that is taken as an internal extension.
	// Zero means DefaultMaxExtensionLen.
	MaxExtensionLen int
	// MinTrailingDigits is the length of the trailing-digit key used as the
	// last-resort match. Zero means DefaultMinTrailingDigits.
	MinTrailingDigits int
}

// Kind says how a number was written, which decides how much of it is known.
type Kind uint8

const (
	// KindE164 is a number written with its country code: "+", the
	// default region's IDD ("00", "011"), a tel: phone-context, or the
	// country code without "+" as some trunks send it. E164 is set.
	KindE164 Kind = iota + 1
	// KindNational is a number written in national format; its country is
	// taken from the default region. E164 is set unless the number is only
	// dialable locally (a US 7-digit number without area code).
	KindNational
	// KindExtension is a short internal number; it has no E.164 form.
	KindExtension
)

// String returns the kind's name for logs and test output.
func (k Kind) String() string {
	switch k {
	case KindE164:
		return "e164"
	case KindNational:
		return "national"
	case KindExtension:
		return "extension"
	default:
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
}

// Number is a normalized telephone number.
type Number struct {
	// Raw is the input as given to Parse.
	Raw string
	// Kind says how the number was written.
	Kind Kind
	// E164 is the international form ("+33491550142"); empty for
	// extensions and local-only national numbers.
	E164 string
	// CountryCode is the country calling code (33); 0 when unknown.
	CountryCode int
	// National is the national significant number ("491550142"), without
	// trunk prefix; empty for extensions.
	National string
	// Digits are all digits of the main number as dialed, after URI
	// unwrapping ("0033491550142", or the extension "201"); vanity letters
	// are read as their keypad digits.
	Digits string
	// Extension holds the digits of an extension typed after the main
	// number ("x45", "ext. 45", "#45"): shown, never matched or dialed.
	// Parameters of tel: and sip: URIs (";ext=") are not kept.
	Extension string
}

// Keys returns the prefixed keys a stored number is indexed under, so that
// stores other than Index (Redis, SQL) match the same way: "e:" E.164,
// "n:" national significant number, "t:" its last trailing digits (only if
// it has that many) and "x:" an extension. The prefixes keep kinds from
// colliding: extension 2015 never meets a national number 2015.
func (n Number) Keys(trailing int) []string {
	if n.Kind == KindExtension {
		return []string{"x:" + n.Digits}
	}
	keys := make([]string, 0, 3)
	if n.E164 != "" {
		keys = append(keys, "e:"+n.E164)
	}
	if n.National != "" {
		keys = append(keys, "n:"+n.National)
	}
	if t, ok := tail(n.National, trailing); ok {
		keys = append(keys, "t:"+t)
	}
	return keys
}

// tail returns the last k digits of nsn, if it has that many.
func tail(nsn string, k int) (string, bool) {
	if k <= 0 || len(nsn) < k {
		return "", false
	}
	return nsn[len(nsn)-k:], true
}

// Normalizer parses numbers for one default region. It is immutable and safe
// for concurrent use.
type Normalizer struct {
	region   string
	maxExt   int
	trailing int
	national *lazyNational // the fast path's tables for region
}

// NewNormalizer validates cfg, applies defaults and returns a Normalizer.
// Errors wrap ErrConfig.
func NewNormalizer(cfg Config) (*Normalizer, error) {
	region := strings.ToUpper(strings.TrimSpace(cfg.DefaultRegion))
	maxExt := cfg.MaxExtensionLen
	if maxExt == 0 {
		maxExt = DefaultMaxExtensionLen
	}
	trailing := cfg.MinTrailingDigits
	if trailing == 0 {
		trailing = DefaultMinTrailingDigits
	}
	var errs []error
	if region == "" {
		errs = append(errs, fmt.Errorf("default region is required: %w", ErrConfig))
	} else if !phonenumbers.GetSupportedRegions()[region] {
		errs = append(errs, fmt.Errorf("default region %q is not a supported ISO 3166 region: %w", cfg.DefaultRegion, ErrConfig))
	}
	if maxExt < 1 || maxExt > maxExtensionCap {
		errs = append(errs, fmt.Errorf("max extension length %d not in 1..%d: %w", maxExt, maxExtensionCap, ErrConfig))
	}
	if trailing < minTrailingFloor || trailing > minTrailingCap {
		errs = append(errs, fmt.Errorf("min trailing digits %d not in %d..%d: %w", trailing, minTrailingFloor, minTrailingCap, ErrConfig))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Normalizer{region: region, maxExt: maxExt, trailing: trailing, national: lazyNationalFor(region)}, nil
}

// Warm builds the fast path's tables for n's region and its calling code
// now, instead of in the first Parse that needs them (~30 ms on a small
// machine: a phone's first call after a start would wait for it).
func (n *Normalizer) Warm() {
	n.national.get()
	country(phonenumbers.GetCountryCodeForRegion(n.region))
}

// Region returns the normalized default region ("FR").
func (n *Normalizer) Region() string { return n.region }

// MinTrailingDigits returns the trailing-digit key length in force.
func (n *Normalizer) MinTrailingDigits() int { return n.trailing }

// Parse normalizes raw: it unwraps a tel:/sip:/sips: URI (also inside a
// name-addr "<...>"), strips display characters and decides the kind.
//
// Readings are tried in order and the first valid one wins: written
// international ("+", the region's IDD, phone-context); national in the
// default region (libphonenumber also recognizes the region's own country
// code written without "+", "4930…" in DE); the whole digit string as
// international with the "+" lost ("33491550142" in DE); "00"/"011" as a
// foreign IDD. Failing all, a merely possible (right length) national
// number is accepted, so new number ranges missing from the metadata still
// work. Errors wrap ErrInvalid.
func (n *Normalizer) Parse(raw string) (Number, error) {
	return n.parse(raw, true)
}

// parse is Parse; without fast it never takes the fast path (fast.go), so
// tests can hold the two paths against each other.
func (n *Normalizer) parse(raw string, fast bool) (Number, error) {
	if len(raw) > maxRawLen {
		return Number{}, invalid(raw, "too long")
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return Number{}, invalid(raw, "empty")
	}
	local, context, err := unwrapURI(s)
	if err != nil {
		return Number{}, invalid(raw, err.Error())
	}
	plus, digits, err := scanDigits(local)
	ext := ""
	if err != nil && !strings.ContainsAny(s, ":@<") {
		// Not a URI: read it as a person types it, with an extension,
		// vanity letters or both.
		t, terr := ParseTyped(s)
		if terr != nil {
			return Number{}, terr
		}
		plus, digits, ext, err = strings.HasPrefix(t.Main, "+"), t.Digits(), t.Extension, nil
	}
	if err != nil {
		return Number{}, invalid(raw, err.Error())
	}
	num := Number{Raw: raw, Digits: digits, Extension: ext}

	switch {
	case plus:
		return n.parseInternational(num, "+"+digits, fast)
	case context != "":
		// RFC 3966 §5.1.5: a global phone-context ("+49", "+4930") is the
		// prefix the local number is dialed within; libphonenumber strips a
		// trunk prefix that follows the country code ("+49" "030…").
		return n.parseInternational(num, context+digits, fast)
	case len(digits) <= n.maxExt:
		num.Kind = KindExtension
		return num, nil
	}
	return n.parseNational(num, fast)
}

// parseInternational accepts full, a "+"-prefixed digit string, if it is a
// valid or at least possible international number.
func (n *Normalizer) parseInternational(num Number, full string, fast bool) (Number, error) {
	if fast {
		if out, err, ok := parseFastAt(num, full, true); ok {
			return out, err
		}
	}
	pn, err := phonenumbers.ParseAndKeepRawInput(full, n.region)
	if err != nil {
		return Number{}, invalid(num.Raw, "not an international number")
	}
	if phonenumbers.IsValidNumber(pn) {
		return fill(num, pn, KindE164)
	}
	if phonenumbers.IsPossibleNumberWithReason(pn) != phonenumbers.IS_POSSIBLE {
		return Number{}, invalid(num.Raw, "not a possible international number")
	}
	return n.fillPossible(num, pn, KindE164)
}

// fillPossible is fill for a number that is only possible, not valid. Such
// a number must survive a round trip through its own E.164 form: for
// numbers like "0000001" libphonenumber strips another trunk prefix on
// every parse, and a key that changes on re-parse would never match.
func (n *Normalizer) fillPossible(num Number, pn *phonenumbers.PhoneNumber, kind Kind) (Number, error) {
	num, err := fill(num, pn, kind)
	if err != nil {
		return Number{}, err
	}
	again, err := phonenumbers.Parse(num.E164, n.region)
	if err != nil || phonenumbers.Format(again, phonenumbers.E164) != num.E164 ||
		phonenumbers.GetNationalSignificantNumber(again) != num.National {
		return Number{}, invalid(num.Raw, "not a stable number")
	}
	return num, nil
}

// parseNational tries the readings of a number written without "+".
func (n *Normalizer) parseNational(num Number, fast bool) (Number, error) {
	natVerdict := verdictUnknown
	if fast && n.national != nil {
		if t := n.national.get(); t != nil {
			var out Number
			if out, natVerdict = t.parseNationalFast(num); natVerdict == verdictValid {
				return out, nil
			}
		}
	}
	var nat *phonenumbers.PhoneNumber
	var natErr error
	if natVerdict == verdictUnknown {
		nat, natErr = phonenumbers.ParseAndKeepRawInput(num.Digits, n.region)
		if natErr == nil && phonenumbers.IsValidNumber(nat) {
			return fill(num, nat, kindOf(nat))
		}
	}
	// Trunks that drop the "+" send the country code first; a foreign
	// IDD ("00" dialed in the US) is the same mistake one step earlier.
	for _, alt := range [...]string{num.Digits, strings.TrimPrefix(num.Digits, "00"), strings.TrimPrefix(num.Digits, "011")} {
		if alt == "" || alt[0] == '0' {
			continue
		}
		if fast {
			if out, err, ok := parseFast(num, "+"+alt); ok {
				if err == nil {
					return out, nil
				}
				continue // neither valid nor possible
			}
		}
		pn, err := phonenumbers.ParseAndKeepRawInput("+"+alt, n.region)
		if err == nil && phonenumbers.IsValidNumber(pn) {
			return fill(num, pn, KindE164)
		}
	}
	if natVerdict != verdictUnknown {
		// The fast path knew the reading is not valid; what else it is
		// decides now.
		nat, natErr = phonenumbers.ParseAndKeepRawInput(num.Digits, n.region)
	}
	if natErr != nil {
		return Number{}, invalid(num.Raw, "not a number in region "+n.region)
	}
	switch phonenumbers.IsPossibleNumberWithReason(nat) {
	case phonenumbers.IS_POSSIBLE:
		return n.fillPossible(num, nat, kindOf(nat))
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		if nat.GetNationalNumber() == 0 {
			break
		}
		// Without its area code the number has no E.164 form; keep the
		// national digits so trailing-digit matching still finds it.
		num.Kind = KindNational
		num.CountryCode = int(nat.GetCountryCode())
		num.National = phonenumbers.GetNationalSignificantNumber(nat)
		return num, nil
	}
	return Number{}, invalid(num.Raw, "not a possible number in region "+n.region)
}

// kindOf maps libphonenumber's record of where the country code came from.
func kindOf(pn *phonenumbers.PhoneNumber) Kind {
	if pn.GetCountryCodeSource() == phonenumbers.PhoneNumber_FROM_DEFAULT_COUNTRY {
		return KindNational
	}
	return KindE164
}

// fill returns num with the fields derived from pn.
func fill(num Number, pn *phonenumbers.PhoneNumber, kind Kind) (Number, error) {
	if pn.GetNationalNumber() == 0 {
		// All zeros: libphonenumber keeps the number only as raw input
		// and Format would return that instead of an E.164 string.
		return Number{}, invalid(num.Raw, "no national number")
	}
	num.Kind = kind
	num.CountryCode = int(pn.GetCountryCode())
	num.E164 = phonenumbers.Format(pn, phonenumbers.E164)
	nsn := phonenumbers.GetNationalSignificantNumber(pn)
	// Share E164's bytes: an index holding a million numbers keeps one
	// string per number instead of two.
	if strings.HasSuffix(num.E164, nsn) {
		nsn = num.E164[len(num.E164)-len(nsn):]
	}
	num.National = nsn
	return num, nil
}

// invalid builds an ErrInvalid error quoting a bounded prefix of raw.
func invalid(raw, reason string) error {
	if len(raw) > 64 {
		raw = raw[:64] + "…"
	}
	return fmt.Errorf("parse number %q: %s: %w", raw, reason, ErrInvalid)
}
