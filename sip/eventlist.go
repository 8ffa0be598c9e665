package sip

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/rlmi"
)

// Option tags of RFC 5367 ad-hoc lists over RFC 4662 event lists.
const (
	tagRecipientListSubscribe = "recipient-list-subscribe"
	tagEventList              = "eventlist"
)

// statusExtensionRequired is 421 Extension Required (RFC 3261 §21.4.16).
const statusExtensionRequired = 421

// maxListBody bounds a resource-lists body, inflated.
const maxListBody = 64 << 10

func init() {
	// A SUBSCRIBE may Require both: we serve ad-hoc lists (RFC 5367) and
	// notify them as event lists (RFC 4662).
	extensions[sipmsg.SUBSCRIBE] = append(extensions[sipmsg.SUBSCRIBE], tagRecipientListSubscribe, tagEventList)
}

// adHocList is the list side of a subscription made with an RFC 5367
// ad-hoc list: its resources and their latest state. Guarded by the
// subscription's mu.
type adHocList struct {
	uri     string // the Request-URI, e.g. sip:rls@pbx.example.com
	members []listMember
	// deflate: the subscriber takes Content-Encoding: deflate, which keeps
	// a list NOTIFY within a UDP datagram, as Flexisip sends it.
	deflate bool
	version uint32 // RLMI version of the next NOTIFY (RFC 4662 §5.3)
	// blf names a BLF list (blflist.go), re-read as the directory changes;
	// its NOTIFYs after the first full state carry only what changed.
	blf        string
	watcherAOR presence.AOR
	sentFull   bool // full state went out since the members last changed
}

// listMember is one resource of an ad-hoc list.
type listMember struct {
	uri, name     string // as the subscriber listed it
	aor           presence.AOR
	state, reason string // RLMI instance state, and reason when terminated
	view          presence.View
	changed       bool   // view not sent yet
	docVersion    uint64 // version of this resource's next document (BLF lists)
}

// watched are the AORs whose changes sub must hear of: its own, or its
// list's active members.
func (sub *subscription) watched() []presence.AOR {
	if sub.list == nil {
		return []presence.AOR{sub.aor}
	}
	out := make([]presence.AOR, 0, len(sub.list.members))
	for _, m := range sub.list.members {
		if m.state == rlmi.StateActive {
			out = append(out, m.aor)
		}
	}
	return out
}

// update records v for the members it describes; the caller holds sub.mu.
func (l *adHocList) update(v presence.View) {
	for i := range l.members {
		m := &l.members[i]
		if m.aor == v.AOR && m.state == rlmi.StateActive && v.Version >= m.view.Version {
			m.view = v
			m.changed = true
		}
	}
}

// hasOption reports whether one of req's headers name lists tag.
func hasOption(req *sipmsg.Request, name, tag string) bool {
	for _, h := range req.GetHeaders(name) {
		for _, t := range strings.Split(h.Value(), ",") {
			t, _, _ = strings.Cut(t, ";") // Accept-Encoding: deflate;q=1
			if strings.EqualFold(strings.TrimSpace(t), tag) {
				return true
			}
		}
	}
	return false
}

// headerToken is a header's value without its parameters, lower case:
// a Content-Type, Content-Disposition or Content-Encoding.
func headerToken(req *sipmsg.Request, name string) string {
	h := req.GetHeader(name)
	if h == nil {
		return ""
	}
	return strings.ToLower(mediaType(h.Value()))
}

// listBody returns the resource-lists document of req, inflated when it
// came with Content-Encoding: deflate, as liblinphone sends it.
func listBody(req *sipmsg.Request) ([]byte, error) {
	body := req.Body()
	switch enc := headerToken(req, "Content-Encoding"); enc {
	case "", "identity":
		return body, nil
	case "deflate":
		// HTTP's "deflate" is zlib (RFC 9110 §8.4.1.2); some senders
		// write raw DEFLATE, so try that when zlib's header is missing.
		var r io.Reader
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(body))
		}
		b, err := io.ReadAll(io.LimitReader(r, maxListBody+1))
		if err != nil {
			return nil, fmt.Errorf("%w: inflate resource list: %w", errBadRequest, err)
		}
		if len(b) > maxListBody {
			return nil, fmt.Errorf("%w: resource list over %d bytes", errBadRequest, maxListBody)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("%w: content encoding %q", errBadRequest, enc)
	}
}

// checkListRequest checks what every list SUBSCRIBE (BLF or ad-hoc) must carry
// and answers the refusal itself: not draining, a list URI of ours, the
// eventlist extension (RFC 4662 §4.1: list state goes only to who supports
// it) and a multipart/related Accept. It returns the list's AOR.
func (s *Server) checkListRequest(req *sipmsg.Request, tx sipmsg.ServerTransaction, ctype string) (presence.AOR, bool) {
	if s.refuseDraining(req, tx) {
		return presence.AOR{}, false
	}
	listAOR, ok := s.aorOf(req.Recipient)
	if !ok {
		s.replyCode(req, tx, sipmsg.StatusNotFound, "Not Found")
		return presence.AOR{}, false
	}
	if !hasOption(req, "Supported", tagEventList) && !hasOption(req, "Require", tagEventList) {
		s.replyCode(req, tx, statusExtensionRequired, "Extension Required", sipmsg.NewHeader("Require", tagEventList))
		return presence.AOR{}, false
	}
	if !accepts(req, "multipart/related") {
		s.replyCode(req, tx, sipmsg.StatusNotAcceptable, "Not Acceptable",
			sipmsg.NewHeader("Accept", "multipart/related, "+rlmi.ContentType+", "+ctype))
		return presence.AOR{}, false
	}
	return listAOR, true
}

// subscribeList is the notifier for an RFC 5367 ad-hoc list: SUBSCRIBE to
// a list URI (sip:rls@domain) with Require: recipient-list-subscribe and
// the resources in an RFC 4826 body. Each resource is authorized as a
// single subscription to it would be; one the watcher may not see is
// listed terminated with reason "rejected", and one that is not ours
// "noresource", so the rest of the list still works. NOTIFYs are RFC 4662
// multipart/related bodies, full state every time.
func (s *Server) subscribeList(req *sipmsg.Request, tx sipmsg.ServerTransaction, event presence.Event, ctype, eventID, fromTag string, exp time.Duration) {
	listAOR, ok := s.checkListRequest(req, tx, ctype)
	if !ok {
		return
	}
	if t := headerToken(req, "Content-Type"); t != rlmi.ResourceListsType {
		s.replyCode(req, tx, sipmsg.StatusUnsupportedMediaType, "Unsupported Media Type", sipmsg.NewHeader("Accept", rlmi.ResourceListsType))
		return
	}
	if d := headerToken(req, "Content-Disposition"); d != "" && d != "recipient-list" {
		// RFC 5367 §5: the list travels as a recipient-list.
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Bad Content-Disposition")
		return
	}
	if enc := headerToken(req, "Content-Encoding"); enc != "" && enc != "identity" && enc != "deflate" {
		s.replyCode(req, tx, sipmsg.StatusUnsupportedMediaType, "Unsupported Content-Encoding", sipmsg.NewHeader("Accept-Encoding", "deflate"))
		return
	}
	body, err := listBody(req)
	if err != nil {
		s.replyErr(req, tx, err)
		return
	}
	entries, err := rlmi.ParseResourceLists(body)
	if err != nil {
		s.replyErr(req, tx, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	if len(entries) == 0 {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Empty Resource List")
		return
	}
	contact := req.Contact()
	if contact == nil || contact.Address.Host == "" {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Missing Contact")
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list := &adHocList{uri: req.Recipient.Addr(), deflate: hasOption(req, "Accept-Encoding", "deflate")}
	for _, e := range entries {
		m, err := s.listMember(ctx, req.From().Address, e.URI, e.Name)
		if err != nil {
			s.replyErr(req, tx, err)
			return
		}
		list.members = append(list.members, m)
	}
	s.acceptList(req, tx, list, event, eventID, fromTag, listAOR, exp)
}

// acceptList makes the subscription to list, answers 200 and starts its
// NOTIFYs.
func (s *Server) acceptList(req *sipmsg.Request, tx sipmsg.ServerTransaction, list *adHocList, event presence.Event, eventID, fromTag string, listAOR presence.AOR, exp time.Duration) {
	contact := req.Contact()
	if contact == nil || contact.Address.Host == "" {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Missing Contact")
		return
	}
	sub := newSubscription(s.dialogOf(req, tx, listAOR, event, fromTag, eventID, contact.Address))
	sub.expires = time.Now().Add(exp)
	sub.list = list
	sub.latest = presence.View{AOR: sub.aor}
	sub.remoteCSeq = req.CSeq().SeqNo
	resources := len(list.members) // a BLF list's members change once it is indexed
	if exp > 0 {
		sub.dirty = true
		if err := s.subs.tryAdd(sub, s.cfg.MaxSubscriptionsPerWatcher, s.cfg.MaxSubscriptionsPerTarget); err != nil {
			s.replyErr(req, tx, err)
			return
		}
	}
	res := newResponse(req, sipmsg.StatusOK, "OK", nil)
	res.To().Params.Add("tag", sub.id.localTag)
	res.AppendHeader(sipmsg.NewHeader("Expires", secs(exp)))
	res.AppendHeader(sipmsg.NewHeader("Contact", sub.contact))
	for _, h := range req.GetHeaders("Record-Route") {
		res.AppendHeader(sipmsg.HeaderClone(h))
	}
	s.reply(req, tx, res)
	s.log.Debug().Str("list", list.uri).Int("resources", resources).Str("watcher", sub.remote.String()).Msg("list subscription created")
	if exp == 0 {
		// A fetch (RFC 6665 §4.4.3): one NOTIFY with the state, then done.
		s.goSender(sub, func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.NotifyTimeout)
			defer cancel()
			s.terminate(ctx, sub, "timeout")
		})
		return
	}
	sub.mu.Lock()
	s.persist(sub) // a BLF list is kept; an ad-hoc one is not
	sub.mu.Unlock()
	s.startSender(sub)
}

// compress returns b as a zlib stream, HTTP's and SIP's "deflate"
// (RFC 9110 §8.4.1.2), as liblinphone inflates it.
func compress(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, _ = zw.Write(b) // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	return buf.Bytes()
}

// renderList returns the RFC 4662 NOTIFY body of sub's list: RLMI first,
// then the state document of each active member, rendered as a single
// subscription to it would get it. An ad-hoc list is sent in full every
// time; a BLF list in full first, then only the resources that changed
// (RFC 4662 §5.3), each with its own document version.
func (s *Server) renderList(sub *subscription, version uint64) (string, []byte) {
	sub.mu.Lock()
	blf := sub.list.blf != ""
	full := !blf || !sub.list.sentFull
	l := rlmi.List{URI: sub.list.uri, Version: sub.list.version, FullState: full}
	sub.list.version++
	sub.list.sentFull = true
	members := make([]listMember, 0, len(sub.list.members))
	for i := range sub.list.members {
		m := &sub.list.members[i]
		if !full && !m.changed {
			continue
		}
		m.changed = false
		if blf && m.state == rlmi.StateActive {
			m.docVersion++
		}
		members = append(members, *m)
	}
	sub.mu.Unlock()
	for _, m := range members {
		r := rlmi.Resource{URI: m.uri, Name: m.name, State: m.state, Reason: m.reason}
		if blf {
			r.InstanceID = "x" + m.aor.User
		}
		if m.state == rlmi.StateActive {
			v := version
			if blf {
				v = m.docVersion - 1
			}
			if sub.event == presence.EventPresence {
				r.ContentType, r.Body = typePIDF, renderPIDF(m.view)
			} else {
				r.ContentType, r.Body = typeDialogInfo, renderDialogInfo(m.view, v, s.cfg.SingleDialog)
			}
		}
		l.Resources = append(l.Resources, r)
	}
	return l.Multipart(sub.local.Host)
}
