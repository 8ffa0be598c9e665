package sip

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/dialoginfo"
	"github.com/switchboardhq/switchboard/sip/pidf"
)

// render returns the NOTIFY body for view v in sub's event package. A
// fan-out passes shared, the bodies of the view it fans out, rendered
// once for all its watchers; nil renders v here.
func (s *Server) render(sub *subscription, v presence.View, version uint64, shared *viewBodies) (string, []byte) {
	if sub.list != nil {
		return s.renderList(sub, version)
	}
	if shared != nil && !shared.of(v) {
		shared = nil
	}
	if sub.event == presence.EventPresence {
		if shared != nil {
			return typePIDF, shared.presence()
		}
		return typePIDF, renderPIDF(v)
	}
	if shared != nil {
		return typeDialogInfo, shared.dialogInfo(version)
	}
	return typeDialogInfo, renderDialogInfo(v, version, s.cfg.SingleDialog)
}

// viewBodies are one view's NOTIFY bodies, rendered at most once each
// for all the watchers a fan-out NOTIFYs: the PIDF document, and the
// dialog-info document with its version left out (each subscription
// numbers its own). At 10,000 watchers rendering per NOTIFY was a tenth
// of the fan-out's CPU. Safe for concurrent use.
type viewBodies struct {
	v      presence.View
	single bool

	dialogOnce, pidfOnce sync.Once
	head, tail           []byte
	pidf                 []byte
}

func newViewBodies(v presence.View, single bool) *viewBodies {
	return &viewBodies{v: v, single: single}
}

// of reports whether v is the view b renders: views of an extension are
// numbered, one version per change.
func (b *viewBodies) of(v presence.View) bool {
	return v.Version == b.v.Version && v.AOR == b.v.AOR
}

func (b *viewBodies) presence() []byte {
	b.pidfOnce.Do(func() { b.pidf = renderPIDF(b.v) })
	return b.pidf
}

func (b *viewBodies) dialogInfo(version uint64) []byte {
	b.dialogOnce.Do(func() {
		doc := dialogInfoDocument(b.v, b.single)
		b.head, b.tail = doc.RenderTemplate()
	})
	body := make([]byte, 0, len(b.head)+20+len(b.tail))
	body = append(body, b.head...)
	body = strconv.AppendUint(body, version, 10)
	return append(body, b.tail...)
}

// renderDialogInfo maps a view to an RFC 4235 document. An idle or offline
// extension has no dialogs: that is what turns a BLF lamp off.
func renderDialogInfo(v presence.View, version uint64, single bool) []byte {
	doc := dialogInfoDocument(v, single)
	doc.Version = version
	return doc.Render()
}

// dialogInfoDocument is v as a full dialog-info document of version 0.
func dialogInfoDocument(v presence.View, single bool) *dialoginfo.Document {
	doc := &dialoginfo.Document{State: dialoginfo.StateFull, Entity: v.AOR.URI()}
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
	return doc
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
