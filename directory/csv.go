package directory

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/accounts"
)

// CSVHeader is the CSV template of ExportCSV and ImportCSV, one contact
// per record:
//
//   - phone_* columns hold the numbers of that type; email holds the first
//     address and email2 the others. A cell with several values separates
//     them with " | ".
//   - groups holds the caller's groups of the contact by name (Favorite,
//     VIP, Blocked or an own group), separated by " | ". Import creates a
//     missing own group for an accepted row, within MaxGroupsPerOwner, and
//     lists it in ImportReport.CreatedGroups.
//   - notes may span several lines (quoted, as Excel writes it).
//
// When a row updates an existing contact (ImportOptions.OnDuplicate
// DupUpdate), only the columns the file has change it: a field whose
// column is absent keeps its value (phone_work absent: the work numbers
// stay; email absent: the first address stays), an empty cell in a
// present column clears the field, and a groups cell replaces the
// contact's built-in and own groups (shared groups are not touched).
//
// Import accepts UTF-8 with or without BOM, "," or ";" (or tab) separators
// sniffed from the header line, header names in any case and order, and
// missing columns. Export writes UTF-8 without BOM, "," separated, CRLF
// free. A round trip keeps every field except IDs, times and versions;
// phones come back grouped by type in the column order.
//
// Formula injection (OWASP "CSV Injection"): export prefixes a single
// quote to every cell starting with = + - @ tab or CR, so that a
// spreadsheet shows it as text instead of running it. Phone cells made
// only of valid numbers written without letters ("+44 20 7946 0018", not
// "+1-800-SUM(A1)", a valid vanity number) stay as they are: they hold
// no letters, hence no function or reference a formula could misuse, and
// people paste them into phones. Import removes that one quote again, so a
// round trip is exact; to keep it exact, a cell that already starts with
// quotes before such a character gets one more quote on export.
const CSVHeader = "first_name,last_name,company,department,job_title,phone_work,phone_mobile,phone_home,phone_fax,phone_other,email,email2,street,city,region,postal_code,country,notes,groups"

var csvColumns = strings.Split(CSVHeader, ",")

const multiSep = "|"

// ExportCSV writes p's personal contacts (kind personal) or the company
// contacts (kind company, needs company:read) to w in the CSVHeader
// template, sorted by name.
func (s *Service) ExportCSV(ctx context.Context, p accounts.Principal, kind Kind, w io.Writer) error {
	entries, err := s.exportEntries(ctx, p, kind)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	for _, e := range entries {
		if err := cw.Write(s.csvRecord(e)); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// exportEntries returns the contacts of kind visible to p for export.
func (s *Service) exportEntries(ctx context.Context, p accounts.Principal, kind Kind) ([]Entry, error) {
	switch kind {
	case KindPersonal:
		if p.User == "" || !p.Has(accounts.ScopePersonal) {
			return nil, fmt.Errorf("export personal contacts: needs a user with scope %s: %w", accounts.ScopePersonal, ErrForbidden)
		}
	case KindCompany:
		if !p.Has(accounts.ScopeCompanyRead) {
			return nil, fmt.Errorf("export company contacts: needs scope %s: %w", accounts.ScopeCompanyRead, ErrForbidden)
		}
	default:
		return nil, &FieldError{Field: "kind", Reason: "want personal or company"}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var docs []*doc
	if kind == KindPersonal {
		for _, id := range s.idx.owners[p.User] {
			if d := s.idx.docs.at(id); d.alive {
				docs = append(docs, d)
			}
		}
	} else {
		for _, id := range s.idx.companiesOf(p) {
			if d := s.idx.docs.at(id); d.alive {
				if c := d.contact(s.idx); canSee(p, &c) {
					docs = append(docs, d)
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(docs, func(a, b *doc) int { return strings.Compare(a.fullKey(s.idx), b.fullKey(s.idx)) })
	out := make([]Entry, len(docs))
	for i, d := range docs {
		out[i] = Entry{Contact: d.contact(s.idx), Marks: s.marksFor(p, d.id(s.idx))}
	}
	return out, nil
}

// groupNames returns the names of the built-in and own groups in marks.
func (s *Service) groupNames(marks []string) []string {
	var out []string
	for _, id := range marks {
		switch {
		case isBuiltin(id):
			for _, g := range builtinGroups {
				if g.ID == id {
					out = append(out, g.Name)
				}
			}
		default:
			s.mu.RLock()
			g, ok := s.groups[id]
			s.mu.RUnlock()
			if ok && !g.Shared() {
				out = append(out, g.Name)
			}
		}
	}
	return out
}

func (s *Service) csvRecord(e Entry) []string {
	c := e.Contact
	byType := map[PhoneType][]string{}
	for _, ph := range c.Phones {
		byType[ph.Type] = append(byType[ph.Type], ph.Number)
	}
	join := func(v []string) string { return strings.Join(v, " "+multiSep+" ") }
	phones := func(v []string) string { return phoneCell(join(v)) }
	var email, email2 string
	if len(c.Emails) > 0 {
		email, email2 = c.Emails[0], join(c.Emails[1:])
	}
	return []string{
		neutralize(c.FirstName), neutralize(c.LastName), neutralize(c.Company), neutralize(c.Department), neutralize(c.JobTitle),
		phones(byType[PhoneWork]), phones(byType[PhoneMobile]), phones(byType[PhoneHome]), phones(byType[PhoneFax]), phones(byType[PhoneOther]),
		neutralize(email), neutralize(email2), neutralize(c.Address.Street), neutralize(c.Address.City), neutralize(c.Address.Region),
		neutralize(c.Address.PostalCode), neutralize(c.Address.Country), neutralize(c.Notes), neutralize(join(s.groupNames(e.Marks))),
	}
}

// formulaStart reports whether a spreadsheet would read a cell starting
// like v as a formula (OWASP: = + - @ tab CR).
func formulaStart(v string) bool {
	return v != "" && strings.IndexByte("=+-@\t\r", v[0]) >= 0
}

// quotedFormula reports whether v is quotes followed by a formula start:
// the form neutralize produces and unneutralize undoes.
func quotedFormula(v string) bool {
	return strings.HasPrefix(v, "'") && formulaStart(strings.TrimLeft(v, "'"))
}

// neutralize makes cell v safe to open in a spreadsheet (see CSVHeader).
func neutralize(v string) string {
	if formulaStart(v) || quotedFormula(v) {
		return "'" + v
	}
	return v
}

// unneutralize undoes neutralize on an imported cell.
func unneutralize(v string) string {
	if quotedFormula(v) {
		return v[1:]
	}
	return v
}

// phoneCell neutralizes a cell of phone numbers unless every number in it
// is valid (see CSVHeader).
func phoneCell(v string) string {
	for _, n := range strings.Split(v, multiSep) {
		if _, plain := plainNumber(strings.TrimSpace(n)); checkNumber(n) != "" || !plain {
			return neutralize(v)
		}
	}
	return v
}

// splitMulti returns the values of a cell holding several (see
// CSVHeader), trimmed, without empty ones; nil if there are none.
func splitMulti(cell string) []string {
	var out []string
	for v, rest, ok := nextMulti(cell); ok; v, rest, ok = nextMulti(rest) {
		out = append(out, v)
	}
	return out
}

// nextMulti returns the first value of cell as splitMulti reads it and
// the rest of cell after it; ok is false when there is none. It lets
// csvRow walk a cell without splitting it into a slice.
func nextMulti(cell string) (v, rest string, ok bool) {
	for {
		part, after, found := strings.Cut(cell, multiSep)
		if v = strings.TrimSpace(part); v != "" {
			return v, after, true
		}
		if !found {
			return "", "", false
		}
		cell = after
	}
}

// ImportCSV reads contacts in the CSVHeader template from r and stores the
// valid rows as p's personal contacts (kind personal) or as company
// contacts (kind company, needs company:write). Every rejected row is
// reported; the import itself fails only on a read error, an unusable
// header or a store error (rows of earlier batches stay imported).
func (s *Service) ImportCSV(ctx context.Context, p accounts.Principal, kind Kind, r io.Reader, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{DryRun: opts.DryRun}
	if err := checkImport(p, kind, opts); err != nil {
		return rep, err
	}
	// The body is read whole first (the API bounds it), so that a read
	// error imports nothing; records are then parsed as they are imported,
	// without holding every parsed row.
	data, err := io.ReadAll(r)
	if err != nil {
		return rep, fmt.Errorf("read csv: %w", err)
	}
	next, err := parseCSV(bytes.NewReader(data), &rep)
	if err != nil {
		return rep, err
	}
	err = s.importRows(ctx, p, kind, next, opts, &rep)
	return rep, err
}

func checkImport(p accounts.Principal, kind Kind, opts ImportOptions) error {
	if kind != KindPersonal && kind != KindCompany {
		return &FieldError{Field: "kind", Reason: "want personal or company"}
	}
	if err := canWrite(p, kind); err != nil {
		return err
	}
	if kind == KindCompany {
		if _, err := tenantFor(p, opts.Domain, nil); err != nil {
			return err
		}
	}
	if opts.OnDuplicate != "" && opts.OnDuplicate != DupSkip && opts.OnDuplicate != DupUpdate {
		return &FieldError{Field: "on_duplicate", Reason: "want skip or update"}
	}
	return nil
}

// sniffSeparator picks the separator that occurs most in the header line,
// outside quotes.
func sniffSeparator(header []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, b := range header {
		switch {
		case b == '"':
			quoted = !quoted
		case !quoted && (b == ',' || b == ';' || b == '\t'):
			counts[rune(b)]++
		}
	}
	best := ','
	for _, sep := range []rune{';', '\t'} {
		if counts[sep] > counts[best] {
			best = sep
		}
	}
	return best
}

// parseCSV reads the header of r and returns the iterator of its rows
// (see rowSource), which reports rejected records into rep.
func parseCSV(r io.Reader, rep *ImportReport) (rowSource, error) {
	br := bufio.NewReaderSize(r, MaxCSVHeaderBytes)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	first, err := br.Peek(MaxCSVHeaderBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read csv: %w", err)
	}
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	} else if len(first) == MaxCSVHeaderBytes {
		return nil, &FieldError{Field: "header", Reason: fmt.Sprintf("header line longer than %d bytes", MaxCSVHeaderBytes)}
	}
	cr := csv.NewReader(br)
	cr.Comma = sniffSeparator(first)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FieldError{Field: "header", Reason: "empty file"}
	}
	if err != nil {
		return nil, fmt.Errorf("read csv header: %w", err)
	}
	if len(header) > MaxCSVColumns {
		return nil, &FieldError{Field: "header", Reason: fmt.Sprintf("%d columns, at most %d allowed", len(header), MaxCSVColumns)}
	}
	cols := make([]string, len(header))
	known := 0
	for i, h := range header {
		h = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(h)), " ", "_")
		if slices.Contains(csvColumns, h) {
			cols[i] = h
			known++
		} else if h != "" {
			rep.reject(RowError{Line: 1, Column: h, Reason: "unknown column, ignored"})
		}
	}
	if known == 0 || (!slices.Contains(cols, "first_name") && !slices.Contains(cols, "last_name") && !slices.Contains(cols, "company")) {
		return nil, &FieldError{Field: "header", Reason: "want a header line with the columns " + CSVHeader}
	}
	layout := newCSVLayout(cols)
	return func() (*importRow, error) {
		for {
			rec, err := cr.Read()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil, nil
				}
				// Declared here, pe costs an allocation only for a bad row.
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					rep.reject(RowError{Line: pe.StartLine, Reason: pe.Err.Error()})
					continue
				}
				return nil, fmt.Errorf("read csv: %w", err)
			}
			line, _ := cr.FieldPos(0)
			if row, reject := csvRow(line, layout, rec); reject != nil {
				rep.reject(*reject)
			} else if row != nil {
				return row, nil
			}
		}
	}, nil
}

// csvFieldCols maps Contact.Validate field paths to CSV columns, for the
// fields that are not numbered.
var csvFieldCols = map[string]string{
	"name": "first_name", "phones": "phone_work", "first_name": "first_name", "last_name": "last_name",
	"company": "company", "department": "department", "job_title": "job_title", "notes": "notes",
	"address.street": "street", "address.city": "city", "address.region": "region",
	"address.postal_code": "postal_code", "address.country": "country",
}

// csvField is what a CSV column fills in.
type csvField uint8

const (
	fieldIgnored csvField = iota
	fieldFirstName
	fieldLastName
	fieldCompany
	fieldDepartment
	fieldJobTitle
	fieldPhone
	fieldEmail
	fieldStreet
	fieldCity
	fieldRegion
	fieldPostalCode
	fieldCountry
	fieldNotes
	fieldGroups
)

// csvFields maps the columns of CSVHeader to what they fill in.
var csvFields = map[string]csvField{
	"first_name": fieldFirstName, "last_name": fieldLastName, "company": fieldCompany,
	"department": fieldDepartment, "job_title": fieldJobTitle,
	"phone_work": fieldPhone, "phone_mobile": fieldPhone, "phone_home": fieldPhone, "phone_fax": fieldPhone, "phone_other": fieldPhone,
	"email": fieldEmail, "email2": fieldEmail, "street": fieldStreet, "city": fieldCity, "region": fieldRegion,
	"postal_code": fieldPostalCode, "country": fieldCountry, "notes": fieldNotes, "groups": fieldGroups,
}

// csvColumn is one column of an imported file.
type csvColumn struct {
	name  string    // as in CSVHeader; "" for a column the import ignores
	field csvField  // fieldIgnored for a name missing from csvFields
	phone PhoneType // the type of a phone_* column
}

// csvLayout is what every row of a file shares, worked out once per file
// rather than per row.
type csvLayout struct {
	cols []csvColumn
	// present holds the columns of the file (see importRow; only read).
	present     map[string]bool
	groupsGiven bool
}

// newCSVLayout returns the layout of a file whose header named cols
// ("" for an ignored column).
func newCSVLayout(cols []string) *csvLayout {
	l := &csvLayout{cols: make([]csvColumn, len(cols)), present: map[string]bool{}}
	for i, col := range cols {
		if col == "" {
			continue
		}
		l.cols[i] = csvColumn{name: col, field: csvFields[col], phone: PhoneType(strings.TrimPrefix(col, "phone_"))}
		l.present[col] = true
	}
	l.groupsGiven = l.present["groups"]
	return l
}

// csvRowBuf is the room csvRow collects a row's numbers and addresses in
// before it copies them out, exactly sized; a row with more spills to the
// heap.
const csvRowBuf = 8

// csvRow converts one record; it returns nil, nil for an empty row.
// A short record's missing trailing cells are empty cells of columns the
// file has, so they count as present (see csvLayout.present).
func csvRow(line int, l *csvLayout, rec []string) (*importRow, *RowError) {
	if blankRecord(rec) {
		return nil, nil
	}
	if len(rec) > len(l.cols) {
		return nil, &RowError{Line: line, Reason: fmt.Sprintf("row has %d fields, header has %d", len(rec), len(l.cols))}
	}
	row := &importRow{line: line, present: l.present, baseCols: csvFieldCols, groupsGiven: l.groupsGiven}
	c := &row.c
	var (
		phoneBuf                    [csvRowBuf]Phone
		phoneColBuf, emailBuf, eBuf [csvRowBuf]string
	)
	phones, phoneCols, emails, emailCols := phoneBuf[:0], phoneColBuf[:0], emailBuf[:0], eBuf[:0]
	for i, v := range rec {
		col := &l.cols[i]
		if col.name == "" {
			continue
		}
		if reason := badText(v); reason != "" {
			return nil, &RowError{Line: line, Column: col.name, Reason: reason}
		}
		v = unneutralize(v)
		switch col.field {
		case fieldFirstName:
			c.FirstName = v
		case fieldLastName:
			c.LastName = v
		case fieldCompany:
			c.Company = v
		case fieldDepartment:
			c.Department = v
		case fieldJobTitle:
			c.JobTitle = v
		case fieldPhone:
			for n, rest, ok := nextMulti(v); ok; n, rest, ok = nextMulti(rest) {
				phoneCols = append(phoneCols, col.name)
				phones = append(phones, Phone{Type: col.phone, Number: n})
			}
		case fieldEmail:
			for e, rest, ok := nextMulti(v); ok; e, rest, ok = nextMulti(rest) {
				emailCols = append(emailCols, col.name)
				emails = append(emails, e)
			}
		case fieldStreet:
			c.Address.Street = v
		case fieldCity:
			c.Address.City = v
		case fieldRegion:
			c.Address.Region = v
		case fieldPostalCode:
			c.Address.PostalCode = v
		case fieldCountry:
			c.Address.Country = v
		case fieldNotes:
			c.Notes = v
		case fieldGroups:
			row.groups = splitMulti(v)
		}
	}
	if len(phones) > 0 {
		c.Phones = slices.Clone(phones)
	}
	row.phoneCols, row.emailCols, c.Emails = packStrings(phoneCols, emailCols, emails)
	return row, nil
}

// blankRecord reports whether every cell of rec is blank.
func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// packStrings copies a, b and c into one allocation and returns the
// copies, each nil if empty and capped at its length, so that appending
// to one never writes into another.
func packStrings(a, b, c []string) (a2, b2, c2 []string) {
	n := len(a) + len(b) + len(c)
	if n == 0 {
		return nil, nil, nil
	}
	all := make([]string, 0, n)
	all = append(append(append(all, a...), b...), c...)
	part := func(from, to int) []string {
		if from == to {
			return nil
		}
		return all[from:to:to]
	}
	return part(0, len(a)), part(len(a), len(a)+len(b)), part(len(a)+len(b), n)
}

// badText returns why v is not acceptable text: invalid UTF-8 or control
// characters other than tab and line breaks.
func badText(v string) string {
	if plainCell(v) {
		return "" // imports check every cell of millions of rows
	}
	return badTextSlow(v)
}

// plainCell reports whether v is valid UTF-8 free of the characters
// badText refuses, in one pass; false sends badText to badTextSlow,
// which finds the first problem in badText's order.
func plainCell(v string) bool {
	for i := 0; i < len(v); {
		if c := v[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != 0x7f || c == '\t' || c == '\n' || c == '\r' {
				i++
				continue
			}
			return false
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError {
			return false
		}
		i += size
	}
	return true
}

// badTextSlow is badText without its fast path.
func badTextSlow(v string) string {
	if !utf8.ValidString(v) {
		return "invalid UTF-8 (save the file as UTF-8)"
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f || r == utf8.RuneError {
			return fmt.Sprintf("binary data (control character %U)", r)
		}
	}
	return ""
}
