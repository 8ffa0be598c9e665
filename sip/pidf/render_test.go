package pidf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		name: "closed",
		doc:  Document{Entity: "sip:201@example.com", Tuples: []Tuple{{ID: "t1", Basic: Closed}}},
	},
	{
		name: "dnd",
		doc: Document{Entity: "sip:201@example.com", Tuples: []Tuple{{ID: "t1", Basic: Open}},
			Activities: []string{ActivityBusy}, Note: "Do Not Disturb"},
	},
	{
		name: "full",
		doc: Document{Entity: "sip:201@example.com",
			Tuples: []Tuple{
				{ID: "desk", Basic: Open, Contact: "sip:201@10.0.0.21:5060", Note: "Yealink T54W",
					Timestamp: time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC)},
				{ID: "mobile", Basic: Closed, Contact: "sip:201@203.0.113.9:5062;transport=tls",
					Timestamp: time.Date(2025, 6, 1, 8, 29, 59, 500e6, time.UTC)},
			},
			Activities: []string{ActivityOnThePhone, ActivityMeeting}, Note: "In a call"},
	},
	{
		name: "dnd linphone",
		doc: Document{Entity: "sip:201@example.com", Tuples: []Tuple{{ID: "t1", Basic: Open}},
			Activities: []string{ActivityBusy, ActivityOnThePhone}, ActivityText: map[string]string{ActivityBusy: "Do not disturb"},
			StatusActivities: []string{ActivityBusy}, Note: "focus <time>"},
	},
	{
		name: "note only",
		doc:  Document{Entity: "pres:201@example.com", Note: "Back at 2pm"},
	},
	{
		name: "hostile text",
		doc: Document{Entity: `sip:"x"@example.com`,
			Tuples:     []Tuple{{ID: `t"1'<`, Basic: Open, Contact: "sip:a@b]]></contact>", Note: "a\x00b\r\n\xff"}},
			Activities: []string{ActivityAway, "bad name", "x/><evil", ""}, Note: `Tom & "Jerry" <cat>`},
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
			if tt.name == "hostile text" {
				// Invalid activity names are skipped; characters XML
				// cannot carry come back as U+FFFD.
				assert.Equal(t, []string{ActivityAway}, got.Activities)
				assert.Equal(t, "a\uFFFDb\r\n\uFFFD", got.Tuples[0].Note)
				assert.Equal(t, tt.doc.Tuples[0].ID, got.Tuples[0].ID)
				assert.Equal(t, tt.doc.Tuples[0].Contact, got.Tuples[0].Contact)
				assert.Equal(t, tt.doc.Note, got.Note)
				assert.Equal(t, tt.doc.Entity, got.Entity)
				return
			}
			want := tt.doc
			// Status activities fold into Activities, which hold them.
			want.StatusActivities = nil
			assert.Equal(t, &want, got)
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
	const open = `<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"`
	tests := []struct {
		name string
		doc  Document
		want string
	}{
		{
			name: "zero document",
			doc:  Document{},
			want: open + `></presence>`,
		},
		{
			name: "missing tuple ids numbered and empty basic",
			doc:  Document{Entity: "sip:a@b", Tuples: []Tuple{{Basic: Open}, {}}},
			want: open + ` entity="sip:a@b"><tuple id="t1"><status><basic>open</basic></status></tuple><tuple id="t2"><status/></tuple></presence>`,
		},
		{
			name: "timestamp converted to utc",
			doc: Document{Tuples: []Tuple{{ID: "x", Basic: Closed,
				Timestamp: time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))}}},
			want: open + `><tuple id="x"><status><basic>closed</basic></status><timestamp>2025-01-02T02:04:05Z</timestamp></tuple></presence>`,
		},
		{
			name: "only invalid activities renders no person",
			doc:  Document{Activities: []string{"two words"}},
			want: open + `></presence>`,
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
	prefix := []byte("PUBLISH body: ")
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
// of Parse, and checks the root is presence in the PIDF namespace.
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
	assert.Equal(t, xml.Name{Space: Namespace, Local: "presence"}, root.Name)
}
