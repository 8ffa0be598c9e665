package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

const importBatch = 2000

// importRows validates rows and writes the valid ones as contacts of kind
// owned by p, in batches, reporting into rep.
// The caller emits the returned events once the lock is released.
func (s *Service) importRows(ctx context.Context, p Principal, kind Kind, rows []importRow, opts ImportOptions, rep *ImportReport) ([]ChangeEvent, error) {
	if opts.OnDuplicate == "" {
		opts.OnDuplicate = DupSkip
	}
	rep.DryRun = opts.DryRun
	domain := ""
	if kind == KindCompany {
		var err error
		if domain, err = p.tenantFor(opts.Domain, s.cfg.Domains); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()

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
	for _, d := range s.idx.docs {
		if d.alive && d.c.Kind == kind && (kind != KindPersonal || d.c.Owner == p.User) && (kind != KindCompany || d.c.Domain == domain) {
			add(&target{c: d.c, batch: -1})
		}
	}
	ownGroups := map[string]string{} // folded name → ID
	for id, g := range s.groups {
		if p.User != "" && g.Owner == p.User {
			ownGroups[fold(g.Name)] = id
		}
	}
	now := s.now().UTC()
	var (
		b       Batch
		events  []ChangeEvent
		marks   = map[string][]string{}
		touched []*target // targets with batch >= 0
		done    int       // events of committed batches
	)
	flush := func() error {
		for id, groups := range marks {
			b.Marks = append(b.Marks, Mark{Owner: p.User, ContactID: id, Groups: groups})
		}
		if !opts.DryRun {
			if err := s.commit(ctx, b); err != nil {
				return fmt.Errorf("import: %w", err)
			}
		}
		b, marks, done = Batch{}, map[string][]string{}, len(events)
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
			return events[:done], err
		}
		r.c.Kind, r.c.Domain = kind, domain
		r.c.normalize()
		if err := r.c.Validate(); err != nil {
			fe := err.(*FieldError)
			rep.Errors = append(rep.Errors, RowError{Line: r.line, Column: r.column(fe.Field), Reason: fe.Reason})
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
			rep.Skips = append(rep.Skips, RowError{Line: r.line, Reason: "duplicate of " + what})
			continue
		}
		groupIDs, rerr := s.importGroupsLocked(p, r.groups, ownGroups, &b)
		if rerr != "" {
			rep.Errors = append(rep.Errors, RowError{Line: r.line, Column: "groups", Reason: rerr})
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
			events = append(events, ChangeEvent{Op: ChangeUpdated, Contact: c, Actor: p.User})
		} else {
			c.ID = newID()
			if kind == KindPersonal {
				c.Owner = p.User
			}
			c.Created, c.Updated, c.Version = now, now, 1
			b.Contacts = append(b.Contacts, ContactWrite{Contact: c})
			t := &target{c: c, line: r.line, batch: len(b.Contacts) - 1}
			touched = append(touched, t)
			add(t)
			rep.Imported++
			events = append(events, ChangeEvent{Op: ChangeCreated, Contact: c, Actor: p.User})
		}
		if len(groupIDs) > 0 {
			marks[c.ID] = sortedMarkGroups(append(slices.Clone(s.marks[p.User][c.ID]), groupIDs...))
		}
		if len(b.Contacts) >= importBatch {
			if err := flush(); err != nil {
				return events[:done], err
			}
		}
	}
	if err := flush(); err != nil {
		return events[:done], err
	}
	slices.SortStableFunc(rep.Errors, func(a, b RowError) int { return a.Line - b.Line })
	if opts.DryRun {
		return nil, nil
	}
	return events, nil
}

// importGroupsLocked resolves the group names of a row to group IDs,
// queuing creation of missing own groups into b. It returns a reason when
// the row must be rejected.
func (s *Service) importGroupsLocked(p Principal, names []string, own map[string]string, b *Batch) ([]string, string) {
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
		switch f := fold(n); f {
		case GroupFavorite, GroupVIP, GroupBlocked:
			ids = append(ids, f)
		default:
			id, ok := own[f]
			if !ok {
				g := Group{ID: ownGroupID(p.User, n), Name: n, Owner: p.User}
				if groupSlug(n) == "" {
					return nil, fmt.Sprintf("invalid group name %q", n)
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
