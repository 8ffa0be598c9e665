package dialoginfo

import (
	"strconv"
	"unicode/utf8"
)

// Render returns d as a dialog-info document. See AppendRender.
func (d *Document) Render() []byte {
	return d.AppendRender(make([]byte, 0, 256+320*len(d.Dialogs)))
}

// AppendRender appends d, rendered as a dialog-info document, to dst and
// returns the extended slice.
//
// The output is one line, starts with an XML declaration, declares only the
// dialog-info default namespace and omits empty attributes and elements:
// the shape every common desk phone parses. An idle entity (no dialogs)
// renders as an empty <dialog-info/>. All text is escaped, and characters
// XML cannot carry are replaced with U+FFFD, so display names taken from
// the network cannot break the document.
//
// AppendRender does not validate d: a State other than StatePartial is
// rendered as StateFull, and other fields are written as they are. Call
// Validate first on documents not produced by Parse.
func (d *Document) AppendRender(dst []byte) []byte {
	dst = append(dst, `<?xml version="1.0" encoding="UTF-8"?><dialog-info xmlns="`+Namespace+`" version="`...)
	dst = strconv.AppendUint(dst, d.Version, 10)
	// RFC 4235 §4.1: state is mandatory; full is the safe default since
	// watchers then discard everything not listed.
	if d.State == StatePartial {
		dst = append(dst, `" state="partial"`...)
	} else {
		dst = append(dst, `" state="full"`...)
	}
	dst = appendAttr(dst, "entity", d.Entity)
	if len(d.Dialogs) == 0 {
		return append(dst, "/>"...)
	}
	dst = append(dst, '>')
	for i := range d.Dialogs {
		dst = d.Dialogs[i].appendTo(dst)
	}
	return append(dst, "</dialog-info>"...)
}

func (dl *Dialog) appendTo(dst []byte) []byte {
	dst = append(dst, "<dialog"...)
	dst = appendAttr(dst, "id", dl.ID)
	dst = appendAttr(dst, "call-id", dl.CallID)
	dst = appendAttr(dst, "local-tag", dl.LocalTag)
	dst = appendAttr(dst, "remote-tag", dl.RemoteTag)
	dst = appendAttr(dst, "direction", dl.Direction)
	dst = append(dst, "><state"...)
	dst = appendAttr(dst, "event", dl.Event)
	if dl.Code != 0 {
		dst = append(dst, ` code="`...)
		dst = strconv.AppendInt(dst, int64(dl.Code), 10)
		dst = append(dst, '"')
	}
	dst = append(dst, '>')
	dst = appendEscaped(dst, dl.State, false)
	dst = append(dst, "</state>"...)
	if dl.Duration != 0 {
		dst = append(dst, "<duration>"...)
		dst = strconv.AppendInt(dst, int64(dl.Duration), 10)
		dst = append(dst, "</duration>"...)
	}
	// RFC 4235 §4.1 schema order: state, duration, ..., local, remote.
	dst = dl.Local.appendTo(dst, "local")
	dst = dl.Remote.appendTo(dst, "remote")
	return append(dst, "</dialog>"...)
}

func (p *Participant) appendTo(dst []byte, tag string) []byte {
	if p.Identity == "" && p.Display == "" && p.Target == "" && !p.Held {
		return dst
	}
	dst = append(dst, '<')
	dst = append(dst, tag...)
	dst = append(dst, '>')
	if p.Identity != "" || p.Display != "" {
		dst = append(dst, "<identity"...)
		dst = appendAttr(dst, "display", p.Display)
		dst = append(dst, '>')
		dst = appendEscaped(dst, p.Identity, false)
		dst = append(dst, "</identity>"...)
	}
	if p.Target != "" || p.Held {
		dst = append(dst, "<target"...)
		dst = appendAttr(dst, "uri", p.Target)
		if p.Held {
			// The form Asterisk writes for a held channel (RFC 4235
			// §4.1.6 target params, RFC 3840 §9 +sip.rendering).
			dst = append(dst, `><param pname="+sip.rendering" pvalue="no"/></target>`...)
		} else {
			dst = append(dst, "/>"...)
		}
	}
	dst = append(dst, "</"...)
	dst = append(dst, tag...)
	return append(dst, '>')
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
