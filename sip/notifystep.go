package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Sending without a goroutine per NOTIFY. A subscriber reached over UDP
// gets its NOTIFY from the goroutine that found it behind (the fan-out
// loop, a SUBSCRIBE's handler), through the lean client transaction; the
// answer continues from the listener's read loop, which sends the next
// state if one came meanwhile. Nothing on this path waits on the network,
// so a fan-out to 10,000 watchers no longer starts 10,000 goroutines (each
// growing a stack: a fifth of a fan-out's CPU went to page faults and
// stack copies). sendMu is still held from building a NOTIFY to its
// outcome, now released by whichever goroutine sees the outcome, so
// terminate still waits for the NOTIFY in flight. Lists (which coalesce
// with a timer), TCP and TLS, NOTIFYs over 1300 bytes and a CSeq
// reservation the store has yet to write take a sender goroutine, as
// before.

// startSending sends sub's newest state; the caller has set sub.sending.
// shared, if not nil, holds the bodies of a view being fanned out.
func (s *Server) startSending(sub *subscription, shared *viewBodies) {
	if !s.stepLean(sub, shared) {
		s.goSender(sub, func() { s.sendLoop(sub) })
	}
}

// stepLean sends sub's newest state the lean way, or finds nothing to send,
// and reports whether it did; false leaves sub as it was for a sender
// goroutine. The caller has set sub.sending.
func (s *Server) stepLean(sub *subscription, shared *viewBodies) (handled bool) {
	dst, transport := s.nextHop(sub)
	if !strings.EqualFold(transport, "udp") {
		return false
	}
	ap, err := netip.ParseAddrPort(dst)
	if err != nil {
		return false
	}
	conn := s.udptx.sender()
	if conn == nil {
		return false
	}
	// While this sender owns sub.sending, only terminate takes sendMu:
	// the final NOTIFY is on its way, and nothing may follow it.
	if !sub.sendMu.TryLock() {
		sub.mu.Lock()
		sub.sending = false
		sub.mu.Unlock()
		return true
	}
	locked := true
	defer func() {
		if r := recover(); r != nil {
			if locked {
				sub.sendMu.Unlock()
			}
			s.senderPanicked(sub, r)
			handled = true
		}
	}()
	sub.mu.Lock()
	if sub.list != nil || s.mustWaitForStore(sub) {
		sub.mu.Unlock()
		sub.sendMu.Unlock()
		return false
	}
	if !sub.dirty || sub.ended {
		sub.sending = false
		sub.mu.Unlock()
		sub.sendMu.Unlock()
		return true
	}
	sub.dirty = false
	v := sub.latest
	left := max(time.Until(sub.expires).Round(time.Second), 0)
	pending := sub.pending
	// Set before the NOTIFY leaves, so that terminate can always reach
	// it. A cancel that comes before start has returned is remembered
	// and carried out once it has: the NOTIFY is on the wire before start
	// returns, and a drain that came in between used to leave it holding
	// sendMu, and the final NOTIFY, for NotifyTimeout (a CI run of
	// TestDrainWithinGraceWhenWatcherNeverAnswers). Whichever of the two
	// sides stores second sees the other's store; the cancel may run
	// twice and ends the transaction once. Like the context cancel it
	// stands for, it returns at once: its callers may hold sub.mu, which
	// the outcome takes, so the outcome runs elsewhere.
	var cancelTx atomic.Pointer[func(error)]
	var cancelAsked atomic.Bool
	sub.cancelSend = func() {
		cancelAsked.Store(true)
		if f := cancelTx.Load(); f != nil {
			s.senders.Go(func() { (*f)(context.Canceled) })
		}
	}
	sub.mu.Unlock()
	state := "active;expires=" + secs(left)
	if pending {
		state = "pending;expires=" + secs(left)
	}
	timeout := s.notifyTimeout()
	n := s.nextNotify(sub, v, state, !pending, shared)
	cancel, err := s.udptx.client.startWrite(func(b *bytes.Buffer, via string) { s.writeNotify(b, sub, n, via) },
		conn, net.UDPAddrFromAddrPort(ap), time.Now().Add(timeout), udpMaxRequest,
		func(res *sipmsg.Response, err error) { s.notified(sub, s.notifyResult(sub, res, err)) })
	locked = false
	if errors.Is(err, errNotifyTooLarge) {
		// RFC 3261 §18.1.1: over TCP, which waits for a connection.
		req := s.notifyRequest(sub, n)
		s.goSender(sub, func() { s.transmitAndContinue(sub, req, timeout) })
		return true
	}
	if err != nil {
		s.notified(sub, s.notifyResult(sub, nil, err))
		return true
	}
	cancelTx.Store(&cancel)
	if cancelAsked.Load() {
		s.senders.Go(func() { cancel(context.Canceled) })
	}
	return true
}

// notifyTimeout is how long one NOTIFY may take now.
func (s *Server) notifyTimeout() time.Duration {
	if s.Draining() {
		return min(s.cfg.NotifyTimeout, s.drainNotifyTimeout)
	}
	return s.cfg.NotifyTimeout
}

// mustWaitForStore reports whether sub's next CSeq or version is beyond
// the reservation the store has written, which nextSeq would wait for.
// The caller holds sub.mu.
func (s *Server) mustWaitForStore(sub *subscription) bool {
	return s.store != nil && sub.stored && sub.saving != nil &&
		(sub.cseq+1 > sub.savedCSeqMark || sub.version >= sub.savedVersionMark)
}

// transmitAndContinue sends req on a sender goroutine, for a NOTIFY
// stepLean built but cannot send the lean way; sendMu is held.
func (s *Server) transmitAndContinue(sub *subscription, req *sipmsg.Request, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sub.mu.Lock()
	sub.cancelSend = cancel
	sub.mu.Unlock()
	done := false
	defer func() {
		if !done {
			sub.sendMu.Unlock() // a panic in transmit: goSender's guard ends sub
		}
	}()
	err := s.transmit(ctx, sub, req)
	done = true
	s.notified(sub, err)
}

// notified takes the outcome of sub's NOTIFY in flight: it releases
// sendMu, ends sub on a failure (RFC 6665 §4.2.2) unless it was ended or
// the server drains meanwhile, and sends the next state if one came.
func (s *Server) notified(sub *subscription, err error) {
	preempted := s.sent(sub)
	sub.sendMu.Unlock()
	if err != nil {
		s.failed(sub, err, preempted)
		return
	}
	s.startSending(sub, nil)
}

// senderPanicked is recoverSender for a sender running on a goroutine it
// does not own (the read loop, the fan-out loop): the panic is logged and
// counted and ends sub, not the process.
func (s *Server) senderPanicked(sub *subscription, r any) {
	s.stats.senderPanics.Add(1)
	s.log.Error().Str("panic", fmt.Sprint(r)).Bytes("stack", debug.Stack()).
		Str("aor", sub.aor.String()).Str("watcher", sub.remote.String()).Msg("notify sender panicked; subscription ended")
	sub.mu.Lock()
	sub.sending = false
	sub.mu.Unlock()
	s.end(sub)
}
