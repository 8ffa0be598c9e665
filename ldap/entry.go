package ldap

import (
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

// entry is one contact as an LDAP entry. attrs is keyed by lower-case
// attribute name.
type entry struct {
	dn    string
	attrs map[string][]string
}

func (e *entry) values(attr string) []string { return e.attrs[attr] }

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

// entryFor renders c below base: one entry with every number, the
// phone types mapped to the attributes phones query (work and other →
// telephoneNumber, a team member's extension → ipPhone as well).
func entryFor(c *directory.Contact, base string) *entry {
	e := &entry{dn: "uid=" + escapeRDN(c.ID) + "," + base, attrs: map[string][]string{}}
	add := func(attr string, vs ...string) {
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" {
				e.attrs[attr] = append(e.attrs[attr], v)
			}
		}
	}
	add("objectclass", objectClasses...)
	add("uid", c.ID)
	name := c.DisplayName()
	add("cn", name)
	add("displayname", name)
	if c.LastName != "" {
		add("sn", c.LastName)
	} else {
		add("sn", name) // sn is mandatory in person (RFC 4519 §3.12)
	}
	add("givenname", c.FirstName)
	add("o", c.Company)
	add("ou", c.Department)
	add("title", c.JobTitle)
	add("mail", c.Emails...)
	for _, p := range c.Phones {
		switch p.Type {
		case directory.PhoneMobile:
			add("mobile", p.Number)
		case directory.PhoneHome:
			add("homephone", p.Number)
		case directory.PhoneFax:
			add("facsimiletelephonenumber", p.Number)
		default:
			add("telephonenumber", p.Number)
			if c.Kind == directory.KindTeam {
				add("ipphone", p.Number)
			}
		}
	}
	return e
}

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
		if vs := e.attrs[l]; len(vs) > 0 && (all || want[l]) {
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
