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

	for _, b := range r.Bindings {
		if b.Expires.After(now) {
			v.Registered = true
			break
		}
	}

	// Dialogs: the union over live publications, the most recently updated
	// report of each dialog winning, terminated ones left out.
	var dialogs []Dialog
	for _, p := range r.Publications {
		if !p.Expires.After(now) {
			continue
		}
		if p.Online {
			// A PIDF "open" from a softphone or the PBX is as good as a
			// binding: some PBXs never forward REGISTER.
			v.Registered = true
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
	v.Line = lineState(v.Registered, dialogs)
	applyStatus(&v, r, now) // status.go: who wins
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

func lineState(registered bool, dialogs []Dialog) LineState {
	if len(dialogs) == 0 {
		if registered {
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
