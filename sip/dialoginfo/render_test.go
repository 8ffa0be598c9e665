package dialoginfo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// renderCases are shared by the golden, round-trip and benchmark code.
var renderCases = []struct {
	name string
	doc  Document
}{
	{
		name: "idle",
		doc:  Document{Version: 0, State: StateFull, Entity: "sip:201@example.com"},
	},
	{
		name: "early",
		doc: Document{Version: 1, State: StateFull, Entity: "sip:201@example.com", Dialogs: []Dialog{{
			ID: "a1b2c3", CallID: "2c1a6b4e@10.0.0.7", LocalTag: "9f8a7d", RemoteTag: "as5d3e91",
			Direction: DirectionRecipient, State: DialogEarly,
			Local: Participant{Identity: "sip:201@example.com", Display: "Reception",
				Target: "sip:201@10.0.0.21:5060"},
			Remote: Participant{Identity: "sip:+33491550142@example.com", Display: "Alice",
				Target: "sip:+33491550142@example.com"},
		}}},
	},
	{
		name: "three",
		doc: Document{Version: 42, State: StatePartial, Entity: "sip:201@example.com", Dialogs: []Dialog{
			{
				ID: "d1", CallID: "c1@pbx", LocalTag: "l1", RemoteTag: "r1", Direction: DirectionInitiator,
				State: DialogConfirmed, Duration: 125,
				Local:  Participant{Identity: "sip:201@example.com", Target: "sip:201@10.0.0.21", Held: true},
				Remote: Participant{Identity: "sip:202@example.com", Display: "Bob"},
			},
			{
				ID: "d2", CallID: "c2@pbx", LocalTag: "l2", Direction: DirectionRecipient, State: DialogEarly,
				Remote: Participant{Identity: "sip:0491550142@example.com", Display: "Pharmacie du Port"},
			},
			{
				ID: "d3", CallID: "c3@pbx", LocalTag: "l3", RemoteTag: "r3", Direction: DirectionRecipient,
				State: DialogTerminated, Event: EventRejected, Code: 486,
			},
		}},
	},
	{
		name: "hostile display names",
		doc: Document{Version: 3, State: StateFull, Entity: `sip:"x"@example.com`, Dialogs: []Dialog{{
			ID: `<id>&'"`, State: DialogEarly, Direction: DirectionRecipient,
			Remote: Participant{
				Identity: "sip:evil@example.com]]></identity><x>",
				Display:  "Bobby \"Tables\" <script>&amp;\x00\x1b\r\n\ttab \xff\uFFFE ☎",
				Target:   "sip:evil@example.com;a=\"b\"",
			},
		}}},
	},
}

func TestRenderGolden(t *testing.T) {
	for _, tt := range renderCases {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.doc.Render()
			path := filepath.Join("testdata", "golden", strings.ReplaceAll(tt.name, " ", "_")+".xml")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create golden files")
			assert.Equal(t, string(want), string(got))
			assertWellFormed(t, got)
		})
	}
}

func TestRenderRoundTrip(t *testing.T) {
	for _, tt := range renderCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.doc.Render())
			require.NoError(t, err)
			if tt.name == "hostile display names" {
				// Characters XML cannot carry come back as U+FFFD.
				assert.Equal(t, "Bobby \"Tables\" <script>&amp;\uFFFD\uFFFD\r\n\ttab \uFFFD\uFFFD ☎", got.Dialogs[0].Remote.Display)
				assert.Equal(t, tt.doc.Dialogs[0].ID, got.Dialogs[0].ID)
				assert.Equal(t, tt.doc.Dialogs[0].Remote.Identity, got.Dialogs[0].Remote.Identity)
				assert.Equal(t, tt.doc.Entity, got.Entity)
				return
			}
			assert.Equal(t, &tt.doc, got)
		})
	}
}

// TestRenderSamplesRoundTrip re-renders every real-world sample and checks
// nothing Parse kept is lost.
func TestRenderSamplesRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			first, err := Parse(readSample(t, filepath.Base(f)))
			require.NoError(t, err)
			out := first.Render()
			assertWellFormed(t, out)
			second, err := Parse(out)
			require.NoError(t, err)
			assert.Equal(t, first, second)
		})
	}
}

func TestRenderShape(t *testing.T) {
	tests := []struct {
		name string
		doc  Document
		want string
	}{
		{
			name: "zero document defaults to full and omits entity",
			doc:  Document{},
			want: `<?xml version="1.0" encoding="UTF-8"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full"/>`,
		},
		{
			name: "unknown state rendered as full",
			doc:  Document{State: "bogus", Version: 7},
			want: `<?xml version="1.0" encoding="UTF-8"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="7" state="full"/>`,
		},
		{
			name: "held without target keeps the param",
			doc:  Document{State: StateFull, Dialogs: []Dialog{{ID: "1", State: DialogConfirmed, Local: Participant{Held: true}}}},
			want: `<?xml version="1.0" encoding="UTF-8"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full">` +
				`<dialog id="1"><state>confirmed</state><local><target><param pname="+sip.rendering" pvalue="no"/></target></local></dialog></dialog-info>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(tt.doc.Render()))
		})
	}
}

func TestAppendRenderAppends(t *testing.T) {
	doc := renderCases[1].doc
	prefix := []byte("NOTIFY body: ")
	got := doc.AppendRender(prefix)
	assert.True(t, bytes.HasPrefix(got, prefix))
	assert.Equal(t, string(doc.Render()), string(got[len(prefix):]))
}

func TestRenderAllocations(t *testing.T) {
	doc := renderCases[2].doc
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		buf = doc.AppendRender(buf[:0])
	})
	assert.Zero(t, allocs, "AppendRender into a large enough buffer")
	allocs = testing.AllocsPerRun(100, func() {
		_ = doc.Render()
	})
	assert.LessOrEqual(t, allocs, 1.0, "Render sizes its buffer up front")
}

// assertWellFormed decodes b with a plain encoding/xml decoder, independent
// of Parse, and checks the root is dialog-info in its namespace.
func assertWellFormed(t *testing.T, b []byte) {
	t.Helper()
	require.True(t, bytes.HasPrefix(b, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)))
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root *xml.StartElement
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "rendered document is not well-formed:\n%s", b)
		if se, ok := tok.(xml.StartElement); ok && root == nil {
			root = &se
		}
	}
	require.NotNil(t, root)
	assert.Equal(t, xml.Name{Space: Namespace, Local: "dialog-info"}, root.Name)
}

// TestRenderTemplate: head, the version and tail make what Render makes,
// for every case and versions of every width, and the document keeps its
// own version.
func TestRenderTemplate(t *testing.T) {
	for _, tt := range renderCases {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc
			head, tail := doc.RenderTemplate()
			require.Equal(t, tt.doc.Version, doc.Version)
			for _, v := range []uint64{0, 7, 42, 1234567, 1<<64 - 1} {
				doc.Version = v
				got := append(append(append([]byte{}, head...), strconv.FormatUint(v, 10)...), tail...)
				require.Equal(t, string(doc.Render()), string(got), "version %d", v)
			}
		})
	}
}
