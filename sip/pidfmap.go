package sip

import (
	"time"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/pidf"
)

// The mapping between Switchboard's statuses and PIDF with RPID activities
// (RFC 3863, RFC 4480), both directions, as the README's status table
// documents it. It is written for what softphones actually do:
//
//   - liblinphone (linphone_friend_get_status) reads basic open/closed,
//     then overrides it with the first activity it finds under
//     <dm:person>; it tells "Do not disturb" from "Busy" only by the text
//     inside <rpid:busy>, and calls permanent-absence and other "Moved".
//   - baresip matches "<rpid:away/>", "<rpid:busy/>" and
//     "<rpid:on-the-phone/>" as text in the body.
//   - Yealink, Polycom, Bria and Zoiper read the person's activities and
//     note.
//
// So the status activity is written first, on-the-phone after it; DND is
// <rpid:busy>Do not disturb</rpid:busy> under the person and a bare
// <rpid:busy/> in the tuple status for text matchers; "unavailable" is
// away with the note "Unavailable", never permanent-absence; an offline
// or invisible user is basic closed with no activity and no note.

// dndText is the text inside <rpid:busy> that liblinphone reads as Do not
// disturb rather than Busy (coreapi/friend.c, linphone_core_set_presence_info).
const dndText = "Do not disturb"

// unavailableNote is the note that marks "away" as Switchboard's
// "unavailable", so that the mapping reads back what it wrote.
const unavailableNote = "Unavailable"

// readActivity is the nearest Switchboard status for each RFC 4480
// activity a phone may publish; activities not listed say nothing about
// the status.
var readActivity = map[string]presence.Status{
	pidf.ActivityBusy: presence.StatusDND, "do-not-disturb": presence.StatusDND,
	pidf.ActivityMeeting: presence.StatusMeeting, pidf.ActivityAppointment: presence.StatusMeeting,
	"presentation": presence.StatusDND, "performance": presence.StatusDND,
	pidf.ActivityAway: presence.StatusAway, pidf.ActivityInTransit: presence.StatusAway,
	"steering": presence.StatusAway, pidf.ActivitySleeping: presence.StatusAway,
	pidf.ActivityLunch: presence.StatusLunch, "meal": presence.StatusLunch,
	"breakfast": presence.StatusLunch, "dinner": presence.StatusLunch,
	pidf.ActivityTravel:   presence.StatusBusinessTrip,
	pidf.ActivityVacation: presence.StatusUnavailable, pidf.ActivityHoliday: presence.StatusUnavailable,
	pidf.ActivityPermanentAbsence: presence.StatusUnavailable,
	pidf.ActivityOnThePhone:       presence.StatusAvailable,
}

// writeActivity is the activity written for a status set without one
// (over the API, or read from an activity with no RFC 4480 name).
var writeActivity = map[presence.Status]string{
	presence.StatusDND:          pidf.ActivityBusy,
	presence.StatusAway:         pidf.ActivityAway,
	presence.StatusLunch:        pidf.ActivityLunch,
	presence.StatusBusinessTrip: pidf.ActivityTravel,
	presence.StatusUnavailable:  pidf.ActivityAway,
	presence.StatusMeeting:      pidf.ActivityMeeting,
}

// activityLabel is the note written with a kept activity when the user
// gave none.
var activityLabel = map[string]string{
	pidf.ActivityOnThePhone: "On the phone", pidf.ActivityInTransit: "Be right back",
	pidf.ActivityVacation: "Vacation", pidf.ActivityHoliday: "Holiday",
	pidf.ActivityMeeting: "In a meeting", pidf.ActivityAppointment: "Appointment",
	pidf.ActivitySleeping: "Sleeping",
	"steering":            "Driving", "presentation": "Presenting", "performance": "Performing",
	"meal": "Out to lunch", "breakfast": "Out to lunch", "dinner": "Out to lunch",
}

// PresenceBody maps a PIDF document, from a PUBLISH or from a NOTIFY the
// watcher received, to what the presence core composes: online from any
// open tuple; the status from the first activity that names one, the
// activity kept when RFC 4480 names it; the note from the document, its
// person or, as liblinphone writes it, its first tuple. A document whose
// tuples are all closed and that names no status is "appear offline".
func PresenceBody(doc *pidf.Document, now time.Time) *presence.PublishBody {
	pb := &presence.PublishBody{}
	closed := false
	for _, t := range doc.Tuples {
		switch t.Basic {
		case pidf.Open:
			pb.Online = true
		case pidf.Closed:
			closed = true
		}
	}
	note := doc.Note
	for _, t := range doc.Tuples {
		if note == "" && t.Note != "" {
			note = t.Note
		}
	}
	st := &presence.UserStatus{Status: presence.StatusAvailable, Note: note, Since: now}
	if s, act, ok := statusOfActivities(doc.Activities); ok {
		st.Status, st.Activity = s, act
		if s == presence.StatusAway && act == pidf.ActivityAway && note == unavailableNote {
			st.Status = presence.StatusUnavailable
		}
	} else if !pb.Online && closed {
		// liblinphone's "Offline" while registered: invisible.
		st = &presence.UserStatus{Status: presence.StatusAvailable, Invisible: true, Since: now}
	} else if !pb.Online {
		return pb // a note or a tuple without basic: no statement
	}
	pb.Status = st
	return pb
}

// statusOfActivities returns the status the first status-naming activity
// maps to, and that activity when it is an RFC 4480 one worth keeping.
func statusOfActivities(activities []string) (presence.Status, string, bool) {
	for _, a := range activities {
		st, ok := readActivity[a]
		if !ok {
			continue
		}
		if a == "do-not-disturb" || a == pidf.ActivityPermanentAbsence {
			// Not an RFC 4480 name, or one liblinphone shows as "Moved":
			// written back as the status's own activity.
			a = ""
		}
		return st, a, true
	}
	return "", "", false
}

// renderPIDF maps a view to an RFC 3863 document with RPID activities.
func renderPIDF(v presence.View) []byte {
	doc := pidf.Document{Entity: v.AOR.URI()}
	// Open while the line is up (a binding, an open publication or a
	// call), unless the user appears offline.
	basic := pidf.Closed
	if v.Line != presence.LineOffline && !v.Invisible {
		basic = pidf.Open
	}
	doc.Tuples = []pidf.Tuple{{ID: "sb-" + v.AOR.User, Basic: basic, Contact: v.AOR.URI()}}
	if basic == pidf.Closed {
		// Offline or invisible: nobody there carries an activity or a
		// note; a lunch left behind would read "Out to lunch".
		return doc.Render()
	}
	act, note := activityFor(v)
	var acts []string
	if act != "" {
		acts = append(acts, act)
	}
	if act == pidf.ActivityBusy {
		doc.ActivityText = map[string]string{pidf.ActivityBusy: dndText}
		doc.StatusActivities = []string{pidf.ActivityBusy}
	}
	switch v.Line {
	case presence.LineInCall, presence.LineOnHold:
		if act != pidf.ActivityOnThePhone {
			acts = append(acts, pidf.ActivityOnThePhone)
		}
		if note == "" {
			note = activityLabel[pidf.ActivityOnThePhone]
		}
	}
	if v.Note != "" {
		note = v.Note
	}
	doc.Activities = acts
	doc.Note = note
	return doc.Render()
}

// activityFor is the activity written for v's status, and its default note:
// the activity the phone published when it still names v's status, else
// the status's own.
func activityFor(v presence.View) (activity, note string) {
	if st, ok := readActivity[v.Activity]; ok && st == v.Status && v.Activity != "" {
		return v.Activity, labelOf(v.Activity, v.Status)
	}
	switch v.Status {
	case presence.StatusAvailable, presence.StatusOffline, "":
		return "", ""
	case presence.StatusUnavailable:
		return writeActivity[v.Status], unavailableNote
	}
	return writeActivity[v.Status], v.Status.Label()
}

func labelOf(activity string, st presence.Status) string {
	if l, ok := activityLabel[activity]; ok {
		return l
	}
	return st.Label()
}
