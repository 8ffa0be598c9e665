package calendar

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"

	_ "time/tzdata" // IANA zones even in a static binary on a bare image
)

// A zone turns wall-clock times into instants. Wall times are kept as
// "naive" time.Times in UTC holding the local fields, so that recurrence
// rules are expanded in local time (RFC 5545 §3.3.10: a weekly 10:00
// meeting stays at 10:00 across a DST change) and only then placed.
type zone interface {
	// instant is the moment the wall clock shows wall.
	instant(wall time.Time) time.Time
	// wall is what the wall clock shows at instant t.
	wall(t time.Time) time.Time
}

// locZone is a zone the Go runtime knows (IANA names, UTC).
type locZone struct{ loc *time.Location }

func (z locZone) instant(w time.Time) time.Time {
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, z.loc)
}

func (z locZone) wall(t time.Time) time.Time {
	l := t.In(z.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

// transition is an onset of a VTIMEZONE observance: from wall time at
// (before the change) the offset is off.
type transition struct {
	at  time.Time
	off time.Duration
}

// vtimezone is a zone defined only by its VTIMEZONE component, as
// Microsoft 365 writes them under Windows names ("W. Europe Standard Time").
// Its transitions are expanded once, so placing a time is a binary search.
type vtimezone struct {
	trans []transition  // by at
	first time.Duration // before the first transition
}

// The years a VTIMEZONE's rules are expanded over.
var (
	zoneFrom  = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	zoneUntil = time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC)
)

// offsetAt is the UTC offset in force at wall time w: that of the latest
// onset at or before w.
func (z *vtimezone) offsetAt(w time.Time) time.Duration {
	i := sort.Search(len(z.trans), func(i int) bool { return z.trans[i].at.After(w) })
	if i == 0 {
		return z.first
	}
	return z.trans[i-1].off
}

func (z *vtimezone) instant(w time.Time) time.Time { return w.Add(-z.offsetAt(w)) }

func (z *vtimezone) wall(t time.Time) time.Time {
	// The offset depends on the wall time it yields; two rounds settle it
	// except within the hour of a change.
	w := t.Add(z.offsetAt(t))
	return t.Add(z.offsetAt(w))
}

// zones resolves TZID parameters for one calendar.
type zones struct {
	byID map[string]zone
	def  zone // floating times and all-day dates
}

// newZones reads cal's VTIMEZONE components. An IANA name is taken from
// the Go zone database (exact for every year); any other name from its
// definition. def is for floating times and all-day dates: the calendar's
// X-WR-TIMEZONE or first zone when it names one, else fallback.
func newZones(cal *ical.Calendar, fallback *time.Location) zones {
	zs := zones{byID: map[string]zone{}, def: locZone{fallback}}
	var firstID string
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			continue
		}
		id := propValue(c.Props, ical.PropTimezoneID)
		if id == "" {
			continue
		}
		if firstID == "" {
			firstID = id
		}
		if loc, err := time.LoadLocation(id); err == nil {
			zs.byID[id] = locZone{loc}
			continue
		}
		if z, ok := parseVTimezone(c); ok {
			zs.byID[id] = z
		}
	}
	if name := propValue(cal.Props, "X-WR-TIMEZONE"); name != "" {
		firstID = name
	}
	if firstID != "" {
		if z, ok := zs.lookup(firstID); ok {
			zs.def = z
		}
	}
	return zs
}

// lookup returns the zone named tzid. One name always yields the same
// zone value, so zones compare equal by name.
func (zs zones) lookup(tzid string) (zone, bool) {
	tzid = strings.Trim(tzid, `"`)
	if z, ok := zs.byID[tzid]; ok {
		return z, true
	}
	// Some writers name an IANA zone without defining it; a leading "/"
	// marks a globally unique id (RFC 5545 §3.2.19).
	if loc, err := time.LoadLocation(strings.TrimPrefix(tzid, "/")); err == nil && tzid != "" {
		zs.byID[tzid] = locZone{loc}
		return zs.byID[tzid], true
	}
	return nil, false
}

func parseVTimezone(c *ical.Component) (*vtimezone, bool) {
	z := &vtimezone{}
	var firstStart time.Time
	for _, o := range c.Children {
		if o.Name != "STANDARD" && o.Name != "DAYLIGHT" {
			continue
		}
		from, err1 := parseOffset(propValue(o.Props, "TZOFFSETFROM"))
		to, err2 := parseOffset(propValue(o.Props, "TZOFFSETTO"))
		start, err3 := time.Parse("20060102T150405", propValue(o.Props, ical.PropDateTimeStart))
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		set := &rrule.Set{}
		if rr := propValue(o.Props, ical.PropRecurrenceRule); rr != "" && start.Year() < 1970 {
			// Microsoft starts every rule in 1601; rrule-go gives up
			// after about 300 years of a yearly rule, so start it in
			// 1970 on the same day and time.
			start = time.Date(1970, start.Month(), start.Day(), start.Hour(), start.Minute(), start.Second(), 0, time.UTC)
		}
		set.DTStart(start)
		if rr := propValue(o.Props, ical.PropRecurrenceRule); rr != "" {
			opt, err := rrule.StrToROption(rr)
			if err != nil {
				continue
			}
			opt.Dtstart = start
			if !opt.Until.IsZero() {
				opt.Until = opt.Until.Add(from) // UNTIL is UTC; onsets are local
			}
			r, err := rrule.NewRRule(*opt)
			if err != nil {
				continue
			}
			set.RRule(r)
		} else {
			set.RDate(start)
		}
		for _, p := range o.Props.Values(ical.PropRecurrenceDates) {
			for _, v := range strings.Split(p.Value, ",") {
				if t, err := time.Parse("20060102T150405", v); err == nil {
					set.RDate(t)
				}
			}
		}
		onsets := set.Between(zoneFrom, zoneUntil, true)
		if start.Before(zoneFrom) {
			onsets = append(onsets, start) // a single onset before 1970
		}
		for _, t := range onsets {
			z.trans = append(z.trans, transition{at: t, off: to})
		}
		if firstStart.IsZero() || start.Before(firstStart) {
			firstStart, z.first = start, from
		}
	}
	slices.SortFunc(z.trans, func(a, b transition) int { return a.at.Compare(b.at) })
	return z, len(z.trans) > 0
}

// parseOffset reads a UTC offset such as "+0100" or "-053000".
func parseOffset(s string) (time.Duration, error) {
	if len(s) != 5 && len(s) != 7 {
		return 0, fmt.Errorf("utc offset %q", s)
	}
	sign := time.Duration(1)
	switch s[0] {
	case '-':
		sign = -1
	case '+':
	default:
		return 0, fmt.Errorf("utc offset %q", s)
	}
	h, err1 := strconv.Atoi(s[1:3])
	m, err2 := strconv.Atoi(s[3:5])
	sec := 0
	var err3 error
	if len(s) == 7 {
		sec, err3 = strconv.Atoi(s[5:7])
	}
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || sec > 59 {
		return 0, fmt.Errorf("utc offset %q", s)
	}
	return sign * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second), nil
}

// propValue is the raw value of name's first property, or "".
func propValue(props ical.Props, name string) string {
	if p := props.Get(name); p != nil {
		return p.Value
	}
	return ""
}
