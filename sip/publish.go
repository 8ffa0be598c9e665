package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/dialoginfo"
	"github.com/switchboardhq/switchboard/sip/pidf"
)

// handlePublish is the event state compositor, RFC 3903 §6.
func (s *Server) handlePublish(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	// RFC 3903 §6 step 1 leaves authentication to RFC 3261 §22: the
	// publisher is the From user, and the PBX is trusted to publish.
	if !s.authenticate(req, tx, req.From().Address, true) {
		return
	}
	// Step 1-2: the Request-URI names the resource.
	aor, ok := s.aorOf(req.Recipient)
	if !ok {
		s.replyCode(req, tx, sipmsg.StatusNotFound, "Not Found")
		return
	}
	// Step 3: may this publisher change this resource's state?
	if !s.mayPublish(req, tx, aor) {
		return
	}
	// Step 2: the event package.
	eh := req.GetHeader("Event")
	if eh == nil {
		s.replyCode(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", allowEvents))
		return
	}
	pkg, _ := parseEvent(eh.Value())
	event, ctype, ok := eventOf(pkg)
	if !ok {
		s.replyCode(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", allowEvents))
		return
	}
	// Step 4: the lifetime.
	exp, err := expiresOf(req, s.cfg.PublishDefaultExpires)
	if err != nil {
		s.replyErr(req, tx, err)
		return
	}
	// The PBX is exempt from the minimum: Kamailio's pua_dialoginfo
	// publishes a hang-up with a fixed "Expires: 11" and never retries a
	// 423, which would leave the lamp lit until the previous publication
	// ran out.
	if exp > 0 && exp < s.cfg.PublishMinExpires && !s.trusted(sourceAddr(req)) {
		s.replyCode(req, tx, sipmsg.StatusIntervalToBrief, "Interval Too Brief",
			sipmsg.NewHeader("Min-Expires", secs(s.cfg.PublishMinExpires)))
		return
	}
	exp = min(exp, s.cfg.PublishMaxExpires)

	pub := presence.Publish{Event: event, Expires: exp}
	if h := req.GetHeader("SIP-If-Match"); h != nil {
		pub.IfMatch = strings.TrimSpace(h.Value())
	}
	if len(req.Body()) > 0 {
		// Step 3: a body we understand.
		if ct := req.ContentType(); ct == nil || !strings.EqualFold(mediaType(ct.Value()), ctype) {
			s.replyCode(req, tx, sipmsg.StatusUnsupportedMediaType, "Unsupported Media Type", sipmsg.NewHeader("Accept", ctype))
			return
		}
		body, err := publishBody(event, req.Body(), time.Now())
		if err != nil {
			s.replyErr(req, tx, bodyError(err))
			return
		}
		pub.Body = body
	} else if pub.IfMatch == "" {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Bad Request (initial PUBLISH needs a body)")
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := s.core.Publish(ctx, aor, pub)
	if err != nil {
		s.replyErr(req, tx, err)
		return
	}
	resp := newResponse(req, sipmsg.StatusOK, "OK", nil)
	if exp > 0 {
		resp.AppendHeader(sipmsg.NewHeader("SIP-ETag", res.ETag))
	}
	resp.AppendHeader(sipmsg.NewHeader("Expires", secs(exp)))
	s.reply(req, tx, resp)
}

// bodyError marks a document the parsers rejected as the client's fault.
func bodyError(err error) error {
	if errors.Is(err, dialoginfo.ErrMalformed) || errors.Is(err, dialoginfo.ErrTooLarge) ||
		errors.Is(err, pidf.ErrMalformed) || errors.Is(err, pidf.ErrTooLarge) {
		return fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return err
}

func mediaType(v string) string {
	t, _, _ := strings.Cut(v, ";")
	return strings.TrimSpace(t)
}
