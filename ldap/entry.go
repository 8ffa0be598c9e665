package ldap

import (
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/directory"
)

// numberAttrs are the attributes holding telephone numbers; filters on
// them compare numbers, not text.
var numberAttrs = map[string]bool{
	"telephonenumber": true, "mobile": true, "homephone": true,
	"facsimiletelephonenumber": true, "ipphone": true,
}

// attrNames gives each lower-case attribute its canonical spelling, in
// the order entries list them.
var attrNames = []string{
	"objectClass", "uid", "cn", "sn", "givenName", "displayName",
	"o", "ou", "title", "mail",
	"telephoneNumber", "mobile", "homePhone", "facsimileTelephoneNumber", "ipPhone",
}

// objectClasses of every contact entry: inetOrgPerson (RFC 2798) with
// its superclasses, what phones' default filters expect.
var objectClasses = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}

// entry is one contact as an LDAP entry. Attribute values are derived
// from the contact when asked for, so that filtering thousands of
// contacts builds no entry that is not sent.
type entry struct {
	c    *directory.Contact
	base string
}

// dn is the entry's name: uid=<contact id> below the domain's base.
func (e *entry) dn() string { return "uid=" + escapeRDN(e.c.ID) + "," + e.base }

// values returns the values of the lower-case attribute attr. The phone
// types map to the attributes phones query: work and other →
// telephoneNumber, a team member's extension → ipPhone as well.
func (e *entry) values(attr string) []string {
	c := e.c
	switch attr {
	case "objectclass":
		return objectClasses
	case "uid":
		return nonEmpty(c.ID)
	case "cn", "displayname":
		return nonEmpty(c.DisplayName())
	case "sn":
		if c.LastName != "" {
			return nonEmpty(c.LastName)
		}
		return nonEmpty(c.DisplayName()) // sn is mandatory in person (RFC 4519 §3.12)
	case "givenname":
		return nonEmpty(c.FirstName)
	case "o":
		return nonEmpty(c.Company)
	case "ou":
		return nonEmpty(c.Department)
	case "title":
		return nonEmpty(c.JobTitle)
	case "mail":
		return nonEmpty(c.Emails...)
	case "telephonenumber":
		return e.phones(directory.PhoneWork, directory.PhoneOther)
	case "mobile":
		return e.phones(directory.PhoneMobile)
	case "homephone":
		return e.phones(directory.PhoneHome)
	case "facsimiletelephonenumber":
		return e.phones(directory.PhoneFax)
	case "ipphone":
		if c.Kind == directory.KindTeam {
			return e.phones(directory.PhoneWork)
		}
	}
	return nil
}

func (e *entry) phones(types ...directory.PhoneType) []string {
	var out []string
	for _, p := range e.c.Phones {
		if slices.Contains(types, p.Type) {
			out = append(out, nonEmpty(p.Number)...)
		}
	}
	return out
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// baseDN returns the naming context of domain: pbx.example.com →
// dc=pbx,dc=example,dc=com.
func baseDN(domain string) string {
	parts := strings.Split(strings.ToLower(domain), ".")
	for i, p := range parts {
		parts[i] = "dc=" + p
	}
	return strings.Join(parts, ",")
}

// contactDomain is the tenant a contact belongs to: its own for company
// and team contacts, its owner's for personal ones.
func contactDomain(c *directory.Contact) string {
	if c.Domain != "" {
		return strings.ToLower(c.Domain)
	}
	if _, d, ok := strings.Cut(c.Owner, "@"); ok {
		return strings.ToLower(d)
	}
	return ""
}

// entryFor returns c as an entry below base.
func entryFor(c *directory.Contact, base string) *entry { return &entry{c: c, base: base} }

// selected returns e's attributes as the client asked for them (RFC 4511
// §4.5.1.8: none listed or "*" means all user attributes, "1.1" none).
func (e *entry) selected(requested []string) map[string][]string {
	all := len(requested) == 0
	want := map[string]bool{}
	for _, a := range requested {
		switch a = strings.ToLower(strings.TrimSpace(a)); a {
		case "*":
			all = true
		case "1.1", "":
		default:
			want[a] = true
		}
	}
	out := map[string][]string{}
	for _, name := range attrNames {
		l := strings.ToLower(name)
		if !all && !want[l] {
			continue
		}
		if vs := e.values(l); len(vs) > 0 {
			out[name] = vs
		}
	}
	return out
}

// escapeRDN escapes an attribute value for use in a DN (RFC 4514 §2.4).
func escapeRDN(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case strings.IndexByte(",+\"\\<>;=", c) >= 0,
			(i == 0 && (c == ' ' || c == '#')), (i == len(v)-1 && c == ' '):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
