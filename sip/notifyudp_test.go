package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leanClientRig is a lean NOTIFY client on a real UDP listener (behind
// sipgo's transport, as in New) and a phone to receive its NOTIFYs; the
// client's clock is moved by hand and its ticks run by the test.
type leanClientRig struct {
	t     *testing.T
	u     *udpTxLayer
	clock *fakeClock
	phone *udpPeer
}

func newLeanClientRig(t *testing.T) *leanClientRig {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	u, addr := leanServer(t, 100, clock, func(*sipmsg.Request, sipmsg.ServerTransaction) {})
	u.client.now = clock.now
	require.Eventually(t, func() bool { return u.sender() != nil }, 5*time.Second, 5*time.Millisecond, "listener served")
	return &leanClientRig{t: t, u: u, clock: clock, phone: newUDPPeer(t, addr)}
}

type doResult struct {
	res *sipmsg.Response
	err error
}

// notify sends one NOTIFY to the phone on its own goroutine.
func (r *leanClientRig) notify(ctx context.Context) <-chan doResult {
	req := sipmsg.NewRequest(sipmsg.NOTIFY, sipmsg.Uri{Scheme: "sip", User: "300", Host: "127.0.0.1"})
	from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: "201", Host: "pbx.example.com"}, Params: sipmsg.NewParams()}
	from.Params.Add("tag", "l")
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: "300", Host: "pbx.example.com"}, Params: sipmsg.NewParams()}
	to.Params.Add("tag", "r")
	callID := sipmsg.CallIDHeader("lean-1")
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 7, MethodName: sipmsg.NOTIFY})
	req.AppendHeader(sipmsg.NewHeader("Event", "dialog"))
	req.AppendHeader(sipmsg.NewHeader("Subscription-State", "active;expires=600"))
	req.SetBody(nil)
	dst := r.phone.conn.LocalAddr().(*net.UDPAddr)
	out := make(chan doResult, 1)
	go func() {
		res, err := r.u.client.do(ctx, req, r.u.sender(), dst)
		out <- doResult{res, err}
	}()
	return out
}

// silent asserts that the phone receives nothing for a short while.
func (r *leanClientRig) silent() {
	r.t.Helper()
	require.NoError(r.t, r.phone.conn.SetReadDeadline(time.Now().Add(150*time.Millisecond)))
	buf := make([]byte, 65535)
	n, _, err := r.phone.conn.ReadFromUDP(buf)
	var ne net.Error
	require.True(r.t, errors.As(err, &ne) && ne.Timeout(), "unexpected datagram: %q", buf[:n])
}

// answer sends the phone's response with status code to NOTIFY n.
func (r *leanClientRig) answer(n []byte, code int) {
	r.t.Helper()
	msg, err := sipmsg.ParseMessage(n)
	require.NoError(r.t, err)
	req := msg.(*sipmsg.Request)
	res := sipmsg.NewResponseFromRequest(req, code, "X", nil)
	r.phone.send([]byte(res.String()))
}

// interval is the retransmission interval of the one transaction in flight.
func (r *leanClientRig) interval() time.Duration {
	c := r.u.client
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tx := range c.txs {
		return tx.interval
	}
	return 0
}

// RFC 3261 §17.1.2.2: the NOTIFY is resent unchanged after T1, then after
// doubling intervals up to T2, at T2 once a provisional response came, and
// the final response ends it; a repeat of that response is absorbed.
func TestLeanNotifyRetransmitsUntilAnswered(t *testing.T) {
	r := newLeanClientRig(t)
	got := r.notify(context.Background())
	first := r.phone.read()
	local := r.u.sender().LocalAddr().String()
	assert.Contains(t, string(first), "Via: SIP/2.0/UDP "+local+";branch="+leanBranchPrefix, "sent-by is the listener's address, the branch ours")

	r.clock.add(sipmsg.T1 - time.Millisecond)
	r.u.client.tick()
	r.silent()
	r.clock.add(time.Millisecond)
	r.u.client.tick()
	assert.Equal(t, first, r.phone.read(), "Timer E at T1 resends the same bytes")

	for _, d := range []time.Duration{2 * sipmsg.T1, 4 * sipmsg.T1, sipmsg.T2, sipmsg.T2} {
		r.clock.add(d - time.Millisecond)
		r.u.client.tick()
		r.silent()
		r.clock.add(time.Millisecond)
		r.u.client.tick()
		assert.Equal(t, first, r.phone.read(), "Timer E doubles up to T2: next after %v", d)
	}

	r.answer(first, 200)
	select {
	case out := <-got:
		require.NoError(t, out.err)
		assert.Equal(t, 200, out.res.StatusCode)
	case <-time.After(5 * time.Second):
		t.Fatal("the 200 did not end the transaction")
	}
	assert.Zero(t, r.u.client.pending())
	// A retransmitted 200 (the phone did not hear of us in time) finds no
	// transaction and is taken by its branch, not handed to sipgo.
	assert.True(t, r.u.client.receive(r.u.parser, []byte(mustResponse(t, first, 200))))
	r.clock.add(sipmsg.T2)
	r.u.client.tick()
	r.silent()
}

// A provisional response moves the transaction to Proceeding: resent
// every T2, not at Timer E's next doubling (RFC 3261 §17.1.2.2).
func TestLeanNotifyProceeding(t *testing.T) {
	r := newLeanClientRig(t)
	got := r.notify(context.Background())
	first := r.phone.read()
	r.answer(first, 100)
	require.Eventually(t, func() bool { return r.interval() == sipmsg.T2 }, 5*time.Second, time.Millisecond, "the 100 was taken")
	r.clock.add(sipmsg.T2 - time.Millisecond)
	r.u.client.tick()
	r.silent()
	r.clock.add(time.Millisecond)
	r.u.client.tick()
	assert.Equal(t, first, r.phone.read())
	r.answer(first, 486)
	out := <-got
	require.NoError(t, out.err)
	assert.Equal(t, 486, out.res.StatusCode)
}

func mustResponse(t *testing.T, n []byte, code int) string {
	msg, err := sipmsg.ParseMessage(n)
	require.NoError(t, err)
	return sipmsg.NewResponseFromRequest(msg.(*sipmsg.Request), code, "X", nil).String()
}

// Timer F ends an unanswered NOTIFY with sipgo's timeout error, which
// ends the subscription.
func TestLeanNotifyTimerF(t *testing.T) {
	r := newLeanClientRig(t)
	got := r.notify(context.Background())
	r.phone.read()
	r.clock.add(sipmsg.Timer_F - time.Millisecond)
	r.u.client.tick()
	r.phone.read() // a retransmission, not the end
	select {
	case out := <-got:
		t.Fatalf("ended before Timer F: %v", out.err)
	default:
	}
	r.clock.add(time.Millisecond)
	r.u.client.tick()
	out := <-got
	assert.ErrorIs(t, out.err, sipmsg.ErrTransactionTimeout)
	assert.Nil(t, out.res)
	assert.Zero(t, r.u.client.pending())
}

// A sender's context (terminate cutting a NOTIFY short, NotifyTimeout)
// and the listener's close end a transaction too, and leave nothing
// behind.
func TestLeanNotifyEndsWithContextAndClose(t *testing.T) {
	r := newLeanClientRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	got := r.notify(ctx)
	r.phone.read()
	cancel()
	out := <-got
	assert.ErrorIs(t, out.err, context.Canceled)
	assert.Zero(t, r.u.client.pending())

	got = r.notify(context.Background())
	r.phone.read()
	quit := make(chan struct{})
	ran := make(chan struct{})
	go func() { r.u.client.run(quit); close(ran) }()
	close(quit)
	<-ran
	out = <-got
	assert.ErrorIs(t, out.err, sipmsg.ErrTransactionTransport)
	assert.Zero(t, r.u.client.pending())
	_, err := r.u.client.do(context.Background(), sipmsg.NewRequest(sipmsg.NOTIFY, sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1"}),
		r.u.sender(), r.phone.conn.LocalAddr().(*net.UDPAddr))
	assert.ErrorIs(t, err, sipmsg.ErrTransactionTransport, "no NOTIFY leaves once the listener closes")
}

// Responses that are not a lean NOTIFY's are sipgo's: another branch, or
// our mark only in the body.
func TestLeanNotifyLeavesOtherResponses(t *testing.T) {
	r := newLeanClientRig(t)
	other := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.abc\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\n" +
		"Call-ID: x\r\nCSeq: 1 SUBSCRIBE\r\nContent-Length: %d\r\n\r\n%s"
	body := "see " + leanBranchPrefix
	assert.False(t, r.u.client.receive(r.u.parser, fmt.Appendf(nil, other, len(body), body)))
	// Our branch on a response to something else is not any NOTIFY's.
	ours := strings.Replace(fmt.Sprintf(other, 0, ""), "z9hG4bK.abc", leanBranchPrefix+"x1", 1)
	assert.True(t, r.u.client.receive(r.u.parser, []byte(ours)))
	data, err := r.u.filter(sipmsg.TransportReadProps{Transport: "UDP"}, fmt.Appendf(nil, other, 0, ""))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(data, []byte("SIP/2.0 200")), "passed on to sipgo")
}

// Over UDP the edge's NOTIFYs take the lean path, over TCP sipgo's: the
// branch says which.
func TestNotifyTransportPaths(t *testing.T) {
	srv := startServer(t, Config{})
	for _, transport := range []string{"UDP", "TCP"} {
		w := newPhone(t, srv, transport)
		w.Request("SUBSCRIBE", ext201, 1, "paths-"+transport, "w-"+transport, "", "Event: dialog\nExpires: 600\n", "")
		require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
		n := w.Notify(200)
		branch, _ := n.Via().Params.Get("branch")
		assert.Equal(t, transport == "UDP", strings.HasPrefix(branch, leanBranchPrefix), "%s NOTIFY branch %q", transport, branch)
	}
	require.Eventually(t, func() bool { return srv.edge.Stats().NotifiesSent == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, srv.edge.Stats().NotifiesFailed)
	assert.Zero(t, srv.edge.udptx.client.pending())
}

// Past the in-flight cap a UDP request is dropped unanswered and forgotten,
// so that the phone's retransmission of it is handled once load falls; over
// TCP it gets 503 with Retry-After.
func TestInFlightCapShedsUDPAnswersTCP(t *testing.T) {
	srv := startServer(t, Config{MaxInFlight: 1})
	require.True(t, srv.edge.gate.TryEnter(), "the one slot, taken by the test")
	p := newUDPPeer(t, udpAddrOf(t, srv.udp))
	req := p.request("OPTIONS", "shed-1", 1)
	p.send(req)
	require.NoError(t, p.conn.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	buf := make([]byte, 2048)
	_, _, err := p.conn.ReadFromUDP(buf)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "no answer while overloaded, got %v", err)

	tcp := newPhone(t, srv, "TCP")
	tcp.Request("OPTIONS", ext201, 1, "shed-tcp", "t1", "", "", "")
	res := tcp.Response("OPTIONS")
	assert.Equal(t, 503, res.StatusCode)
	assert.Equal(t, "1", header(res, "Retry-After"))

	srv.edge.gate.Leave()
	p.send(req) // the phone's retransmission
	assert.True(t, bytes.HasPrefix(p.read(), []byte("SIP/2.0 200")), "handled once the slot is free")
	assert.EqualValues(t, 2, srv.edge.Stats().Overloaded)
}

func udpAddrOf(t *testing.T, s string) *net.UDPAddr {
	a, err := net.ResolveUDPAddr("udp", s)
	require.NoError(t, err)
	return a
}
