package dialoginfo

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

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
			name: "asterisk idle extension keeps a terminated dialog",
			file: "asterisk_idle.xml",
			want: &Document{Version: 0, State: StateFull, Entity: "sip:201@pbx.example.com",
				Dialogs: []Dialog{{ID: "201", State: DialogTerminated}}},
		},
		{
			name: "asterisk ringing with call-id and tags",
			file: "asterisk_ringing.xml",
			want: &Document{Version: 4, State: StateFull, Entity: "sip:201@pbx.example.com",
				Dialogs: []Dialog{{
					ID: "201", CallID: "2c1a6b4e-6d1f-4c3a-9a58-5f0c1e6b7d21",
					LocalTag: "9f8a7d6c-1b2e-4a5f", RemoteTag: "as5d3e91c2",
					Direction: DirectionRecipient, State: DialogEarly,
					Local: Participant{Identity: "sip:201@pbx.example.com", Display: "Reception",
						Target: "sip:201@pbx.example.com"},
					Remote: Participant{Identity: "sip:+33491550142@pbx.example.com", Display: "Alice Martin",
						Target: "sip:+33491550142@pbx.example.com"},
				}}},
		},
		{
			name: "asterisk held call sets local Held",
			file: "asterisk_hold.xml",
			want: &Document{Version: 7, State: StateFull, Entity: "sip:202@pbx.example.com",
				Dialogs: []Dialog{{
					ID: "202", CallID: "0a4f1d2e3c5b", LocalTag: "f00d1234", RemoteTag: "beef5678",
					Direction: DirectionInitiator, State: DialogConfirmed,
					Local: Participant{Identity: "sip:202@pbx.example.com", Display: "Sales",
						Target: "sip:202@pbx.example.com", Held: true},
					Remote: Participant{Identity: "sip:203@pbx.example.com", Display: "Bob",
						Target: "sip:203@pbx.example.com"},
				}}},
		},
		{
			name: "rfc 4235 pval attribute carries hold",
			file: "rfc4235_hold.xml",
			want: &Document{Version: 2, State: StateFull, Entity: "sip:bob@example.com",
				Dialogs: []Dialog{{
					ID: "as7d900as8", CallID: "a84b4c76e66710", LocalTag: "1928301774", RemoteTag: "456fa",
					Direction: DirectionRecipient, State: DialogConfirmed,
					Local: Participant{Identity: "sip:bob@example.com", Display: "Bob",
						Target: "sip:bob@pc33.example.com", Held: true},
					Remote: Participant{Identity: "sip:alice@example.com", Display: "Alice",
						Target: "sip:alice@pc22.example.com"},
				}}},
		},
		{
			name: "freeswitch rendering yes is not held",
			file: "freeswitch_confirmed.xml",
			want: &Document{Version: 12, State: StateFull, Entity: "sip:1001@10.0.0.5",
				Dialogs: []Dialog{{
					ID: "7c2e6a1e-1f0b-4b6e-8d61-3f2a9e4c5d10", Direction: DirectionInitiator,
					State: DialogConfirmed,
					Local: Participant{Identity: "sip:1001@10.0.0.5", Display: "1001",
						Target: "sip:1001@10.0.0.5"},
					Remote: Participant{Identity: "sip:1000@10.0.0.5", Display: "Support Line",
						Target: "sip:**1000@10.0.0.5"},
				}}},
		},
		{
			name: "kamailio partial with two dialogs and remote before local",
			file: "kamailio_multi.xml",
			want: &Document{Version: 3, State: StatePartial, Entity: "sip:alice@example.com",
				Dialogs: []Dialog{
					{
						ID: "as7d900as8", CallID: "a84b4c76e66710@pc33.example.com",
						LocalTag: "1928301774", RemoteTag: "456887766",
						Direction: DirectionInitiator, State: DialogConfirmed,
						Local:  Participant{Identity: "sip:alice@example.com", Target: "sip:alice@pc33.example.com"},
						Remote: Participant{Identity: "sip:bob@example.com", Target: "sip:bob@192.0.2.4"},
					},
					{
						ID: "b92c1f0e77", CallID: "9f1e2d3c4b5a@pc33.example.com", LocalTag: "88112233",
						Direction: DirectionRecipient, State: DialogTerminated,
						Event: EventRejected, Code: 486,
						Local:  Participant{Identity: "sip:alice@example.com"},
						Remote: Participant{Identity: "sip:carol@example.com", Display: "Carol"},
					},
				}},
		},
		{
			name: "rfc 4235 example with duration and ignored extras",
			file: "rfc4235_full.xml",
			want: &Document{Version: 0, State: StateFull, Entity: "sip:bob@example.com",
				Dialogs: []Dialog{{
					ID: "123", CallID: "a84b4c76e66710", LocalTag: "1928301774", RemoteTag: "456887766",
					Direction: DirectionRecipient, State: DialogTerminated, Event: EventReplaced,
					Duration: 274,
					Local: Participant{Identity: "sip:bob@example.com", Display: "Bob",
						Target: "sip:bobster@phone21.example.org"},
					Remote: Participant{Identity: "sip:jason@example.com", Display: "Jason",
						Target: "sip:jason@pc43.example.com"},
				}}},
		},
		{
			name: "shared appearance extensions ignored and case folded",
			file: "sa_dialog_info.xml",
			want: &Document{Version: 18, State: StatePartial, Entity: "sip:alice@example.com",
				Dialogs: []Dialog{{
					ID: "id3d4f9c83", CallID: "5e1a9b2c", LocalTag: "7f3d", RemoteTag: "2a6b",
					Direction: DirectionRecipient, State: DialogConfirmed,
					Local: Participant{Identity: "sip:alice@example.com", Display: "Alice",
						Target: "sip:alice@ua1.example.com", Held: true},
					Remote: Participant{Identity: "sip:dave@example.net"},
				}}},
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
			name:  "idle document without dialogs",
			input: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:a@b"/>`,
			want:  &Document{Version: 1, State: StateFull, Entity: "sip:a@b"},
		},
		{
			name:  "no namespace declared",
			input: `<dialog-info version="2" state="full"><dialog id="x"><state>trying</state></dialog></dialog-info>`,
			want:  &Document{Version: 2, State: StateFull, Dialogs: []Dialog{{ID: "x", State: DialogTrying}}},
		},
		{
			name: "prefixed dialog-info namespace",
			input: `<di:dialog-info xmlns:di="urn:ietf:params:xml:ns:dialog-info" version="3" state="full">` +
				`<di:dialog id="x" direction="Recipient"><di:state> Proceeding </di:state></di:dialog></di:dialog-info>`,
			want: &Document{Version: 3, State: StateFull,
				Dialogs: []Dialog{{ID: "x", Direction: DirectionRecipient, State: DialogProceeding}}},
		},
		{
			name:  "utf-8 byte order mark",
			input: "\xEF\xBB\xBF" + `<dialog-info version="0" state="full"/>`,
			want:  &Document{Version: 0, State: StateFull},
		},
		{
			name: "latin-1 declared encoding",
			input: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><dialog-info version=\"5\" state=\"full\">" +
				"<dialog id=\"1\"><state>early</state><remote><identity display=\"Ren\xe9\">sip:r@x</identity></remote></dialog></dialog-info>",
			want: &Document{Version: 5, State: StateFull, Dialogs: []Dialog{{ID: "1", State: DialogEarly,
				Remote: Participant{Identity: "sip:r@x", Display: "René"}}}},
		},
		{
			name: "entity references decoded",
			input: `<dialog-info version="9" state="full" entity="sip:a@b"><dialog id="1"><state>early</state>` +
				`<remote><identity display="Tom &amp; &quot;Jerry&quot; &#x263A;">sip:t@x</identity></remote></dialog></dialog-info>`,
			want: &Document{Version: 9, State: StateFull, Entity: "sip:a@b", Dialogs: []Dialog{{ID: "1",
				State: DialogEarly, Remote: Participant{Identity: "sip:t@x", Display: `Tom & "Jerry" ☺`}}}},
		},
		{
			name: "target without uri still carries hold",
			input: `<dialog-info version="1" state="full"><dialog id="1"><state>confirmed</state>` +
				`<local><target><param pname="+SIP.Rendering" pvalue="no"/></target></local></dialog></dialog-info>`,
			want: &Document{Version: 1, State: StateFull, Dialogs: []Dialog{{ID: "1", State: DialogConfirmed,
				Local: Participant{Held: true}}}},
		},
		{
			name: "comments and processing instructions ignored",
			input: `<?xml version="1.0"?><!-- hi --><dialog-info version="1" state="full"><!-- x -->` +
				`<?pi data?></dialog-info><!-- bye -->`,
			want: &Document{Version: 1, State: StateFull},
		},
		{
			name:  "max version",
			input: `<dialog-info version="18446744073709551615" state="full"/>`,
			want:  &Document{Version: 18446744073709551615, State: StateFull},
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
	const head = `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full">`
	const tail = `</dialog-info>`
	manyDialogs := head + strings.Repeat(`<dialog id="d"><state>early</state></dialog>`, MaxDialogs+1) + tail
	deep := head + strings.Repeat("<x>", 5000) + strings.Repeat("</x>", 5000) + tail
	manyElements := head + strings.Repeat("<x/>", MaxElements) + tail
	var attrs strings.Builder
	for i := range MaxAttrs - 1 {
		fmt.Fprintf(&attrs, ` a%d=""`, i)
	}
	manyAttrs := `<dialog-info version="1" state="full"` + attrs.String() + `>` + tail
	longAttr := `<dialog-info version="1" state="full" entity="sip:` + strings.Repeat("a", MaxAttrLen) + `"/>`
	tooBig := head + strings.Repeat(" ", MaxSize) + tail

	tests := []struct {
		name    string
		input   string
		wantErr error
		wantMsg string
	}{
		{name: "empty", input: "", wantErr: ErrMalformed, wantMsg: "no root element"},
		{name: "not xml", input: "hello", wantErr: ErrMalformed, wantMsg: "text outside the root"},
		{name: "pidf root", input: `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"/>`, wantErr: ErrMalformed, wantMsg: "root element is <presence>"},
		{name: "foreign namespace root", input: `<dialog-info xmlns="urn:example:other" version="1" state="full"/>`, wantErr: ErrMalformed, wantMsg: `namespace "urn:example:other"`},
		{name: "missing version", input: `<dialog-info state="full"/>`, wantErr: ErrMalformed, wantMsg: "missing version"},
		{name: "non-numeric version", input: `<dialog-info version="abc" state="full"/>`, wantErr: ErrMalformed, wantMsg: `invalid version "abc"`},
		{name: "negative version", input: `<dialog-info version="-1" state="full"/>`, wantErr: ErrMalformed, wantMsg: "invalid version"},
		{name: "overflowing version", input: `<dialog-info version="18446744073709551616" state="full"/>`, wantErr: ErrMalformed, wantMsg: "invalid version"},
		{name: "missing state", input: `<dialog-info version="1"/>`, wantErr: ErrMalformed, wantMsg: "missing state"},
		{name: "unknown document state", input: `<dialog-info version="1" state="some"/>`, wantErr: ErrMalformed, wantMsg: `document state "some"`},
		{name: "dialog without id", input: head + `<dialog><state>early</state></dialog>` + tail, wantErr: ErrMalformed, wantMsg: "dialog 1: dialoginfo: malformed document: dialog has no id"},
		{name: "second dialog without id", input: head + `<dialog id="a"><state>early</state></dialog><dialog id=""><state>early</state></dialog>` + tail, wantErr: ErrMalformed, wantMsg: "dialog 2:"},
		{name: "unknown dialog state", input: head + `<dialog id="a"><state>ringing</state></dialog>` + tail, wantErr: ErrMalformed, wantMsg: `unknown state "ringing"`},
		{name: "missing dialog state", input: head + `<dialog id="a"/>` + tail, wantErr: ErrMalformed, wantMsg: `dialog "a" has no state`},
		{name: "unknown direction", input: head + `<dialog id="a" direction="sideways"><state>early</state></dialog>` + tail, wantErr: ErrMalformed, wantMsg: `unknown direction "sideways"`},
		{name: "non-numeric code", input: head + `<dialog id="a"><state code="busy">terminated</state></dialog>` + tail, wantErr: ErrMalformed, wantMsg: `invalid code "busy"`},
		{name: "out of range code", input: head + `<dialog id="a"><state code="99">terminated</state></dialog>` + tail, wantErr: ErrMalformed, wantMsg: "invalid response code 99"},
		{name: "non-numeric duration", input: head + `<dialog id="a"><state>confirmed</state><duration>long</duration></dialog>` + tail, wantErr: ErrMalformed, wantMsg: `invalid duration "long"`},
		{name: "negative duration", input: head + `<dialog id="a"><state>confirmed</state><duration>-5</duration></dialog>` + tail, wantErr: ErrMalformed, wantMsg: "negative duration"},
		{name: "unclosed root", input: head + `<dialog id="a"><state>early</state></dialog>`, wantErr: ErrMalformed, wantMsg: "unexpected EOF"},
		{name: "mismatched end tag", input: head + `<dialog id="a"><state>early</dialog>` + tail, wantErr: ErrMalformed, wantMsg: "syntax error"},
		{name: "second root element", input: head + tail + `<dialog-info version="2" state="full"/>`, wantErr: ErrMalformed, wantMsg: "after the root element"},
		{name: "text after root", input: head + tail + `junk`, wantErr: ErrMalformed, wantMsg: "text outside the root"},
		{name: "doctype", input: `<!DOCTYPE dialog-info><dialog-info version="1" state="full"/>`, wantErr: ErrMalformed, wantMsg: "DOCTYPE"},
		{name: "undeclared entity", input: `<dialog-info version="1" state="full" entity="&xxe;"/>`, wantErr: ErrMalformed, wantMsg: "invalid character entity"},
		{name: "unsupported encoding", input: `<?xml version="1.0" encoding="EBCDIC"?><dialog-info version="1" state="full"/>`, wantErr: ErrMalformed, wantMsg: `unsupported encoding "EBCDIC"`},
		{name: "too large", input: tooBig, wantErr: ErrTooLarge, wantMsg: "limit 65536"},
		{name: "too many dialogs", input: manyDialogs, wantErr: ErrTooLarge, wantMsg: "more than 64 dialogs"},
		{name: "too deep", input: deep, wantErr: ErrTooLarge, wantMsg: "nested deeper than 16"},
		{name: "too many elements", input: manyElements, wantErr: ErrTooLarge, wantMsg: "more than 4096 elements"},
		{name: "too many attributes", input: manyAttrs, wantErr: ErrTooLarge, wantMsg: "attributes, limit 32"},
		{name: "attribute too long", input: longAttr, wantErr: ErrTooLarge, wantMsg: "attribute entity"},
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
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="&lol9;"/>`

// TestParseHostileAllocations checks that hostile documents are refused
// without the allocations an expanding or recursing parser would make.
func TestParseHostileAllocations(t *testing.T) {
	const head = `<dialog-info version="1" state="full">`
	tests := []struct {
		name     string
		input    string
		wantErr  error
		maxAlloc uint64
	}{
		{name: "billion laughs", input: billionLaughs, wantErr: ErrMalformed, maxAlloc: 64 << 10},
		{name: "billion laughs without doctype", input: head + `<dialog id="&lol9;"/></dialog-info>`, wantErr: ErrMalformed, maxAlloc: 64 << 10},
		{name: "deep nesting at max size", input: head + strings.Repeat("<a>", (MaxSize-len(head))/3), wantErr: ErrTooLarge, maxAlloc: 64 << 10},
		{name: "external entity", input: `<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><dialog-info version="1" state="full" entity="&xxe;"/>`, wantErr: ErrMalformed, maxAlloc: 64 << 10},
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
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d bytes", alloc)
			assert.Less(t, alloc, tt.maxAlloc, "bytes allocated while refusing")
		})
	}
}

func TestValidate(t *testing.T) {
	ok := Dialog{ID: "a", State: DialogEarly}
	tests := []struct {
		name    string
		doc     Document
		wantErr error
	}{
		{name: "valid", doc: Document{State: StateFull, Dialogs: []Dialog{ok}}},
		{name: "empty state", doc: Document{}, wantErr: ErrMalformed},
		{name: "too many dialogs", doc: Document{State: StateFull, Dialogs: make([]Dialog, MaxDialogs+1)}, wantErr: ErrTooLarge},
		{name: "code above 699", doc: Document{State: StatePartial, Dialogs: []Dialog{{ID: "a", State: DialogTerminated, Code: 700}}}, wantErr: ErrMalformed},
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
