package calendar

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/switchboardhq/switchboard/presence"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func block(start, end string) presence.Busy { return presence.Busy{Start: utc(start), End: utc(end)} }

// fixtures are the committed feeds and the busy time each gives in a window.
var fixtures = []struct {
	name     string
	file     string
	from, to string
	want     []presence.Busy
}{
	{
		name: "weekly meeting with an exception and a moved instance",
		file: "weekly.ics", from: "2026-12-07T00:00:00Z", to: "2027-01-10T00:00:00Z",
		want: []presence.Busy{
			block("2026-12-07T09:00:00Z", "2026-12-07T10:00:00Z"),
			// 14 December is an EXDATE; 21 December moved to 14:00.
			block("2026-12-21T13:00:00Z", "2026-12-21T14:00:00Z"),
			block("2026-12-28T09:00:00Z", "2026-12-28T10:00:00Z"),
			// UNTIL 31 December: nothing in January.
		},
	},
	{
		name: "weekly meeting keeps its local time across the end of DST",
		file: "weekly.ics", from: "2026-10-19T00:00:00Z", to: "2026-10-27T00:00:00Z",
		want: []presence.Busy{
			block("2026-10-19T08:00:00Z", "2026-10-19T09:00:00Z"), // CEST
			block("2026-10-26T09:00:00Z", "2026-10-26T10:00:00Z"), // CET
		},
	},
	{
		name: "meetings in other time zones, one defined only by its VTIMEZONE",
		file: "timezone.ics", from: "2026-06-01T00:00:00Z", to: "2026-12-31T00:00:00Z",
		want: []presence.Busy{
			block("2026-07-07T16:00:00Z", "2026-07-07T17:30:00Z"), // PDT, -7
			block("2026-12-08T17:00:00Z", "2026-12-08T18:00:00Z"), // PST, -8
			block("2026-12-09T00:00:00Z", "2026-12-09T00:30:00Z"), // Asia/Tokyo, +9
		},
	},
	{
		name: "an all-day event is busy for the day in the calendar's zone; a transparent one is not",
		file: "allday.ics", from: "2026-12-01T00:00:00Z", to: "2026-12-31T00:00:00Z",
		want: []presence.Busy{block("2026-12-09T23:00:00Z", "2026-12-10T23:00:00Z")},
	},
	{
		name: "transparent and free events are not busy",
		file: "transparent.ics", from: "2026-12-08T00:00:00Z", to: "2026-12-09T00:00:00Z",
		want: []presence.Busy{block("2026-12-08T09:00:00Z", "2026-12-08T09:45:00Z")},
	},
	{
		name: "a cancelled event and a cancelled instance are not busy",
		file: "cancelled.ics", from: "2026-12-07T00:00:00Z", to: "2026-12-14T00:00:00Z",
		want: []presence.Busy{
			block("2026-12-07T08:00:00Z", "2026-12-07T08:15:00Z"),
			block("2026-12-09T08:00:00Z", "2026-12-09T08:15:00Z"),
		},
	},
	{
		name: "free-busy periods merge; FBTYPE=FREE is left out",
		file: "freebusy.ics", from: "2026-12-07T00:00:00Z", to: "2026-12-14T00:00:00Z",
		want: []presence.Busy{
			block("2026-12-07T14:00:00Z", "2026-12-07T15:30:00Z"),
			block("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z"),
		},
	},
	{
		name: "blocks are clipped to the window",
		file: "weekly.ics", from: "2026-12-07T09:30:00Z", to: "2026-12-21T13:30:00Z",
		want: []presence.Busy{
			block("2026-12-07T09:30:00Z", "2026-12-07T10:00:00Z"),
			block("2026-12-21T13:00:00Z", "2026-12-21T13:30:00Z"),
		},
	},
}

func TestParseBusyRejectsGarbage(t *testing.T) {
	for _, body := range []string{
		"<!DOCTYPE html><html><body>Please sign in</body></html>",
		"",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
		"0;0=", // makes go-ical panic: recovered into an error
	} {
		_, err := ParseBusy(strings.NewReader(body), utc("2026-12-01T00:00:00Z"), utc("2026-12-31T00:00:00Z"), time.UTC)
		assert.Error(t, err, "%q", body)
	}
}

func TestParseBusyBoundsRecurrences(t *testing.T) {
	// A daily event since 2020 takes about 2,500 instances to reach 2026:
	// under a budget of 1,000 the feed is refused, not expanded.
	feed := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20200101T000000Z\r\n" +
		"DTSTART:20200101T090000Z\r\nDTEND:20200101T093000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	from, to := utc("2026-12-01T00:00:00Z"), utc("2026-12-03T00:00:00Z")
	_, err := parseBusy(strings.NewReader(feed), from, to, time.UTC, 1000)
	assert.ErrorIs(t, err, errTooComplex)
	busy, err := parseBusy(strings.NewReader(feed), from, to, time.UTC, 10_000)
	assert.NoError(t, err)
	assert.Len(t, busy, 2)
}
