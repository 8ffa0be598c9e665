package dialoginfo

import (
	"github.com/switchboardhq/switchboard/sip/xmldoc"

	"strconv"
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
	dst = append(dst, renderHead...)
	dst = strconv.AppendUint(dst, d.Version, 10)
	// RFC 4235 §4.1: state is mandatory; full is the safe default since
	// watchers then discard everything not listed.
	if d.State == StatePartial {
		dst = append(dst, `" state="partial"`...)
	} else {
		dst = append(dst, `" state="full"`...)
	}
	dst = xmldoc.AppendAttr(dst, "entity", d.Entity)
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
	dst = xmldoc.AppendAttr(dst, "id", dl.ID)
	dst = xmldoc.AppendAttr(dst, "call-id", dl.CallID)
	dst = xmldoc.AppendAttr(dst, "local-tag", dl.LocalTag)
	dst = xmldoc.AppendAttr(dst, "remote-tag", dl.RemoteTag)
	dst = xmldoc.AppendAttr(dst, "direction", dl.Direction)
	dst = append(dst, "><state"...)
	dst = xmldoc.AppendAttr(dst, "event", dl.Event)
	if dl.Code != 0 {
		dst = append(dst, ` code="`...)
		dst = strconv.AppendInt(dst, int64(dl.Code), 10)
		dst = append(dst, '"')
	}
	dst = append(dst, '>')
	dst = xmldoc.AppendEscaped(dst, dl.State, false)
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
		dst = xmldoc.AppendAttr(dst, "display", p.Display)
		dst = append(dst, '>')
		dst = xmldoc.AppendEscaped(dst, p.Identity, false)
		dst = append(dst, "</identity>"...)
	}
	if p.Target != "" || p.Held {
		dst = append(dst, "<target"...)
		dst = xmldoc.AppendAttr(dst, "uri", p.Target)
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

// renderHead is what AppendRender writes before the version.
const renderHead = `<?xml version="1.0" encoding="UTF-8"?><dialog-info xmlns="` + Namespace + `" version="`

// RenderTemplate renders d with its version left out: the document d
// renders with version n is head, n in decimal, then tail. A fan-out
// renders one document for all the watchers of an extension, each
// NOTIFY carrying its own subscription's version.
func (d *Document) RenderTemplate() (head, tail []byte) {
	c := *d
	c.Version = 0
	out := c.Render()
	return out[:len(renderHead):len(renderHead)], out[len(renderHead)+1:]
}
