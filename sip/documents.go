package sip

import (
	"fmt"
	"time"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/dialoginfo"
	"github.com/switchboardhq/switchboard/sip/pidf"
)

// render returns the NOTIFY body for view v in sub's event package.
func (s *Server) render(sub *subscription, v presence.View, version uint64) (string, []byte) {
	if sub.event == presence.EventPresence {
		return typePIDF, renderPIDF(v)
	}
	return typeDialogInfo, renderDialogInfo(v, version, s.cfg.SingleDialog)
}

// renderDialogInfo maps a view to an RFC 4235 document. An idle or offline
// extension has no dialogs: that is what turns a BLF lamp off.
func renderDialogInfo(v presence.View, version uint64, single bool) []byte {
	doc := dialoginfo.Document{Version: version, State: dialoginfo.StateFull, Entity: v.AOR.URI()}
	dialogs := v.Dialogs
	if single && len(dialogs) > 1 {
		dialogs = dialogs[:1] // the view lists the most important first
	}
	doc.Dialogs = make([]dialoginfo.Dialog, 0, len(dialogs))
	for _, d := range dialogs {
		id := d.Key()
		if id == "" {
			id = fmt.Sprintf("d%d", len(doc.Dialogs))
		}
		local := d.Local
		if local.URI == "" {
			local.URI = v.AOR.URI()
		}
		doc.Dialogs = append(doc.Dialogs, dialoginfo.Dialog{
			ID: id, CallID: d.CallID, LocalTag: d.LocalTag, RemoteTag: d.RemoteTag,
			Direction: string(d.Direction), State: string(d.State),
			// Phones show <remote><identity display> as the caller, and use
			// call-id and tags for directed pickup with Replaces.
			Local:  dialoginfo.Participant{Identity: local.URI, Display: local.Display, Held: d.Held},
			Remote: dialoginfo.Participant{Identity: d.Remote.URI, Display: d.Remote.Display},
		})
	}
	return doc.Render()
}

// activityOf is the RPID activity (RFC 4480 §3.2) shown for a status.
func activityOf(st presence.Status) string {
	switch st {
	case presence.StatusDND:
		return "busy"
	case presence.StatusAway:
		return "away"
	case presence.StatusLunch:
		return "lunch"
	case presence.StatusBusinessTrip:
		return "travel"
	case presence.StatusUnavailable:
		return "permanent-absence"
	case presence.StatusMeeting:
		return "meeting"
	}
	return ""
}

// renderPIDF maps a view to an RFC 3863 document with RPID activities.
func renderPIDF(v presence.View) []byte {
	doc := pidf.Document{Entity: v.AOR.URI()}
	basic := pidf.Closed
	if v.Line != presence.LineOffline {
		basic = pidf.Open
	}
	var acts []string
	note := ""
	if a := activityOf(v.Status); a != "" {
		acts = append(acts, a)
		note = v.Status.Label()
	}
	switch v.Line {
	case presence.LineInCall, presence.LineOnHold, presence.LineRinging:
		if v.Line != presence.LineRinging {
			acts = append(acts, "on-the-phone")
		}
		if note == "" {
			note = "On the phone"
		}
	case presence.LineOffline:
		note = "Offline"
	}
	if v.Note != "" {
		note = v.Note
	}
	doc.Tuples = []pidf.Tuple{{ID: "sb-" + v.AOR.User, Basic: basic, Contact: v.AOR.URI()}}
	doc.Activities = acts
	doc.Note = note
	return doc.Render()
}

// publishBody turns a PUBLISH body into what the presence core composes.
func publishBody(event presence.Event, body []byte, now time.Time) (*presence.PublishBody, error) {
	switch event {
	case presence.EventDialog:
		doc, err := dialoginfo.Parse(body)
		if err != nil {
			return nil, err
		}
		return DialogBody(doc), nil
	case presence.EventPresence:
		doc, err := pidf.Parse(body)
		if err != nil {
			return nil, err
		}
		return PresenceBody(doc, now), nil
	}
	return nil, fmt.Errorf("%w: event %q has no body format", errBadRequest, event)
}

// DialogBody maps an RFC 4235 document, from a PUBLISH or from a NOTIFY
// the watcher received, to what the presence core composes.
func DialogBody(doc *dialoginfo.Document) *presence.PublishBody {
	// dialog-info versions start at 0; the core reads 0 as "unversioned".
	pb := &presence.PublishBody{DocVersion: doc.Version + 1, Partial: doc.State == dialoginfo.StatePartial}
	for _, d := range doc.Dialogs {
		pb.Dialogs = append(pb.Dialogs, presence.Dialog{
			ID: d.ID, CallID: d.CallID, LocalTag: d.LocalTag, RemoteTag: d.RemoteTag,
			Direction: presence.Direction(d.Direction), State: presence.DialogState(d.State),
			Held: d.Local.Held, Event: d.Event, Code: d.Code,
			Local:  presence.Party{URI: d.Local.Identity, Display: d.Local.Display},
			Remote: presence.Party{URI: d.Remote.Identity, Display: d.Remote.Display},
		})
	}
	return pb
}

// PresenceBody maps a PIDF document to what the presence core composes:
// online from any open tuple, the user's status from RPID activities.
func PresenceBody(doc *pidf.Document, now time.Time) *presence.PublishBody {
	pb := &presence.PublishBody{}
	for _, t := range doc.Tuples {
		if t.Basic == pidf.Open {
			pb.Online = true
		}
	}
	if st, ok := statusOf(doc.Activities, pb.Online); ok {
		pb.Status = &presence.UserStatus{Status: st, Note: doc.Note, Since: now}
	}
	return pb
}

// statusOf reads a user status from RPID activities, as Linphone, baresip,
// Bria and Zoiper publish them. "on-the-phone" is line state, not a status.
func statusOf(activities []string, online bool) (presence.Status, bool) {
	for _, a := range activities {
		switch a {
		case "busy", "do-not-disturb":
			return presence.StatusDND, true
		case "away", "steering", "in-transit":
			return presence.StatusAway, true
		case "lunch", "meal", "breakfast", "dinner":
			return presence.StatusLunch, true
		case "travel":
			return presence.StatusBusinessTrip, true
		case "vacation", "holiday", "permanent-absence":
			return presence.StatusUnavailable, true
		}
	}
	if online {
		return presence.StatusAvailable, true
	}
	return "", false
}
