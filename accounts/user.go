package accounts

import (
	"fmt"
	"strings"
	"time"
)

// User is a PBX user provisioned by an administrator. The directory keeps
// users, with their SIP credentials, in its store and change log, and
// derives one team contact from each.
type User struct {
	Extension  string `json:"extension"`
	Domain     string `json:"domain"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Email      string `json:"email,omitempty"`
	Department string `json:"department,omitempty"`
	JobTitle   string `json:"job_title,omitempty"`
	// DID is the user's direct inward dialing number and Mobile their
	// mobile, as typed ("+1 415 555 0132", "06 12 34 56 78"). The team
	// contact lists them, so caller ID names a colleague calling from
	// them. The directory checks them as contact numbers.
	DID     string    `json:"did,omitempty"`
	Mobile  string    `json:"mobile,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// SIPPassword, when set on ProvisionUser input, replaces the user's
	// SIP digest credentials; only its HA1 hashes are kept (credentials.go).
	SIPPassword string `json:"-"`
	// Digest holds the stored HA1 hashes. The directory never returns it.
	Digest *Digest `json:"digest,omitempty"`
	// WebPassword, when set on ProvisionUser input, replaces the user's
	// web app password; only its hash is kept (webpassword.go).
	WebPassword string `json:"-"`
	// Web holds the web password's hash. The directory never returns it.
	Web *WebCredential `json:"web,omitempty"`
	// Admin lets the user administer their domain when signed in to the
	// web app: the session gets users:admin and company:write.
	Admin bool `json:"admin,omitempty"`
}

// AOR returns the user's address of record, "ext@domain".
func (u User) AOR() string { return u.Extension + "@" + u.Domain }

// Validate checks the provisioning fields of u. Whether u.Domain is served
// is checked by the directory's ProvisionUser.
func (u User) Validate() error {
	if u.Extension == "" || len(u.Extension) > MaxExtensionDigits || !allDigits(u.Extension) {
		return &FieldError{Field: "extension", Reason: fmt.Sprintf("want 1 to %d digits", MaxExtensionDigits)}
	}
	if reason := checkHostName(u.Domain); reason != "" {
		return &FieldError{Field: "domain", Reason: "want a SIP domain such as pbx.example.com: " + reason}
	}
	for _, f := range []struct{ name, v string }{
		{"first_name", u.FirstName}, {"last_name", u.LastName}, {"department", u.Department}, {"job_title", u.JobTitle},
		{"did", u.DID}, {"mobile", u.Mobile},
	} {
		// Numbers are read by the directory (it knows phone numbers);
		// here they are only bounded text.
		if fe := CheckText(f.name, f.v, MaxNameBytes, false); fe != nil {
			return fe
		}
	}
	if strings.TrimSpace(u.FirstName+u.LastName) == "" {
		return &FieldError{Field: "name", Reason: "a first or last name is required"}
	}
	if u.Email != "" {
		if reason := CheckEmail(u.Email); reason != "" {
			return &FieldError{Field: "email", Reason: reason}
		}
	}
	return nil
}

// SplitAOR splits an address of record "ext@domain"; ok is false unless
// both parts are present.
func SplitAOR(aor string) (ext, domain string, ok bool) {
	ext, domain, ok = strings.Cut(aor, "@")
	return ext, domain, ok && ext != "" && domain != ""
}

// allDigits reports whether s holds only ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
