package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
)

var (
	// errNotifyFailed means the subscriber refused or never answered a NOTIFY.
	errNotifyFailed = errors.New("notify failed")
	// errNoResponse means the transaction layer ended a NOTIFY's
	// transaction with neither a response nor an error: sipgo's Client.Do
	// returns (nil, nil) when the user agent closes under it, since
	// ClientTx.Terminate closes Done before it sets Err.
	errNoResponse = errors.New("transaction ended without a response")
)

// goSender runs f on a goroutine s.senders owns, under a last-line guard:
// a panic in it is logged with its stack, counted (Stats.SenderPanics) and
// ends sub instead of the process. A peer's behaviour or timing must never
// take down every other subscription.
func (s *Server) goSender(sub *subscription, f func()) {
	s.senders.Add(1)
	go func() {
		defer s.senders.Done()
		defer s.recoverSender(sub)
		f()
	}()
}

// recoverSender is goSender's guard. The senders release their locks with
// defer, so a panic leaves sub's mutexes free for end.
func (s *Server) recoverSender(sub *subscription) {
	r := recover()
	if r == nil {
		return
	}
	s.senderPanicked(sub, r)
}

// behind reports whether v is news to sub: a list always takes it (it
// tracks each resource), a single subscription only when v is newer than
// the state it holds. A change event that arrives after the SUBSCRIBE read
// the same or a later view (a REGISTER racing the SUBSCRIBE) sends nothing.
func (sub *subscription) behind(v presence.View) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.list != nil || v.Version > sub.latest.Version
}

// kick records v as the newest state for sub and makes sure a sender will
// NOTIFY it. It never blocks on the network: the fan-out worker calls it.
func (s *Server) kick(sub *subscription, v presence.View) { s.kickShared(sub, v, nil) }

// kickShared is kick for a fan-out that renders v's bodies once for all
// its watchers (see viewBodies; nil renders per NOTIFY).
func (s *Server) kickShared(sub *subscription, v presence.View, shared *viewBodies) {
	sub.mu.Lock()
	if sub.ended {
		sub.mu.Unlock()
		return
	}
	if sub.list != nil {
		sub.list.update(v)
	} else if v.Version >= sub.latest.Version {
		sub.latest = v
	}
	sub.dirty = true
	start := !sub.sending
	sub.sending = true
	sub.mu.Unlock()
	if start {
		s.startSending(sub, shared)
	}
}

// startSender starts a sender for sub if it has unsent state and none runs.
func (s *Server) startSender(sub *subscription) {
	sub.mu.Lock()
	start := sub.dirty && !sub.sending && !sub.ended
	sub.sending = sub.sending || start
	sub.mu.Unlock()
	if start {
		s.startSending(sub, nil)
	}
}

// sendLoop NOTIFYs sub until it has sent the newest state. At most one runs
// per subscription; changes that arrive while a NOTIFY is in flight collapse
// into the next one.
func (s *Server) sendLoop(sub *subscription) {
	for {
		s.coalesce(sub)
		if !s.sendNext(sub) {
			return
		}
	}
}

// sendNext sends sub's newest state if it has not been sent and reports
// whether the loop should go on. It holds sendMu for the whole NOTIFY and
// releases it with defer, so that even a panic leaves the dialog usable by
// terminate.
func (s *Server) sendNext(sub *subscription) bool {
	sub.sendMu.Lock()
	defer sub.sendMu.Unlock()
	sub.mu.Lock()
	if !sub.dirty || sub.ended {
		sub.sending = false
		sub.mu.Unlock()
		return false
	}
	sub.dirty = false
	v := sub.latest
	left := time.Until(sub.expires).Round(time.Second)
	pending := sub.pending
	sub.mu.Unlock()
	if left <= 0 {
		left = 0
	}
	state := "active;expires=" + secs(left)
	if pending {
		state = "pending;expires=" + secs(left)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.notifyTimeout())
	defer cancel()
	sub.mu.Lock()
	sub.cancelSend = cancel
	sub.mu.Unlock()
	err := s.sendNotify(ctx, sub, v, state, !pending)
	preempted := s.sent(sub)
	if err == nil {
		return true
	}
	s.failed(sub, err, preempted)
	return false
}

// sent clears sub's NOTIFY in flight and reports whether sub was ended
// meanwhile (terminate cut the NOTIFY short) or the server is shutting
// down: then the final NOTIFY, not this NOTIFY's failure, decides its fate.
func (s *Server) sent(sub *subscription) (preempted bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.cancelSend = nil
	return sub.ended || s.Draining()
}

// failed ends sub after its NOTIFY failed (RFC 6665 §4.2.2), unless
// preempted, and releases sending.
func (s *Server) failed(sub *subscription, err error, preempted bool) {
	if !preempted {
		s.log.Info().Err(err).Str("aor", sub.aor.String()).Str("watcher", sub.remote.String()).Msg("subscription removed")
		s.end(sub)
	}
	sub.mu.Lock()
	sub.sending = false
	sub.mu.Unlock()
}

// end marks sub over and forgets it.
func (s *Server) end(sub *subscription) {
	sub.mu.Lock()
	sub.ended = true
	sub.mu.Unlock()
	s.subs.remove(sub)
	s.forget(sub)
}

// terminate sends sub its final NOTIFY with the given reason (RFC 6665
// §4.2.2), or none when reason is empty, and forgets it.
func (s *Server) terminate(ctx context.Context, sub *subscription, reason string) {
	sub.mu.Lock()
	if sub.ended {
		sub.mu.Unlock()
		return
	}
	sub.ended = true
	v := sub.latest
	// An unauthorized watcher never sees state, not even in the last NOTIFY.
	withState := !sub.pending && reason != "rejected"
	// A NOTIFY in flight to a watcher that does not answer would hold
	// sendMu for NotifyTimeout; the final one matters more.
	cancelSend := sub.cancelSend
	sub.mu.Unlock()
	if cancelSend != nil {
		cancelSend()
	}
	s.subs.remove(sub)
	s.forget(sub)

	sub.sendMu.Lock()
	defer sub.sendMu.Unlock()
	state := "terminated"
	if reason != "" {
		state += ";reason=" + reason
	}
	if err := s.sendNotify(ctx, sub, v, state, withState); err != nil {
		s.log.Debug().Err(err).Str("aor", sub.aor.String()).Msg("final notify")
	}
}

// sendNotify builds and sends one NOTIFY in sub's dialog and waits for its
// final response. Without withState it carries no body: RFC 6665 §4.2.1.2
// has the NOTIFY of a pending subscription carry no state, and we choose an
// absent body over an empty document, which a BLF phone would read as
// "idle". The caller holds sub.sendMu.
func (s *Server) sendNotify(ctx context.Context, sub *subscription, v presence.View, state string, withState bool) error {
	return s.transmit(ctx, sub, s.buildNotify(sub, v, state, withState))
}

// buildNotify is sub's next NOTIFY: its CSeq and version are taken.
func (s *Server) buildNotify(sub *subscription, v presence.View, state string, withState bool) *sipmsg.Request {
	return s.notifyRequest(sub, s.nextNotify(sub, v, state, withState, nil))
}

// notifyContent is what one NOTIFY says: its CSeq, Subscription-State and
// body (ctype and body only withState; a list's body already deflated if
// it asked for that).
type notifyContent struct {
	cseq      uint32
	state     string
	ctype     string
	body      []byte
	withState bool
}

// nextNotify takes sub's next CSeq and version and renders v (see render
// for shared).
func (s *Server) nextNotify(sub *subscription, v presence.View, state string, withState bool, shared *viewBodies) notifyContent {
	cseq, version := s.nextSeq(sub)
	n := notifyContent{cseq: cseq, state: state, withState: withState}
	if withState {
		n.ctype, n.body = s.render(sub, v, version, shared)
		if sub.list != nil && sub.list.deflate {
			n.body = compress(n.body)
		}
	}
	return n
}

// notifyEvent is the Event header of sub's NOTIFYs.
func notifyEvent(sub *subscription) string {
	event := string(sub.event)
	if sub.list != nil && sub.event == presence.EventPresence {
		// liblinphone 5.1 hands a list NOTIFY to its friend list only when
		// its Event is "Presence", compared as written
		// (linphone_core_internal_notify_received); Flexisip, its own list
		// server, writes it so. Our own parsing ignores case.
		event = "Presence"
	}
	if sub.id.eventID != "" {
		event += ";id=" + sub.id.eventID
	}
	return event
}

// notifyRequest is n as a request in sub's dialog, for sipgo's client;
// writeNotify writes the same message without building it.
func (s *Server) notifyRequest(sub *subscription, n notifyContent) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.NOTIFY, sub.target)
	from := &sipmsg.FromHeader{Address: sub.local, Params: sipmsg.NewParams()}
	from.Params.Add("tag", sub.id.localTag)
	to := &sipmsg.ToHeader{DisplayName: sub.remoteDsp, Address: sub.remote, Params: sipmsg.NewParams()}
	to.Params.Add("tag", sub.id.remoteTag)
	callID := sipmsg.CallIDHeader(sub.id.callID)
	maxFwd := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: n.cseq, MethodName: sipmsg.NOTIFY})
	req.AppendHeader(&maxFwd)
	for _, r := range sub.routes {
		req.AppendHeader(&sipmsg.RouteHeader{Address: r})
	}
	req.AppendHeader(sipmsg.NewHeader("Event", notifyEvent(sub)))
	req.AppendHeader(sipmsg.NewHeader("Subscription-State", n.state))
	if sub.list != nil {
		// RFC 4662 §5.2: a NOTIFY carrying list state requires eventlist.
		req.AppendHeader(sipmsg.NewHeader("Require", tagEventList))
	}
	req.AppendHeader(sipmsg.NewHeader("Contact", sub.contact))
	req.AppendHeader(sipmsg.NewHeader("User-Agent", s.cfg.UserAgent))
	if n.withState {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", n.ctype))
		if sub.list != nil && sub.list.deflate {
			req.AppendHeader(sipmsg.NewHeader("Content-Encoding", "deflate"))
		}
		req.SetBody(n.body)
	}
	return req
}

// writeNotify writes to b the bytes sipgo writes for notifyRequest(sub,
// n), with the Via line via (CRLF included) after the start line, where
// the lean UDP client puts it. A fan-out sends thousands of NOTIFYs at
// once: building each as a sipgo request (a header object per line) was
// a fifth of the CPU of a 10,000-watcher fan-out, and its garbage most
// of the collector's share. TestWriteNotifyIsNotifyRequest holds the two
// byte for byte.
func (s *Server) writeNotify(b *bytes.Buffer, sub *subscription, n notifyContent, via string) {
	b.WriteString("NOTIFY ")
	sub.target.StringWrite(b)
	b.WriteString(" SIP/2.0\r\n")
	b.WriteString(via)
	b.WriteString("From: ")
	writeNameAddr(b, "", &sub.local, sub.id.localTag)
	b.WriteString("\r\nTo: ")
	writeNameAddr(b, sub.remoteDsp, &sub.remote, sub.id.remoteTag)
	b.WriteString("\r\nCall-ID: ")
	b.WriteString(sub.id.callID)
	b.WriteString("\r\nCSeq: ")
	b.WriteString(strconv.FormatUint(uint64(n.cseq), 10))
	b.WriteString(" NOTIFY\r\nMax-Forwards: 70")
	for i := range sub.routes {
		b.WriteString("\r\nRoute: <")
		sub.routes[i].StringWrite(b)
		b.WriteString(">")
	}
	b.WriteString("\r\nEvent: ")
	b.WriteString(notifyEvent(sub))
	b.WriteString("\r\nSubscription-State: ")
	b.WriteString(n.state)
	if sub.list != nil {
		b.WriteString("\r\nRequire: " + tagEventList)
	}
	b.WriteString("\r\nContact: ")
	b.WriteString(sub.contact)
	b.WriteString("\r\nUser-Agent: ")
	b.WriteString(s.cfg.UserAgent)
	if n.withState {
		b.WriteString("\r\nContent-Type: ")
		b.WriteString(n.ctype)
		if sub.list != nil && sub.list.deflate {
			b.WriteString("\r\nContent-Encoding: deflate")
		}
		b.WriteString("\r\nContent-Length: ")
		b.WriteString(strconv.Itoa(len(n.body)))
	}
	b.WriteString("\r\n\r\n")
	if n.withState {
		b.Write(n.body)
	}
}

// writeNameAddr writes a From or To value with one tag parameter as
// sipgo's FromHeader and ToHeader do.
func writeNameAddr(b *bytes.Buffer, display string, addr *sipmsg.Uri, tag string) {
	if display != "" {
		b.WriteString("\"")
		b.WriteString(display)
		b.WriteString("\" ")
	}
	b.WriteString("<")
	addr.StringWrite(b)
	b.WriteString(">;")
	params := [1]sipmsg.HeaderKV{{K: "tag", V: tag}}
	sipmsg.HeaderParams(params[:]).ToStringWrite(';', b)
}

// transmit sends req, built by buildNotify, and waits for its final
// response.
func (s *Server) transmit(ctx context.Context, sub *subscription, req *sipmsg.Request) error {
	dst, transport := s.nextHop(sub)
	if !strings.EqualFold(transport, "udp") || requestSize(req)+viaRoom <= udpMaxRequest {
		res, err := s.send(ctx, req, dst, transport)
		return s.notifyResult(sub, res, err)
	}
	// RFC 3261 §18.1.1: a request over 1300 bytes goes over a
	// congestion-controlled transport: TCP to the subscriber's Contact.
	tcpDst, tcpTransport := remoteTarget(sub.target, "TCP")
	if strings.EqualFold(tcpTransport, "udp") {
		tcpTransport = "TCP"
	}
	// The TCP attempt gets half the time left, so that a phone that
	// listens on UDP only (the SYN refused or dropped) still gets the
	// NOTIFY over UDP within the same budget.
	tctx, cancel := context.WithTimeout(ctx, halfLeft(ctx))
	res, err := s.send(tctx, req.Clone(), tcpDst, tcpTransport)
	cancel()
	if err == nil && res != nil || ctx.Err() != nil {
		return s.notifyResult(sub, res, err)
	}
	// No answer over TCP. §18.1.1 also has every implementation accept a
	// datagram up to 65,535 bytes: send it over UDP as one datagram that IP
	// fragments, as Kamailio does, rather than lose the subscription.
	s.log.Debug().Err(err).Str("watcher", sub.remote.String()).Int("bytes", len(req.String())).Msg("large notify: tcp failed, sending fragmented udp")
	res, err = s.send(ctx, req, dst, transport)
	return s.notifyResult(sub, res, err)
}

// udpMaxRequest is RFC 3261 §18.1.1's size above which a request goes over
// a congestion-controlled transport when one is available. sipgo's own
// guard (sipmsg.UDPMTUSize) is lifted to the datagram maximum at startup
// (cmd/switchboard), so that the fragmented last resort can leave; this is
// the rule instead.
const udpMaxRequest = 1300

// halfLeft is half the time ctx has left, or 16 s (half the default NOTIFY
// timeout) when it has no deadline.
func halfLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d) / 2
	}
	return 16 * time.Second
}

// send sends req to dst over transport and waits for its final response.
func (s *Server) send(ctx context.Context, req *sipmsg.Request, dst, transport string) (*sipmsg.Response, error) {
	req.SetDestination(dst)
	req.SetTransport(transport)
	if s.udpAddr != nil && strings.EqualFold(transport, "udp") {
		req.Laddr = sipmsg.Addr{IP: s.udpAddr.IP, Port: s.udpAddr.Port}
	}
	return s.notifier.Do(ctx, req, func(c *sipgo.Client, r *sipmsg.Request) error {
		return sipgo.ClientRequestAddVia(c, r)
	})
}

// notifyResult counts a NOTIFY's outcome and turns it into sendNotify's
// error.
func (s *Server) notifyResult(sub *subscription, res *sipmsg.Response, err error) error {
	if err == nil && res == nil {
		err = errNoResponse
	}
	if err != nil {
		s.stats.notifiesFailed.Add(1)
		return fmt.Errorf("notify %s: %w: %w", sub.remote.String(), errNotifyFailed, err)
	}
	if !res.IsSuccess() && res.GetHeader("Retry-After") == nil {
		s.stats.notifiesFailed.Add(1)
		return fmt.Errorf("notify %s answered %d: %w", sub.remote.String(), res.StatusCode, errNotifyFailed)
	}
	s.stats.notifiesSent.Add(1)
	return nil
}

// byteCounter counts the bytes written to it.
type byteCounter int

func (c *byteCounter) WriteString(s string) (int, error) {
	*c += byteCounter(len(s))
	return len(s), nil
}

// requestSize is the length of req as sent, without rendering it into a
// string that sipgo renders again when sending.
func requestSize(req *sipmsg.Request) int {
	var c byteCounter
	req.StringWrite(&c)
	return int(c)
}

// viaRoom is room for the Via header sipgo adds when sending.
const viaRoom = 120

// nextSeq takes the CSeq and document version of sub's next NOTIFY. It
// reserves the next ones in the store half a step before they run out,
// and never hands out a CSeq or version beyond the reservation already
// written: a restarted instance starts from the stored one, and phones
// reject a CSeq that goes backwards. The write normally lands long before
// (markStep/2 NOTIFYs later); if the store is that slow, the NOTIFY waits
// for it, with no lock held.
func (s *Server) nextSeq(sub *subscription) (cseq uint32, version uint64) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.cseq++
	cseq, version = sub.cseq, sub.version
	sub.version++
	if s.store == nil {
		return cseq, version
	}
	if sub.cseq+markStep/2 >= sub.cseqMark || sub.version+markStep/2 >= sub.versionMark {
		s.persist(sub)
	}
	for sub.stored && (cseq > sub.savedCSeqMark || version >= sub.savedVersionMark) && sub.saving != nil {
		ch := sub.saving
		sub.mu.Unlock()
		t := time.NewTimer(persistTimeout)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
		sub.mu.Lock()
		if ch == sub.saving {
			break // written (or failed, or timed out): go on, as before
		}
	}
	return cseq, version
}

// nextHop is where sub's NOTIFYs go: back over the subscriber's own flow,
// its source address and transport, reusing its TCP or TLS connection as
// phones behind NAT need. When that connection is gone (closed by the
// phone, or this is a restarted instance that never had it) there is no
// flow to reuse, and dialing the phone's ephemeral source port would be
// wrong: the request goes to the dialog's remote target instead, over a new
// connection (RFC 3261 §12.2.1.1: the first Route when there is a route set,
// else the Contact; §18.1.1 and RFC 3263 for transport and port).
func (s *Server) nextHop(sub *subscription) (dst, transport string) {
	if !sipmsg.IsReliable(sub.transport) || s.flowOpen(sub.transport, sub.source) {
		return sub.source, sub.transport
	}
	u := sub.target
	if len(sub.routes) > 0 {
		u = sub.routes[0]
	}
	return remoteTarget(u, sub.transport)
}

// remoteTarget is the host:port and transport to reach u: its transport
// parameter, else TLS for a sips: URI, else the original flow's transport;
// its port, else the transport's default.
func remoteTarget(u sipmsg.Uri, flowTransport string) (dst, transport string) {
	transport = strings.ToUpper(flowTransport)
	if tp, ok := u.UriParams.Get("transport"); ok && tp != "" {
		transport = strings.ToUpper(tp)
	}
	if strings.EqualFold(u.Scheme, "sips") {
		transport = "TLS"
	}
	port := u.Port
	if port == 0 {
		port = sipmsg.DefaultPort(transport)
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port)), transport
}

// flowOpen reports whether sipgo still holds a connection to addr over the
// connection-oriented transport.
func (s *Server) flowOpen(transport, addr string) bool {
	c, err := s.ua.TransportLayer().GetConnection(transport, addr)
	return err == nil && c != nil
}
