package directory

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/accounts"
)

// What a Principal (accounts) may see and write of the directory: the
// rules that need contact kinds, so they live here rather than with the
// Principal.

// tenantFor returns the domain a company contact or shared group p
// creates belongs to: p's tenant, or for an operator key the domain it
// names (required then). A tenant principal naming another domain is
// refused with ErrForbidden. served, when not empty, lists the domains
// that exist.
func tenantFor(p accounts.Principal, requested string, served []string) (string, error) {
	requested = strings.ToLower(strings.TrimSpace(requested))
	t := p.Tenant()
	switch {
	case t != "" && requested != "" && requested != t:
		return "", fmt.Errorf("domain %s is not this key's domain %s: %w", requested, t, ErrForbidden)
	case t != "":
		return t, nil
	case requested == "":
		return "", &FieldError{Field: "domain", Reason: "an operator key must name the domain (tenant) to write in"}
	case len(served) > 0 && !slices.Contains(served, requested):
		return "", &FieldError{Field: "domain", Reason: fmt.Sprintf("%q is not a served domain", requested)}
	}
	return requested, nil
}

// canSee reports whether p may read c. Personal contacts are visible only
// to their owner; company contacts need company:read and p's tenant; team
// contacts are visible to users of their domain and to users:admin
// principals of that tenant.
func canSee(p accounts.Principal, c *Contact) bool {
	switch c.Kind {
	case KindPersonal:
		return p.User != "" && c.Owner == p.User && p.Has(accounts.ScopePersonal)
	case KindCompany:
		return p.Has(accounts.ScopeCompanyRead) && p.InTenant(c.Domain)
	case KindTeam:
		// For a user key, Tenant is the domain of p.User.
		return (p.User != "" && strings.EqualFold(p.Tenant(), c.Domain)) || (p.Has(accounts.ScopeUsersAdmin) && p.InTenant(c.Domain))
	}
	return false
}

// hidden reports whether a contact p cannot see must be reported as
// ErrNotFound rather than ErrForbidden, so that its existence does not
// leak: everything but a company contact of p's own tenant.
func hidden(p accounts.Principal, c *Contact) bool {
	return c.Kind != KindCompany || !p.InTenant(c.Domain)
}
