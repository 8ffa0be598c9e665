package directory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/switchboardhq/switchboard/accounts"
)

// Dependents is what deleting a user would take with it.
type Dependents struct {
	// MarkedBy counts the users who marked the user's team contact.
	MarkedBy int `json:"marked_by"`
	// SharedGroups lists the shared groups holding the team contact.
	SharedGroups []string `json:"shared_groups,omitempty"`
	// PersonalContacts counts the user's own personal contacts.
	PersonalContacts int `json:"personal_contacts"`
	// OwnGroups counts the user's own named groups.
	OwnGroups int `json:"own_groups"`
}

func requireUsersAdmin(p accounts.Principal) error {
	if !p.Has(accounts.ScopeUsersAdmin) {
		return fmt.Errorf("user management needs scope %s: %w", accounts.ScopeUsersAdmin, ErrForbidden)
	}
	return nil
}

// ProvisionUser creates or updates PBX user u and its team contact. It
// needs users:admin.
func (s *Service) ProvisionUser(ctx context.Context, p accounts.Principal, u accounts.User) (accounts.User, error) {
	if err := requireUsersAdmin(p); err != nil {
		return accounts.User{}, err
	}
	u.Extension, u.Domain = strings.TrimSpace(u.Extension), strings.ToLower(strings.TrimSpace(u.Domain))
	u.FirstName, u.LastName = strings.TrimSpace(u.FirstName), strings.TrimSpace(u.LastName)
	u.Email, u.Department, u.JobTitle = strings.TrimSpace(u.Email), strings.TrimSpace(u.Department), strings.TrimSpace(u.JobTitle)
	u.DID, u.Mobile = strings.TrimSpace(u.DID), strings.TrimSpace(u.Mobile)
	if err := u.Validate(); err != nil {
		return accounts.User{}, err
	}
	if err := checkUserNumbers(u); err != nil {
		return accounts.User{}, err
	}
	if err := s.checkServedDomain(u.Domain); err != nil {
		return accounts.User{}, err
	}
	if !p.InTenant(u.Domain) {
		return accounts.User{}, fmt.Errorf("provision user %s: not in this key's domain %s: %w", u.AOR(), p.Tenant(), ErrForbidden)
	}
	password, webPassword := u.SIPPassword, u.WebPassword
	u.SIPPassword, u.Digest, u.WebPassword, u.Web = "", nil, "", nil
	if err := accounts.CheckSIPPassword(password); err != nil {
		return accounts.User{}, err
	}
	if u.Admin && !p.Has(accounts.ScopeCompanyWrite) {
		return accounts.User{}, fmt.Errorf("provision user %s: making a user an administrator needs scopes %s and %s: %w",
			u.AOR(), accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite, ErrForbidden)
	}
	var web *accounts.WebCredential
	if webPassword != "" {
		if err := accounts.CheckWebPassword("web_password", webPassword); err != nil {
			return accounts.User{}, err
		}
		// Hashed before taking the write lock: argon2id takes tens of
		// milliseconds that other writers must not wait for.
		var err error
		if web, err = accounts.NewWebCredential(webPassword, s.now().UTC()); err != nil {
			return accounts.User{}, err
		}
	}
	now := s.now().UTC()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	u.Created, u.Updated = now, now
	tc := teamContactOf(u)
	tc.Created, tc.Updated, tc.Version = now, now, 1
	var expected uint64
	s.mu.RLock()
	if old, ok := s.users[u.AOR()]; ok {
		u.Created, u.Digest, u.Web = old.Created, old.Digest, old.Web
	}
	if d, ok := s.idx.get(tc.ID); ok {
		dc := d.contact(s.idx)
		tc.Created, expected, tc.Version = dc.Created, dc.Version, dc.Version+1
	}
	s.mu.RUnlock()
	if password != "" {
		u.Digest = accounts.NewDigest(u.Extension, u.Domain, password, now)
	}
	if web != nil {
		u.Web = web
	}
	err := s.commit(ctx, Batch{Users: []accounts.User{u}, Contacts: []ContactWrite{{Contact: tc, Expected: expected}}}, p.User)
	if err != nil {
		return accounts.User{}, fmt.Errorf("provision user %s: %w", u.AOR(), err)
	}
	return u.Public(), nil
}

// GetUser returns the user with address of record aor. It needs
// users:admin.
func (s *Service) GetUser(_ context.Context, p accounts.Principal, aor string) (accounts.User, error) {
	if err := requireUsersAdmin(p); err != nil {
		return accounts.User{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[aor]
	if !ok || !p.InTenant(u.Domain) {
		return accounts.User{}, fmt.Errorf("user %s: %w", aor, ErrNotFound)
	}
	return u.Public(), nil
}

// ListUsers returns every user of p's tenant sorted by AOR. It needs
// users:admin.
func (s *Service) ListUsers(_ context.Context, p accounts.Principal) ([]accounts.User, error) {
	if err := requireUsersAdmin(p); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]accounts.User, 0, len(s.users))
	for _, u := range s.users {
		if p.InTenant(u.Domain) {
			out = append(out, u.Public())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AOR() < out[j].AOR() })
	return out, nil
}

// DeleteUser deletes user aor with its team contact, the marks on that
// contact, and the user's personal contacts, marks and own groups. Without
// confirm it changes nothing and returns the Dependents report with
// ErrConfirmationRequired. It needs users:admin.
func (s *Service) DeleteUser(ctx context.Context, p accounts.Principal, aor string, confirm bool) (Dependents, error) {
	if err := requireUsersAdmin(p); err != nil {
		return Dependents{}, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	dep, b, err := s.userDependents(p, aor)
	if err != nil {
		return Dependents{}, err
	}
	if !confirm {
		return dep, fmt.Errorf("delete user %s: %w", aor, ErrConfirmationRequired)
	}
	if err := s.commit(ctx, b, p.User); err != nil {
		return dep, fmt.Errorf("delete user %s: %w", aor, err)
	}
	return dep, nil
}

// userDependents reports what deleting user aor takes with it, and the
// batch that deletes it all.
func (s *Service) userDependents(p accounts.Principal, aor string) (Dependents, Batch, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u, ok := s.users[aor]; !ok || !p.InTenant(u.Domain) {
		return Dependents{}, Batch{}, fmt.Errorf("user %s: %w", aor, ErrNotFound)
	}
	teamID := TeamContactID(aor)
	var dep Dependents
	b := Batch{DeleteUsers: []string{aor}}
	for owner, m := range s.marks {
		if groups, ok := m[teamID]; ok {
			b.Marks = append(b.Marks, Mark{Owner: owner, ContactID: teamID})
			if strings.HasPrefix(owner, "@") {
				dep.SharedGroups = append(dep.SharedGroups, groups...)
			} else if owner != aor {
				dep.MarkedBy++
			}
		}
	}
	for cid := range s.marks[aor] {
		if cid != teamID {
			b.Marks = append(b.Marks, Mark{Owner: aor, ContactID: cid})
		}
	}
	if d, ok := s.idx.get(teamID); ok {
		b.DeleteContacts = append(b.DeleteContacts, ContactDelete{ID: teamID, Expected: d.contact(s.idx).Version})
	}
	for _, id := range s.idx.owners[aor] {
		if d := s.idx.docs.at(id); d.alive {
			dc := d.contact(s.idx)
			dep.PersonalContacts++
			b.DeleteContacts = append(b.DeleteContacts, ContactDelete{ID: dc.ID, Expected: dc.Version})
			b.Marks = append(b.Marks, s.marksOfContactLocked(dc.ID)...)
		}
	}
	for id, g := range s.groups {
		if g.Owner == aor {
			dep.OwnGroups++
			b.DeleteGroups = append(b.DeleteGroups, id)
		}
	}
	slices.Sort(dep.SharedGroups)
	dep.SharedGroups = slices.Compact(dep.SharedGroups)
	b.Marks = dedupeMarks(b.Marks)
	return dep, b, nil
}

func dedupeMarks(ms []Mark) []Mark {
	seen := map[string]bool{}
	out := ms[:0]
	for _, m := range ms {
		k := markKey(m.Owner, m.ContactID)
		if !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	return out
}

// HA1 returns the stored HA1 of the user with extension user in realm
// (the user's SIP domain, matched exactly as the HA1 was computed over it)
// for algorithm "MD5" (or "") or "SHA-256", case-insensitively. ok is
// false for unknown users, users without SIP credentials and other
// algorithms. It makes *Service a sip/auth Credentials store and never
// fails.
func (s *Service) HA1(_ context.Context, user, realm, algorithm string) (string, bool, error) {
	s.mu.RLock()
	u, found := s.users[user+"@"+realm]
	s.mu.RUnlock()
	if !found || u.Digest == nil {
		return "", false, nil
	}
	h := u.Digest.HA1(algorithm)
	return h, h != "", nil
}

// SetWebPassword sets the web app password of user aor. The user changes
// their own giving current, their present web password (it may be empty
// while they have none); an administrator of the user's domain
// (users:admin) needs no current password. A wrong current password is a
// FieldError on "current".
func (s *Service) SetWebPassword(ctx context.Context, p accounts.Principal, aor, current, password string) error {
	aor = normalAOR(aor)
	admin := p.Has(accounts.ScopeUsersAdmin)
	self := p.User != "" && !p.PBX && strings.EqualFold(p.User, aor)
	s.mu.RLock()
	u, ok := s.users[aor]
	s.mu.RUnlock()
	if !ok || !p.InTenant(u.Domain) || (!self && !admin) {
		if ok && p.InTenant(u.Domain) && p.User != "" {
			return fmt.Errorf("web password of %s: only the user or an administrator sets it: %w", aor, ErrForbidden)
		}
		return fmt.Errorf("user %s: %w", aor, ErrNotFound)
	}
	if err := accounts.CheckWebPassword("password", password); err != nil {
		return err
	}
	if !admin && u.Web != nil && u.Web.Hash != "" && !u.CheckWebPassword(current) {
		return &accounts.FieldError{Field: "current", Reason: "is not the current web password"}
	}
	web, err := accounts.NewWebCredential(password, s.now().UTC())
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	u, ok = s.users[aor]
	s.mu.RUnlock()
	if !ok {
		return fmt.Errorf("user %s: %w", aor, ErrNotFound)
	}
	u.Web, u.Updated = web, web.Updated
	if err := s.commit(ctx, Batch{Users: []accounts.User{u}}, p.User); err != nil {
		return fmt.Errorf("set web password of %s: %w", aor, err)
	}
	return nil
}

// Authenticate checks the web password of user aor ("ext@domain") and
// returns the user (Public). An unknown user, one without a web password
// and a wrong password are all ErrNotFound, and take about the same
// time: the hash is checked against a dummy when there is no user.
func (s *Service) Authenticate(_ context.Context, aor, password string) (accounts.User, error) {
	aor = normalAOR(aor)
	s.mu.RLock()
	u, ok := s.users[aor]
	s.mu.RUnlock()
	if !ok {
		accounts.VerifyNoUser(password)
		return accounts.User{}, fmt.Errorf("sign in %s: wrong user or password: %w", aor, ErrNotFound)
	}
	if !u.CheckWebPassword(password) {
		return accounts.User{}, fmt.Errorf("sign in %s: wrong user or password: %w", aor, ErrNotFound)
	}
	return u.Public(), nil
}

// normalAOR trims aor and lower-cases its domain, as users are keyed.
func normalAOR(aor string) string {
	ext, dom, ok := strings.Cut(strings.TrimSpace(aor), "@")
	if !ok {
		return strings.TrimSpace(aor)
	}
	return strings.TrimSpace(ext) + "@" + strings.ToLower(strings.TrimSpace(dom))
}
