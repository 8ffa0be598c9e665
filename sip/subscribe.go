package sip

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
)

// allowEvents lists the event packages the notifier serves.
const allowEvents = "dialog, presence"

const (
	typeDialogInfo = "application/dialog-info+xml"
	typePIDF       = "application/pidf+xml"
)

// parseEvent splits an Event header into package and id (RFC 6665 §8.2.1).
func parseEvent(v string) (pkg, id string) {
	parts := strings.Split(v, ";")
	pkg = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "id") {
			id = strings.Trim(val, `"`)
		}
	}
	return pkg, id
}

func eventOf(pkg string) (presence.Event, string, bool) {
	switch pkg {
	case "dialog":
		return presence.EventDialog, typeDialogInfo, true
	case "presence":
		return presence.EventPresence, typePIDF, true
	}
	return "", "", false
}

// accepts reports whether the Accept header allows ctype (RFC 3261 §20.1:
// an absent Accept means the package default).
func accepts(req *sipmsg.Request, ctype string) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		for _, v := range strings.Split(h.Value(), ",") {
			v, _, _ = strings.Cut(strings.TrimSpace(v), ";")
			v = strings.ToLower(v)
			if v == ctype || v == "*/*" || v == "application/*" || v == "multipart/related" {
				return true
			}
		}
	}
	return false
}

// handleSubscribe is the notifier's SUBSCRIBE processing (RFC 6665 §4.2.1).
func (s *Server) handleSubscribe(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	// RFC 3261 §8.2: authenticate before inspecting the request. A
	// watcher is always challenged, even from a trusted address.
	if !s.authenticate(req, tx, req.From().Address, false) {
		return
	}
	eh := req.GetHeader("Event")
	if eh == nil {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Missing Event")
		return
	}
	pkg, eventID := parseEvent(eh.Value())
	event, ctype, ok := eventOf(pkg)
	if !ok {
		s.replyCode(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", allowEvents))
		return
	}
	exp, err := expiresOf(req, s.cfg.SubscribeDefaultExpires)
	if err != nil {
		s.replyErr(req, tx, err)
		return
	}
	if exp > 0 && exp < s.cfg.SubscribeMinExpires {
		s.replyCode(req, tx, sipmsg.StatusIntervalToBrief, "Interval Too Brief",
			sipmsg.NewHeader("Min-Expires", secs(s.cfg.SubscribeMinExpires)))
		return
	}
	exp = min(exp, s.cfg.SubscribeMaxExpires)
	fromTag, _ := req.From().Params.Get("tag")
	if fromTag == "" {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Missing From Tag")
		return
	}
	if toTag, _ := req.To().Params.Get("tag"); toTag != "" {
		id := dialogID{callID: req.CallID().Value(), localTag: toTag, remoteTag: fromTag, eventID: eventID}
		s.refresh(req, tx, id, event, exp)
		return
	}
	if name, ok := blfListName(req.Recipient); ok && s.lists != nil {
		s.subscribeBLF(req, tx, event, ctype, eventID, fromTag, name, exp)
		return
	}
	if hasOption(req, "Require", tagRecipientListSubscribe) {
		s.subscribeList(req, tx, event, ctype, eventID, fromTag, exp)
		return
	}
	s.subscribe(req, tx, event, ctype, eventID, fromTag, exp)
}

func (s *Server) subscribe(req *sipmsg.Request, tx sipmsg.ServerTransaction, event presence.Event, ctype, eventID, fromTag string, exp time.Duration) {
	if s.refuseDraining(req, tx) {
		return
	}
	aor, ok := s.aorOf(req.Recipient)
	if !ok {
		s.replyCode(req, tx, sipmsg.StatusNotFound, "Not Found")
		return
	}
	if !accepts(req, ctype) {
		s.replyCode(req, tx, sipmsg.StatusNotAcceptable, "Not Acceptable", sipmsg.NewHeader("Accept", ctype))
		return
	}
	contact := req.Contact()
	if contact == nil || contact.Address.Host == "" {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Missing Contact")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dec, err := s.authorize(ctx, req.From().Address, aor)
	if err != nil {
		s.replyErr(req, tx, err)
		return
	}
	if dec == Deny {
		s.stats.authRefused.Add(1)
		s.replyCode(req, tx, sipmsg.StatusForbidden, "Forbidden")
		return
	}

	pending := dec == Pending
	// The subscription outlives the request: it keeps copies of the
	// strings it needs, not the parsed header lines they point into.
	sub := newSubscription(s.dialogOf(req, tx, aor, event, fromTag, eventID, contact.Address))
	aor = sub.aor // its views too hold its strings, not the request's
	sub.expires = time.Now().Add(exp)
	sub.pending = pending
	sub.remoteCSeq = req.CSeq().SeqNo

	// The state to send first; a pending watcher gets none.
	sub.latest = presence.View{AOR: aor}
	if !pending {
		if sub.latest, err = s.core.Get(ctx, aor); err != nil {
			s.log.Warn().Err(err).Str("aor", aor.String()).Msg("read presence for new subscription")
			sub.latest = presence.View{AOR: aor, Line: presence.LineOffline, Status: presence.StatusAvailable}
		}
	}
	if exp > 0 {
		// Primed, then indexed before the 200 so that the caps hold under
		// concurrent SUBSCRIBEs. A change arriving meanwhile may send the
		// first NOTIFY before the 200, which RFC 6665 §4.1.2.4 makes
		// subscribers accept; either way only one initial NOTIFY goes out.
		sub.dirty = true
		if err := s.subs.tryAdd(sub, s.cfg.MaxSubscriptionsPerWatcher, s.cfg.MaxSubscriptionsPerTarget); err != nil {
			s.replyErr(req, tx, err)
			return
		}
	}

	res := newResponse(req, sipmsg.StatusOK, "OK", nil)
	if pending {
		// RFC 6665 §8.3.1 deprecates 202, but subscribers treat it as 200
		// and RFC 3265 ones read it as "pending authorization".
		res = newResponse(req, sipmsg.StatusAccepted, "Accepted", nil)
	}
	res.To().Params.Add("tag", sub.id.localTag)
	res.AppendHeader(sipmsg.NewHeader("Expires", secs(exp)))
	// The Record-Route headers are already there: NewResponseFromRequest
	// copies them (RFC 3261 §12.1.1); adding them again doubles every hop.
	res.AppendHeader(sipmsg.NewHeader("Contact", sub.contact))
	s.reply(req, tx, res)

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
	s.persist(sub)
	sub.mu.Unlock()
	s.log.Debug().Str("aor", aor.String()).Str("event", string(event)).Str("watcher", sub.remote.String()).Bool("pending", pending).Msg("subscription created")
	// RFC 6665 §4.2.1.2: the initial NOTIFY follows the 200 at once.
	s.startSender(sub)
}

// refresh handles a SUBSCRIBE inside an existing dialog: a refresh or, with
// Expires: 0, an unsubscribe (RFC 6665 §4.2.1.2, §4.2.1.4).
func (s *Server) refresh(req *sipmsg.Request, tx sipmsg.ServerTransaction, id dialogID, event presence.Event, exp time.Duration) {
	sub := s.subs.get(id)
	if sub == nil || sub.event != event {
		s.replyCode(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
		return
	}
	sub.mu.Lock()
	if sub.ended {
		sub.mu.Unlock()
		s.replyCode(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
		return
	}
	if req.CSeq().SeqNo <= sub.remoteCSeq {
		sub.mu.Unlock()
		// RFC 3261 §12.2.2: a lower CSeq in a dialog is out of order.
		s.replyCode(req, tx, sipmsg.StatusInternalServerError, "Out Of Order")
		return
	}
	sub.remoteCSeq = req.CSeq().SeqNo
	sub.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dec, err := s.authorize(ctx, sub.remote, sub.aor)
	if sub.list != nil {
		// Each member was authorized when the list was made.
		dec, err = Allow, nil
	}
	if err != nil {
		s.replyErr(req, tx, err)
		return
	}
	if dec == Deny && exp > 0 {
		// Permission withdrawn: refuse the refresh and end the
		// subscription with reason=rejected (RFC 6665 §4.2.2).
		s.stats.authRefused.Add(1)
		s.replyCode(req, tx, sipmsg.StatusForbidden, "Forbidden")
		s.apply(ctx, sub, Deny)
		return
	}

	sub.mu.Lock()
	if exp > 0 {
		sub.expires = time.Now().Add(exp)
		s.persist(sub)
	}
	if sub.list != nil {
		sub.list.sentFull = false // a refresh gets full state
	}
	pending := sub.pending && dec == Pending
	sub.mu.Unlock()
	if exp > 0 {
		s.waitSaved(sub) // the new expiry is kept before the 200 says so
	}

	res := newResponse(req, sipmsg.StatusOK, "OK", nil)
	if pending {
		res = newResponse(req, sipmsg.StatusAccepted, "Accepted", nil)
	}
	res.AppendHeader(sipmsg.NewHeader("Expires", secs(exp)))
	res.AppendHeader(sipmsg.NewHeader("Contact", sub.contact))
	s.reply(req, tx, res)

	if exp == 0 {
		s.goSender(sub, func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.NotifyTimeout)
			defer cancel()
			// RFC 6665 §4.2.1.4, §4.1.3: the subscriber ended it; no
			// reason is given, since none of §4.2.2's is true.
			s.terminate(ctx, sub, "")
		})
		return
	}
	sub.mu.Lock()
	wasPending := sub.pending
	sub.mu.Unlock()
	if wasPending && dec == Allow {
		s.apply(ctx, sub, Allow) // now active: NOTIFY the state
		return
	}
	view := presence.View{AOR: sub.aor}
	if !wasPending {
		if view, err = s.core.Get(ctx, sub.aor); err != nil {
			s.log.Warn().Err(err).Str("aor", sub.aor.String()).Msg("read presence for refresh")
			return
		}
	}
	// A refresh gets a NOTIFY with the current state (RFC 6665 §4.2.1.2).
	s.kick(sub, view)
}

// contactFor is our Contact for a dialog started by req: the address the
// request reached, so in-dialog requests come back over the same path.
func (s *Server) contactFor(req *sipmsg.Request, tx sipmsg.ServerTransaction) string {
	host, port := req.Recipient.Host, 0
	if c, ok := tx.(interface{ Connection() sipmsg.Connection }); ok && c.Connection() != nil {
		if la := c.Connection().LocalAddr(); la != nil {
			if h, p, err := net.SplitHostPort(la.String()); err == nil {
				if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
					host = h
				}
				port, _ = strconv.Atoi(p)
			}
		}
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	uri := "sip:switchboard@" + host
	if port > 0 {
		uri += ":" + strconv.Itoa(port)
	}
	if tp := strings.ToLower(req.Transport()); tp != "udp" {
		uri += ";transport=" + tp
	}
	return fmt.Sprintf("<%s>", uri)
}

// expireSubscriptions ends subscriptions nobody refreshed, with a final
// NOTIFY "terminated;reason=timeout" (RFC 6665 §4.2.2), until ctx ends.
func (s *Server) expireSubscriptions(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			if tick%5 == 0 {
				// A Pending policy decides later; ask again now and then.
				s.reauthorize(ctx, true)
			}
			if tick%2 == 0 {
				// Group memberships change without an event to hear.
				s.RefreshLists(ctx)
			}
			for _, sub := range s.subs.all() {
				sub.mu.Lock()
				expired := !sub.ended && !sub.expires.After(now)
				sub.mu.Unlock()
				if expired {
					s.goSender(sub, func() {
						nctx, cancel := context.WithTimeout(ctx, s.cfg.NotifyTimeout)
						defer cancel()
						s.terminate(nctx, sub, "timeout")
					})
				}
			}
		}
	}
}

// dialogOf is the new subscription dialog a SUBSCRIBE to aor asks for:
// its ids, our side, the subscriber's and the route set from its
// Record-Route (RFC 3261 §12.1.1).
func (s *Server) dialogOf(req *sipmsg.Request, tx sipmsg.ServerTransaction, aor presence.AOR, event presence.Event,
	fromTag, eventID string, target sipmsg.Uri) dialogParts {
	var routes []sipmsg.Uri
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
			routes = append(routes, rr.Address)
		}
	}
	return dialogParts{
		id: dialogID{callID: req.CallID().Value(), localTag: sipmsg.GenerateTagN(10), remoteTag: fromTag, eventID: eventID},
		localParty: localParty{local: req.To().Address, aor: aor, event: event, contact: s.contactFor(req, tx),
			transport: req.Transport()},
		remote: req.From().Address, remoteDsp: req.From().DisplayName, target: target, routes: routes,
		source: req.Source(),
	}
}
