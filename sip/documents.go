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
	if sub.list != nil {
		return s.renderList(sub, version)
	}
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
