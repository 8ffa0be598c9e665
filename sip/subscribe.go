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
	if !s.checkBasics(req, tx) {
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

	sub := &subscription{
		id:        dialogID{callID: req.CallID().Value(), localTag: sipmsg.GenerateTagN(10), remoteTag: fromTag, eventID: eventID},
		event:     event,
		aor:       aor,
		local:     req.To().Address,
		remote:    req.From().Address,
		remoteDsp: req.From().DisplayName,
		target:    contact.Address,
		source:    req.Source(),
		transport: req.Transport(),
		contact:   s.contactFor(req, tx),
		expires:   time.Now().Add(exp),
	}
	sub.remoteCSeq = req.CSeq().SeqNo
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
			sub.routes = append(sub.routes, rr.Address)
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

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	view, err := s.core.Get(ctx, aor)
	if err != nil {
		s.log.Warn().Err(err).Str("aor", aor.String()).Msg("read presence for new subscription")
		view = presence.View{AOR: aor, Line: presence.LineOffline, Status: presence.StatusAvailable}
	}
	if exp == 0 {
		// A fetch (RFC 6665 §4.4.3): one NOTIFY with the state, then done.
		sub.latest = view
		s.senders.Add(1)
		go func() {
			defer s.senders.Done()
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.NotifyTimeout)
			defer cancel()
			s.terminate(ctx, sub, "timeout")
		}()
		return
	}
	s.subs.add(sub)
	sub.mu.Lock()
	s.persist(sub)
	sub.mu.Unlock()
	s.log.Debug().Str("aor", aor.String()).Str("event", string(event)).Str("watcher", sub.remote.String()).Msg("subscription created")
	// RFC 6665 §4.2.1.2: the initial NOTIFY follows the 200 at once.
	s.kick(sub, view)
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
	if exp > 0 {
		sub.expires = time.Now().Add(exp)
		s.persist(sub)
	}
	sub.mu.Unlock()

	res := newResponse(req, sipmsg.StatusOK, "OK", nil)
	res.AppendHeader(sipmsg.NewHeader("Expires", secs(exp)))
	res.AppendHeader(sipmsg.NewHeader("Contact", sub.contact))
	s.reply(req, tx, res)

	if exp == 0 {
		s.senders.Add(1)
		go func() {
			defer s.senders.Done()
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.NotifyTimeout)
			defer cancel()
			s.terminate(ctx, sub, "timeout")
		}()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	view, err := s.core.Get(ctx, sub.aor)
	if err != nil {
		s.log.Warn().Err(err).Str("aor", sub.aor.String()).Msg("read presence for refresh")
		return
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
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			for _, sub := range s.subs.all() {
				sub.mu.Lock()
				expired := !sub.ended && !sub.expires.After(now)
				sub.mu.Unlock()
				if expired {
					s.senders.Add(1)
					go func() {
						defer s.senders.Done()
						nctx, cancel := context.WithTimeout(ctx, s.cfg.NotifyTimeout)
						defer cancel()
						s.terminate(nctx, sub, "timeout")
					}()
				}
			}
		}
	}
}
