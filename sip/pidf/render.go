package pidf

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Render returns d as a PIDF document. See AppendRender.
func (d *Document) Render() []byte {
	return d.AppendRender(make([]byte, 0, 384+192*len(d.Tuples)+24*len(d.Activities)+2*len(d.Note)))
}

// AppendRender appends d, rendered as a PIDF document, to dst and returns
// the extended slice.
//
// The output is one line: an XML declaration, <presence> declaring the
// pidf, data-model and rpid namespaces, one <tuple> per Tuple, a
// presence-level <note> when Note is set and, when there are activities, a
// <dm:person> with <rpid:activities> and a <dm:note> copy of Note. Elements
// follow the RFC 3863 §4.4 schema order (tuples, notes, extensions). Tuples
// without ID get "t1", "t2"... by position; activity names that are not
// plain XML names are skipped. All text is escaped and characters XML
// cannot carry are replaced with U+FFFD.
//
// AppendRender does not validate d; call Validate first on documents not
// produced by Parse.
func (d *Document) AppendRender(dst []byte) []byte {
	dst = append(dst, `<?xml version="1.0" encoding="UTF-8"?><presence xmlns="`+Namespace+
		`" xmlns:dm="`+DataModelNamespace+`" xmlns:rpid="`+RPIDNamespace+`"`...)
	dst = appendAttr(dst, "entity", d.Entity)
	dst = append(dst, '>')
	for i := range d.Tuples {
		dst = d.Tuples[i].appendTo(dst, i)
	}
	if d.Note != "" {
		dst = append(dst, "<note>"...)
		dst = appendEscaped(dst, d.Note, false)
		dst = append(dst, "</note>"...)
	}
	if hasValidActivity(d.Activities) {
		// RFC 4479 §3.1: activities describe the person, not a device.
		dst = append(dst, `<dm:person id="p1"><rpid:activities>`...)
		for _, a := range d.Activities {
			if validActivity(a) {
				dst = append(dst, "<rpid:"...)
				dst = append(dst, a...)
				dst = append(dst, "/>"...)
			}
		}
		dst = append(dst, "</rpid:activities>"...)
		if d.Note != "" {
			// Yealink and Linphone show the person note, Polycom the
			// presence one, so write both.
			dst = append(dst, "<dm:note>"...)
			dst = appendEscaped(dst, d.Note, false)
			dst = append(dst, "</dm:note>"...)
		}
		dst = append(dst, "</dm:person>"...)
	}
	return append(dst, "</presence>"...)
}

func (t *Tuple) appendTo(dst []byte, i int) []byte {
	dst = append(dst, "<tuple"...)
	if t.ID != "" {
		dst = appendAttr(dst, "id", t.ID)
	} else {
		dst = append(dst, ` id="t`...)
		dst = strconv.AppendInt(dst, int64(i+1), 10)
		dst = append(dst, '"')
	}
	// RFC 3863 §4.4 schema order: status, extensions, contact, note,
	// timestamp.
	if t.Basic != "" {
		dst = append(dst, "><status><basic>"...)
		dst = appendEscaped(dst, t.Basic, false)
		dst = append(dst, "</basic></status>"...)
	} else {
		dst = append(dst, "><status/>"...)
	}
	if t.Contact != "" {
		dst = append(dst, "<contact>"...)
		dst = appendEscaped(dst, t.Contact, false)
		dst = append(dst, "</contact>"...)
	}
	if t.Note != "" {
		dst = append(dst, "<note>"...)
		dst = appendEscaped(dst, t.Note, false)
		dst = append(dst, "</note>"...)
	}
	if !t.Timestamp.IsZero() {
		dst = append(dst, "<timestamp>"...)
		dst = t.Timestamp.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, "</timestamp>"...)
	}
	return append(dst, "</tuple>"...)
}

func hasValidActivity(list []string) bool {
	for _, a := range list {
		if validActivity(a) {
			return true
		}
	}
	return false
}

// appendAttr appends ` name="value"`, or nothing when value is empty.
func appendAttr(dst []byte, name, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, `="`...)
	dst = appendEscaped(dst, value, true)
	return append(dst, '"')
}

// appendEscaped appends s escaped for XML text or, when attr is set, for a
// double-quoted attribute value. Tabs and newlines in attributes become
// character references so attribute-value normalisation (XML 1.0 §3.3.3)
// keeps them; carriage returns always do so end-of-line handling (§2.11)
// keeps them. Characters outside the XML Char production (§2.2) and
// invalid UTF-8 become U+FFFD.
func appendEscaped(dst []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc string
			switch {
			case c == '&':
				esc = "&amp;"
			case c == '<':
				esc = "&lt;"
			case c == '>':
				esc = "&gt;"
			case c == '"' && attr:
				esc = "&quot;"
			case c == '\'' && attr:
				esc = "&apos;"
			case c == '\t' && attr:
				esc = "&#x9;"
			case c == '\n' && attr:
				esc = "&#xA;"
			case c == '\r':
				esc = "&#xD;"
			case c < 0x20 && c != '\t' && c != '\n':
				esc = "\uFFFD"
			}
			if esc != "" {
				dst = append(dst, s[last:i]...)
				dst = append(dst, esc...)
				last = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
			dst = append(dst, s[last:i]...)
			dst = append(dst, "\uFFFD"...)
			last = i + size
		}
		i += size
	}
	return append(dst, s[last:]...)
}
