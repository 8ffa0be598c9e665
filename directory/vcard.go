package directory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/switchboardhq/switchboard/accounts"
)

// vCard mapping: N (last;first), FN, ORG (company;department), TITLE,
// TEL;TYPE=work|cell|home|fax (other: no type), EMAIL, ADR
// (;;street;city;region;postal code;country), NOTE, CATEGORIES (the
// caller's group names, as in CSV; see writeCategories). go-vcard does not
// escape ";" inside
// structured values, so a ";" in a company or department name does not
// survive a vCard round trip (it does in CSV).

var telTypes = map[PhoneType]string{PhoneWork: vcard.TypeWork, PhoneMobile: vcard.TypeCell, PhoneHome: vcard.TypeHome, PhoneFax: vcard.TypeFax}

// ExportVCard writes p's personal contacts or the company contacts (see
// ExportCSV for the rules) to w as vCards of version "3.0" or "4.0".
func (s *Service) ExportVCard(ctx context.Context, p accounts.Principal, kind Kind, version string, w io.Writer) error {
	if version != "3.0" && version != "4.0" {
		return &FieldError{Field: "version", Reason: "want 3.0 or 4.0"}
	}
	entries, err := s.exportEntries(ctx, p, kind)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := vcard.NewEncoder(&buf)
	for _, e := range entries {
		c := vcardSafe(e.Contact)
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
		buf.Reset()
		if err := enc.Encode(card); err != nil {
			return fmt.Errorf("write vcard: %w", err)
		}
		out := buf.Bytes()
		if names := s.groupNames(e.Marks); len(names) > 0 {
			// go-vcard escapes every comma of a value, which makes a list
			// one category: write the line before END:VCARD ourselves.
			end := bytes.LastIndex(out, []byte("END:VCARD"))
			out = slices.Concat(out[:end], []byte(formatCategories(names)+"\r\n"), out[end:])
		}
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("write vcard: %w", err)
		}
	}
	return nil
}

// formatCategories returns the CATEGORIES line of names: RFC 6350 §6.7.1
// makes the value a comma-separated list, in which a comma (and a
// backslash, semicolon or line break) inside a name is escaped (§3.4).
func formatCategories(names []string) string {
	esc := strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\n", `\n`)
	for i, n := range names {
		names[i] = esc.Replace(vcardText(n))
	}
	return vcard.FieldCategories + ":" + strings.Join(names, ",")
}

// parseCategories returns the names in the value of a CATEGORIES property
// (RFC 6350 §6.7.1): a comma-separated list where "\," is a comma inside
// a name. Switchboard's exports before that rule wrote the list escaped,
// as one text ("Blocked\,Golf Club"): a value with escaped commas and no
// bare one is read in that form, as a list split at each "\,".
func parseCategories(raw string) []string {
	legacy := true
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			i++
		} else if raw[i] == ',' {
			legacy = false
			break
		}
	}
	var (
		out []string
		cur strings.Builder
	)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == ',':
			out, cur = append(out, cur.String()), strings.Builder{}
		case c == '\\' && i+1 < len(raw):
			i++
			switch raw[i] {
			case ',':
				if legacy {
					out, cur = append(out, cur.String()), strings.Builder{}
				} else {
					cur.WriteByte(',')
				}
			case 'n', 'N':
				cur.WriteByte('\n')
			default:
				cur.WriteByte(raw[i])
			}
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// rawValues returns the undecoded values of the properties named name in
// the unfolded card text, and whether there was any.
func rawValues(text, name string) ([]string, bool) {
	var out []string
	for _, l := range strings.Split(text, "\r\n") {
		if vcardName([]byte(l)) != name {
			continue
		}
		// The value starts after the first colon outside a quoted
		// parameter value (RFC 6350 §3.3).
		quoted := false
		for i := 0; i < len(l); i++ {
			if l[i] == '"' {
				quoted = !quoted
			} else if l[i] == ':' && !quoted {
				out = append(out, l[i+1:])
				break
			}
		}
	}
	return out, len(out) > 0
}

// ImportVCard reads vCards 3.0 or 4.0 from r and stores them like
// ImportCSV. RowError.Line is the line of the card's BEGIN:VCARD. A card
// is a whole contact: under DupUpdate it replaces every field, and the
// contact's groups when it has CATEGORIES.
//
// Lines are unfolded here, in linear time, and bounded: a property that is
// imported and longer than MaxVCardLineBytes unfolded, or a card whose
// imported properties exceed MaxVCardBytes, rejects that card only.
// Properties that are not imported (PHOTO, LOGO, KEY…) are skipped
// without being held in memory, whatever their size.
func (s *Service) ImportVCard(ctx context.Context, p accounts.Principal, kind Kind, r io.Reader, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{DryRun: opts.DryRun}
	if err := checkImport(p, kind, opts); err != nil {
		return rep, err
	}
	var rows []importRow
	lr := &vcardLines{br: bufio.NewReaderSize(r, 64<<10)}
	var (
		buf     strings.Builder
		start   int    // line of the open card's BEGIN, 0 outside a card
		problem string // why the open card is rejected, "" if it is not
	)
	for {
		l, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("read vcard: %w", err)
		}
		switch up := strings.ToUpper(strings.TrimSpace(l.text)); {
		case up == "BEGIN:VCARD":
			buf.Reset()
			start, problem = l.num, ""
		case start == 0:
			if strings.TrimSpace(l.text) != "" {
				rep.reject(RowError{Line: l.num, Reason: "text outside BEGIN:VCARD/END:VCARD"})
			}
			continue
		}
		switch {
		case problem != "":
		case l.long:
			problem = fmt.Sprintf("line %d: %s property longer than %d bytes", l.num, l.name, MaxVCardLineBytes)
		case buf.Len()+len(l.text) > MaxVCardBytes:
			problem = fmt.Sprintf("card longer than %d bytes", MaxVCardBytes)
		case l.text == "": // a property not imported
		default:
			buf.WriteString(l.text)
			buf.WriteString("\r\n")
		}
		if l.name == "END" && strings.EqualFold(strings.TrimSpace(l.text), "END:VCARD") {
			if problem != "" {
				rep.reject(RowError{Line: start, Reason: problem})
			} else if row, rerr := vcardRow(start, buf.String()); rerr != nil {
				rep.reject(*rerr)
			} else {
				rows = append(rows, *row)
			}
			start = 0
			buf.Reset()
		}
	}
	if start != 0 {
		rep.reject(RowError{Line: start, Reason: "card without END:VCARD"})
	}
	err := s.importRows(ctx, p, kind, sliceRows(rows), opts, &rep)
	return rep, err
}

// vcardText makes s safe for a vCard value: go-vcard escapes LF but
// writes CR and other control characters as they are, and a bare CR ends a
// line for many readers, letting a value forge properties or cards.
// Validate refuses them; this guards data stored before it did.
func vcardText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029':
			return -1
		}
		return r
	}, s)
}

// vcardSafe applies vcardText to every text field of c.
func vcardSafe(c Contact) Contact {
	for _, p := range []*string{&c.FirstName, &c.LastName, &c.Company, &c.Department, &c.JobTitle, &c.Notes,
		&c.Address.Street, &c.Address.City, &c.Address.Region, &c.Address.PostalCode, &c.Address.Country} {
		*p = vcardText(*p)
	}
	c.Phones, c.Emails = slices.Clone(c.Phones), slices.Clone(c.Emails)
	for i := range c.Phones {
		c.Phones[i].Number = vcardText(c.Phones[i].Number)
	}
	for i := range c.Emails {
		c.Emails[i] = vcardText(c.Emails[i])
	}
	return c
}

// vcardKept lists the properties ImportVCard reads; vcardLines drops the
// others as it reads them.
var vcardKept = map[string]bool{
	"BEGIN": true, "END": true, "VERSION": true, vcard.FieldName: true, vcard.FieldFormattedName: true,
	vcard.FieldOrganization: true, vcard.FieldTitle: true, vcard.FieldTelephone: true, vcard.FieldEmail: true,
	vcard.FieldAddress: true, vcard.FieldNote: true, vcard.FieldCategories: true,
}

// vcardLine is one unfolded content line (RFC 6350 §3.2).
type vcardLine struct {
	num  int    // physical line it starts on, from 1
	name string // property name, upper case, without group
	text string // unfolded; empty for a dropped or too long property
	long bool   // a kept property longer than MaxVCardLineBytes
}

// vcardLines unfolds content lines in linear time: go-vcard's decoder
// concatenates continuation lines one string at a time, which is quadratic
// in the number of folds.
type vcardLines struct {
	br   *bufio.Reader
	num  int    // physical lines read
	peek []byte // the physical line after the last content line, if read
	has  bool   // peek holds a line
	cur  []byte // buffer of the content line being built
	line []byte // buffer of the physical line returned by physical
}

// next returns the next content line, or io.EOF.
func (v *vcardLines) next() (vcardLine, error) {
	first, err := v.physical()
	if err != nil {
		return vcardLine{}, err
	}
	l := vcardLine{num: v.num, name: vcardName(first)}
	keep := l.name == "" || vcardKept[l.name]
	v.cur = append(v.cur[:0], first...)
	if !keep {
		v.cur = v.cur[:0]
	}
	long := len(first) > MaxVCardLineBytes
	for {
		cont, err := v.physical()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return vcardLine{}, err
		}
		if len(cont) == 0 || (cont[0] != ' ' && cont[0] != '\t') {
			v.peek, v.has = append(v.peek[:0], cont...), true
			v.num-- // counted again when it is returned
			break
		}
		if keep && !long {
			if len(v.cur)+len(cont)-1 > MaxVCardLineBytes {
				long = true
			} else {
				v.cur = append(v.cur, cont[1:]...)
			}
		}
	}
	if keep && !long {
		l.text = string(v.cur)
	}
	l.long = keep && long
	return l, nil
}

// physical returns the next physical line without its line break, cut
// after MaxVCardLineBytes+1 bytes (the rest is discarded), or io.EOF. The
// result is valid until the next call.
func (v *vcardLines) physical() ([]byte, error) {
	if v.has {
		v.has = false
		v.num++
		return v.peek, nil
	}
	v.line = v.line[:0]
	read := false
	for {
		frag, err := v.br.ReadSlice('\n')
		read = read || len(frag) > 0
		if room := MaxVCardLineBytes + 1 - len(v.line); room > 0 {
			v.line = append(v.line, frag[:min(room, len(frag))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && !read {
			return nil, io.EOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		v.num++
		if v.num == 1 {
			v.line = bytes.TrimPrefix(v.line, []byte("\ufeff"))
		}
		return bytes.TrimRight(v.line, "\r\n"), nil
	}
}

// vcardName returns the upper-case property name of a content line
// ("item1.TEL;TYPE=cell:…" → "TEL"), or "" when there is none.
func vcardName(l []byte) string {
	i := bytes.IndexAny(l, ";:")
	if i < 0 {
		return ""
	}
	name := l[:i]
	if j := bytes.LastIndexByte(name, '.'); j >= 0 {
		name = name[j+1:]
	}
	return strings.ToUpper(strings.TrimSpace(string(name)))
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
		row.phoneCols = append(row.phoneCols, "TEL")
		c.Phones = append(c.Phones, Phone{Type: t, Number: strings.TrimPrefix(f.Value, "tel:")})
	}
	for _, e := range card.Values(vcard.FieldEmail) {
		row.emailCols = append(row.emailCols, "EMAIL")
		c.Emails = append(c.Emails, e)
	}
	if a := card.Address(); a != nil {
		c.Address = Address{Street: a.StreetAddress, City: a.Locality, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country}
	}
	c.Notes = card.Value(vcard.FieldNote)
	// go-vcard unescapes "\," before splitting, which loses the list
	// structure: read the raw values.
	raws, given := rawValues(text, vcard.FieldCategories)
	for _, raw := range raws {
		row.groups = append(row.groups, parseCategories(raw)...)
	}
	row.groupsGiven = given
	for f, col := range map[string]string{"first_name": "N", "last_name": "N", "company": "ORG", "department": "ORG", "job_title": "TITLE", "notes": "NOTE"} {
		row.fieldCols[f] = col
	}
	return row, nil
}
