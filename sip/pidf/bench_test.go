package pidf

import "testing"

func BenchmarkRender(b *testing.B) {
	for _, name := range []string{"closed", "dnd", "full"} {
		var doc Document
		for _, c := range renderCases {
			if c.name == name {
				doc = c.doc
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				buf = doc.AppendRender(buf[:0])
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(name+"/fresh", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = doc.Render()
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	inputs := []struct {
		name string
		body []byte
	}{
		{name: "closed", body: renderCases[0].doc.Render()},
		{name: "dnd", body: renderCases[1].doc.Render()},
		{name: "full", body: renderCases[2].doc.Render()},
		{name: "linphone_away", body: readSample(b, "linphone_away.xml")},
		{name: "asterisk_onthephone", body: readSample(b, "asterisk_onthephone.xml")},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				if _, err := Parse(in.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
