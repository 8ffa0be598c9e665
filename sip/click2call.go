package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/presence"
)

// Click-to-call is third-party call control (RFC 3725) with REFER (RFC
// 3515): Switchboard INVITEs the user's own phone, and once it answers,
// asks it with a REFER to call the number itself, so the call leaves
// through the phone's PBX with the phone's caller ID, dialplan and
// billing. Switchboard follows the REFER's NOTIFYs (message/sipfrag, RFC
// 3420) and hangs up its own leg. It never carries media: its SDP offer is
// inactive (RFC 3264 §5.1), which every phone accepts and none plays.

// CallState is a click-to-call's progress.
type CallState string

// Click-to-call states, in the order a call goes through them.
const (
	// CallRinging: the user's phone is being called.
	CallRinging CallState = "ringing"
	// CallConnecting: the phone answered and was asked to call the number.
	CallConnecting CallState = "connecting"
	// CallConnected: the number answered the phone's call.
	CallConnected CallState = "connected"
	// CallFailed: the call ended without connecting; see the reason.
	CallFailed CallState = "failed"
)

// Reasons a click-to-call failed.
const (
	ReasonNotRegistered  = "not_registered"   // no live binding of the user's phone, and no PBX
	ReasonNoAnswer       = "no_answer"        // the phone did not answer in time
	ReasonBusy           = "busy"             // the phone answered 486 or 600
	ReasonDeclined       = "declined"         // the phone answered 603 or another refusal
	ReasonReferRefused   = "refer_refused"    // the phone refused the REFER
	ReasonTargetBusy     = "target_busy"      // the number was busy
	ReasonTargetNoAnswer = "target_no_answer" // the number did not answer in time
	ReasonTargetFailed   = "target_failed"    // the phone's call to the number failed otherwise
	ReasonHungUp         = "hung_up"          // the phone hung up before the number answered
	ReasonShutdown       = "shutdown"         // this instance shut down
	ReasonError          = "error"            // the phone could not be reached
)

// ClickToCallConfig configures click-to-call.
type ClickToCallConfig struct {
	// AutoAnswer adds the headers desk phones auto-answer on: Call-Info
	// answer-after=0 (Yealink, Snom, Grandstream) and Alert-Info
	// info=alert-autoanswer (Polycom, Yealink).
	AutoAnswer bool
	// RingTimeout is how long the user's phone may ring; default 30 s.
	RingTimeout time.Duration
	// ConnectTimeout is how long the phone's call to the number may take
	// to be answered after the REFER; default 60 s.
	ConnectTimeout time.Duration
	// PBX (host:port), when set, receives the INVITE for sip:ext@domain:
	// the phones register there. Empty: the INVITE goes to the phone's
	// registered Contact.
	PBX string
	// PBXTransport is udp or tcp; default udp.
	PBXTransport string
	// Queue bounds the calls waiting to start; default 64.
	Queue int
}

func (c *ClickToCallConfig) setDefaults() {
	if c.RingTimeout <= 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 60 * time.Second
	}
	if c.PBXTransport == "" {
		c.PBXTransport = "udp"
	}
	if c.Queue <= 0 {
		c.Queue = 64
	}
}

// CallRequest asks for one click-to-call.
type CallRequest struct {
	// ID names the call in its progress reports.
	ID string
	// From is the user whose phone rings first.
	From presence.AOR
	// Number is what the phone is asked to call, already normalized
	// (E.164 or an extension): the user part of the Refer-To URI.
	Number string
}

// CallProgress is one step of a click-to-call.
type CallProgress struct {
	ID     string
	From   presence.AOR
	Number string
	State  CallState
	// Reason says why a call failed; empty otherwise.
	Reason string
	// Status is the SIP status behind a failure (the phone's answer, the
	// REFER's, or the number's from the sipfrag); 0 when there is none.
	Status int
	// Seq counts this call's reports from 1.
	Seq int
	At  time.Time
}

// ErrClickToCallBusy means too many click-to-calls are waiting to start.
var ErrClickToCallBusy = errors.New("click-to-call queue full")

// ErrClickToCallStopped means click-to-call is not running (shutdown).
var ErrClickToCallStopped = errors.New("click-to-call stopped")

// bindingsReader is what click-to-call needs of the presence core: where
// the user's phones registered.
type bindingsReader interface {
	Bindings(ctx context.Context, aor presence.AOR) ([]presence.Binding, error)
}

// ClickToCall places click-to-calls from the SIP edge's user agent.
type ClickToCall struct {
	srv    *Server
	cfg    ClickToCallConfig
	phones bindingsReader
	log    zerolog.Logger
	start  chan startReq

	runMu   sync.Mutex // guards stopped, so no call is queued after Run drained the queue
	stopped bool

	mu    sync.Mutex          // guards calls
	calls map[string]*callLeg // by Call-ID of the leg to the phone
}

type startReq struct {
	req    CallRequest
	report func(CallProgress)
}

// legEvent is an in-dialog request the phone sent on a call's leg.
type legEvent struct {
	bye        bool
	status     int  // sipfrag status of a NOTIFY; 0 if unreadable
	terminated bool // Subscription-State: terminated
}

// callLeg is the routing entry for a call's in-dialog requests.
type callLeg struct {
	tag    string // our From tag: the To tag of the phone's requests
	events chan legEvent
}

// NewClickToCall returns click-to-call on this server's user agent, with
// phones found in phones (unless cfg.PBX routes the INVITEs). Run it.
func (s *Server) NewClickToCall(cfg ClickToCallConfig, phones bindingsReader) *ClickToCall {
	cfg.setDefaults()
	c := &ClickToCall{
		srv: s, cfg: cfg, phones: phones, log: s.log.With().Str("component", "click2call").Logger(),
		start: make(chan startReq, cfg.Queue), calls: map[string]*callLeg{},
	}
	s.mu.Lock()
	s.c2c = c
	s.mu.Unlock()
	return c
}

// Start queues a call and returns at once; report receives every step,
// from one goroutine per call, the last one connected or failed.
func (c *ClickToCall) Start(req CallRequest, report func(CallProgress)) error {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.stopped {
		return ErrClickToCallStopped
	}
	select {
	case c.start <- startReq{req: req, report: report}:
		return nil
	default:
		return ErrClickToCallBusy
	}
}

// Run places queued calls until ctx ends, then hangs up the calls in
// progress and returns once they are done.
func (c *ClickToCall) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		c.runMu.Lock()
		c.stopped = true
		c.runMu.Unlock()
		// Calls queued but never started still get their last report.
		for {
			select {
			case s := <-c.start:
				s.report(CallProgress{ID: s.req.ID, From: s.req.From, Number: s.req.Number, State: CallFailed, Reason: ReasonShutdown, Seq: 1, At: time.Now()})
			default:
				wg.Wait()
				return
			}
		}
	}()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return nil
		case s := <-c.start:
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.place(ctx, s.req, s.report)
			}()
		}
	}
	return nil
}

// place runs one call from the first INVITE to our BYE.
func (c *ClickToCall) place(ctx context.Context, req CallRequest, report func(CallProgress)) {
	seq := 0
	emit := func(st CallState, reason string, status int) {
		seq++
		report(CallProgress{ID: req.ID, From: req.From, Number: req.Number, State: st, Reason: reason, Status: status, Seq: seq, At: time.Now()})
	}
	log := c.log.With().Str("call", req.ID).Str("aor", req.From.String()).Logger()
	emit(CallRinging, "", 0)
	invite, err := c.invite(ctx, req)
	if err != nil {
		if errors.Is(err, errNotRegistered) {
			emit(CallFailed, ReasonNotRegistered, 0)
			return
		}
		log.Warn().Err(err).Msg("click-to-call invite")
		emit(CallFailed, ReasonError, 0)
		return
	}
	callID := invite.CallID().Value()
	leg := &callLeg{tag: fromTag(invite), events: make(chan legEvent, 16)}
	c.mu.Lock()
	c.calls[callID] = leg
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.calls, callID)
		c.mu.Unlock()
	}()

	ua := &sipgo.DialogUA{Client: c.srv.client, ContactHDR: *invite.Contact()}
	sess, err := ua.WriteInvite(ctx, invite)
	if err != nil {
		log.Warn().Err(err).Msg("click-to-call send invite")
		emit(CallFailed, ReasonError, 0)
		return
	}
	defer sess.Close()
	ringCtx, cancelRing := context.WithTimeout(ctx, c.cfg.RingTimeout)
	err = sess.WaitAnswer(ringCtx, sipgo.AnswerOptions{})
	cancelRing()
	if err != nil {
		reason, status := inviteFailure(ctx, err)
		log.Debug().Err(err).Str("reason", reason).Msg("click-to-call phone did not answer")
		emit(CallFailed, reason, status)
		return
	}
	if err := sess.Ack(ctx); err != nil {
		log.Warn().Err(err).Msg("click-to-call ack")
		emit(CallFailed, ReasonError, 0)
		return
	}
	phoneUp := true
	defer func() {
		if !phoneUp {
			return
		}
		// Our leg ends even when shutting down: a BYE is one transaction.
		bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sess.Bye(bctx); err != nil {
			log.Debug().Err(err).Msg("click-to-call bye")
		}
	}()
	emit(CallConnecting, "", 0)
	if sess.InviteResponse.Contact() == nil {
		// RFC 3261 §12.1.2: no Contact, no remote target to REFER.
		emit(CallFailed, ReasonReferRefused, 0)
		return
	}

	// The phone's Contact is the REFER's target (RFC 3261 §12.2.1.1).
	refer := sipmsg.NewRequest(sipmsg.REFER, *sess.InviteResponse.Contact().Address.Clone())
	referTo := c.referTo(req)
	refer.AppendHeader(sipmsg.NewHeader("Refer-To", "<"+referTo.String()+">"))
	refer.AppendHeader(sipmsg.NewHeader("Referred-By", "<"+invite.From().Address.String()+">"))
	rctx, cancel := context.WithTimeout(ctx, 32*time.Second)
	res, err := sess.Do(rctx, refer)
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		emit(CallFailed, ReasonShutdown, 0)
		return
	case err != nil:
		log.Debug().Err(err).Msg("click-to-call refer")
		emit(CallFailed, ReasonReferRefused, 0)
		return
	case !res.IsSuccess():
		emit(CallFailed, ReasonReferRefused, res.StatusCode)
		return
	}

	timeout := time.NewTimer(c.cfg.ConnectTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			emit(CallFailed, ReasonShutdown, 0)
			return
		case <-timeout.C:
			emit(CallFailed, ReasonTargetNoAnswer, 0)
			return
		case ev := <-leg.events:
			if ev.bye {
				phoneUp = false
				emit(CallFailed, ReasonHungUp, 0)
				return
			}
			switch {
			case ev.status >= 200 && ev.status < 300:
				emit(CallConnected, "", 0)
				return
			case ev.status >= 300:
				emit(CallFailed, targetReason(ev.status), ev.status)
				return
			case ev.terminated:
				// RFC 3515 §2.4.7: the subscription ended without a
				// final status; the phone no longer tells us more.
				emit(CallFailed, ReasonTargetFailed, 0)
				return
			}
		}
	}
}

var errNotRegistered = errors.New("no registered phone")

// invite builds the INVITE to the user's phone: to its best live binding,
// or to sip:ext@domain through the PBX.
func (c *ClickToCall) invite(ctx context.Context, req CallRequest) (*sipmsg.Request, error) {
	aorURI := sipmsg.Uri{Scheme: "sip", User: req.From.User, Host: req.From.Domain}
	target, dest, transport := aorURI, c.cfg.PBX, c.cfg.PBXTransport
	if c.cfg.PBX == "" {
		bs, err := c.phones.Bindings(ctx, req.From)
		if err != nil {
			return nil, fmt.Errorf("find phone of %s: %w", req.From, err)
		}
		b, ok := bestBinding(bs)
		if !ok {
			return nil, errNotRegistered
		}
		if err := sipmsg.ParseUri(strings.Trim(b.Contact, "<>"), &target); err != nil {
			return nil, fmt.Errorf("contact %q of %s: %w", b.Contact, req.From, err)
		}
		transport = "udp"
		if t, ok := target.UriParams.Get("transport"); ok && t != "" {
			transport = t
		} else if b.Transport != "" {
			transport = b.Transport
		}
		port := target.Port
		if port == 0 {
			port = 5060
		}
		dest = net.JoinHostPort(strings.Trim(target.Host, "[]"), strconv.Itoa(port))
	}
	host, port := c.localAddr(dest, transport)
	r := sipmsg.NewRequest(sipmsg.INVITE, target)
	r.SetDestination(dest)
	r.SetTransport(strings.ToUpper(transport))
	// The phone shows the number it is about to call (RFC 3261 §20.20).
	from := &sipmsg.FromHeader{DisplayName: req.Number, Address: sipmsg.Uri{Scheme: "sip", User: "switchboard", Host: req.From.Domain}}
	from.Params = sipmsg.NewParams()
	from.Params.Add("tag", sipmsg.GenerateTagN(16))
	r.AppendHeader(from)
	r.AppendHeader(&sipmsg.ToHeader{Address: aorURI})
	cid := sipmsg.CallIDHeader(randomToken(16))
	r.AppendHeader(&cid)
	r.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 1, MethodName: sipmsg.INVITE})
	r.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "switchboard", Host: host, Port: port}})
	r.AppendHeader(sipmsg.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, NOTIFY, OPTIONS"))
	r.AppendHeader(sipmsg.NewHeader("Subject", "Click-to-call "+req.Number))
	if c.cfg.AutoAnswer {
		r.AppendHeader(sipmsg.NewHeader("Call-Info", "<sip:"+req.From.Domain+">;answer-after=0"))
		r.AppendHeader(sipmsg.NewHeader("Alert-Info", "info=alert-autoanswer"))
	}
	r.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	r.SetBody(inactiveOffer(host))
	return r, nil
}

// referTo is the number at the caller's domain: the phone's PBX routes it.
func (c *ClickToCall) referTo(req CallRequest) sipmsg.Uri {
	return sipmsg.Uri{Scheme: "sip", User: req.Number, Host: req.From.Domain}
}

// localAddr is the address our Contact and SDP name: the local address
// this host uses towards dest, and the port of our listener for transport.
func (c *ClickToCall) localAddr(dest, transport string) (string, int) {
	port := 5060
	if ps := c.srv.ua.TransportLayer().ListenPorts(strings.ToLower(transport)); len(ps) > 0 {
		port = ps[0]
	}
	host := "127.0.0.1"
	// No packet is sent: connecting a UDP socket only picks a route.
	if conn, err := net.Dial("udp", dest); err == nil {
		host, _, _ = net.SplitHostPort(conn.LocalAddr().String())
		conn.Close()
	}
	return host, port
}

// bestBinding picks the binding to ring: highest q (RFC 3261 §16.6; q 0
// means unset, taken as 1), then the most recently refreshed.
func bestBinding(bs []presence.Binding) (presence.Binding, bool) {
	if len(bs) == 0 {
		return presence.Binding{}, false
	}
	q := func(b presence.Binding) float32 {
		if b.Q == 0 {
			return 1
		}
		return b.Q
	}
	return slices.MaxFunc(bs, func(a, b presence.Binding) int {
		if qa, qb := q(a), q(b); qa != qb {
			if qa < qb {
				return -1
			}
			return 1
		}
		return a.Updated.Compare(b.Updated)
	}), true
}

// inactiveOffer is an SDP offer (RFC 4566) with one audio stream put on
// inactive (RFC 3264 §5.1): valid for every phone, and no media flows.
func inactiveOffer(host string) []byte {
	ipv := "IP4"
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		ipv = "IP6"
	}
	sess := strconv.FormatInt(time.Now().Unix(), 10)
	return []byte("v=0\r\n" +
		"o=switchboard " + sess + " " + sess + " IN " + ipv + " " + host + "\r\n" +
		"s=click-to-call\r\n" +
		"c=IN " + ipv + " " + host + "\r\n" +
		"t=0 0\r\n" +
		"m=audio 9 RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n" +
		"a=inactive\r\n")
}

// inviteFailure maps why the INVITE to the phone failed to a reason.
func inviteFailure(ctx context.Context, err error) (string, int) {
	var dr *sipgo.ErrDialogResponse
	if errors.As(err, &dr) {
		switch code := dr.Res.StatusCode; code {
		case sipmsg.StatusBusyHere, sipmsg.StatusGlobalBusyEverywhere:
			return ReasonBusy, code
		case sipmsg.StatusRequestTimeout, sipmsg.StatusTemporarilyUnavailable, sipmsg.StatusRequestTerminated:
			return ReasonNoAnswer, code
		default:
			return ReasonDeclined, code
		}
	}
	if ctx.Err() != nil {
		return ReasonShutdown, 0
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonNoAnswer, 0
	}
	return ReasonError, 0
}

// targetReason maps the final status of the phone's call to the number
// (from the sipfrag) to a reason.
func targetReason(code int) string {
	switch code {
	case sipmsg.StatusBusyHere, sipmsg.StatusGlobalBusyEverywhere:
		return ReasonTargetBusy
	case sipmsg.StatusRequestTimeout, sipmsg.StatusTemporarilyUnavailable, sipmsg.StatusRequestTerminated:
		return ReasonTargetNoAnswer
	default:
		return ReasonTargetFailed
	}
}

// handle takes a NOTIFY or BYE the phone sent on a click-to-call leg and
// reports whether it was one.
func (c *ClickToCall) handle(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	cid := req.CallID()
	to := req.To()
	if cid == nil || to == nil {
		return false
	}
	c.mu.Lock()
	leg := c.calls[cid.Value()]
	c.mu.Unlock()
	if leg == nil {
		return false
	}
	if tag, _ := to.Params.Get("tag"); tag != leg.tag {
		return false
	}
	ev := legEvent{bye: req.Method == sipmsg.BYE}
	if req.Method == sipmsg.NOTIFY {
		// RFC 3515 §2.4.5: each NOTIFY carries the status line of the
		// phone's call to the number as message/sipfrag.
		ev.status = sipfragStatus(req.Body())
		if h := req.GetHeader("Subscription-State"); h != nil {
			ev.terminated = strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Value())), "terminated")
		}
	}
	res := newResponse(req, sipmsg.StatusOK, "OK", nil)
	if err := tx.Respond(res); err != nil {
		c.log.Debug().Err(err).Msg("answer in-dialog request")
	}
	select {
	case leg.events <- ev:
	default: // the call has ended or is flooded; its outcome stands
	}
	return true
}

// sipfragStatus reads the status code of a message/sipfrag status line
// ("SIP/2.0 180 Ringing"); 0 when there is none.
func sipfragStatus(body []byte) int {
	line, _, _ := strings.Cut(string(body), "\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(strings.ToUpper(f[0]), "SIP/") {
		return 0
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 699 {
		return 0
	}
	return code
}

// handleBye answers a BYE: on a click-to-call leg 200, else 481 (RFC 3261
// §15.1.2), as we hold no other dialogs.
func (s *Server) handleBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.mu.RLock()
	c := s.c2c
	s.mu.RUnlock()
	if c != nil && c.handle(req, tx) {
		return
	}
	s.replyCode(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func fromTag(r *sipmsg.Request) string {
	tag, _ := r.From().Params.Get("tag")
	return tag
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
