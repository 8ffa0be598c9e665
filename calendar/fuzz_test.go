package calendar

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseBusy: whatever a feed holds, reading it returns an error or
// sorted, disjoint blocks within the window, and never panics.
func FuzzParseBusy(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.ics"))
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
	from, to := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, feed []byte) {
		busy, err := parseBusy(bytes.NewReader(feed), from, to, time.UTC, 100_000)
		if err != nil {
			return
		}
		for i, b := range busy {
			if !b.End.After(b.Start) || b.Start.Before(from) || b.End.After(to) {
				t.Fatalf("block %d %v–%v is empty or outside the window", i, b.Start, b.End)
			}
			if i > 0 && !b.Start.After(busy[i-1].End) {
				t.Fatalf("block %d overlaps or touches the one before", i)
			}
		}
	})
}
