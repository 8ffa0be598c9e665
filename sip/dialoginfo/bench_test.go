package dialoginfo

import "testing"

func BenchmarkRender(b *testing.B) {
	for _, name := range []string{"idle", "early", "three"} {
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
		{name: "idle", body: renderCases[0].doc.Render()},
		{name: "early", body: renderCases[1].doc.Render()},
		{name: "three", body: renderCases[2].doc.Render()},
		{name: "asterisk_ringing", body: readSample(b, "asterisk_ringing.xml")},
		{name: "kamailio_multi", body: readSample(b, "kamailio_multi.xml")},
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
