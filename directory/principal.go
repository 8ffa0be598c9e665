package directory

import "slices"

// Scope is a permission granted to a Principal.
type Scope string

// Scopes understood by the Service.
const (
	// ScopePersonal lets a user read and edit their own personal contacts,
	// marks and groups, and read team contacts of their domain.
	ScopePersonal Scope = "contacts:personal"
	// ScopeCompanyRead lets a principal read company contacts.
	ScopeCompanyRead Scope = "company:read"
	// ScopeCompanyWrite lets a principal create, change and delete company
	// contacts (and implies reading them).
	ScopeCompanyWrite Scope = "company:write"
	// ScopeUsersAdmin lets a principal provision and delete PBX users and
	// manage shared groups.
	ScopeUsersAdmin Scope = "users:admin"
	// ScopeLookup lets a principal resolve numbers for caller ID.
	ScopeLookup Scope = "lookup"
)

// Principal is the caller of a Service method.
//
// User is the caller's address of record ("ext@domain"); it is empty for
// admin-only API keys. Admin marks an administrative principal; it grants no
// right by itself: every right comes from Scopes, and nothing ever grants
// access to personal contacts of another user.
//
// Domain is the tenant (SIP domain) the principal acts in: the domain of
// User for user keys, the bound domain of a tenant admin or PBX key. It is
// empty only for operator keys, which act across every served domain. PBX
// marks a dialplan key: with scope lookup it may resolve numbers for any
// callee of Domain, including that callee's personal contacts.
type Principal struct {
	User   string
	Admin  bool
	Domain string
	PBX    bool
	Scopes []Scope
}

// Has reports whether p holds scope s. company:write implies company:read.
func (p Principal) Has(s Scope) bool {
	if slices.Contains(p.Scopes, s) {
		return true
	}
	return s == ScopeCompanyRead && slices.Contains(p.Scopes, ScopeCompanyWrite)
}

// domain returns the SIP domain of p.User, or "".
func (p Principal) domain() string {
	_, d, ok := splitAOR(p.User)
	if !ok {
		return ""
	}
	return d
}

// canSee reports whether p may read c. Personal contacts are visible only
// to their owner; company contacts need company:read; team contacts are
// visible to users of the same domain and to users:admin principals.
func (p Principal) canSee(c *Contact) bool {
	switch c.Kind {
	case KindPersonal:
		return p.User != "" && c.Owner == p.User && p.Has(ScopePersonal)
	case KindCompany:
		return p.Has(ScopeCompanyRead)
	case KindTeam:
		return (p.User != "" && p.domain() == c.Domain) || p.Has(ScopeUsersAdmin)
	}
	return false
}

// hidden reports whether a contact p cannot see must be reported as
// ErrNotFound rather than ErrForbidden, so that its existence does not leak.
func (p Principal) hidden(c *Contact) bool {
	return c.Kind != KindCompany
}
