// Package rlmi builds the bodies of an RFC 4662 resource list server: the
// multipart/related NOTIFY whose first part is an RLMI document
// (application/rlmi+xml) naming each resource and the part that carries its
// state. It also reads RFC 4826 resource-lists documents, the body of an
// RFC 5367 ad-hoc list SUBSCRIBE. It knows nothing of SIP dialogs or of
// the event package of the parts: ad-hoc presence lists and desk-phone BLF
// lists (dialog) share it.
package rlmi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboardhq/switchboard/sip/xmldoc"
)

// Content types of the documents this package reads and writes.
const (
	// ContentType is the RLMI document type (RFC 4662 §5.3).
	ContentType = "application/rlmi+xml"
	// ResourceListsType is the RFC 4826 list type (RFC 5367 §4).
	ResourceListsType = "application/resource-lists+xml"
	// Namespace is the RLMI namespace.
	Namespace = "urn:ietf:params:xml:ns:rlmi"
	// ResourceListsNamespace is the RFC 4826 namespace.
	ResourceListsNamespace = "urn:ietf:params:xml:ns:resource-lists"
)

// Instance states (RFC 4662 §5.3).
const (
	StateActive     = "active"
	StatePending    = "pending"
	StateTerminated = "terminated"
)

// Limits on a resource-lists document.
const (
	// MaxEntries is the most entries ParseResourceLists returns.
	MaxEntries = 200
	maxSize    = 64 << 10
)

// ErrMalformed reports a resource-lists document that cannot be read;
// ErrTooLarge one beyond the limits.
var (
	ErrMalformed = errors.New("rlmi: malformed resource-lists document")
	ErrTooLarge  = errors.New("rlmi: resource-lists document too large")
)

// Resource is one resource of a list and its state.
type Resource struct {
	// URI names the resource as the subscriber listed it.
	URI  string
	Name string
	// State is StateActive, StatePending or StateTerminated; Reason goes
	// with StateTerminated ("rejected", "noresource", ...).
	State, Reason string
	// InstanceID names the resource's instance; empty means its position
	// in the list, one-based. A list sent in partial state needs ids that
	// do not move (RFC 4662 §5.3).
	InstanceID string
	// ContentType and Body are the resource's state document, sent only
	// for an active instance.
	ContentType string
	Body        []byte
}

// List is one RLMI notification: the list's URI, its version (0 for the
// first NOTIFY, one more for each after it, RFC 4662 §5.3) and its
// resources. FullState says every resource of the list is included.
type List struct {
	URI       string
	Version   uint32
	FullState bool
	Resources []Resource
}

// Multipart returns the NOTIFY body for l: its Content-Type header value
// and the multipart/related body, RLMI first (RFC 4662 §5.2). Content-IDs
// are random tokens at host. Each part's Content-ID header carries the id
// bare, as the cid attribute does: liblinphone 5.1 matches the two as
// strings (coreapi/friendlist.c), and Flexisip, its own list server,
// writes them so.
func (l *List) Multipart(host string) (contentType string, body []byte) {
	boundary := "sb-" + token(12)
	start := token(8) + "@" + host
	var rl []byte
	rl = append(rl, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<list xmlns="`+Namespace+`"`...)
	rl = xmldoc.AppendAttr(rl, "uri", l.URI)
	rl = append(rl, ` version="`...)
	rl = strconv.AppendUint(rl, uint64(l.Version), 10)
	rl = append(rl, `" fullState="`...)
	rl = strconv.AppendBool(rl, l.FullState)
	rl = append(rl, `">`+"\n"...)
	type part struct {
		cid, ctype string
		body       []byte
	}
	var parts []part
	for i, r := range l.Resources {
		rl = append(rl, " <resource"...)
		rl = xmldoc.AppendAttr(rl, "uri", r.URI)
		rl = append(rl, '>')
		if r.Name != "" {
			rl = append(rl, "<name>"...)
			rl = xmldoc.AppendEscaped(rl, r.Name, false)
			rl = append(rl, "</name>"...)
		}
		state := r.State
		if state == "" {
			state = StateActive
		}
		if r.InstanceID != "" {
			rl = append(rl, `<instance`...)
			rl = xmldoc.AppendAttr(rl, "id", r.InstanceID)
		} else {
			rl = append(rl, `<instance id="`...)
			rl = strconv.AppendInt(rl, int64(i+1), 10)
			rl = append(rl, '"')
		}
		rl = xmldoc.AppendAttr(rl, "state", state)
		if state == StateTerminated {
			rl = xmldoc.AppendAttr(rl, "reason", r.Reason)
		}
		if state == StateActive && r.ContentType != "" {
			cid := token(8) + "@" + host
			rl = xmldoc.AppendAttr(rl, "cid", cid)
			parts = append(parts, part{cid: cid, ctype: r.ContentType, body: r.Body})
		}
		rl = append(rl, "/></resource>\n"...)
	}
	rl = append(rl, "</list>\n"...)

	var b []byte
	writePart := func(cid, ctype string, body []byte) {
		b = append(b, "--"+boundary+"\r\n"...)
		b = append(b, "Content-Transfer-Encoding: binary\r\n"...)
		// "Content-Id" as Flexisip spells it: liblinphone looks the
		// header up by that exact name (Content::findHeader).
		b = append(b, "Content-Id: "+cid+"\r\n"...)
		b = append(b, "Content-Type: "+ctype+";charset=\"UTF-8\"\r\n\r\n"...)
		b = append(b, body...)
		b = append(b, "\r\n"...)
	}
	writePart(start, ContentType, rl)
	for _, p := range parts {
		writePart(p.cid, p.ctype, p.body)
	}
	b = append(b, "--"+boundary+"--\r\n"...)
	// The boundary is a token written bare, and last: belle-sip
	// (liblinphone) takes everything after ";boundary=" as the boundary,
	// quotes included.
	contentType = fmt.Sprintf(`multipart/related;type="%s";start="<%s>";boundary=%s`, ContentType, start, boundary)
	return contentType, b
}

// token is n random bytes in hex: a MIME boundary or Content-ID part that
// no body contains by chance.
func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Entry is one entry of a resource-lists document.
type Entry struct {
	URI, Name string
}

// ParseResourceLists reads an RFC 4826 document and returns its entries,
// nested lists flattened, in document order, each URI once. Entries by
// reference (entry-ref, external) are ignored: an ad-hoc list names its
// resources (RFC 5367 §4).
func ParseResourceLists(b []byte) ([]Entry, error) {
	root, err := xmldoc.Decode(b, xmldoc.Limits{MaxSize: maxSize, MaxDepth: 16, MaxElements: 4 * MaxEntries, MaxAttrs: 16, MaxAttrLen: 1024},
		func(n xml.Name) error {
			if n.Local != "resource-lists" || n.Space != ResourceListsNamespace {
				return fmt.Errorf("root element is <%s> in %q, want resource-lists", n.Local, n.Space)
			}
			return nil
		})
	if err != nil {
		var e *xmldoc.Error
		if errors.As(err, &e) && e.TooLarge {
			return nil, fmt.Errorf("%w: %s", ErrTooLarge, e.Detail)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var out []Entry
	seen := map[string]bool{}
	var walk func(n *xmldoc.Node) error
	walk = func(n *xmldoc.Node) error {
		for _, c := range n.Children {
			if c.Name.Space != ResourceListsNamespace {
				continue
			}
			switch c.Name.Local {
			case "list":
				if err := walk(c); err != nil {
					return err
				}
			case "entry":
				uri, _ := c.Attr("uri")
				uri = strings.TrimSpace(uri)
				if uri == "" || seen[uri] {
					continue
				}
				if len(out) == MaxEntries {
					return fmt.Errorf("%w: more than %d entries", ErrTooLarge, MaxEntries)
				}
				seen[uri] = true
				e := Entry{URI: uri}
				if dn := c.Child("display-name", func(s string) bool { return s == ResourceListsNamespace }); dn != nil {
					e.Name = dn.TrimmedText()
				}
				out = append(out, e)
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	return out, nil
}
