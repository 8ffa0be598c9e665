package directory

import (
	"fmt"
	"strings"

	"github.com/switchboardhq/switchboard/accounts"
)

// origValidate is Contact.Validate as it was before it was made faster:
// TestValidateMatchesOriginal holds the new one to it.
func origValidate(c Contact) error {
	for _, f := range []struct {
		name, v   string
		max       int
		multiline bool
	}{
		{"first_name", c.FirstName, MaxNameBytes, false}, {"last_name", c.LastName, MaxNameBytes, false},
		{"company", c.Company, MaxNameBytes, false}, {"department", c.Department, MaxNameBytes, false},
		{"job_title", c.JobTitle, MaxNameBytes, false},
		{"address.street", c.Address.Street, MaxAddressFieldBytes, true}, {"address.city", c.Address.City, MaxAddressFieldBytes, false},
		{"address.region", c.Address.Region, MaxAddressFieldBytes, false}, {"address.postal_code", c.Address.PostalCode, MaxAddressFieldBytes, false},
		{"address.country", c.Address.Country, MaxAddressFieldBytes, false},
		{"notes", c.Notes, MaxNotesBytes, true},
	} {
		if fe := accounts.CheckText(f.name, f.v, f.max, f.multiline); fe != nil {
			return fe
		}
	}
	if strings.TrimSpace(c.FirstName+c.LastName+c.Company) == "" {
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
