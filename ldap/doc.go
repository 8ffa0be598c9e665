// Package ldap serves the contacts directory to desk phones over read-only
// LDAPv3 (RFC 4511): plain LDAP with StartTLS (RFC 4513 §3) and LDAPS, on
// top of github.com/jimlambrt/gldap.
//
// Each served SIP domain is a naming context: pbx.example.com is
// dc=pbx,dc=example,dc=com, and every contact the bound principal may see
// in that domain is one inetOrgPerson entry directly below it,
// uid=<contact id>,dc=pbx,dc=example,dc=com, carrying all of its numbers.
//
// A simple bind names a user (201@pbx.example.com, or the DN
// uid=201,ou=users,dc=pbx,dc=example,dc=com) with one of the user's API
// keys as password; a tenant admin or operator key binds with the domain
// (or its base DN) as name. The bound key's accounts.Principal is handed
// to directory.Service.Search for every search, so LDAP shows exactly what
// the HTTP API shows that key: the owner's personal contacts, the domain's
// company and team contacts, never another user's personal ones. The key
// is resolved again on every search, so a revoked key stops working within
// directory.KeyCacheTTL even on an open connection. Anonymous searches see
// the company contacts of the domains listed in Config.Anonymous, nothing
// elsewhere.
//
// Filters (equality, substring, presence, and/or/not, >= and <=) are
// evaluated here on the entries Search returns; a name filter narrows the
// Search first. Number attributes match the way caller ID does: both sides
// are normalized with directory/phone for the domain's region, so
// (telephoneNumber=+1 415 555 0132) finds a contact stored as
// (415) 555-0132.
//
// The package is an edge like api: it imports directory and
// directory/phone, never events, Redis or NATS.
package ldap
