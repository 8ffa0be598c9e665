package calendar

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// BenchmarkParseBusy reads a busy office calendar: 300 weekly meetings
// running since 2022, each with an exception, in a zone defined only by
// its VTIMEZONE (Microsoft 365's way), for the poller's 97-day window.
func BenchmarkParseBusy(b *testing.B) {
	var feed bytes.Buffer
	feed.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:bench\r\n")
	feed.WriteString("BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\n" +
		"BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n" +
		"BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n" +
		"END:VTIMEZONE\r\n")
	for i := range 300 {
		day := 3 + i%5
		fmt.Fprintf(&feed, "BEGIN:VEVENT\r\nUID:m%d\r\nDTSTAMP:20220101T000000Z\r\nSUMMARY:Meeting %d\r\n"+
			"DTSTART;TZID=W. Europe Standard Time:202201%02dT%02d0000\r\nDTEND;TZID=W. Europe Standard Time:202201%02dT%02d3000\r\n"+
			"RRULE:FREQ=WEEKLY\r\nEXDATE;TZID=W. Europe Standard Time:202612%02dT%02d0000\r\nEND:VEVENT\r\n",
			i, i, day, 8+i%9, day, 8+i%9, day, 8+i%9)
	}
	feed.WriteString("END:VCALENDAR\r\n")
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	b.SetBytes(int64(feed.Len()))
	for b.Loop() {
		if _, err := ParseBusy(bytes.NewReader(feed.Bytes()), now.Add(-7*24*time.Hour), now.Add(90*24*time.Hour), time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}
