package directory

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// origParseCSV, origCsvRow, origSplitMulti and origBadText are parseCSV,
// csvRow, splitMulti and badText as they were before they were made
// faster: the differential tests hold the new ones to them.

func origSplitMulti(cell string) []string {
	var out []string
	for _, v := range strings.Split(cell, multiSep) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func origParseCSV(r io.Reader, rep *ImportReport) (rowSource, error) {
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
	// Every row of the file has the same columns: one present map serves
	// them all (it is only read).
	present := map[string]bool{}
	for _, col := range cols {
		if col != "" {
			present[col] = true
		}
	}
	return func() (*importRow, error) {
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rep.reject(RowError{Line: pe.StartLine, Reason: pe.Err.Error()})
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read csv: %w", err)
			}
			line, _ := cr.FieldPos(0)
			if row, reject := origCsvRow(line, cols, present, rec); reject != nil {
				rep.reject(*reject)
			} else if row != nil {
				return row, nil
			}
		}
	}, nil
}

// csvRow converts one record; it returns nil, nil for an empty row.
func origCsvRow(line int, cols []string, present map[string]bool, rec []string) (*importRow, *RowError) {
	empty := true
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			empty = false
			break
		}
	}
	if empty {
		return nil, nil
	}
	if len(rec) > len(cols) {
		return nil, &RowError{Line: line, Reason: fmt.Sprintf("row has %d fields, header has %d", len(rec), len(cols))}
	}
	// A short record's missing trailing cells are empty cells of columns
	// the file has, so they count as present.
	row := &importRow{line: line, present: present, baseCols: csvFieldCols}
	c := &row.c
	row.groupsGiven = row.present["groups"]
	for i, v := range rec {
		col := cols[i]
		if col == "" {
			continue
		}
		if reason := origBadText(v); reason != "" {
			return nil, &RowError{Line: line, Column: col, Reason: reason}
		}
		v = unneutralize(v)
		switch col {
		case "first_name":
			c.FirstName = v
		case "last_name":
			c.LastName = v
		case "company":
			c.Company = v
		case "department":
			c.Department = v
		case "job_title":
			c.JobTitle = v
		case "phone_work", "phone_mobile", "phone_home", "phone_fax", "phone_other":
			for _, n := range origSplitMulti(v) {
				row.phoneCols = append(row.phoneCols, col)
				c.Phones = append(c.Phones, Phone{Type: PhoneType(strings.TrimPrefix(col, "phone_")), Number: n})
			}
		case "email", "email2":
			for _, e := range origSplitMulti(v) {
				row.emailCols = append(row.emailCols, col)
				c.Emails = append(c.Emails, e)
			}
		case "street":
			c.Address.Street = v
		case "city":
			c.Address.City = v
		case "region":
			c.Address.Region = v
		case "postal_code":
			c.Address.PostalCode = v
		case "country":
			c.Address.Country = v
		case "notes":
			c.Notes = v
		case "groups":
			row.groups = origSplitMulti(v)
		}
	}
	return row, nil
}

func origBadText(v string) string {
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
