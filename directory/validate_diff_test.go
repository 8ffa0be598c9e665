package directory

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// textPieces and the generators below build contacts for
// TestValidateMatchesOriginal.
var textPieces = []string{
	"", " ", "José", "Müller", "Acme", "\t", "\n", "\r", "\x00", "\x7f", "\u0085", "\u2028", "\u00a0", "\u3000",
	"\xff", "\ufffd", "日本", strings.Repeat("x", 60),
}

func genText(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(5) {
		b.WriteString(textPieces[r.IntN(len(textPieces))])
	}
	return b.String()
}

var (
	numberPieces = []string{"+33 4 12 34 56 78", "06 12 34 56 78", "123", "1-800-FLOWERS", "+1 (555) 010-9999 x45", "", " ", "abc", "+", "٠١٢٣٤٥٦٧٨٩", strings.Repeat("9", 30)}
	emailPieces  = []string{"jose.muller42@acme-plomberie-sa.example", "a@b", "", "a@b.", `"q"@b`, "User <u@b>", "u@[192.0.2.1]", "josé@b", "a..b@c", " u@b ", "u@b (c)", strings.Repeat("a", 250) + "@b"}
	typePieces   = []PhoneType{PhoneWork, PhoneMobile, PhoneHome, PhoneFax, PhoneOther, "pager", ""}
)

func genValidateContact(r *rand.Rand) Contact {
	c := Contact{FirstName: genText(r), LastName: genText(r), Company: genText(r), Department: genText(r), JobTitle: genText(r),
		Address: Address{Street: genText(r), City: genText(r), Region: genText(r), PostalCode: genText(r), Country: genText(r)},
		Notes:   genText(r)}
	if r.IntN(3) == 0 {
		// Mostly valid text, so that the later checks are reached.
		c = Contact{FirstName: "José", Company: []string{"", " ", "Acme"}[r.IntN(3)]}
		if r.IntN(4) == 0 {
			c.Notes = strings.Repeat("n", MaxNotesBytes+r.IntN(2))
		}
	}
	for range r.IntN(3) + r.IntN(2)*MaxPhones {
		c.Phones = append(c.Phones, Phone{Type: typePieces[r.IntN(len(typePieces))], Number: numberPieces[r.IntN(len(numberPieces))]})
	}
	for range r.IntN(3) + r.IntN(2)*MaxEmails {
		c.Emails = append(c.Emails, emailPieces[r.IntN(len(emailPieces))])
	}
	return c
}

func TestValidateMatchesOriginal(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	valid := 0
	reasons := map[string]bool{}
	for range 100_000 {
		c := genValidateContact(r)
		got, want := c.Validate(), origValidate(c)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Validate(%#v) = %v, want %v", c, got, want)
		}
		if want == nil {
			valid++
		} else {
			reasons[want.(*FieldError).Field] = true
		}
	}
	if valid < 100 || len(reasons) < 12 {
		t.Fatalf("weak inputs: %d valid, refused fields %v", valid, reasons)
	}
	t.Logf("%d valid, refused fields %v", valid, reasons)
}
