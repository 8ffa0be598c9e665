package pidf

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// node is one element of a parsed document. The tree lives only long enough
// to be validated and mapped onto Document.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	text     []byte
	children []*node
}

// attr returns the value of the unqualified attribute local.
func (n *node) attr(local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// child returns the first child element named local whose namespace
// satisfies inNS, or nil.
func (n *node) child(local string, inNS func(string) bool) *node {
	for _, c := range n.children {
		if c.name.Local == local && inNS(c.name.Space) {
			return c
		}
	}
	return nil
}

// trimmedText returns the character data directly inside n without
// surrounding white space, which pretty-printing generators add.
func (n *node) trimmedText() string {
	return string(bytes.TrimSpace(n.text))
}

// utf8BOM is skipped before decoding: encoding/xml would treat it as text
// before the root element.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decodeTree parses b into a tree, enforcing the package limits as it goes
// so that hostile input is refused before it costs memory. checkRoot is
// called on the root element before anything below it is read.
func decodeTree(b []byte, checkRoot func(xml.Name) error) (*node, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxSize)
	}
	dec := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(b, utf8BOM)))
	dec.Strict = true
	dec.CharsetReader = charsetReader

	var (
		root     *node
		stack    []*node
		elements int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%w: element <%s> after the root element", ErrMalformed, t.Name.Local)
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("%w: elements nested deeper than %d", ErrTooLarge, MaxDepth)
			}
			if elements++; elements > MaxElements {
				return nil, fmt.Errorf("%w: more than %d elements", ErrTooLarge, MaxElements)
			}
			if len(t.Attr) > MaxAttrs {
				return nil, fmt.Errorf("%w: <%s> has %d attributes, limit %d", ErrTooLarge, t.Name.Local, len(t.Attr), MaxAttrs)
			}
			for _, a := range t.Attr {
				if len(a.Value) > MaxAttrLen {
					return nil, fmt.Errorf("%w: attribute %s of <%s> is %d bytes, limit %d", ErrTooLarge, a.Name.Local, t.Name.Local, len(a.Value), MaxAttrLen)
				}
			}
			n := &node{name: t.Name, attrs: t.Attr}
			if root == nil {
				if err := checkRoot(t.Name); err != nil {
					return nil, err
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			// The decoder guarantees end tags match start tags.
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, fmt.Errorf("%w: text outside the root element", ErrMalformed)
				}
				continue
			}
			top := stack[len(stack)-1]
			top.text = append(top.text, t...)
		case xml.Directive:
			// encoding/xml never expands entities declared in a DTD, but a
			// presence document has no use for one: refusing it outright
			// keeps billion-laughs style payloads inert and cheap.
			return nil, fmt.Errorf("%w: DOCTYPE and other directives are not allowed", ErrMalformed)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", ErrMalformed)
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
		// Input is already capped at MaxSize, so reading it all is bounded.
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
