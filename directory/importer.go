package directory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/accounts"
)

// DupPolicy says what an import does with a row duplicating an existing
// contact or an earlier row: same normalized name and a number with the
// same digits.
type DupPolicy string

// Duplicate policies.
const (
	DupSkip   DupPolicy = "skip"   // keep the existing contact, count the row as skipped
	DupUpdate DupPolicy = "update" // update the existing contact with the fields the row carries
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
// row; Skips lists duplicate rows skipped under DupSkip. CreatedGroups
// names, in order of first use, the own groups the import created (or, in
// a dry run, would create) because a row named a group the user did not
// have.
type ImportReport struct {
	Imported      int        `json:"imported"`
	Updated       int        `json:"updated"`
	Skipped       int        `json:"skipped"`
	Errors        []RowError `json:"errors,omitempty"`
	Skips         []RowError `json:"skips,omitempty"`
	CreatedGroups []string   `json:"created_groups,omitempty"`
	DryRun        bool       `json:"dry_run"`
	// ErrorsOmitted and SkipsOmitted count the rows beyond the first
	// MaxReportRows of Errors and Skips.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
	SkipsOmitted  int `json:"skips_omitted,omitempty"`
}

// importRow is one parsed record. fieldCols maps Contact.Validate field
// paths to the input column that produced them; phoneCols and emailCols
// hold the columns of c.Phones[i] and c.Emails[i] (kept as slices: a
// map and formatted keys per row cost an import more than the rest of
// reading its row).
type importRow struct {
	line      int
	c         Contact
	groups    []string // group names as written
	fieldCols map[string]string
	baseCols  map[string]string // more of fieldCols, shared by every row (read only)
	phoneCols []string
	emailCols []string
	// present holds the CSV columns of the file: an update changes only
	// the fields they carry. nil (a vCard) carries every field.
	present map[string]bool
	// groupsGiven: the input carries the contact's groups (a groups
	// column, CATEGORIES), so an update replaces them.
	groupsGiven bool
	// keys are the row's duplicate keys and stored what the directory
	// held under each when the row was read (see prefetchDups): nil when
	// it held none.
	keys   []string
	stored []storedDup
}

// storedDup is a stored contact found under a duplicate key, if ok.
type storedDup struct {
	c  Contact
	ok bool
}

// merged returns the stored contact old updated with the fields r
// carries (see CSVHeader): absent columns keep old's values.
func (r *importRow) merged(old Contact) Contact {
	if r.present == nil {
		return r.c
	}
	c, n := cloneContact(old), r.c
	for _, f := range []struct {
		col      string
		dst, src *string
	}{
		{"first_name", &c.FirstName, &n.FirstName}, {"last_name", &c.LastName, &n.LastName},
		{"company", &c.Company, &n.Company}, {"department", &c.Department, &n.Department},
		{"job_title", &c.JobTitle, &n.JobTitle}, {"notes", &c.Notes, &n.Notes},
		{"street", &c.Address.Street, &n.Address.Street}, {"city", &c.Address.City, &n.Address.City},
		{"region", &c.Address.Region, &n.Address.Region}, {"postal_code", &c.Address.PostalCode, &n.Address.PostalCode},
		{"country", &c.Address.Country, &n.Address.Country},
	} {
		if r.present[f.col] {
			*f.dst = *f.src
		}
	}
	// Phones by type, in column order: a present column replaces the
	// numbers of its type.
	var phones []Phone
	for _, t := range phoneTypes {
		from := old.Phones
		if r.present["phone_"+string(t)] {
			from = n.Phones
		}
		for _, ph := range from {
			if ph.Type == t {
				phones = append(phones, ph)
			}
		}
	}
	c.Phones = phones
	// email holds the first address, email2 the others; the row's own
	// addresses came from email first, then email2.
	var oldFirst, oldRest, newFirst, newRest []string
	if len(old.Emails) > 0 {
		oldFirst, oldRest = old.Emails[:1], old.Emails[1:]
	}
	for i, e := range n.Emails {
		if i < len(r.emailCols) && r.emailCols[i] == "email" {
			newFirst = append(newFirst, e)
		} else {
			newRest = append(newRest, e)
		}
	}
	if r.present["email"] {
		oldFirst = newFirst
	}
	if r.present["email2"] {
		oldRest = newRest
	}
	c.Emails = append(slices.Clone(oldFirst), oldRest...)
	return c
}

func (r *importRow) column(field string) string {
	if i, ok := fieldIndex(field, "phones[", "].number"); ok && i < len(r.phoneCols) {
		return r.phoneCols[i]
	}
	if i, ok := fieldIndex(field, "emails[", "]"); ok && i < len(r.emailCols) {
		return r.emailCols[i]
	}
	if c, ok := r.fieldCols[field]; ok {
		return c
	}
	if c, ok := r.baseCols[field]; ok {
		return c
	}
	return field
}

// fieldIndex returns i when field is prefix + i + suffix.
func fieldIndex(field, prefix, suffix string) (int, bool) {
	rest, ok := strings.CutPrefix(field, prefix)
	if !ok {
		return 0, false
	}
	if rest, ok = strings.CutSuffix(rest, suffix); !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0
}

// dupKeys returns the duplicate keys of c: normalized name plus the digits
// of each number.
func dupKeys(c *Contact) []string {
	if len(c.Phones) == 0 {
		return nil
	}
	name := dupName(c)
	out := make([]string, 0, len(c.Phones))
	for _, p := range c.Phones {
		out = append(out, name+"|"+Digits(p.Number))
	}
	return out
}

// dupName is the name part of c's duplicate keys: its normalized first
// and last name, or its company when it has no name.
func dupName(c *Contact) string {
	name := joinWords(c.FirstName, c.LastName)
	if name == "" {
		name = joinWords(c.Company, "")
	}
	return name
}

// joinWords returns strings.Join(words(a+" "+b), " "), for ASCII text in
// one pass and one allocation (an import names every row this way).
func joinWords(a, b string) string {
	var buf [128]byte
	out, gap := buf[:0], false
	for _, s := range [2]string{a, b} {
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= utf8.RuneSelf:
				return strings.Join(words(a+" "+b), " ")
			case isASCIIAlnum(c):
				if gap && len(out) > 0 {
					out = append(out, ' ')
				}
				gap = false
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				out = append(out, c)
			default:
				gap = true
			}
		}
		gap = true
	}
	return string(out)
}

// findDup returns the oldest stored contact in scope having key, trying
// the keys in order. Call with s.mu held.
func (s *Service) findDup(scope string, keys []string) (Contact, bool) {
	for _, k := range keys {
		first, more, ok := s.dups.candidates(scope, k)
		if !ok {
			continue
		}
		for _, h := range append([]uint64{first}, more...) {
			// A hash collision or a stale entry names a contact without
			// the key: check it.
			var found Contact
			hit := false
			s.idx.eachWithIDHash(h, func(d *doc) bool {
				c := d.contact(s.idx)
				if dupScope(&c) == scope && hasDupKey(&c, k) {
					found, hit = c, true
				}
				return !hit
			})
			if hit {
				return found, true
			}
		}
	}
	return Contact{}, false
}

// prefetchGroup is how many rows prefetchDups reads ahead.
const prefetchGroup = 64

// prefetchDups returns next with each row prepared by prep and carrying
// its duplicate keys and the stored contacts found under them. It reads
// prefetchGroup rows at a time and looks up the stored duplicates of a
// group in one hold of the read lock: looked up a row at a time, the
// import's own indexing (which takes the write lock every few contacts)
// kept the request's goroutine waiting on the lock for a sixth of an
// import (execution trace), and that goroutine is the import's slowest
// stage. The rows this import writes are found through its own targets,
// which the caller checks first, so reading the store a group ahead
// sees what a row at a time would, except other writers' last changes.
func (s *Service) prefetchDups(next rowSource, scope string, prep func(*importRow)) rowSource {
	group := make([]*importRow, 0, prefetchGroup)
	pos, eof := 0, false
	return func() (*importRow, error) {
		if pos == len(group) && !eof {
			group, pos = group[:0], 0
			for len(group) < prefetchGroup {
				r, err := next()
				if err != nil {
					return nil, err
				}
				if r == nil {
					eof = true
					break
				}
				prep(r)
				r.keys = dupKeys(&r.c)
				group = append(group, r)
			}
			s.mu.RLock()
			for _, r := range group {
				for j, k := range r.keys {
					if c, ok := s.findDup(scope, []string{k}); ok {
						if r.stored == nil {
							r.stored = make([]storedDup, len(r.keys))
						}
						r.stored[j] = storedDup{c, true}
					}
				}
			}
			s.mu.RUnlock()
		}
		if pos == len(group) {
			return nil, nil
		}
		r := group[pos]
		group[pos] = nil
		pos++
		return r, nil
	}
}

// rowSource returns the next parsed row of an import, or nil at the end.
// Rejected input records never reach the importer: the source reports
// them itself.
type rowSource func() (*importRow, error)

// sliceRows returns the rowSource of rows.
func sliceRows(rows []importRow) rowSource {
	i := 0
	return func() (*importRow, error) {
		if i == len(rows) {
			return nil, nil
		}
		i++
		return &rows[i-1], nil
	}
}

// importBatch is how many rows an import writes per store batch: one
// bolt transaction and fsync, one Redis pipeline and log entry. Readers
// wait only for applyChunk contacts at a time, whatever the batch size;
// 500-row batches spent 40% of an import's wall time in bolt's fsync.
const importBatch = 2000

// importRows validates rows and writes the valid ones as contacts of kind
// owned by p, in batches, reporting into rep. It reads the directory
// without holding any lock across store I/O and takes the writer lock per
// batch only, so other writers interleave and readers never wait on it.
func (s *Service) importRows(ctx context.Context, p accounts.Principal, kind Kind, next rowSource, opts ImportOptions, rep *ImportReport) error {
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

	// Stored contacts are found through s.dups, in one lookup per number;
	// the rows this import created or updated, and the stored contacts it
	// found, through tg.
	tg := newImportTargets()
	scope := dupScope(&Contact{Kind: kind, Domain: domain, Owner: p.User})
	find := func(r *importRow) int32 {
		for j, k := range r.keys {
			if i, ok := tg.withKey(k); ok {
				return i
			}
			if j >= len(r.stored) || !r.stored[j].ok {
				continue
			}
			c := r.stored[j].c
			if i, ok := tg.withID(c.ID); ok {
				return i
			}
			return tg.add(&c, 0, -1, dupKeys(&c))
		}
		return -1
	}
	next = s.prefetchDups(next, scope, func(r *importRow) {
		r.c.Kind, r.c.Domain = kind, domain
		r.c.normalize()
	})
	ownGroups := map[string]bool{} // IDs of p's own groups
	s.mu.RLock()
	for id, g := range s.groups {
		if p.User != "" && g.Owner == p.User {
			ownGroups[id] = true
		}
	}
	room := s.personalRoomLocked(p.User) // personal quota, counted down per created row
	s.mu.RUnlock()
	now := s.now().UTC()
	var (
		b       Batch
		bkeys   [][]string // the duplicate keys of b.Contacts
		marks   = map[string][]string{}
		touched []int32 // targets with batch >= 0
	)
	var w *batchWriter
	if !opts.DryRun {
		w = s.startBatchWriter(ctx, p.User)
		defer func() { _ = w.close() }() // on an early return; the error is the one already returned
	}
	flush := func() error {
		for id, groups := range marks {
			b.Marks = append(b.Marks, Mark{Owner: p.User, ContactID: id, Groups: groups})
		}
		if w != nil {
			// The writer prepares the contacts for the index (see
			// startBatchWriter); their duplicate keys are known here.
			b.prep = make([]prepared, len(b.Contacts))
			for i := range b.Contacts {
				b.prep[i].keys, b.prep[i].haveKeys = bkeys[i], true
			}
			if err := w.send(b); err != nil {
				return err
			}
		}
		b, marks = Batch{Contacts: make([]ContactWrite, 0, importBatch)}, map[string][]string{}
		bkeys = make([][]string, 0, importBatch)
		// Targets written by the flushed batch are stored contacts now
		// (or will be before the next batch is written: the writer
		// commits in order and stops at the first failure).
		for _, i := range touched {
			tg.ts[i].batch = -1
		}
		touched = touched[:0]
		return nil
	}
	var y yielder
	for {
		r, err := next()
		if err != nil {
			return err
		}
		if r == nil {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// An import is CPU-bound for seconds: on two cores it would
		// hold a processor until preempted (10 ms) while the GC takes
		// the other, and caller-ID lookups would wait that long.
		y.maybe()
		if err := r.c.Validate(); err != nil {
			fe := err.(*FieldError)
			rep.reject(RowError{Line: r.line, Column: r.column(fe.Field), Reason: fe.Reason})
			continue
		}
		keys := r.keys
		di := find(r)
		isDup := di >= 0
		var dup Contact // the contact as this import found or left it
		if isDup {
			dup = tg.contact(di)
		}
		if isDup && opts.OnDuplicate == DupSkip {
			rep.Skipped++
			what := "an existing contact"
			if line := tg.ts[di].line; line > 0 {
				what = fmt.Sprintf("line %d", line)
			}
			rep.skip(RowError{Line: r.line, Reason: "duplicate of " + what})
			continue
		}
		if !isDup && kind == KindPersonal && room <= 0 {
			rep.reject(RowError{Line: r.line, Reason: s.quotaReason()})
			continue
		}
		groupIDs, created, rerr := importGroups(p, r.groups, ownGroups)
		if rerr != "" {
			rep.reject(RowError{Line: r.line, Column: "groups", Reason: rerr})
			continue
		}
		c := r.c
		if isDup {
			c = r.merged(dup)
			c.normalize()
			if err := c.Validate(); err != nil {
				fe := err.(*FieldError)
				rep.reject(RowError{Line: r.line, Column: r.column(fe.Field), Reason: "updated contact: " + fe.Reason})
				continue
			}
		}
		// The row is accepted: only now may its new groups exist.
		for _, g := range created {
			b.Groups = append(b.Groups, g)
			ownGroups[g.ID] = true
			rep.CreatedGroups = append(rep.CreatedGroups, g.Name)
		}
		if isDup {
			c.ID, c.Owner, c.Created = dup.ID, dup.Owner, dup.Created
			c.Updated, c.Version = now, dup.Version+1
			ckeys := dupKeys(&c)
			if t := &tg.ts[di]; t.batch >= 0 {
				c.Version = dup.Version
				b.Contacts[t.batch].Contact = c
				bkeys[t.batch] = ckeys
			} else {
				b.Contacts = append(b.Contacts, ContactWrite{Contact: c, Expected: dup.Version})
				bkeys = append(bkeys, ckeys)
				t.batch = int32(len(b.Contacts) - 1)
				touched = append(touched, di)
			}
			tg.set(di, &c, ckeys)
			rep.Updated++
		} else {
			c.ID = newID()
			if kind == KindPersonal {
				c.Owner = p.User
				room--
			}
			c.Created, c.Updated, c.Version = now, now, 1
			b.Contacts = append(b.Contacts, ContactWrite{Contact: c, fresh: true})
			bkeys = append(bkeys, keys)
			// c's keys are r.c's: they differ in ID and times only.
			touched = append(touched, tg.add(&c, r.line, len(b.Contacts)-1, keys))
			rep.Imported++
		}
		// An update replaces the groups when the input carries them; a
		// new contact starts with the row's.
		replace := isDup && r.groupsGiven && p.User != ""
		if len(groupIDs) > 0 || replace {
			cur, ok := marks[c.ID]
			if !ok {
				s.mu.RLock()
				cur = slices.Clone(s.marks[p.User][c.ID])
				s.mu.RUnlock()
			}
			next := sortedMarkGroups(append(cur, groupIDs...))
			if replace {
				next = sortedMarkGroups(groupIDs)
			}
			if ok || !slices.Equal(next, sortedMarkGroups(cur)) {
				marks[c.ID] = next
			}
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
	if w != nil {
		if err := w.close(); err != nil {
			return err
		}
	}
	slices.SortStableFunc(rep.Errors, func(a, b RowError) int { return a.Line - b.Line })
	return nil
}

// batchWriter commits an import's batches in order, in two stages on
// their own goroutines: one prepares each batch's index entries and
// writes it to the store, the next applies it in memory, so that
// validating batch N+2, storing N+1 and indexing N overlap, and indexing
// overlaps delivering the events of the batch before (see emitter). At
// most one batch waits at each stage.
type batchWriter struct {
	batches chan Batch
	done    chan struct{} // closed when both stages have returned
	err     error         // the first store error; read after done
	once    sync.Once
}

func (s *Service) startBatchWriter(ctx context.Context, actor string) *batchWriter {
	w := &batchWriter{batches: make(chan Batch, 1), done: make(chan struct{})}
	type stored struct {
		b Batch
		w written
	}
	toApply := make(chan stored, 1)
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		// The observer takes a batch's events while the next batch is
		// indexed; at most one batch is being delivered.
		prev := delivered
		defer func() { <-prev }()
		for st := range toApply {
			done := s.applyQueued(ctx, &st.b, st.w)
			<-prev
			prev = done
		}
	}()
	go func() {
		defer close(w.done)
		defer func() { <-applied }()
		defer close(toApply)
		for b := range w.batches {
			// Preparing the index entries here rather than in the
			// request's goroutine, which validates the next batch
			// meanwhile, spreads an import over the cores: this stage
			// otherwise mostly waits for bolt's fsync.
			for i := range b.prep {
				prepare(&b.Contacts[i].Contact, &b.prep[i])
			}
			s.wmu.Lock()
			wr, err := s.writeQueued(ctx, &b, actor)
			s.wmu.Unlock()
			if err != nil {
				w.err = fmt.Errorf("import: %w", err)
				return
			}
			if !wr.empty {
				toApply <- stored{b, wr}
			}
		}
	}()
	return w
}

// send queues b, or returns the error that stopped the writer.
func (w *batchWriter) send(b Batch) error {
	select {
	case <-w.done:
		return w.err
	case w.batches <- b:
		return nil
	}
}

// close waits until every queued batch is committed and returns the
// first error. It may be called more than once.
func (w *batchWriter) close() error {
	w.once.Do(func() { close(w.batches) })
	<-w.done
	return w.err
}

// importGroups resolves the group names of a row to group IDs. Names of
// own groups p does not have (own holds the IDs of those it has) come
// back in created, for the caller to create once the row is accepted. It
// returns a reason when the row must be rejected.
func importGroups(p accounts.Principal, names []string, own map[string]bool) (ids []string, created []Group, reason string) {
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return strings.TrimSpace(n) == "" })
	if len(names) == 0 {
		return nil, nil, ""
	}
	if p.User == "" {
		return nil, nil, "groups need a user principal"
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if slug := groupSlug(n); isBuiltin(slug) { // the same rule as CreateGroup
			ids = append(ids, slug)
			continue
		}
		// IDs, not names, identify a group: "Golf Club" and "golf  club"
		// are one group, as CreateGroup sees them.
		id := ownGroupID(p.User, n)
		if !own[id] && !slices.ContainsFunc(created, func(g Group) bool { return g.ID == id }) {
			if fe := checkGroupName(n); fe != nil {
				return nil, nil, fmt.Sprintf("invalid group name %q: %s", n, fe.Reason)
			}
			if len(own)+len(created) >= MaxGroupsPerOwner {
				return nil, nil, fmt.Sprintf("group limit of %d reached; %q not created", MaxGroupsPerOwner, n)
			}
			created = append(created, Group{ID: id, Name: n, Owner: p.User})
		}
		ids = append(ids, id)
	}
	if slices.Contains(ids, GroupBlocked) && (slices.Contains(ids, GroupFavorite) || slices.Contains(ids, GroupVIP)) {
		return nil, nil, "a contact cannot be both blocked and favorite or VIP"
	}
	return ids, created, ""
}
