package directory

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-vcard"
)

// vCard mapping: N (last;first), FN, ORG (company;department), TITLE,
// TEL;TYPE=work|cell|home|fax (other: no type), EMAIL, ADR
// (;;street;city;region;postal code;country), NOTE, CATEGORIES (the
// caller's group names, as in CSV). go-vcard does not escape ";" inside
// structured values, so a ";" in a company or department name does not
// survive a vCard round trip (it does in CSV).

var telTypes = map[PhoneType]string{PhoneWork: vcard.TypeWork, PhoneMobile: vcard.TypeCell, PhoneHome: vcard.TypeHome, PhoneFax: vcard.TypeFax}

// ExportVCard writes p's personal contacts or the company contacts (see
// ExportCSV for the rules) to w as vCards of version "3.0" or "4.0".
func (s *Service) ExportVCard(ctx context.Context, p Principal, kind Kind, version string, w io.Writer) error {
	if version != "3.0" && version != "4.0" {
		return &FieldError{Field: "version", Reason: "want 3.0 or 4.0"}
	}
	entries, err := s.exportEntries(ctx, p, kind)
	if err != nil {
		return err
	}
	enc := vcard.NewEncoder(w)
	for _, e := range entries {
		c := e.Contact
		card := vcard.Card{}
		card.SetValue(vcard.FieldVersion, version)
		card.SetValue(vcard.FieldFormattedName, c.DisplayName())
		card.SetName(&vcard.Name{FamilyName: c.LastName, GivenName: c.FirstName})
		if c.Company != "" || c.Department != "" {
			card.SetValue(vcard.FieldOrganization, c.Company+";"+c.Department)
		}
		if c.JobTitle != "" {
			card.SetValue(vcard.FieldTitle, c.JobTitle)
		}
		for _, ph := range c.Phones {
			f := &vcard.Field{Value: ph.Number, Params: vcard.Params{}}
			if t, ok := telTypes[ph.Type]; ok {
				f.Params.Set(vcard.ParamType, t)
			}
			card.Add(vcard.FieldTelephone, f)
		}
		for _, e := range c.Emails {
			card.AddValue(vcard.FieldEmail, e)
		}
		if c.Address != (Address{}) {
			a := c.Address
			card.SetAddress(&vcard.Address{StreetAddress: a.Street, Locality: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country})
		}
		if c.Notes != "" {
			card.SetValue(vcard.FieldNote, c.Notes)
		}
		if names := s.groupNames(e.Marks); len(names) > 0 {
			card.SetCategories(names)
		}
		if err := enc.Encode(card); err != nil {
			return fmt.Errorf("write vcard: %w", err)
		}
	}
	return nil
}

// ImportVCard reads vCards 3.0 or 4.0 from r and stores them like
// ImportCSV. RowError.Line is the line of the card's BEGIN:VCARD.
func (s *Service) ImportVCard(ctx context.Context, p Principal, kind Kind, r io.Reader, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{DryRun: opts.DryRun}
	if err := checkImport(p, kind, opts); err != nil {
		return rep, err
	}
	var rows []importRow
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var (
		buf   strings.Builder
		start int
		line  int
	)
	for sc.Scan() {
		line++
		l := sc.Text()
		if line == 1 {
			l = strings.TrimPrefix(l, "\ufeff")
		}
		switch up := strings.ToUpper(strings.TrimSpace(l)); {
		case up == "BEGIN:VCARD":
			buf.Reset()
			start = line
		case start == 0:
			if strings.TrimSpace(l) != "" {
				rep.Errors = append(rep.Errors, RowError{Line: line, Reason: "text outside BEGIN:VCARD/END:VCARD"})
			}
			continue
		}
		buf.WriteString(l)
		buf.WriteString("\r\n")
		if strings.EqualFold(strings.TrimSpace(l), "END:VCARD") {
			row, rerr := vcardRow(start, buf.String())
			if rerr != nil {
				rep.Errors = append(rep.Errors, *rerr)
			} else {
				rows = append(rows, *row)
			}
			start = 0
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("read vcard: %w", err)
	}
	if start != 0 {
		rep.Errors = append(rep.Errors, RowError{Line: start, Reason: "card without END:VCARD"})
	}
	err := s.importRows(ctx, p, kind, rows, opts, &rep)
	return rep, err
}

func vcardRow(line int, text string) (*importRow, *RowError) {
	if reason := badText(text); reason != "" {
		return nil, &RowError{Line: line, Reason: reason}
	}
	card, err := vcard.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		return nil, &RowError{Line: line, Reason: err.Error()}
	}
	row := &importRow{line: line, fieldCols: map[string]string{"name": "N", "phones": "TEL"}}
	c := &row.c
	if n := card.Name(); n != nil {
		c.FirstName, c.LastName = n.GivenName, n.FamilyName
	}
	if org := card.Value(vcard.FieldOrganization); org != "" {
		c.Company, c.Department, _ = strings.Cut(org, ";")
	}
	if c.FirstName == "" && c.LastName == "" && c.Company == "" {
		c.FirstName = card.Value(vcard.FieldFormattedName)
	}
	c.JobTitle = card.Value(vcard.FieldTitle)
	for _, f := range card[vcard.FieldTelephone] {
		t := PhoneOther
		for _, pt := range phoneTypes {
			if vt, ok := telTypes[pt]; ok && f.Params.HasType(vt) {
				t = pt
				break
			}
		}
		row.fieldCols[fmt.Sprintf("phones[%d].number", len(c.Phones))] = "TEL"
		c.Phones = append(c.Phones, Phone{Type: t, Number: strings.TrimPrefix(f.Value, "tel:")})
	}
	for i, e := range card.Values(vcard.FieldEmail) {
		row.fieldCols[fmt.Sprintf("emails[%d]", i)] = "EMAIL"
		c.Emails = append(c.Emails, e)
	}
	if a := card.Address(); a != nil {
		c.Address = Address{Street: a.StreetAddress, City: a.Locality, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country}
	}
	c.Notes = card.Value(vcard.FieldNote)
	row.groups = card.Categories()
	for f, col := range map[string]string{"first_name": "N", "last_name": "N", "company": "ORG", "department": "ORG", "job_title": "TITLE", "notes": "NOTE"} {
		row.fieldCols[f] = col
	}
	return row, nil
}
