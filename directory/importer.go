package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/accounts"
)

// DupPolicy says what an import does with a row duplicating an existing
// contact or an earlier row: same normalized name and a number with the
// same digits.
type DupPolicy string

// Duplicate policies.
const (
	DupSkip   DupPolicy = "skip"   // keep the existing contact, count the row as skipped
	DupUpdate DupPolicy = "update" // overwrite the existing contact with the row
)

// ImportOptions controls ImportCSV and ImportVCard.
type ImportOptions struct {
	DryRun      bool      // validate and count, write nothing
	OnDuplicate DupPolicy // "" means DupSkip
	// Domain is the tenant of imported company contacts: p's own by
	// default; an operator key must name it.
	Domain string
}

// RowError locates one rejected (or skipped) input row. Line is the
// physical line where the record starts, the header being line 1. Column
// is the CSV column or vCard property at fault, empty for the whole row.
type RowError struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

// ImportReport is the outcome of an import. Errors lists every rejected
// row; Skips lists duplicate rows skipped under DupSkip.
type ImportReport struct {
	Imported int        `json:"imported"`
	Updated  int        `json:"updated"`
	Skipped  int        `json:"skipped"`
	Errors   []RowError `json:"errors,omitempty"`
	Skips    []RowError `json:"skips,omitempty"`
	DryRun   bool       `json:"dry_run"`
	// ErrorsOmitted and SkipsOmitted count the rows beyond the first
	// MaxReportRows of Errors and Skips.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
	SkipsOmitted  int `json:"skips_omitted,omitempty"`
}

// importRow is one parsed record. fieldCols maps Contact.Validate field
// paths to the input column that produced them.
type importRow struct {
	line      int
	c         Contact
	groups    []string // group names as written
	fieldCols map[string]string
}

func (r *importRow) column(field string) string {
	if c, ok := r.fieldCols[field]; ok {
		return c
	}
	return field
}

// dupKeys returns the duplicate keys of c: normalized name plus the digits
// of each number.
func dupKeys(c *Contact) []string {
	name := strings.Join(words(c.FirstName+" "+c.LastName), " ")
	if name == "" {
		name = strings.Join(words(c.Company), " ")
	}
	var out []string
	for _, p := range c.Phones {
		out = append(out, name+"|"+Digits(p.Number))
	}
	return out
}

// importBatch is how many rows an import writes per store batch. Each
// batch is applied in memory in one step, during which readers wait: keep
// it short.
const importBatch = 500

// importRows validates rows and writes the valid ones as contacts of kind
// owned by p, in batches, reporting into rep. It reads the directory
// without holding any lock across store I/O and takes the writer lock per
// batch only, so other writers interleave and readers never wait on it.
func (s *Service) importRows(ctx context.Context, p accounts.Principal, kind Kind, rows []importRow, opts ImportOptions, rep *ImportReport) error {
	if opts.OnDuplicate == "" {
		opts.OnDuplicate = DupSkip
	}
	rep.DryRun = opts.DryRun
	domain := ""
	if kind == KindCompany {
		var err error
		if domain, err = tenantFor(p, opts.Domain, s.cfg.Domains); err != nil {
			return err
		}
	}

	type target struct {
		c     Contact
		line  int // 0 for contacts already stored
		batch int // index into b.Contacts while in the unflushed batch, else -1
	}
	dups := map[string]*target{}
	add := func(t *target) {
		for _, k := range dupKeys(&t.c) {
			if _, ok := dups[k]; !ok {
				dups[k] = t
			}
		}
	}
	ownGroups := map[string]string{} // folded name → ID
	s.mu.RLock()
	if kind == KindPersonal {
		for _, id := range s.idx.owners[p.User] {
			if d := s.idx.docs[id]; d.alive {
				add(&target{c: d.c, batch: -1})
			}
		}
	} else {
		for _, d := range s.idx.docs {
			if d.alive && d.c.Kind == kind && d.c.Domain == domain {
				add(&target{c: d.c, batch: -1})
			}
		}
	}
	for id, g := range s.groups {
		if p.User != "" && g.Owner == p.User {
			ownGroups[fold(g.Name)] = id
		}
	}
	room := s.personalRoomLocked(p.User) // personal quota, counted down per created row
	s.mu.RUnlock()
	now := s.now().UTC()
	var (
		b       Batch
		marks   = map[string][]string{}
		touched []*target // targets with batch >= 0
	)
	flush := func() error {
		for id, groups := range marks {
			b.Marks = append(b.Marks, Mark{Owner: p.User, ContactID: id, Groups: groups})
		}
		if !opts.DryRun {
			s.wmu.Lock()
			err := s.commit(ctx, b, p.User)
			s.wmu.Unlock()
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
		}
		b, marks = Batch{}, map[string][]string{}
		// Targets written by the flushed batch are stored contacts now.
		for _, t := range touched {
			t.batch = -1
		}
		touched = touched[:0]
		return nil
	}
	for i := range rows {
		r := &rows[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		r.c.Kind, r.c.Domain = kind, domain
		r.c.normalize()
		if err := r.c.Validate(); err != nil {
			fe := err.(*FieldError)
			rep.reject(RowError{Line: r.line, Column: r.column(fe.Field), Reason: fe.Reason})
			continue
		}
		var dup *target
		for _, k := range dupKeys(&r.c) {
			if t, ok := dups[k]; ok {
				dup = t
				break
			}
		}
		if dup != nil && opts.OnDuplicate == DupSkip {
			rep.Skipped++
			what := "an existing contact"
			if dup.line > 0 {
				what = fmt.Sprintf("line %d", dup.line)
			}
			rep.skip(RowError{Line: r.line, Reason: "duplicate of " + what})
			continue
		}
		if dup == nil && kind == KindPersonal && room <= 0 {
			rep.reject(RowError{Line: r.line, Reason: s.quotaReason()})
			continue
		}
		groupIDs, rerr := s.importGroups(p, r.groups, ownGroups, &b)
		if rerr != "" {
			rep.reject(RowError{Line: r.line, Column: "groups", Reason: rerr})
			continue
		}
		c := r.c
		if dup != nil {
			c.ID, c.Owner, c.Created = dup.c.ID, dup.c.Owner, dup.c.Created
			c.Updated, c.Version = now, dup.c.Version+1
			if dup.batch >= 0 {
				c.Version = dup.c.Version
				b.Contacts[dup.batch].Contact = c
			} else {
				b.Contacts = append(b.Contacts, ContactWrite{Contact: c, Expected: dup.c.Version})
				dup.batch = len(b.Contacts) - 1
				touched = append(touched, dup)
			}
			dup.c = c
			add(dup)
			rep.Updated++
		} else {
			c.ID = newID()
			if kind == KindPersonal {
				c.Owner = p.User
				room--
			}
			c.Created, c.Updated, c.Version = now, now, 1
			b.Contacts = append(b.Contacts, ContactWrite{Contact: c})
			t := &target{c: c, line: r.line, batch: len(b.Contacts) - 1}
			touched = append(touched, t)
			add(t)
			rep.Imported++
		}
		if len(groupIDs) > 0 {
			cur, ok := marks[c.ID]
			if !ok {
				s.mu.RLock()
				cur = slices.Clone(s.marks[p.User][c.ID])
				s.mu.RUnlock()
			}
			marks[c.ID] = sortedMarkGroups(append(cur, groupIDs...))
		}
		if len(b.Contacts) >= importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	slices.SortStableFunc(rep.Errors, func(a, b RowError) int { return a.Line - b.Line })
	return nil
}

// importGroups resolves the group names of a row to group IDs, queuing
// creation of missing own groups into b. It returns a reason when the row
// must be rejected.
func (s *Service) importGroups(p accounts.Principal, names []string, own map[string]string, b *Batch) ([]string, string) {
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return strings.TrimSpace(n) == "" })
	if len(names) == 0 {
		return nil, ""
	}
	if p.User == "" {
		return nil, "groups need a user principal"
	}
	var ids []string
	for _, n := range names {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		switch f := fold(n); {
		case isBuiltin(groupSlug(n)): // the same rule as CreateGroup
			ids = append(ids, groupSlug(n))
		default:
			id, ok := own[f]
			if !ok {
				g := Group{ID: ownGroupID(p.User, n), Name: n, Owner: p.User}
				if fe := checkGroupName(n); fe != nil {
					return nil, fmt.Sprintf("invalid group name %q: %s", n, fe.Reason)
				}
				if len(own) >= MaxGroupsPerOwner {
					return nil, fmt.Sprintf("group limit of %d reached; %q not created", MaxGroupsPerOwner, n)
				}
				b.Groups = append(b.Groups, g)
				own[f], id = g.ID, g.ID
			}
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if err := markConflict(ids, id); err != nil && (id == GroupBlocked) {
			return nil, "a contact cannot be both blocked and favorite or VIP"
		}
	}
	return ids, ""
}
