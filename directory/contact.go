package directory

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory/phone"
)

// Sentinel errors returned by Service and Store. Edges branch on them with
// errors.Is.
var (
	// ErrNotFound reports a missing contact, user or group, or one the
	// caller may not see (existence of personal contacts never leaks). It
	// is accounts.ErrNotFound, so one errors.Is covers API keys too.
	ErrNotFound = accounts.ErrNotFound
	// ErrForbidden reports a caller lacking the scope an operation needs.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict reports a request contradicting existing state, such as a
	// contact marked both Favorite and Blocked.
	ErrConflict = errors.New("conflict")
	// ErrVersionMismatch reports a lost update: the stored version differs
	// from the version the caller expected.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrConfirmationRequired reports a destructive operation that needs an
	// explicit confirmation; the accompanying report says what would go.
	ErrConfirmationRequired = errors.New("confirmation required")
	// ErrQuotaExceeded reports a write that would take a user past a limit
	// on stored items, such as Config.MaxContactsPerUser.
	ErrQuotaExceeded = errors.New("quota exceeded")
)

// FieldError is a validation failure of one field. Field is a path such as
// "phones[1].number". It is accounts.FieldError, which users and API keys
// report too, so one errors.As covers both.
type FieldError = accounts.FieldError

// Kind is the kind of a contact.
type Kind string

// Contact kinds.
const (
	KindPersonal Kind = "personal"
	KindCompany  Kind = "company"
	KindTeam     Kind = "team"
)

// PhoneType is the type of a phone number.
type PhoneType string

// Phone number types.
const (
	PhoneWork   PhoneType = "work"
	PhoneMobile PhoneType = "mobile"
	PhoneHome   PhoneType = "home"
	PhoneFax    PhoneType = "fax"
	PhoneOther  PhoneType = "other"
)

// phoneTypes lists the phone types in export column order.
var phoneTypes = []PhoneType{PhoneWork, PhoneMobile, PhoneHome, PhoneFax, PhoneOther}

// Phone is one phone number of a contact as the user typed it.
type Phone struct {
	Type   PhoneType `json:"type"`
	Number string    `json:"number"`
}

// Address is a postal address.
type Address struct {
	Street     string `json:"street,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Contact is one directory entry. ID, Owner (for personal contacts),
// Created, Updated and Version are set by the Service.
type Contact struct {
	ID         string    `json:"id"`
	Kind       Kind      `json:"kind"`
	Owner      string    `json:"owner,omitempty"`  // ext@domain, personal contacts only
	Domain     string    `json:"domain,omitempty"` // SIP domain (tenant): team and company contacts
	FirstName  string    `json:"first_name,omitempty"`
	LastName   string    `json:"last_name,omitempty"`
	Company    string    `json:"company,omitempty"`
	Department string    `json:"department,omitempty"`
	JobTitle   string    `json:"job_title,omitempty"`
	Phones     []Phone   `json:"phones,omitempty"`
	Emails     []string  `json:"emails,omitempty"`
	Address    Address   `json:"address"`
	Notes      string    `json:"notes,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	Version    uint64    `json:"version"`
}

// DisplayName returns "First Last", or the company when there is no name.
func (c Contact) DisplayName() string {
	n := strings.TrimSpace(c.FirstName + " " + c.LastName)
	if n == "" {
		return c.Company
	}
	return n
}

// Validate checks the user-editable fields of c and returns a *FieldError
// for the first problem found. The limits are in limits.go.
func (c Contact) Validate() error {
	// The rules are static and only the values are gathered per call:
	// imports validate millions of contacts.
	values := [len(textRules)]string{c.FirstName, c.LastName, c.Company, c.Department, c.JobTitle,
		c.Address.Street, c.Address.City, c.Address.Region, c.Address.PostalCode, c.Address.Country, c.Notes}
	for i, v := range values {
		f := &textRules[i]
		if fe := accounts.CheckText(f.name, v, f.max, f.multiline); fe != nil {
			return fe
		}
	}
	// Each name is valid UTF-8 by now, so the three are blank together
	// exactly when their concatenation is, without building it.
	if blank(c.FirstName) && blank(c.LastName) && blank(c.Company) {
		return &FieldError{Field: "name", Reason: "a first name, last name or company is required"}
	}
	if len(c.Phones) == 0 && len(c.Emails) == 0 {
		return &FieldError{Field: "phones", Reason: "at least one phone number or email address is required"}
	}
	if len(c.Phones) > MaxPhones {
		return &FieldError{Field: "phones", Reason: fmt.Sprintf("%d numbers, at most %d allowed", len(c.Phones), MaxPhones)}
	}
	if len(c.Emails) > MaxEmails {
		return &FieldError{Field: "emails", Reason: fmt.Sprintf("%d addresses, at most %d allowed", len(c.Emails), MaxEmails)}
	}
	for i, p := range c.Phones {
		if !validPhoneType(p.Type) {
			return &FieldError{Field: fmt.Sprintf("phones[%d].type", i), Reason: fmt.Sprintf("unknown type %q (want work, mobile, home, fax or other)", p.Type)}
		}
		if reason := checkNumber(p.Number); reason != "" {
			return &FieldError{Field: fmt.Sprintf("phones[%d].number", i), Reason: reason}
		}
	}
	for i, e := range c.Emails {
		if reason := accounts.CheckEmail(e); reason != "" {
			return &FieldError{Field: fmt.Sprintf("emails[%d]", i), Reason: reason}
		}
	}
	return nil
}

// textRules are the text fields Validate checks, in its order (the
// values array of Validate follows it).
var textRules = [...]struct {
	name      string
	max       int
	multiline bool
}{
	{"first_name", MaxNameBytes, false}, {"last_name", MaxNameBytes, false},
	{"company", MaxNameBytes, false}, {"department", MaxNameBytes, false},
	{"job_title", MaxNameBytes, false},
	{"address.street", MaxAddressFieldBytes, true}, {"address.city", MaxAddressFieldBytes, false},
	{"address.region", MaxAddressFieldBytes, false}, {"address.postal_code", MaxAddressFieldBytes, false},
	{"address.country", MaxAddressFieldBytes, false},
	{"notes", MaxNotesBytes, true},
}

// blank reports whether s is empty or white space only.
func blank(s string) bool { return strings.TrimSpace(s) == "" }

func validPhoneType(t PhoneType) bool {
	for _, v := range phoneTypes {
		if v == t {
			return true
		}
	}
	return false
}

// checkNumber returns why s is not an acceptable phone number, or "".
// Numbers are kept as typed; accepted is what phone.ParseTyped reads: any
// Unicode decimal digits with display characters, an optional leading +,
// vanity letters after a digit ("1-800-FLOWERS") and an extension ("x45",
// "ext. 45", ";ext=45", "#45"). The main number has MinNumberDigits to
// MaxNumberDigits digits. Which numbering plan it fits is caller ID's
// concern: a contact may keep a number no region reads.
func checkNumber(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "empty number"
	}
	if len(s) > MaxNumberBytes {
		return fmt.Sprintf("longer than %d bytes", MaxNumberBytes)
	}
	if n, ok := plainNumber(s); ok && n >= MinNumberDigits && n <= MaxNumberDigits {
		return "" // what ParseTyped would accept: imports check millions
	}
	t, err := phone.ParseTyped(s)
	var te *phone.TypedError
	if errors.As(err, &te) {
		if strings.HasPrefix(te.Reason, "unexpected character") {
			return te.Reason + " (allowed: digits, a leading +, space . - ( ) /, vanity letters, an extension such as x45)"
		}
		return te.Reason
	} else if err != nil {
		return err.Error()
	}
	if n := len(t.Digits()); n < MinNumberDigits || n > MaxNumberDigits {
		return fmt.Sprintf("main number has %d digits, want %d to %d", n, MinNumberDigits, MaxNumberDigits)
	}
	return ""
}

// plainNumber reports whether s holds only ASCII digits, a leading + and
// the display characters space . - ( ) /: no letter a spreadsheet formula
// could use (see CSVHeader). ParseTyped reads such an s as a number of
// digits digits.
func plainNumber(s string) (digits int, ok bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits++
		case c == '+' && i == 0:
		case c == ' ' || c == '.' || c == '-' || c == '(' || c == ')' || c == '/':
		default:
			return 0, false
		}
	}
	return digits, true
}

// Digits returns the digits of the main number of s as phone.ParseTyped
// reads it (Unicode digits folded, vanity letters as keypad digits, no
// extension), so that search finds "1-800-FLOWERS" by 3569377 and never
// by its extension. Anything ParseTyped refuses yields its ASCII digits,
// every other character dropped.
func Digits(s string) string {
	// A stored number is E.164 or plain digits: ParseTyped (and its
	// fallback) would keep every digit and add nothing.
	if d, ok := plainDigits(s); ok {
		return d
	}
	if t, err := phone.ParseTyped(s); err == nil {
		return t.Digits()
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// plainDigits returns the ASCII digits of s when s is ASCII without
// letters or "#": then neither a vanity number nor an extension can be
// read in it, so ParseTyped and its fallback both keep exactly its digits
// ("+33 1 45 55 77 10" → "33145557710").
func plainDigits(s string) (string, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			n++
		case c >= utf8.RuneSelf || c == '#' || 'a' <= c|0x20 && c|0x20 <= 'z':
			return "", false
		}
	}
	if d := strings.TrimPrefix(s, "+"); len(d) == n {
		return d, true // already digits: no copy
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b), true
}

// normalize trims the user-editable fields of c.
func (c *Contact) normalize() {
	for _, p := range []*string{&c.FirstName, &c.LastName, &c.Company, &c.Department, &c.JobTitle,
		&c.Address.Street, &c.Address.City, &c.Address.Region, &c.Address.PostalCode, &c.Address.Country} {
		*p = strings.TrimSpace(*p)
	}
	// Browsers and Windows send CRLF line ends; keep LF only, so that a
	// CR left over is refused by Validate and never reaches an export.
	c.Notes = strings.TrimRight(strings.ReplaceAll(c.Notes, "\r\n", "\n"), " \t\n")
	c.Address.Street = strings.ReplaceAll(c.Address.Street, "\r\n", "\n")
	for i := range c.Phones {
		c.Phones[i].Number = strings.TrimSpace(c.Phones[i].Number)
		c.Phones[i].Type = PhoneType(strings.ToLower(strings.TrimSpace(string(c.Phones[i].Type))))
	}
	for i := range c.Emails {
		c.Emails[i] = strings.TrimSpace(c.Emails[i])
	}
}

// TeamContactID returns the ID of the team contact derived from the user
// with address of record aor.
func TeamContactID(aor string) string { return "team:" + aor }

// checkUserNumbers checks a user's direct and mobile numbers as contact
// numbers, since they become numbers of the team contact.
func checkUserNumbers(u accounts.User) error {
	for _, f := range []struct{ name, v string }{{"did", u.DID}, {"mobile", u.Mobile}} {
		if f.v == "" {
			continue
		}
		if reason := checkNumber(f.v); reason != "" {
			return &FieldError{Field: f.name, Reason: reason}
		}
	}
	return nil
}

// teamContactOf derives the team contact of u: the extension first (what
// colleagues dial inside), then the direct number (work) and the mobile,
// as typed, so caller ID indexes all three.
func teamContactOf(u accounts.User) Contact {
	c := Contact{
		ID: TeamContactID(u.AOR()), Kind: KindTeam, Domain: u.Domain,
		FirstName: u.FirstName, LastName: u.LastName, Department: u.Department, JobTitle: u.JobTitle,
		Phones: []Phone{{Type: PhoneWork, Number: u.Extension}},
	}
	if u.DID != "" {
		c.Phones = append(c.Phones, Phone{Type: PhoneWork, Number: u.DID})
	}
	if u.Mobile != "" {
		c.Phones = append(c.Phones, Phone{Type: PhoneMobile, Number: u.Mobile})
	}
	if u.Email != "" {
		c.Emails = []string{u.Email}
	}
	return c
}
