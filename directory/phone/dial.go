package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Dial returns num as a phone in the Normalizer's region dials it: the
// main number only (an extension is reached after the call is answered),
// without spaces or punctuation. With e164 it is the E.164 form; else a
// number of the region in national format with its trunk prefix
// ("0491550142" in FR, "14155550132" in US, where the
// national format keeps the trunk prefix 1) and a foreign one with the
// region's international prefix ("011442071838750" in US), libphonenumber's
// out-of-country format. Extensions, and national numbers with no E.164
// form, are dialed as written.
func (n *Normalizer) Dial(num Number, e164 bool) string {
	if num.Kind == KindExtension || num.E164 == "" {
		return num.Digits
	}
	if e164 {
		return num.E164
	}
	pn, err := phonenumbers.Parse(num.E164, n.region)
	if err != nil {
		return num.E164 // Parse produced it: not reached
	}
	return dialable(phonenumbers.FormatOutOfCountryCallingNumber(pn, n.region))
}

// dialable keeps a leading "+" and the digits of s.
func dialable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c >= '0' && c <= '9') || (c == '+' && b.Len() == 0) {
			b.WriteByte(c)
		}
	}
	return b.String()
}
