package pidf

import (
	"github.com/switchboardhq/switchboard/sip/xmldoc"

	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// Parse decodes a PIDF document.
//
// It accepts what clients publish in practice: RFC 4480 activities under a
// data-model <person>, directly under <presence>, inside a tuple <status>
// (old clients) or under Asterisk's person/status; the RPID draft form
// <activity>busy</activity>; documents with only a <note>; and unknown
// extension elements, which it ignores. Activity names that are not plain
// XML names are dropped.
//
// It rejects, with an error wrapping ErrMalformed, anything that is not
// well-formed XML, carries a DOCTYPE, has a root other than <presence>, has
// a tuple without id, a basic status other than open or closed, or an
// unparsable timestamp. Input beyond the package limits yields an error
// wrapping ErrTooLarge.
func Parse(b []byte) (*Document, error) {
	root, err := decodeTree(b, checkRoot)
	if err != nil {
		return nil, err
	}
	var d Document
	d.Entity, _ = root.Attr("entity")

	var personNote string
	for _, c := range root.Children {
		switch {
		case c.Name.Local == "tuple" && isPIDF(c.Name.Space):
			if len(d.Tuples) == MaxTuples {
				return nil, fmt.Errorf("%w: more than %d tuples", ErrTooLarge, MaxTuples)
			}
			t, err := parseTuple(c)
			if err != nil {
				return nil, fmt.Errorf("tuple %d: %w", len(d.Tuples)+1, err)
			}
			d.Tuples = append(d.Tuples, t)
		case c.Name.Local == "note" && isPIDF(c.Name.Space):
			// RFC 3863 §4.1.6: several notes may differ only by xml:lang;
			// the first is the publisher's primary one.
			if d.Note == "" {
				d.Note = c.TrimmedText()
			}
		case c.Name.Local == "person" && personNote == "":
			// RFC 4479 §4.1 puts <person> in the data-model namespace;
			// Asterisk uses its own, so match the local name only.
			if n := c.Child("note", anyNS); n != nil {
				personNote = n.TrimmedText()
			}
		}
	}
	if d.Note == "" {
		d.Note = personNote
	}
	if err := collectActivities(&d, root); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

func checkRoot(name xml.Name) error {
	if name.Local != "presence" || !isPIDF(name.Space) {
		return fmt.Errorf("%w: root element is <%s> in namespace %q, want <presence>", ErrMalformed, name.Local, name.Space)
	}
	return nil
}

// isPIDF reports whether space is the PIDF namespace, the CPIM draft one,
// or no namespace at all, for generators that forget xmlns.
func isPIDF(space string) bool {
	return space == Namespace || space == legacyNamespace || space == ""
}

func anyNS(string) bool { return true }

func parseTuple(n *xmldoc.Node) (Tuple, error) {
	var t Tuple
	t.ID, _ = n.Attr("id")
	if st := n.Child("status", isPIDF); st != nil {
		if b := st.Child("basic", isPIDF); b != nil {
			t.Basic = strings.ToLower(b.TrimmedText())
		}
	}
	if c := n.Child("contact", isPIDF); c != nil {
		t.Contact = c.TrimmedText()
	}
	if note := n.Child("note", isPIDF); note != nil {
		t.Note = note.TrimmedText()
	}
	if ts := n.Child("timestamp", isPIDF); ts != nil {
		v := ts.TrimmedText()
		tm, err := parseTimestamp(v)
		if err != nil {
			return t, fmt.Errorf("%w: tuple %q has invalid timestamp %q", ErrMalformed, t.ID, v)
		}
		t.Timestamp = tm
	}
	return t, nil
}

// parseTimestamp reads an xs:dateTime (RFC 3863 §4.1.7). A missing zone
// is taken as UTC, which is what clients that omit it mean in practice.
func parseTimestamp(v string) (time.Time, error) {
	tm, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		tm, err = time.Parse("2006-01-02T15:04:05.999999999", v)
	}
	if err != nil {
		return time.Time{}, err
	}
	tm = tm.UTC()
	// Keep to years Render can write back as a four-digit xs:dateTime.
	if tm.Year() < 0 || tm.Year() > 9999 {
		return time.Time{}, fmt.Errorf("year %d out of range", tm.Year())
	}
	return tm, nil
}

// collectActivities gathers activities from every <activities> element in
// the document, in document order, without duplicates.
func collectActivities(d *Document, n *xmldoc.Node) error {
	for _, c := range n.Children {
		if c.Name.Local != "activities" {
			if err := collectActivities(d, c); err != nil {
				return err
			}
			continue
		}
		for _, a := range c.Children {
			name := a.Name.Local
			if name == "activity" {
				// The RPID draft wrote <es:activity>busy</es:activity>;
				// RFC 4480 §3.2 turned the values into element names.
				name = a.TrimmedText()
			}
			name = strings.ToLower(name)
			if !validActivity(name) {
				continue
			}
			if a.Name.Local != "activity" {
				if text := a.TrimmedText(); text != "" && d.ActivityText[name] == "" {
					if d.ActivityText == nil {
						d.ActivityText = make(map[string]string)
					}
					d.ActivityText[name] = text
				}
			}
			if contains(d.Activities, name) {
				continue
			}
			if len(d.Activities) == MaxActivities {
				return fmt.Errorf("%w: more than %d activities", ErrTooLarge, MaxActivities)
			}
			d.Activities = append(d.Activities, name)
		}
	}
	return nil
}

// validActivity reports whether name can be rendered as an element name:
// an ASCII letter followed by letters, digits, '-', '_' or '.', as all RFC
// 4480 activities are.
func validActivity(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
