package sip

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/sip/limit"
)

// guard wraps a handler with what every request goes through first, in
// this order: the per-source rate limit, the in-flight gate, then the
// message checks no handler should repeat. Overload is refused with 503 and
// Retry-After at once (RFC 3261 §21.5.4): sipgo already runs a goroutine
// per message, and queueing behind them would only grow memory.
func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		// We serve no INVITE, so an ACK has nothing to acknowledge, and
		// RFC 3261 §17.2.3 forbids answering one anyway.
		if req.IsAck() || tx == nil {
			return
		}
		src := sourceAddr(req)
		exempt := s.trusted(src)
		if s.limiter != nil && !exempt && src.IsValid() {
			if ok, wait := s.limiter.Allow(src, time.Now()); !ok {
				s.stats.rateLimited.Add(1)
				s.replyCode(req, tx, sipmsg.StatusServiceUnavailable, "Rate Limited",
					sipmsg.NewHeader("Retry-After", strconv.Itoa(limit.RetryAfterSeconds(wait))))
				return
			}
		}
		if s.gate != nil && !exempt {
			if !s.gate.TryEnter() {
				s.stats.overloaded.Add(1)
				if _, ok := tx.(*udpTx); ok {
					// Over UDP the request is dropped unanswered, as a full
					// socket buffer would drop it, and forgotten (a lean
					// transaction without a response ends with its
					// handler): the phone's own retransmission (T1,
					// doubling; RFC 3261 §17.1.2.2) brings it back when
					// load falls, where a 503 would end its transaction (a
					// re-subscription storm after a restart failed so).
					return
				}
				s.replyCode(req, tx, sipmsg.StatusServiceUnavailable, "Overloaded", sipmsg.NewHeader("Retry-After", "1"))
				return
			}
			defer s.gate.Leave()
		}
		if !s.wellFormed(req, tx) {
			return
		}
		h(req, tx)
	}
}

// wellFormed answers what RFC 3261 and the RFC 4475 torture tests require
// of any request before a handler sees it and reports whether it may go on.
func (s *Server) wellFormed(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	if !strings.EqualFold(req.SipVersion, "SIP/2.0") {
		// RFC 3261 §21.5.7, RFC 4475 §3.1.2.16 (badvers).
		s.replyCode(req, tx, sipmsg.StatusVersionNotSupported, "Version Not Supported")
		return false
	}
	if !s.checkBasics(req, tx) {
		return false
	}
	if req.Recipient.Headers != nil && req.Recipient.Headers.Length() > 0 {
		// RFC 3261 §19.1.5: headers are not allowed in a Request-URI;
		// RFC 4475 §3.1.2.11 (escruri) expects 400.
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Bad Request (headers in Request-URI)")
		return false
	}
	return s.checkRequire(req, tx)
}

// routes returns every handler by method, each wrapped in guard: what New
// registers with sipgo, and what the fuzz test drives.
func (s *Server) routes() map[sipmsg.RequestMethod]sipgo.RequestHandler {
	return map[sipmsg.RequestMethod]sipgo.RequestHandler{
		sipmsg.REGISTER:  s.guard(s.handleRegister),
		sipmsg.SUBSCRIBE: s.guard(s.handleSubscribe),
		sipmsg.PUBLISH:   s.guard(s.handlePublish),
		sipmsg.OPTIONS:   s.guard(s.handleOptions),
		sipmsg.NOTIFY:    s.guard(s.handleStray),
		sipmsg.BYE:       s.guard(s.handleBye),
	}
}

// dispatch hands req to its handler as sipgo would.
func (s *Server) dispatch(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if h, ok := s.handlers[req.Method]; ok {
		h(req, tx)
		return
	}
	s.noRoute(req, tx)
}
