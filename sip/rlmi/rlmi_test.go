package rlmi

import (
	"bytes"
	"encoding/xml"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linphoneList is what liblinphone 5.1 sends (create_resource_list_xml).
const linphoneList = `<?xml version="1.0" encoding="UTF-8"?>
<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <list>
  <entry uri="sip:201@pbx.example.com"/>
  <entry uri="sip:202@pbx.example.com"/>
 </list>
</resource-lists>
`

func TestParseResourceLists(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    []Entry
		wantErr error
	}{
		{name: "liblinphone", doc: linphoneList, want: []Entry{{URI: "sip:201@pbx.example.com"}, {URI: "sip:202@pbx.example.com"}}},
		{name: "RFC 4826 nested with names and duplicates", doc: `<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists">
<list name="a"><entry uri="sip:a@x"><display-name>Alice &amp; co</display-name></entry>
<list name="b"><entry uri="sip:b@x"/><entry uri="sip:a@x"/><entry-ref ref="x"/><external anchor="y"/></list></list></resource-lists>`,
			want: []Entry{{URI: "sip:a@x", Name: "Alice & co"}, {URI: "sip:b@x"}}},
		{name: "wrong root", doc: `<presence xmlns="urn:ietf:params:xml:ns:pidf"/>`, wantErr: ErrMalformed},
		{name: "not XML", doc: `<resource-lists`, wantErr: ErrMalformed},
		{name: "doctype", doc: `<!DOCTYPE r [<!ENTITY a "a">]><resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"/>`, wantErr: ErrMalformed},
		{name: "too many entries", doc: `<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list>` +
			manyEntries(MaxEntries+1) + `</list></resource-lists>`, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResourceLists([]byte(tt.doc))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func manyEntries(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(`<entry uri="sip:` + strings.Repeat("u", 1+i%7) + string(rune('a'+i%26)) + `@` + string(rune('a'+(i/26)%26)) + string(rune('a'+i/676)) + `"/>`)
	}
	return b.String()
}

// The body reads back as RFC 4662 §5.2 describes it: multipart/related,
// RLMI first and named by start, one part per active instance whose
// Content-ID equals its cid.
func TestMultipart(t *testing.T) {
	l := List{URI: "sip:rls@pbx.example.com", Version: 3, FullState: true, Resources: []Resource{
		{URI: "sip:201@pbx.example.com", Name: `Ann "A" <b>`, State: StateActive, ContentType: "application/pidf+xml", Body: []byte("<presence/>")},
		{URI: "sip:202@pbx.example.com", State: StatePending},
		{URI: "sip:9@else.example", State: StateTerminated, Reason: "noresource"},
	}}
	ctype, body := l.Multipart("pbx.example.com")
	mt, params, err := mime.ParseMediaType(ctype)
	require.NoError(t, err)
	assert.Equal(t, "multipart/related", mt)
	assert.Equal(t, ContentType, params["type"])
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	first, err := mr.NextPart()
	require.NoError(t, err)
	assert.Equal(t, params["start"], "<"+first.Header.Get("Content-Id")+">")
	b, err := io.ReadAll(first)
	require.NoError(t, err)
	var doc struct {
		URI       string `xml:"uri,attr"`
		Version   int    `xml:"version,attr"`
		FullState bool   `xml:"fullState,attr"`
		Resources []struct {
			URI      string `xml:"uri,attr"`
			Name     string `xml:"name"`
			Instance struct {
				State  string `xml:"state,attr"`
				Reason string `xml:"reason,attr"`
				CID    string `xml:"cid,attr"`
			} `xml:"instance"`
		} `xml:"resource"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc), string(b))
	assert.Equal(t, "sip:rls@pbx.example.com", doc.URI)
	assert.Equal(t, 3, doc.Version)
	assert.True(t, doc.FullState)
	require.Len(t, doc.Resources, 3)
	assert.Equal(t, `Ann "A" <b>`, doc.Resources[0].Name)
	second, err := mr.NextPart()
	require.NoError(t, err)
	b, err = io.ReadAll(second)
	require.NoError(t, err)
	assert.Equal(t, "<presence/>", string(b))
	assert.Equal(t, StateActive, doc.Resources[0].Instance.State)
	assert.Equal(t, doc.Resources[0].Instance.CID, second.Header.Get("Content-Id"))
	assert.Equal(t, StatePending, doc.Resources[1].Instance.State)
	assert.Equal(t, "noresource", doc.Resources[2].Instance.Reason)
	_, err = mr.NextPart()
	assert.Equal(t, io.EOF, err, "no part for pending or terminated instances")
}

// FuzzParseResourceLists: no input panics, and what is accepted stays
// within the limits.
func FuzzParseResourceLists(f *testing.F) {
	f.Add([]byte(linphoneList))
	f.Add([]byte(`<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list><list><entry uri="a"/></list></list></resource-lists>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseResourceLists(b)
		if err != nil {
			if entries != nil {
				t.Fatalf("entries with error %v", err)
			}
			return
		}
		if len(entries) > MaxEntries {
			t.Fatalf("%d entries", len(entries))
		}
	})
}
