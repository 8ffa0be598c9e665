package calendar

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"

	"github.com/switchboardhq/switchboard/presence"
)

// Limits on what one feed may cost to read.
const (
	// maxIterations bounds the recurrence instances generated over a whole
	// feed (a daily event since 2010 is about 6,000).
	maxIterations = 1_000_000
	// maxBlocks bounds the merged busy blocks kept for one user.
	maxBlocks = 5000
)

// errTooComplex reports a feed whose recurrences exceed maxIterations.
var errTooComplex = errors.New("too many recurrences to expand")

// ParseBusy reads an iCalendar stream (RFC 5545) and returns the time it
// marks busy within [from, to), merged into disjoint blocks in order: what
// colleagues may see, never what the events are. Events count unless they
// are cancelled (STATUS:CANCELLED) or transparent (TRANSP:TRANSPARENT, or
// Microsoft's X-MICROSOFT-CDO-BUSYSTATUS FREE or WORKINGELSEWHERE);
// recurrences (RRULE, RDATE) are expanded in the event's own time zone,
// less EXDATEs, with RECURRENCE-ID instances replacing the ones they
// modify. VFREEBUSY periods count unless FBTYPE=FREE. Floating times and
// all-day dates are read in the calendar's zone (X-WR-TIMEZONE, else its
// first VTIMEZONE), else in fallback. A malformed event is skipped; a
// stream that is not iCalendar is an error.
func ParseBusy(r io.Reader, from, to time.Time, fallback *time.Location) ([]presence.Busy, error) {
	return parseBusy(r, from, to, fallback, maxIterations)
}

// errMalformed reports a feed that made the iCalendar or recurrence code
// panic: go-ical indexes past the end of some malformed content lines
// (the fuzz corpus holds one), and a feed is anyone's input.
var errMalformed = errors.New("malformed icalendar")

func parseBusy(r io.Reader, from, to time.Time, fallback *time.Location, budget int) (busy []presence.Busy, err error) {
	defer func() {
		if v := recover(); v != nil {
			busy, err = nil, fmt.Errorf("%w: %v", errMalformed, v)
		}
	}()
	cal, err := ical.NewDecoder(r).Decode()
	if err != nil {
		return nil, fmt.Errorf("read icalendar: %w", err)
	}
	if fallback == nil {
		fallback = time.UTC
	}
	p := &parser{zones: newZones(cal, fallback), from: from, to: to, budget: budget}

	// RFC 5545 §3.8.4.4: instances with a RECURRENCE-ID replace the
	// instance of the same UID they name.
	overridden := map[string]map[int64]bool{}
	var masters, others []*ical.Component
	for _, c := range cal.Children {
		switch c.Name {
		case ical.CompEvent:
			if rid := c.Props.Get(ical.PropRecurrenceID); rid != nil {
				if t, ok := p.instant(rid); ok {
					uid := propValue(c.Props, ical.PropUID)
					if overridden[uid] == nil {
						overridden[uid] = map[int64]bool{}
					}
					overridden[uid][t.Unix()] = true
				}
				others = append(others, c)
				continue
			}
			masters = append(masters, c)
		case ical.CompFreeBusy:
			p.freeBusy(c)
		}
	}
	for _, c := range masters {
		if err := p.event(c, overridden[propValue(c.Props, ical.PropUID)]); err != nil {
			return nil, err
		}
	}
	for _, c := range others {
		if err := p.event(c, nil); err != nil {
			return nil, err
		}
	}
	return merge(p.busy, from, to), nil
}

type parser struct {
	zones    zones
	from, to time.Time
	budget   int
	busy     []presence.Busy
}

// add records [start, end) when it meets the window.
func (p *parser) add(start, end time.Time) {
	if end.After(start) && end.After(p.from) && start.Before(p.to) {
		p.busy = append(p.busy, presence.Busy{Start: start, End: end})
	}
}

// when is one date or date-time value: its wall time and zone.
type when struct {
	wall   time.Time
	zone   zone
	allDay bool
}

func (w when) instant() time.Time { return w.zone.instant(w.wall) }

// times reads every value of a date or date-time property (EXDATE and
// RDATE may list several).
func (p *parser) times(prop *ical.Prop) ([]when, error) {
	var out []when
	for _, v := range strings.Split(prop.Value, ",") {
		w, err := p.parseTime(v, prop.Params)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func (p *parser) parseTime(v string, params ical.Params) (when, error) {
	v = strings.TrimSpace(v)
	if params.Get(ical.ParamValue) == string(ical.ValueDate) || len(v) == 8 {
		t, err := time.Parse("20060102", v)
		if err != nil {
			return when{}, fmt.Errorf("date %q: %w", v, err)
		}
		return when{wall: t, zone: p.zones.def, allDay: true}, nil
	}
	if strings.HasSuffix(v, "Z") {
		t, err := time.Parse("20060102T150405Z", v)
		if err != nil {
			return when{}, fmt.Errorf("date-time %q: %w", v, err)
		}
		return when{wall: t, zone: locZone{time.UTC}}, nil
	}
	t, err := time.Parse("20060102T150405", v)
	if err != nil {
		return when{}, fmt.Errorf("date-time %q: %w", v, err)
	}
	z := p.zones.def
	if id := params.Get(ical.ParamTimezoneID); id != "" {
		if found, ok := p.zones.lookup(id); ok {
			z = found
		}
	}
	return when{wall: t, zone: z}, nil
}

// instant reads a single date or date-time property as an instant.
func (p *parser) instant(prop *ical.Prop) (time.Time, bool) {
	w, err := p.parseTime(prop.Value, prop.Params)
	if err != nil {
		return time.Time{}, false
	}
	return w.instant(), true
}

// busyEvent reports whether an event blocks time.
func busyEvent(c *ical.Component) bool {
	if strings.EqualFold(propValue(c.Props, ical.PropStatus), string(ical.EventCancelled)) {
		return false
	}
	if strings.EqualFold(propValue(c.Props, ical.PropTransparency), "TRANSPARENT") {
		return false
	}
	switch strings.ToUpper(propValue(c.Props, "X-MICROSOFT-CDO-BUSYSTATUS")) {
	case "FREE", "WORKINGELSEWHERE":
		return false
	}
	return true
}

// event adds the busy time of one VEVENT, skipping the instances in skip
// (modified elsewhere). A malformed event is left out.
func (p *parser) event(c *ical.Component, skip map[int64]bool) error {
	if !busyEvent(c) {
		return nil
	}
	dtstart := c.Props.Get(ical.PropDateTimeStart)
	if dtstart == nil {
		return nil
	}
	start, err := p.parseTime(dtstart.Value, dtstart.Params)
	if err != nil {
		return nil
	}
	// The length: from DTEND in wall time when it is in the same zone (a
	// 9:00–10:00 meeting stays an hour across DST), else as an instant
	// difference; or DURATION; all-day events default to one day.
	var wallDur, fixedDur time.Duration
	switch {
	case c.Props.Get(ical.PropDateTimeEnd) != nil:
		ep := c.Props.Get(ical.PropDateTimeEnd)
		end, err := p.parseTime(ep.Value, ep.Params)
		if err != nil {
			return nil
		}
		if end.zone == start.zone {
			wallDur = end.wall.Sub(start.wall)
		} else {
			fixedDur = end.instant().Sub(start.instant())
		}
	case c.Props.Get(ical.PropDuration) != nil:
		d, err := c.Props.Get(ical.PropDuration).Duration()
		if err != nil {
			return nil
		}
		wallDur = d
	case start.allDay:
		wallDur = 24 * time.Hour
	}
	if wallDur <= 0 && fixedDur <= 0 {
		return nil // an instant takes no time
	}
	occur := func(w time.Time) {
		s := start.zone.instant(w)
		if skip[s.Unix()] {
			return
		}
		if wallDur > 0 {
			p.add(s, start.zone.instant(w.Add(wallDur)))
		} else {
			p.add(s, s.Add(fixedDur))
		}
	}
	exdates := map[int64]bool{}
	for _, ex := range c.Props.Values(ical.PropExceptionDates) {
		ws, err := p.times(&ex)
		if err != nil {
			continue
		}
		for _, w := range ws {
			exdates[w.instant().Unix()] = true
		}
	}
	walls := []time.Time{start.wall}
	if rr := c.Props.Get(ical.PropRecurrenceRule); rr != nil {
		walls, err = p.expand(rr.Value, start, wallDur+fixedDur)
		if err != nil {
			return err
		}
	}
	for _, rd := range c.Props.Values(ical.PropRecurrenceDates) {
		if ws, err := p.times(&rd); err == nil {
			for _, w := range ws {
				walls = append(walls, start.zone.wall(w.instant()))
			}
		}
	}
	for _, w := range walls {
		if !exdates[start.zone.instant(w).Unix()] {
			occur(w)
		}
	}
	return nil
}

// expand lists the wall start times an RRULE generates that can meet the
// window, from the event's first start.
func (p *parser) expand(rule string, start when, length time.Duration) ([]time.Time, error) {
	opt, err := rrule.StrToROption(rule)
	if err != nil {
		return nil, nil // a rule we cannot read: the first instance only
	}
	if opt.Freq == rrule.SECONDLY || opt.Freq == rrule.MINUTELY {
		return nil, nil // not a calendar meeting; too costly to expand
	}
	opt.Dtstart = start.wall
	if !opt.Until.IsZero() && utcUntil(rule) {
		// A UTC UNTIL bounds local starts: compare like with like.
		opt.Until = start.zone.wall(opt.Until)
	}
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, nil
	}
	var out []time.Time
	// Wall times differ from instants by at most 14 hours.
	lo, hi := p.from.Add(-length-14*time.Hour), p.to.Add(14*time.Hour)
	next := r.Iterator()
	for {
		w, ok := next()
		if !ok || w.After(hi) {
			return out, nil
		}
		if p.budget--; p.budget < 0 {
			return nil, errTooComplex
		}
		if w.After(lo) {
			out = append(out, w)
		}
	}
}

// utcUntil reports whether a rule's UNTIL is a UTC date-time.
func utcUntil(rule string) bool {
	for _, part := range strings.Split(strings.ToUpper(rule), ";") {
		if v, ok := strings.CutPrefix(part, "UNTIL="); ok {
			return strings.HasSuffix(v, "Z")
		}
	}
	return false
}

// freeBusy adds the busy periods of a VFREEBUSY (RFC 5545 §3.8.2.6).
func (p *parser) freeBusy(c *ical.Component) {
	for _, fb := range c.Props.Values(ical.PropFreeBusy) {
		if strings.EqualFold(fb.Params.Get(ical.ParamFreeBusyType), "FREE") {
			continue
		}
		for _, period := range strings.Split(fb.Value, ",") {
			a, b, ok := strings.Cut(strings.TrimSpace(period), "/")
			if !ok {
				continue
			}
			s, err := time.Parse("20060102T150405Z", a)
			if err != nil {
				continue
			}
			var e time.Time
			if strings.HasPrefix(b, "P") || strings.HasPrefix(b, "+P") {
				dp := ical.NewProp(ical.PropDuration)
				dp.Value = b
				d, err := dp.Duration()
				if err != nil {
					continue
				}
				e = s.Add(d)
			} else if e, err = time.Parse("20060102T150405Z", b); err != nil {
				continue
			}
			p.add(s, e)
		}
	}
}

// merge sorts blocks, joins those that overlap or touch and clips them to
// [from, to): merged blocks also hide how many events made them.
func merge(busy []presence.Busy, from, to time.Time) []presence.Busy {
	slices.SortFunc(busy, func(a, b presence.Busy) int { return a.Start.Compare(b.Start) })
	var out []presence.Busy
	for _, b := range busy {
		if b.Start.Before(from) {
			b.Start = from
		}
		if b.End.After(to) {
			b.End = to
		}
		if !b.End.After(b.Start) {
			continue
		}
		b.Start, b.End = b.Start.UTC(), b.End.UTC()
		if n := len(out); n > 0 && !b.Start.After(out[n-1].End) {
			if b.End.After(out[n-1].End) {
				out[n-1].End = b.End
			}
			continue
		}
		if len(out) == maxBlocks {
			break
		}
		out = append(out, b)
	}
	return out
}
