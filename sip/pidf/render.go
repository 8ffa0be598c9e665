package pidf

import (
	"github.com/switchboardhq/switchboard/sip/xmldoc"

	"strconv"
	"time"
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
	dst = xmldoc.AppendAttr(dst, "entity", d.Entity)
	dst = append(dst, '>')
	for i := range d.Tuples {
		dst = d.Tuples[i].appendTo(dst, i, d.StatusActivities)
	}
	if d.Note != "" {
		dst = append(dst, "<note>"...)
		dst = xmldoc.AppendEscaped(dst, d.Note, false)
		dst = append(dst, "</note>"...)
	}
	if hasValidActivity(d.Activities) {
		// RFC 4479 §3.1: activities describe the person, not a device.
		dst = append(dst, `<dm:person id="p1"><rpid:activities>`...)
		for _, a := range d.Activities {
			if validActivity(a) {
				dst = appendActivity(dst, a, d.ActivityText[a])
			}
		}
		dst = append(dst, "</rpid:activities>"...)
		if d.Note != "" {
			// Yealink and Linphone show the person note, Polycom the
			// presence one, so write both.
			dst = append(dst, "<dm:note>"...)
			dst = xmldoc.AppendEscaped(dst, d.Note, false)
			dst = append(dst, "</dm:note>"...)
		}
		dst = append(dst, "</dm:person>"...)
	}
	return append(dst, "</presence>"...)
}

// appendActivity writes one RPID activity element, with text inside when
// there is any.
func appendActivity(dst []byte, name, text string) []byte {
	dst = append(dst, "<rpid:"...)
	dst = append(dst, name...)
	if text == "" {
		return append(dst, "/>"...)
	}
	dst = append(dst, '>')
	dst = xmldoc.AppendEscaped(dst, text, false)
	dst = append(dst, "</rpid:"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

func (t *Tuple) appendTo(dst []byte, i int, statusActivities []string) []byte {
	dst = append(dst, "<tuple"...)
	if t.ID != "" {
		dst = xmldoc.AppendAttr(dst, "id", t.ID)
	} else {
		dst = append(dst, ` id="t`...)
		dst = strconv.AppendInt(dst, int64(i+1), 10)
		dst = append(dst, '"')
	}
	// RFC 3863 §4.4 schema order: status, extensions, contact, note,
	// timestamp.
	switch {
	case t.Basic != "" || hasValidActivity(statusActivities):
		dst = append(dst, "><status>"...)
		if t.Basic != "" {
			dst = append(dst, "<basic>"...)
			dst = xmldoc.AppendEscaped(dst, t.Basic, false)
			dst = append(dst, "</basic>"...)
		}
		if hasValidActivity(statusActivities) {
			dst = append(dst, "<rpid:activities>"...)
			for _, a := range statusActivities {
				if validActivity(a) {
					dst = appendActivity(dst, a, "")
				}
			}
			dst = append(dst, "</rpid:activities>"...)
		}
		dst = append(dst, "</status>"...)
	default:
		dst = append(dst, "><status/>"...)
	}
	if t.Contact != "" {
		dst = append(dst, "<contact>"...)
		dst = xmldoc.AppendEscaped(dst, t.Contact, false)
		dst = append(dst, "</contact>"...)
	}
	if t.Note != "" {
		dst = append(dst, "<note>"...)
		dst = xmldoc.AppendEscaped(dst, t.Note, false)
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
