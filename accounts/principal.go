package accounts

import (
	"slices"
	"strings"
)

// Scope is a permission granted to a Principal.
type Scope string

// Scopes a Principal may hold; the directory and the API check them.
const (
	// ScopePersonal lets a user read and edit their own personal contacts,
	// marks and groups, and read team contacts of their domain.
	ScopePersonal Scope = "contacts:personal"
	// ScopeCompanyRead lets a principal read company contacts of its
	// tenant.
	ScopeCompanyRead Scope = "company:read"
	// ScopeCompanyWrite lets a principal create, change and delete company
	// contacts of its tenant (and implies reading them).
	ScopeCompanyWrite Scope = "company:write"
	// ScopeUsersAdmin lets a principal provision and delete PBX users of
	// its tenant and manage its shared groups.
	ScopeUsersAdmin Scope = "users:admin"
	// ScopeLookup lets a principal resolve numbers for caller ID.
	ScopeLookup Scope = "lookup"
)

// Principal is the caller of a directory or API operation: what an API
// key acts as (KeyInfo.Principal).
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
//
// The tenant rules: company contacts, shared groups, team contacts and
// users belong to one domain, and a principal reads and writes only those
// of its tenant (Tenant); an operator key reaches every domain.
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

// Tenant returns the lower-case domain p acts in: the domain of p.User
// for a user key (whatever Domain says), else Domain. It is empty only for
// an operator key.
func (p Principal) Tenant() string {
	if p.User != "" {
		return p.domain()
	}
	return strings.ToLower(strings.TrimSpace(p.Domain))
}

// Operator reports whether p is an operator key, acting on every domain.
func (p Principal) Operator() bool { return p.Tenant() == "" }

// InTenant reports whether p may act on data of domain d: d is p's tenant,
// or p is an operator key.
func (p Principal) InTenant(d string) bool {
	t := p.Tenant()
	return t == "" || strings.EqualFold(t, strings.TrimSpace(d))
}

// PBXFor reports whether p is a PBX key of callee's domain: the one
// non-owner principal that resolves a callee's personal contacts.
func (p Principal) PBXFor(domain string) bool {
	return p.PBX && p.User == "" && p.Tenant() != "" && strings.EqualFold(p.Tenant(), domain) && p.Has(ScopeLookup)
}

// domain returns the lower-case SIP domain of p.User, or "".
func (p Principal) domain() string {
	_, d, ok := SplitAOR(p.User)
	if !ok {
		return ""
	}
	return strings.ToLower(d)
}
