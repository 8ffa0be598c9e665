package pidf

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "samples", name))
	require.NoError(t, err)
	return b
}

func TestParseSamples(t *testing.T) {
	tests := []struct {
		name string
		file string
		want *Document
	}{
		{
			name: "linphone away with person note and extension in status",
			file: "linphone_away.xml",
			want: &Document{Entity: "sip:alice@sip.example.org",
				Tuples: []Tuple{{ID: "qmnnfs", Basic: Open, Contact: "sip:alice@sip.example.org",
					Timestamp: time.Date(2024, 3, 5, 9, 12, 44, 0, time.UTC)}},
				Activities: []string{ActivityAway}, Note: "Back in 5 minutes"},
		},
		{
			name: "baresip busy with person before tuple",
			file: "baresip_busy.xml",
			want: &Document{Entity: "sip:bob@voip.example.net",
				Tuples:     []Tuple{{ID: "t4109", Basic: Open, Contact: "sip:bob@voip.example.net"}},
				Activities: []string{ActivityBusy}},
		},
		{
			name: "zoiper single quotes and two activities",
			file: "zoiper_meeting.xml",
			want: &Document{Entity: "sip:carol@example.com",
				Tuples:     []Tuple{{ID: "t5f2c1a", Basic: Open, Contact: "sip:carol@198.51.100.7:5060;transport=udp"}},
				Activities: []string{ActivityMeeting, ActivityAppointment}, Note: "In a meeting until 3pm"},
		},
		{
			name: "asterisk activities under person status",
			file: "asterisk_onthephone.xml",
			want: &Document{Entity: "sip:1000@pbx.example.com",
				Tuples:     []Tuple{{ID: "1000", Basic: Open, Contact: "sip:1000@pbx.example.com"}},
				Activities: []string{ActivityOnThePhone}, Note: "On the phone"},
		},
		{
			name: "rpid draft activity text inside tuple status",
			file: "xlite_rpid_draft.xml",
			want: &Document{Entity: "sip:dave@example.com",
				Tuples: []Tuple{{ID: "sg89ae", Basic: Open, Contact: "sip:dave@192.0.2.55:5062", Note: "Out to lunch",
					Timestamp: time.Date(2023, 11, 20, 11, 1, 30, 250e6, time.UTC)}},
				Activities: []string{ActivityLunch}},
		},
		{
			name: "legacy note only keeps first note",
			file: "note_only.xml",
			want: &Document{Entity: "pres:erin@example.com",
				Tuples: []Tuple{{ID: "a1", Basic: Closed}}, Note: "Gone home"},
		},
		{
			name: "rfc 3863 example with prefixes and extensions",
			file: "rfc3863_example.xml",
			want: &Document{Entity: "pres:someone@example.com",
				Tuples: []Tuple{
					{ID: "bs35r9", Basic: Open, Contact: "im:someone@mobilecarrier.net", Note: "Don't Disturb Please!",
						Timestamp: time.Date(2001, 10, 27, 16, 49, 29, 0, time.UTC)},
					{ID: "eg92n8", Basic: Open, Contact: "mailto:someone@example.com"},
				},
				Note: "I'll be in Tokyo next week"},
		},
		{
			name: "activities directly under presence deduplicated",
			file: "rpid_presence_level.xml",
			want: &Document{Entity: "sip:frank@example.com",
				Tuples:       []Tuple{{ID: "t1", Basic: Open}},
				Activities:   []string{ActivityVacation, ActivityTravel, "other"},
				ActivityText: map[string]string{"other": "Conference in Lyon"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(readSample(t, tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseTolerance(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  *Document
	}{
		{
			name:  "no tuples no namespace",
			input: `<presence entity="sip:a@b"/>`,
			want:  &Document{Entity: "sip:a@b"},
		},
		{
			name:  "cpim draft namespace",
			input: `<presence xmlns="urn:ietf:params:xml:ns:cpim-pidf" entity="sip:a@b"><tuple id="x"><status><basic>closed</basic></status></tuple></presence>`,
			want:  &Document{Entity: "sip:a@b", Tuples: []Tuple{{ID: "x", Basic: Closed}}},
		},
		{
			name:  "status without basic",
			input: `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><tuple id="x"><status/></tuple></presence>`,
			want:  &Document{Entity: "sip:a@b", Tuples: []Tuple{{ID: "x"}}},
		},
		{
			name:  "timestamp without zone is utc",
			input: `<presence entity="sip:a@b"><tuple id="x"><status><basic>open</basic></status><timestamp>2024-01-02T03:04:05</timestamp></tuple></presence>`,
			want:  &Document{Entity: "sip:a@b", Tuples: []Tuple{{ID: "x", Basic: Open, Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}}},
		},
		{
			name: "invalid activity names dropped",
			input: `<presence xmlns:r="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:a@b"><r:activities>` +
				`<r:activity>on the phone</r:activity><r:activity></r:activity><r:activity>9lives</r:activity><r:busy/></r:activities></presence>`,
			want: &Document{Entity: "sip:a@b", Activities: []string{ActivityBusy}},
		},
		{
			name:  "empty activities",
			input: `<presence xmlns:r="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:a@b"><r:activities/></presence>`,
			want:  &Document{Entity: "sip:a@b"},
		},
		{
			name:  "byte order mark",
			input: "\xEF\xBB\xBF<presence entity=\"sip:a@b\"/>",
			want:  &Document{Entity: "sip:a@b"},
		},
		{
			name:  "latin-1 note",
			input: "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><presence entity=\"sip:a@b\"><note>Caf\xe9</note></presence>",
			want:  &Document{Entity: "sip:a@b", Note: "Café"},
		},
		{
			name:  "presence note wins over person note",
			input: `<presence xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="sip:a@b"><dm:person id="p"><dm:note>person</dm:note></dm:person><note>presence</note></presence>`,
			want:  &Document{Entity: "sip:a@b", Note: "presence"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.input))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	const head = `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:r="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:a@b">`
	const tail = `</presence>`
	var attrs, acts strings.Builder
	for i := range MaxAttrs {
		fmt.Fprintf(&attrs, ` a%d=""`, i)
	}
	for i := range MaxActivities + 1 {
		fmt.Fprintf(&acts, `<r:act%d/>`, i)
	}
	tests := []struct {
		name    string
		input   string
		wantErr error
		wantMsg string
	}{
		{name: "empty", input: "", wantErr: ErrMalformed, wantMsg: "no root element"},
		{name: "not xml", input: "open", wantErr: ErrMalformed, wantMsg: "text outside the root"},
		{name: "dialog-info root", input: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full"/>`, wantErr: ErrMalformed, wantMsg: "root element is <dialog-info>"},
		{name: "foreign namespace root", input: `<presence xmlns="jabber:client"/>`, wantErr: ErrMalformed, wantMsg: `namespace "jabber:client"`},
		{name: "tuple without id", input: head + `<tuple><status><basic>open</basic></status></tuple>` + tail, wantErr: ErrMalformed, wantMsg: "tuple 1: pidf: malformed document: tuple has no id"},
		{name: "unknown basic", input: head + `<tuple id="x"><status><basic>available</basic></status></tuple>` + tail, wantErr: ErrMalformed, wantMsg: `basic status "available"`},
		{name: "invalid timestamp", input: head + `<tuple id="x"><status/><timestamp>yesterday</timestamp></tuple>` + tail, wantErr: ErrMalformed, wantMsg: `invalid timestamp "yesterday"`},
		{name: "timestamp beyond year 9999 in utc", input: head + `<tuple id="x"><status/><timestamp>9999-12-31T23:00:00-02:00</timestamp></tuple>` + tail, wantErr: ErrMalformed, wantMsg: "invalid timestamp"},
		{name: "unclosed", input: head + `<tuple id="x">`, wantErr: ErrMalformed, wantMsg: "unexpected EOF"},
		{name: "second root", input: head + tail + `<presence/>`, wantErr: ErrMalformed, wantMsg: "after the root element"},
		{name: "doctype", input: `<!DOCTYPE presence><presence entity="sip:a@b"/>`, wantErr: ErrMalformed, wantMsg: "DOCTYPE"},
		{name: "undeclared entity", input: `<presence entity="&xxe;"/>`, wantErr: ErrMalformed, wantMsg: "invalid character entity"},
		{name: "unsupported encoding", input: `<?xml version="1.0" encoding="UTF-16"?><presence/>`, wantErr: ErrMalformed, wantMsg: "unsupported encoding"},
		{name: "too large", input: head + strings.Repeat(" ", MaxSize) + tail, wantErr: ErrTooLarge, wantMsg: "limit 65536"},
		{name: "too many tuples", input: head + strings.Repeat(`<tuple id="x"><status/></tuple>`, MaxTuples+1) + tail, wantErr: ErrTooLarge, wantMsg: "more than 64 tuples"},
		{name: "too many activities", input: head + `<r:activities>` + acts.String() + `</r:activities>` + tail, wantErr: ErrTooLarge, wantMsg: "more than 32 activities"},
		{name: "too deep", input: head + strings.Repeat("<x>", 1000) + strings.Repeat("</x>", 1000) + tail, wantErr: ErrTooLarge, wantMsg: "nested deeper than 16"},
		{name: "too many elements", input: head + strings.Repeat("<x/>", MaxElements) + tail, wantErr: ErrTooLarge, wantMsg: "more than 4096 elements"},
		{name: "too many attributes", input: `<presence entity="sip:a@b"` + attrs.String() + `/>`, wantErr: ErrTooLarge, wantMsg: "attributes, limit 32"},
		{name: "attribute too long", input: `<presence entity="sip:` + strings.Repeat("a", MaxAttrLen) + `"/>`, wantErr: ErrTooLarge, wantMsg: "attribute entity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.input))
			require.Error(t, err)
			assert.Nil(t, got)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

// billionLaughs is the classic entity-expansion bomb: expanded it would be
// about 3 GB.
const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><note>&lol9;</note></presence>`

// TestParseHostileAllocations checks that hostile documents are refused
// without the allocations an expanding or recursing parser would make.
func TestParseHostileAllocations(t *testing.T) {
	const head = `<presence entity="sip:a@b">`
	tests := []struct {
		name     string
		input    string
		wantErr  error
		maxAlloc uint64
	}{
		{name: "billion laughs", input: billionLaughs, wantErr: ErrMalformed, maxAlloc: 64 << 10},
		{name: "billion laughs without doctype", input: head + `<note>&lol9;</note></presence>`, wantErr: ErrMalformed, maxAlloc: 64 << 10},
		{name: "deep nesting at max size", input: head + strings.Repeat("<a>", (MaxSize-len(head))/3), wantErr: ErrTooLarge, maxAlloc: 64 << 10},
		{name: "external entity", input: `<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><presence entity="&xxe;"/>`, wantErr: ErrMalformed, maxAlloc: 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.LessOrEqual(t, len(tt.input), MaxSize)
			in := []byte(tt.input)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Parse(in)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, tt.wantErr)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, tt.maxAlloc, "bytes allocated while refusing")
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		doc     Document
		wantErr error
	}{
		{name: "valid", doc: Document{Tuples: []Tuple{{ID: "t", Basic: Open}}, Activities: []string{ActivityBusy}}},
		{name: "empty document", doc: Document{}},
		{name: "tuple without id", doc: Document{Tuples: []Tuple{{Basic: Open}}}, wantErr: ErrMalformed},
		{name: "bad basic", doc: Document{Tuples: []Tuple{{ID: "t", Basic: "OPEN"}}}, wantErr: ErrMalformed},
		{name: "too many tuples", doc: Document{Tuples: make([]Tuple, MaxTuples+1)}, wantErr: ErrTooLarge},
		{name: "too many activities", doc: Document{Activities: make([]string, MaxActivities+1)}, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.doc.Validate()
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.wantErr)
		})
	}
}
