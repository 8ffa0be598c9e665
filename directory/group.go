package directory

import "strings"

// Built-in groups every user has. Their IDs equal their names.
const (
	GroupFavorite = "favorite"
	GroupVIP      = "vip"
	GroupBlocked  = "blocked"
)

// Group is a named set of contacts. Built-in groups (favorite, vip,
// blocked) have Builtin set; own groups have Owner set to the user's AOR;
// shared groups are defined by an administrator for a whole SIP domain and
// have Domain set.
type Group struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Owner   string `json:"owner,omitempty"`
	Domain  string `json:"domain,omitempty"`
	Builtin bool   `json:"builtin,omitempty"`
}

// Shared reports whether g is a domain-wide shared group.
func (g Group) Shared() bool { return g.Domain != "" }

var builtinGroups = []Group{
	{ID: GroupFavorite, Name: "Favorite", Builtin: true},
	{ID: GroupVIP, Name: "VIP", Builtin: true},
	{ID: GroupBlocked, Name: "Blocked", Builtin: true},
}

func isBuiltin(id string) bool {
	return id == GroupFavorite || id == GroupVIP || id == GroupBlocked
}

// ownGroupID and sharedGroupID build the IDs of own and shared groups.
func ownGroupID(owner, name string) string { return "own:" + owner + ":" + groupSlug(name) }

func sharedGroupID(domain, name string) string { return "shared:" + domain + ":" + groupSlug(name) }

func groupSlug(name string) string { return strings.Join(strings.Fields(fold(name)), "-") }

// sharedOwner is the mark owner under which shared group membership of a
// domain is stored.
func sharedOwner(domain string) string { return "@" + domain }

// Mark is the set of groups one owner put one contact in. Owner is a user
// AOR, or "@domain" for the membership of a domain's shared groups.
type Mark struct {
	Owner     string   `json:"owner"`
	ContactID string   `json:"contact_id"`
	Groups    []string `json:"groups"`
}
