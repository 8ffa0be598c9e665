package presence

import (
	"cmp"
	"slices"
	"time"
)

// Derive computes the view of a record at now. It is pure: the version and
// since of the result are copied from prev and advanced only by Service.
func Derive(r *Record, now time.Time) View {
	v := View{AOR: r.AOR, Status: StatusAvailable}

	// Registered means a live REGISTER binding, nothing else: a PUBLISH
	// never invents one.
	for _, b := range r.Bindings {
		if b.Expires.After(now) {
			v.Registered = true
			break
		}
	}
	online := v.Registered

	// Dialogs: the union over live publications, the most recently updated
	// report of each dialog winning, terminated ones left out.
	var dialogs []Dialog
	for _, p := range r.Publications {
		if !p.Expires.After(now) {
			continue
		}
		if p.Online {
			// A PIDF "open" from a softphone or the PBX puts the user
			// online: some PBXs never forward REGISTER.
			online = true
		}
		for _, d := range p.Dialogs {
			if d.State == DialogTerminated {
				continue
			}
			if i := slices.IndexFunc(dialogs, func(x Dialog) bool { return x.Key() == d.Key() }); i >= 0 {
				// RFC 4235 §3.7.1: a dialog's state only moves forward, so
				// two reports racing from a PBX cannot turn the lamp back
				// from in-call to ringing.
				if o, n := stateOrder(dialogs[i].State), stateOrder(d.State); n > o || (n == o && d.Updated.After(dialogs[i].Updated)) {
					dialogs[i] = d
				}
				continue
			}
			dialogs = append(dialogs, d)
		}
	}

	slices.SortStableFunc(dialogs, func(a, b Dialog) int {
		if c := cmp.Compare(dialogRank(a), dialogRank(b)); c != 0 {
			return c
		}
		return a.Started.Compare(b.Started)
	})
	v.Dialogs = dialogs
	v.Line = lineState(online, dialogs)
	applyStatus(&v, r, now, online) // status.go: who wins
	if v.Status == StatusAvailable && r.inMeeting(now) {
		// The calendar speaks when the user has not said otherwise.
		v.Status = StatusMeeting
	}
	if v.Line == LineOffline {
		// The one offline rule: no live binding, no open PIDF publication
		// and no call. Watchers see the user offline with no activity; the
		// status the user chose stays in the record for when they are back.
		v.Status, v.Note, v.Until, v.Activity = StatusOffline, "", time.Time{}, ""
	}
	return v
}

// dialogRank orders dialogs by what a colleague watching the lamp most needs
// to know: a call to pick up first, then a call in progress, then one on hold.
func dialogRank(d Dialog) int {
	switch {
	case d.ringing():
		return 0
	case d.setup(): // outgoing call being set up: the user is on the phone
		return 1
	case d.State == DialogConfirmed && !d.Held:
		return 1
	default:
		return 2
	}
}

func lineState(online bool, dialogs []Dialog) LineState {
	if len(dialogs) == 0 {
		if online {
			return LineIdle
		}
		return LineOffline
	}
	switch top := dialogs[0]; {
	case top.ringing():
		return LineRinging
	case top.Held:
		return LineOnHold
	default:
		return LineInCall
	}
}

// sameView reports whether two views show the same thing, ignoring version
// and since.
func sameView(a, b View) bool {
	return a.AOR == b.AOR && a.Registered == b.Registered && a.Line == b.Line &&
		a.Status == b.Status && a.Note == b.Note && a.Until.Equal(b.Until) &&
		a.Activity == b.Activity && a.Invisible == b.Invisible &&
		sameDialogs(a.Dialogs, b.Dialogs)
}

func sameDialogs(a, b []Dialog) bool {
	return slices.EqualFunc(a, b, func(x, y Dialog) bool {
		return x.Key() == y.Key() && x.State == y.State && x.Held == y.Held &&
			x.Direction == y.Direction && x.Remote == y.Remote && x.Local == y.Local &&
			x.LocalTag == y.LocalTag && x.RemoteTag == y.RemoteTag && x.CallID == y.CallID
	})
}

// stateOrder ranks the RFC 4235 states a dialog passes through.
func stateOrder(s DialogState) int {
	switch s {
	case DialogTrying:
		return 0
	case DialogProceeding:
		return 1
	case DialogEarly:
		return 2
	default:
		return 3
	}
}
