package dialoginfo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, that everything it accepts
// renders to a document it accepts again, and that rendering is stable
// after that first normalisation.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(billionLaughs))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := Parse(b)
		if err != nil {
			if doc != nil {
				t.Fatalf("Parse returned a document with error %v", err)
			}
			return
		}
		out := doc.Render()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("rendered document does not parse: %v\ninput: %q\nrendered: %s", err, b, out)
		}
		if len(again.Dialogs) != len(doc.Dialogs) || again.Version != doc.Version || again.State != doc.State {
			t.Fatalf("round trip changed the document:\nfirst:  %+v\nsecond: %+v", doc, again)
		}
		if out2 := again.Render(); !bytes.Equal(out, out2) {
			t.Fatalf("rendering not stable:\nfirst:  %s\nsecond: %s", out, out2)
		}
	})
}
