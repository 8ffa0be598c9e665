package presence

import "time"

// Who wins: a user's status is whatever they said last. Statements come
// from the API (Record.Status) and from every live presence publication
// (Publication.Status, a phone's PUBLISH); the one with the latest Since
// wins, the API's on a tie. A statement that is gone does not hand the
// word back to an older one: when a publication carrying a status is
// removed or expires, Record.StatusFloor moves up to its Since, and
// statements made before it are ignored from then on. So a status set over
// the API, then overridden by a phone publishing "online", does not come
// back when the phone withdraws its publication: the user is available.
//
// Invisible ("appear offline", a phone publishing basic closed with no
// activity while registered) is a statement like any other: while it
// wins, the view is not Registered (watchers see offline) but Line and
// Dialogs keep telling BLF the truth.
//
// A user with neither a live binding nor an open publication carries no
// activity: nobody is on the phone or in transit who is not there.

// currentStatus returns the winning statement of r at now, or nil.
func currentStatus(r *Record, now time.Time) *UserStatus {
	var won *UserStatus
	for i := range r.Publications {
		p := &r.Publications[i]
		if !p.Expires.After(now) || p.Status == nil || !p.Status.Since.After(r.StatusFloor) {
			continue
		}
		if won == nil || p.Status.Since.After(won.Since) {
			won = p.Status
		}
	}
	if st := r.Status; st != nil && st.Since.After(r.StatusFloor) && (won == nil || !st.Since.Before(won.Since)) {
		won = st
	}
	if won == nil || (!won.Until.IsZero() && !won.Until.After(now)) {
		return nil
	}
	return won
}

// applyStatus sets the status part of v, whose registration and line are
// already derived from r; online says whether a live binding or an open
// publication puts the user there.
func applyStatus(v *View, r *Record, now time.Time, online bool) {
	st := currentStatus(r, now)
	if st == nil {
		return
	}
	v.Status, v.Note, v.Until, v.Activity = st.Status, st.Note, st.Until, st.Activity
	if st.Invisible && online {
		v.Invisible, v.Registered = true, false
	}
	if !online || v.Invisible {
		v.Activity = ""
	}
}

// retire records that publication p is gone (removed or expired), so that
// its statement does not hand the word back to an older one.
func (r *Record) retire(p Publication) {
	if p.Status != nil && p.Status.Since.After(r.StatusFloor) {
		r.StatusFloor = p.Status.Since
	}
}
