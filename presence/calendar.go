package presence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Busy is a span of time [Start, End) a user's calendar marks as busy.
type Busy struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// maxCalendarBlocks bounds what one record carries of a calendar: the
// poller hands over only the next day or two.
const maxCalendarBlocks = 64

// SetCalendar replaces aor's coming busy time, as the calendar poller read
// it from the user's feed; nil clears it. While now falls in a block, the
// view's status is StatusMeeting unless the user's own status says
// something other than available: a status set by hand (or published by
// a phone) always wins, and the line state is never touched. Blocks must
// not overlap; those already over are dropped.
func (s *Service) SetCalendar(ctx context.Context, aor AOR, busy []Busy) error {
	for _, b := range busy {
		if !b.End.After(b.Start) {
			return fmt.Errorf("set calendar of %s: block %s–%s ends before it starts: %w", aor, b.Start, b.End, ErrInvalid)
		}
	}
	busy = slices.Clone(busy)
	slices.SortFunc(busy, func(a, b Busy) int { return a.Start.Compare(b.Start) })
	err := s.update(ctx, aor, func(r *Record, now time.Time) error {
		cal := slices.DeleteFunc(slices.Clone(busy), func(b Busy) bool { return !b.End.After(now) })
		if len(cal) > maxCalendarBlocks {
			cal = cal[:maxCalendarBlocks]
		}
		if slices.EqualFunc(cal, r.Calendar, func(a, b Busy) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) }) {
			return errUnchanged // every poll hands the same blocks: spare the write
		}
		r.Calendar = cal
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// errUnchanged aborts an update that would change nothing.
var errUnchanged = errors.New("unchanged")

// inMeeting reports whether now falls in one of the calendar's blocks.
func (r *Record) inMeeting(now time.Time) bool {
	for _, b := range r.Calendar {
		if !now.Before(b.Start) && now.Before(b.End) {
			return true
		}
	}
	return false
}

// calendarDeadline is the next start or end of a calendar block after now,
// so the status flips on time without the poller; zero when none.
func (r *Record) calendarDeadline(now time.Time) time.Time {
	var next time.Time
	for _, b := range r.Calendar {
		t := b.Start
		if !t.After(now) {
			t = b.End
		}
		if t.After(now) {
			next = earliest(next, t)
		}
	}
	return next
}

// earliest is the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
