package sip

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
)

// errBadRequest marks a request we cannot act on; the message says why.
var errBadRequest = errors.New("bad request")

// responseFor maps an error to the SIP status that tells the client what
// went wrong. It is the only place presence errors become SIP codes.
func responseFor(err error) (int, string) {
	switch {
	case errors.Is(err, errBadRequest), errors.Is(err, presence.ErrInvalid):
		return sipmsg.StatusBadRequest, "Bad Request"
	case errors.Is(err, presence.ErrUnknownETag):
		// RFC 3903 §6 step 5.
		return 412, "Conditional Request Failed"
	case errors.Is(err, presence.ErrOutOfOrder):
		// RFC 3261 §10.3 step 7 leaves the code open; Kamailio and Asterisk
		// answer 500 so a client restarts its CSeq cleanly.
		return sipmsg.StatusInternalServerError, "Out Of Order"
	case errors.Is(err, presence.ErrTooManyBindings):
		return sipmsg.StatusForbidden, "Too Many Registrations"
	case errors.Is(err, errTooManySubscriptions):
		// Like too many bindings: the watcher's own doing, and a retry
		// cannot help until it unsubscribes from something.
		return sipmsg.StatusForbidden, "Too Many Subscriptions"
	case errors.Is(err, errPolicy):
		return sipmsg.StatusInternalServerError, "Server Internal Error"
	default:
		return sipmsg.StatusServiceUnavailable, "Service Unavailable"
	}
}

// newResponse builds a response and fixes Via the way RFC 3261 §18.2.1 and
// RFC 3581 §4 want, so replies find phones behind NAT: received whenever the
// packet came from elsewhere than Via says (sipgo adds it only with rport).
func newResponse(req *sipmsg.Request, code int, reason string, body []byte) *sipmsg.Response {
	if via := req.Via(); via != nil && via.Params != nil {
		if src := req.Source(); src != "" {
			host, _, err := net.SplitHostPort(src)
			if _, hasRport := via.Params.Get("rport"); err == nil && !hasRport && host != via.Host {
				via.Params.Add("received", host)
			}
		}
	}
	return sipmsg.NewResponseFromRequest(req, code, reason, body)
}

func (s *Server) reply(req *sipmsg.Request, tx sipmsg.ServerTransaction, res *sipmsg.Response) {
	s.count(req.Method, res.IsSuccess())
	res.AppendHeader(sipmsg.NewHeader("Server", s.cfg.UserAgent))
	err := tx.Respond(res)
	if errors.Is(err, sipmsg.ErrUDPMTUCongestion) {
		err = s.respondLargeUDP(res)
	}
	if err != nil {
		s.log.Debug().Err(err).Str("method", req.Method.String()).Str("source", req.Source()).Msg("send response")
	}
}

// respondLargeUDP sends a response sipgo refused as larger than its UDP
// MTU guard. That guard is RFC 3261 §18.1.1's rule for requests, which may
// move to TCP; a response to a UDP request has no such way out and must go
// back over UDP (§18.2.2), fragmented if need be. Without this a 200 listing
// many bindings, or any answer to a long request (RFC 4475 longreq), would
// never arrive. Retransmissions of the request are then answered anew.
// cmd/switchboard lifts that guard to the datagram maximum, so there sipgo
// sends such responses itself, within the transaction; this covers a
// guard left as sipgo sets it.
func (s *Server) respondLargeUDP(res *sipmsg.Response) error {
	if s.udpConn == nil {
		return sipmsg.ErrUDPMTUCongestion
	}
	dst, err := net.ResolveUDPAddr("udp", res.Destination())
	if err != nil {
		return fmt.Errorf("large udp response to %q: %w", res.Destination(), err)
	}
	if _, err := s.udpConn.WriteTo([]byte(res.String()), dst); err != nil {
		return fmt.Errorf("large udp response to %s: %w", dst, err)
	}
	return nil
}

func (s *Server) replyCode(req *sipmsg.Request, tx sipmsg.ServerTransaction, code int, reason string, headers ...sipmsg.Header) {
	res := newResponse(req, code, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	s.reply(req, tx, res)
}

func (s *Server) replyErr(req *sipmsg.Request, tx sipmsg.ServerTransaction, err error) {
	code, reason := responseFor(err)
	if code >= 500 && code != sipmsg.StatusInternalServerError {
		s.log.Warn().Err(err).Str("method", req.Method.String()).Msg("request failed")
	} else {
		s.log.Debug().Err(err).Str("method", req.Method.String()).Int("code", code).Msg("request refused")
	}
	if code == sipmsg.StatusBadRequest {
		// Say why: phones log the reason phrase.
		reason = "Bad Request (" + reasonDetail(err) + ")"
	}
	var hs []sipmsg.Header
	if code == sipmsg.StatusServiceUnavailable {
		hs = append(hs, sipmsg.NewHeader("Retry-After", "5"))
	}
	s.replyCode(req, tx, code, reason, hs...)
}

func (s *Server) count(m sipmsg.RequestMethod, ok bool) {
	var total, failed *atomic.Uint64
	switch m {
	case sipmsg.REGISTER:
		total, failed = &s.stats.registers, &s.stats.registersFailed
	case sipmsg.SUBSCRIBE:
		total, failed = &s.stats.subscribes, &s.stats.subscribesFailed
	case sipmsg.PUBLISH:
		total, failed = &s.stats.publishes, &s.stats.publishesFailed
	default:
		return
	}
	total.Add(1)
	if !ok {
		failed.Add(1)
	}
}

// maxReasonDetail bounds the "why" in a 400's reason phrase: long enough
// for one parser message, short enough for a phone's log line.
const maxReasonDetail = 64

// reasonRedundant are parts of error messages a 400's reason phrase
// already says ("Bad Request") or that name our packages, not the fault.
var reasonRedundant = strings.NewReplacer(
	errBadRequest.Error()+": ", "", errBadRequest.Error()+"\n", "",
	"dialoginfo: ", "", "pidf: ", "", "malformed document: ", "",
)

// reasonDetail is err's message made fit for a reason phrase (RFC 3261
// §25.1: printable text, no CR or LF): the redundant parts removed,
// whitespace collapsed, and cut after a whole word, marked "...", when
// longer than maxReasonDetail.
func reasonDetail(err error) string {
	out := ""
	for _, w := range strings.Fields(printable(reasonRedundant.Replace(err.Error()))) {
		next := w
		if out != "" {
			next = out + " " + w
		}
		if len(next) <= maxReasonDetail {
			out = next
			continue
		}
		// Cut: drop words until the marker fits.
		for len(out)+len(" ...") > maxReasonDetail {
			i := strings.LastIndexByte(out, ' ')
			if i < 0 {
				i = 0
			}
			out = out[:i]
		}
		if out == "" {
			// A single word longer than the whole budget: its start.
			return w[:maxReasonDetail-len("...")] + "..."
		}
		return out + " ..."
	}
	return out
}

// trimReason makes a value quoted in an error message printable and at
// most 80 bytes; reasonDetail later cuts the whole message at a word.
func trimReason(s string) string {
	const max = 80
	s = printable(s)
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// printable replaces every byte outside printable ASCII with a space.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = ' '
		}
	}
	return string(b)
}

// refuseDraining answers 503 with Retry-After while shutting down, so the
// client tries another instance or this one once it is back.
func (s *Server) refuseDraining(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	if !s.Draining() {
		return false
	}
	s.replyCode(req, tx, sipmsg.StatusServiceUnavailable, "Shutting Down", sipmsg.NewHeader("Retry-After", "5"))
	return true
}

// checkBasics answers 400 for a request missing what RFC 3261 §8.1.1 makes
// mandatory and reports whether the request may go on.
func (s *Server) checkBasics(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	missing := ""
	switch {
	case req.From() == nil:
		missing = "From"
	case req.To() == nil:
		missing = "To"
	case req.CallID() == nil:
		missing = "Call-ID"
	case req.CSeq() == nil:
		missing = "CSeq"
	}
	if missing != "" {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "Missing "+missing)
		return false
	}
	// Methods are case-sensitive (RFC 3261 §7.1), but sipgo upper-cases the
	// request line's and not the CSeq's (RFC 4475 intmeth).
	if !strings.EqualFold(string(req.CSeq().MethodName), string(req.Method)) {
		s.replyCode(req, tx, sipmsg.StatusBadRequest, "CSeq Method Mismatch")
		return false
	}
	return true
}

// expiresOf returns the Expires header in seconds, or def when absent.
func expiresOf(req *sipmsg.Request, def time.Duration) (time.Duration, error) {
	h := req.GetHeader("Expires")
	if h == nil {
		return def, nil
	}
	n, err := strconv.ParseUint(h.Value(), 10, 32)
	if err != nil {
		return 0, errors.Join(errBadRequest, errors.New("invalid Expires "+strconv.Quote(trimReason(h.Value()))))
	}
	return time.Duration(n) * time.Second, nil
}

func secs(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

func (s *Server) handleOptions(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	// A dispatcher's OPTIONS ping (Kamailio, OpenSIPS) must see this
	// instance leave before its listeners close.
	if s.refuseDraining(req, tx) {
		return
	}
	res := newResponse(req, sipmsg.StatusOK, "OK", nil)
	res.AppendHeader(sipmsg.NewHeader("Allow", "REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, OPTIONS"))
	res.AppendHeader(sipmsg.NewHeader("Allow-Events", allowEvents))
	res.AppendHeader(sipmsg.NewHeader("Accept", "application/dialog-info+xml, application/pidf+xml"))
	s.reply(req, tx, res)
}

// handleStray hands a NOTIFY to the PBX watcher, if one is set, and answers
// one outside any subscription of ours with 481 (RFC 6665 §4.1.3).
func (s *Server) handleStray(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.mu.RLock()
	h, c2c := s.notifies, s.c2c
	s.mu.RUnlock()
	if c2c != nil && c2c.handle(req, tx) {
		return
	}
	if h != nil && h.HandleNotify(req, tx) {
		return
	}
	s.replyCode(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
}

func (s *Server) handleNoRoute(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if req.IsAck() {
		return
	}
	s.replyCode(req, tx, sipmsg.StatusMethodNotAllowed, "Method Not Allowed",
		sipmsg.NewHeader("Allow", "REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, OPTIONS"))
}
