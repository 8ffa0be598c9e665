package directory

import (
	"fmt"
	"strings"

	"github.com/switchboardhq/switchboard/accounts"
)

// Limits of every field and list the directory stores or reads. The README
// ("The HTTP API") lists them; keep the two in step.
const (
	// MaxNameBytes bounds first_name, last_name, company, department and
	// job_title of contacts and users.
	MaxNameBytes = accounts.MaxNameBytes
	// MaxAddressFieldBytes bounds each address field.
	MaxAddressFieldBytes = 200
	// MaxNotesBytes bounds notes.
	MaxNotesBytes = 10000
	// MaxPhones and MaxEmails bound the numbers and addresses of a contact.
	MaxPhones = 20
	MaxEmails = 10
	// MaxNumberBytes bounds one phone number as typed: full-width digits
	// and spaces take 3 bytes each, and an extension may follow.
	MaxNumberBytes = 100
	// MinNumberDigits and MaxNumberDigits bound the digits of the main
	// number (without extension); 20 is E.164's 15 plus an IDD and slack.
	MinNumberDigits = 3
	MaxNumberDigits = 20
	// MaxEmailBytes bounds one email address (RFC 5321 §4.5.3.1.3 path).
	MaxEmailBytes = accounts.MaxEmailBytes
	// MaxGroupNameBytes bounds a group name.
	MaxGroupNameBytes = 100
	// MaxGroupsPerOwner bounds the own groups of a user and the shared
	// groups of a domain.
	MaxGroupsPerOwner = 200
	// MaxExtensionDigits bounds a user's extension.
	MaxExtensionDigits = accounts.MaxExtensionDigits
	// MaxDomainBytes bounds a SIP domain (RFC 1035 §2.3.4 host name).
	MaxDomainBytes = accounts.MaxDomainBytes

	// MaxCSVColumns bounds the header of an imported CSV file; Outlook's
	// own export has about 90 columns.
	MaxCSVColumns = 200
	// MaxCSVHeaderBytes bounds the header line of an imported CSV file.
	MaxCSVHeaderBytes = 64 << 10
	// MaxVCardLineBytes bounds one unfolded vCard property that is
	// imported (N, TEL, NOTE…). Properties Switchboard does not import,
	// such as PHOTO, are skipped whatever their size.
	MaxVCardLineBytes = 64 << 10
	// MaxVCardBytes bounds the imported properties of one vCard.
	MaxVCardBytes = 256 << 10
	// MaxReportRows bounds ImportReport.Errors and ImportReport.Skips each;
	// rows beyond it are only counted (ErrorsOmitted, SkipsOmitted).
	MaxReportRows = 1000
)

// checkGroupName validates the name of an own or shared group, as the API
// and imports create them. Built-in names are the caller's to handle.
func checkGroupName(name string) *FieldError {
	if fe := accounts.CheckText("name", name, MaxGroupNameBytes, false); fe != nil {
		return fe
	}
	if strings.TrimSpace(name) == "" || groupSlug(name) == "" {
		return &FieldError{Field: "name", Reason: "required"}
	}
	if strings.Contains(name, multiSep) {
		// CSV separates a contact's groups with "|" (CSVHeader).
		return &FieldError{Field: "name", Reason: `"|" not allowed`}
	}
	return nil
}

// checkServedDomain refuses a user domain the Service does not serve.
func (s *Service) checkServedDomain(d string) error {
	if len(s.cfg.Domains) == 0 {
		return nil
	}
	for _, served := range s.cfg.Domains {
		if strings.EqualFold(served, d) {
			return nil
		}
	}
	return &FieldError{Field: "domain", Reason: fmt.Sprintf("%q is not a served domain (%s)", d, strings.Join(s.cfg.Domains, ", "))}
}

// reject records a rejected row, keeping at most MaxReportRows of them so
// that a hostile file cannot grow the report without bound.
func (r *ImportReport) reject(e RowError) {
	if len(r.Errors) >= MaxReportRows {
		r.ErrorsOmitted++
		return
	}
	r.Errors = append(r.Errors, e)
}

// skip records a skipped duplicate row, like reject.
func (r *ImportReport) skip(e RowError) {
	if len(r.Skips) >= MaxReportRows {
		r.SkipsOmitted++
		return
	}
	r.Skips = append(r.Skips, e)
}
