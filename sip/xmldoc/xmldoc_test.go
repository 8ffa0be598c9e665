package xmldoc

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendEscaped(t *testing.T) {
	tests := []struct {
		name string
		in   string
		attr bool
		want string
	}{
		{name: "plain", in: "sip:201@example.com", want: "sip:201@example.com"},
		{name: "markup in text", in: `a<b>&"c'`, want: `a&lt;b&gt;&amp;"c'`},
		{name: "markup in attribute", in: `a<b>&"c'`, attr: true, want: `a&lt;b&gt;&amp;&quot;c&apos;`},
		{name: "whitespace in text", in: "a\tb\nc\rd", want: "a\tb\nc&#xD;d"},
		{name: "whitespace in attribute", in: "a\tb\nc\rd", attr: true, want: "a&#x9;b&#xA;c&#xD;d"},
		{name: "control characters", in: "a\x00b\x1fc", want: "a\uFFFDb\uFFFDc"},
		{name: "invalid utf-8", in: "a\xffb\xc3", want: "a\uFFFDb\uFFFD"},
		{name: "non-characters", in: "a\uFFFEb\uFFFF", want: "a\uFFFDb\uFFFD"},
		{name: "multibyte kept", in: "Zoë ☎ 𝄞", want: "Zoë ☎ 𝄞"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(AppendEscaped(nil, tt.in, tt.attr)))
		})
	}
}

var testLimits = Limits{MaxSize: 4096, MaxDepth: 4, MaxElements: 20, MaxAttrs: 3, MaxAttrLen: 16}

func TestDecodeLimits(t *testing.T) {
	root := func(doc string) error {
		_, err := Decode([]byte(doc), testLimits, func(name xml.Name) error { return nil })
		return err
	}
	tests := []struct {
		name     string
		doc      string
		tooLarge bool
		ok       bool
	}{
		{name: "fits", doc: `<a x="1"><b>t</b></a>`, ok: true},
		{name: "byte order mark", doc: "\xEF\xBB\xBF<a/>", ok: true},
		{name: "too big", doc: "<a>" + strings.Repeat("x", 5000) + "</a>", tooLarge: true},
		{name: "too deep", doc: "<a><b><c><d><e/></d></c></b></a>", tooLarge: true},
		{name: "too many elements", doc: "<a>" + strings.Repeat("<b/>", 25) + "</a>", tooLarge: true},
		{name: "too many attributes", doc: `<a p="1" q="2" r="3" s="4"/>`, tooLarge: true},
		{name: "attribute too long", doc: `<a p="` + strings.Repeat("v", 20) + `"/>`, tooLarge: true},
		{name: "doctype refused", doc: `<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`},
		{name: "two roots", doc: `<a/><b/>`},
		{name: "text outside root", doc: `oops<a/>`},
		{name: "unclosed", doc: `<a><b></a>`},
		{name: "empty", doc: ``},
		{name: "latin-1 declared", doc: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>", ok: true},
		{name: "unknown encoding", doc: `<?xml version="1.0" encoding="EBCDIC"?><a/>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := root(tt.doc)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var e *Error
			require.True(t, errors.As(err, &e), "an *Error, got %v", err)
			assert.Equal(t, tt.tooLarge, errors.Is(err, ErrTooLarge))
			assert.Equal(t, !tt.tooLarge, errors.Is(err, ErrMalformed))
		})
	}
}

func TestDecodeTree(t *testing.T) {
	n, err := Decode([]byte(`<a xmlns="urn:x" id="7"> <b>  hi </b><c/><b>second</b></a>`), testLimits, func(xml.Name) error { return nil })
	require.NoError(t, err)
	id, ok := n.Attr("id")
	assert.True(t, ok)
	assert.Equal(t, "7", id)
	inX := func(space string) bool { return space == "urn:x" }
	require.NotNil(t, n.Child("b", inX))
	assert.Equal(t, "hi", n.Child("b", inX).TrimmedText(), "first match, trimmed")
	assert.Nil(t, n.Child("b", func(string) bool { return false }))
	assert.Len(t, n.Children, 3)

	rootErr := errors.New("not my root")
	_, err = Decode([]byte(`<z/>`), testLimits, func(xml.Name) error { return rootErr })
	assert.ErrorIs(t, err, rootErr, "checkRoot's error comes back as is")
}

func TestAppendAttr(t *testing.T) {
	assert.Equal(t, ``, string(AppendAttr(nil, "id", "")), "empty values are left out")
	assert.Equal(t, ` id="a&quot;b"`, string(AppendAttr(nil, "id", `a"b`)))
}
