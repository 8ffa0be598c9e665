// Package xmldoc decodes and writes the small XML documents SIP presence
// carries (RFC 4235 dialog-info, RFC 3863 PIDF) safely: input is bounded in
// size, depth, element and attribute counts before it costs memory, DTDs
// are refused, and output is escaped for text or attributes.
package xmldoc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits bound what Decode accepts.
type Limits struct {
	MaxSize, MaxDepth, MaxElements, MaxAttrs, MaxAttrLen int
}

// Sentinels an *Error matches with errors.Is.
var (
	ErrMalformed = errors.New("malformed document")
	ErrTooLarge  = errors.New("document too large")
)

// Error is a document Decode refused. Packages wrap Detail in their own
// sentinels so callers branch on those.
type Error struct {
	TooLarge bool
	Detail   string
}

func (e *Error) Error() string {
	if e.TooLarge {
		return ErrTooLarge.Error() + ": " + e.Detail
	}
	return ErrMalformed.Error() + ": " + e.Detail
}

// Is matches ErrTooLarge or ErrMalformed.
func (e *Error) Is(target error) bool {
	return (e.TooLarge && target == ErrTooLarge) || (!e.TooLarge && target == ErrMalformed)
}

func malformed(format string, args ...any) error {
	return &Error{Detail: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &Error{TooLarge: true, Detail: fmt.Sprintf(format, args...)}
}

// Node is one element of a parsed document. The tree lives only long enough
// to be validated and mapped onto a package's own document type.
type Node struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Text     []byte
	Children []*Node
}

// Attr returns the value of the unqualified attribute local.
func (n *Node) Attr(local string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// Child returns the first child element named local whose namespace
// satisfies inNS, or nil.
func (n *Node) Child(local string, inNS func(string) bool) *Node {
	for _, c := range n.Children {
		if c.Name.Local == local && inNS(c.Name.Space) {
			return c
		}
	}
	return nil
}

// TrimmedText returns the character data directly inside n without
// surrounding white space, which pretty-printing generators add.
func (n *Node) TrimmedText() string {
	return string(bytes.TrimSpace(n.Text))
}

// utf8BOM is skipped before decoding: encoding/xml would treat it as text
// before the root element.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Decode parses b into a tree, enforcing lim as it goes so that hostile
// input is refused before it costs memory. checkRoot is called on the root
// element before anything below it is read; its error is returned as is.
// Other errors are *Error.
func Decode(b []byte, lim Limits, checkRoot func(xml.Name) error) (*Node, error) {
	if len(b) > lim.MaxSize {
		return nil, tooLarge("%d bytes, limit %d", len(b), lim.MaxSize)
	}
	dec := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(b, utf8BOM)))
	dec.Strict = true
	dec.CharsetReader = charsetReader

	var (
		root     *Node
		stack    []*Node
		elements int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformed("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, malformed("element <%s> after the root element", t.Name.Local)
			}
			if len(stack) >= lim.MaxDepth {
				return nil, tooLarge("elements nested deeper than %d", lim.MaxDepth)
			}
			if elements++; elements > lim.MaxElements {
				return nil, tooLarge("more than %d elements", lim.MaxElements)
			}
			if len(t.Attr) > lim.MaxAttrs {
				return nil, tooLarge("<%s> has %d attributes, limit %d", t.Name.Local, len(t.Attr), lim.MaxAttrs)
			}
			for _, a := range t.Attr {
				if len(a.Value) > lim.MaxAttrLen {
					return nil, tooLarge("attribute %s of <%s> is %d bytes, limit %d", a.Name.Local, t.Name.Local, len(a.Value), lim.MaxAttrLen)
				}
			}
			n := &Node{Name: t.Name, Attrs: t.Attr}
			if root == nil {
				if err := checkRoot(t.Name); err != nil {
					return nil, err
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			// The decoder guarantees end tags match start tags.
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, malformed("text outside the root element")
				}
				continue
			}
			top := stack[len(stack)-1]
			top.Text = append(top.Text, t...)
		case xml.Directive:
			// encoding/xml never expands entities declared in a DTD, but a
			// presence document has no use for one: refusing it outright
			// keeps billion-laughs style payloads inert and cheap.
			return nil, malformed("DOCTYPE and other directives are not allowed")
		}
	}
	if root == nil {
		return nil, malformed("no root element")
	}
	return root, nil
}

// charsetReader lets the decoder accept the two non-UTF-8 encodings SIP
// stacks are seen declaring. Anything else is refused.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "us-ascii", "ascii":
		return r, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
		// Input is already capped at Limits.MaxSize, so reading it all is bounded.
		raw, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("read latin-1 document: %w", err)
		}
		out := make([]byte, 0, len(raw)*2)
		for _, c := range raw {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}

// AppendAttr appends ` name="value"`, or nothing when value is empty.
func AppendAttr(dst []byte, name, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, `="`...)
	dst = AppendEscaped(dst, value, true)
	return append(dst, '"')
}

// AppendEscaped appends s escaped for XML text or, when attr is set, for a
// double-quoted attribute value. Tabs and newlines in attributes become
// character references so attribute-value normalisation (XML 1.0 §3.3.3)
// keeps them; carriage returns always do so end-of-line handling (§2.11)
// keeps them. Characters outside the XML Char production (§2.2) and
// invalid UTF-8 become U+FFFD.
func AppendEscaped(dst []byte, s string, attr bool) []byte {
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
