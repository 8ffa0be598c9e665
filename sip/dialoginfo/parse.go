package dialoginfo

import (
	"github.com/switchboardhq/switchboard/sip/xmldoc"

	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// Parse decodes a dialog-info document.
//
// It accepts what PBXs send in practice: pretty-printed or compact XML,
// dialogs with or without SIP identifiers, participants in either order,
// extension elements (such as RFC 7463 shared-appearance ones) which it
// ignores, and state or direction values in any letter case.
//
// It rejects, with an error wrapping ErrMalformed, anything that is not
// well-formed XML, carries a DOCTYPE, has a root other than <dialog-info>,
// lacks a valid version or state attribute, or has a dialog without id or
// with an unknown state. Input beyond the package limits (MaxSize,
// MaxDialogs, MaxDepth, MaxElements, MaxAttrs, MaxAttrLen) yields an error
// wrapping ErrTooLarge.
func Parse(b []byte) (*Document, error) {
	root, err := decodeTree(b, checkRoot)
	if err != nil {
		return nil, err
	}

	var d Document
	v, ok := root.Attr("version")
	if !ok {
		return nil, fmt.Errorf("%w: missing version attribute", ErrMalformed)
	}
	// RFC 4235 §4.1: version is a non-negative integer.
	d.Version, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid version %q", ErrMalformed, v)
	}
	st, ok := root.Attr("state")
	if !ok {
		return nil, fmt.Errorf("%w: missing state attribute", ErrMalformed)
	}
	d.State = strings.ToLower(strings.TrimSpace(st))
	d.Entity, _ = root.Attr("entity")

	for _, c := range root.Children {
		if c.Name.Local != "dialog" || !inNamespace(c.Name) {
			continue
		}
		if len(d.Dialogs) == MaxDialogs {
			return nil, fmt.Errorf("%w: more than %d dialogs", ErrTooLarge, MaxDialogs)
		}
		dl, err := parseDialog(c)
		if err != nil {
			return nil, fmt.Errorf("dialog %d: %w", len(d.Dialogs)+1, err)
		}
		d.Dialogs = append(d.Dialogs, dl)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

func checkRoot(name xml.Name) error {
	if name.Local != "dialog-info" || !inNamespace(name) {
		return fmt.Errorf("%w: root element is <%s> in namespace %q, want <dialog-info>", ErrMalformed, name.Local, name.Space)
	}
	return nil
}

func parseDialog(n *xmldoc.Node) (Dialog, error) {
	var dl Dialog
	dl.ID, _ = n.Attr("id")
	dl.CallID, _ = n.Attr("call-id")
	dl.LocalTag, _ = n.Attr("local-tag")
	dl.RemoteTag, _ = n.Attr("remote-tag")
	dir, _ := n.Attr("direction")
	dl.Direction = strings.ToLower(strings.TrimSpace(dir))

	if s := n.Child("state", inNS); s != nil {
		dl.State = strings.ToLower(s.TrimmedText())
		dl.Event, _ = s.Attr("event")
		if code, ok := s.Attr("code"); ok && strings.TrimSpace(code) != "" {
			c, err := strconv.Atoi(strings.TrimSpace(code))
			if err != nil {
				return dl, fmt.Errorf("%w: dialog %q has invalid code %q", ErrMalformed, dl.ID, code)
			}
			dl.Code = c
		}
	}
	if du := n.Child("duration", inNS); du != nil {
		secs, err := strconv.Atoi(du.TrimmedText())
		if err != nil {
			return dl, fmt.Errorf("%w: dialog %q has invalid duration %q", ErrMalformed, dl.ID, du.TrimmedText())
		}
		dl.Duration = secs
	}
	if l := n.Child("local", inNS); l != nil {
		dl.Local = parseParticipant(l)
	}
	if r := n.Child("remote", inNS); r != nil {
		dl.Remote = parseParticipant(r)
	}
	return dl, nil
}

func parseParticipant(n *xmldoc.Node) Participant {
	var p Participant
	if id := n.Child("identity", inNS); id != nil {
		p.Identity = id.TrimmedText()
		p.Display, _ = id.Attr("display")
	}
	if t := n.Child("target", inNS); t != nil {
		p.Target, _ = t.Attr("uri")
		for _, c := range t.Children {
			if c.Name.Local != "param" || !inNamespace(c.Name) {
				continue
			}
			name, _ := c.Attr("pname")
			// RFC 4235 §4.1.6 names the value "pval"; Asterisk writes
			// "pvalue". Read either.
			val, ok := c.Attr("pval")
			if !ok {
				val, _ = c.Attr("pvalue")
			}
			// RFC 3840 §9: feature tag names and values compare
			// case-insensitively; "no" means media is not rendered.
			if strings.EqualFold(name, "+sip.rendering") && strings.EqualFold(strings.TrimSpace(val), "no") {
				p.Held = true
			}
		}
	}
	return p
}
