package sip

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// The lean NOTIFY path: a NOTIFY to a UDP subscriber leaves from our UDP
// listener as bytes, and its response is taken out of sipgo's read loop by
// the same read filter as the lean requests (udptx.go). RFC 3261 §17.1.2
// asks of a non-INVITE client transaction over UDP that the request be
// retransmitted from T1, doubling up to T2 (Timer E; T2 once a provisional
// response came), until a final response or Timer F (64*T1), and that
// retransmitted responses be absorbed for Timer K. sipgo meets it with an
// FSM, a goroutine and three timers per NOTIFY (~160 allocations); here a
// transaction is an entry in one map, one ticker retransmits and expires
// them all, and a response to a transaction already over is dropped by its
// branch, which carries our mark. NOTIFYs over TCP or TLS, to a host name,
// or before our listener serves still go through sipgo.

// leanBranchPrefix starts the branch of every lean NOTIFY: the RFC 3261
// magic cookie, then "-sbn", which sipgo's own branches ("z9hG4bK.")
// never have, so any response carrying it is ours.
const leanBranchPrefix = sipmsg.RFC3261BranchMagicCookie + "-sbn"

// clientTick is the granularity of Timer E and Timer F.
const clientTick = 50 * time.Millisecond

// udpClient holds the lean NOTIFY transactions of our UDP listener.
type udpClient struct {
	now func() time.Time
	// branchBase is this process's random part of every branch; seq the
	// rest, so branches are unique across instances and restarts (RFC 3261
	// §8.1.1.7) without a random draw per NOTIFY.
	branchBase string
	seq        atomic.Uint64

	// raw writes to our listener without the socket's write lock (it
	// also serves the lean requests' responses); nil: conn.WriteTo.
	raw atomic.Pointer[rawSender]

	mu     sync.Mutex
	txs    map[string]*clientTx // by branch
	closed bool                 // run has ended: the listener is closing
	// wake is signalled when a transaction is added, so an idle run loop
	// need not tick.
	wake chan struct{}
}

// clientTx is one NOTIFY in flight.
type clientTx struct {
	data []byte
	raw  *rawSender
	conn *sipmsg.UDPConnection
	dst  *net.UDPAddr
	// done is called once, by whoever takes the transaction out of the
	// map.
	done func(*sipmsg.Response, error)
	// Guarded by udpClient.mu.
	next     time.Time // the next retransmission
	interval time.Duration
	deadline time.Time // Timer F
}

type clientResult struct {
	res *sipmsg.Response
	err error
}

func newUDPClient(now func() time.Time) *udpClient {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return &udpClient{now: now, branchBase: hex.EncodeToString(b[:]), txs: make(map[string]*clientTx), wake: make(chan struct{}, 1)}
}

func (c *udpClient) newBranch() string {
	return leanBranchPrefix + c.branchBase + strconv.FormatUint(c.seq.Add(1), 36)
}

// do sends req (its Via still to be added) from conn to dst and waits for
// its final response, Timer F or ctx.
func (c *udpClient) do(ctx context.Context, req *sipmsg.Request, conn *sipmsg.UDPConnection, dst *net.UDPAddr) (*sipmsg.Response, error) {
	out := make(chan clientResult, 1)
	cancel, err := c.start(req, conn, dst, time.Time{}, 0, func(res *sipmsg.Response, err error) { out <- clientResult{res, err} })
	if err != nil {
		return nil, err
	}
	select {
	case r := <-out:
		return r.res, r.err
	case <-ctx.Done():
		cancel(ctx.Err())
		r := <-out
		return r.res, r.err
	}
}

// errNotifyTooLarge: the NOTIFY is over the size start was given, and was
// not sent.
var errNotifyTooLarge = errors.New("notify too large for udp")

var crlf = []byte("\r\n")

// start sends req (its Via still to be added) from conn to dst and returns
// at once; done gets the final response or the error that ended the
// transaction (Timer F, the deadline if earlier and not zero, cancel, the
// listener closing), exactly once, on the goroutine that saw it: the
// listener's read loop, the ticker, or cancel's caller. An error from start
// itself means the request never left and done is not called; so does a
// request over maxSize bytes (if not zero), with errNotifyTooLarge.
func (c *udpClient) start(req *sipmsg.Request, conn *sipmsg.UDPConnection, dst *net.UDPAddr, deadline time.Time, maxSize int,
	done func(*sipmsg.Response, error)) (cancel func(error), err error) {
	// The request is written once, its Via spliced in after the start line.
	scratch := responseBufs.Get().(*bytes.Buffer)
	defer responseBufs.Put(scratch)
	scratch.Reset()
	req.StringWrite(scratch)
	line := bytes.Index(scratch.Bytes(), crlf) + len(crlf)
	if line < len(crlf) {
		return nil, fmt.Errorf("lean notify: no start line: %w", sipmsg.ErrTransactionTransport)
	}
	return c.startWrite(func(b *bytes.Buffer, via string) {
		b.Write(scratch.Bytes()[:line])
		b.WriteString(via)
		b.Write(scratch.Bytes()[line:])
	}, conn, dst, deadline, maxSize, done)
}

// startWrite is start for a request that write writes to b, with the Via
// line via (CRLF included) right after its start line.
func (c *udpClient) startWrite(write func(b *bytes.Buffer, via string), conn *sipmsg.UDPConnection, dst *net.UDPAddr, deadline time.Time, maxSize int,
	done func(*sipmsg.Response, error)) (cancel func(error), err error) {
	la, _ := conn.LocalAddr().(*net.UDPAddr)
	if la == nil {
		return nil, fmt.Errorf("lean notify: no local address: %w", sipmsg.ErrTransactionTransport)
	}
	// The Via is the sent-by sipgo writes when the client has no host of
	// its own: the listener's address, as in its transport layer's
	// overrideSentBy. The whole request is written before anything is
	// sent, so that its size is known.
	branch := c.newBranch()
	buf := responseBufs.Get().(*bytes.Buffer)
	defer responseBufs.Put(buf)
	buf.Reset()
	write(buf, "Via: SIP/2.0/UDP "+net.JoinHostPort(la.IP.String(), strconv.Itoa(la.Port))+";branch="+branch+"\r\n")
	size := buf.Len()
	if maxSize > 0 && size > maxSize {
		return nil, errNotifyTooLarge
	}
	if size > sipmsg.UDPMTUSize-200 {
		return nil, fmt.Errorf("lean notify to %s: %w. %w", dst, sipmsg.ErrUDPMTUCongestion, sipmsg.ErrTransactionTransport)
	}
	data := bytes.Clone(buf.Bytes())

	now := c.now()
	end := now.Add(sipmsg.Timer_F)
	if !deadline.IsZero() && deadline.Before(end) {
		end = deadline
	}
	tx := &clientTx{data: data, raw: c.raw.Load(), conn: conn, dst: dst, done: done,
		next: now.Add(sipmsg.T1), interval: min(2*sipmsg.T1, sipmsg.T2), deadline: end}
	// In the map before it is sent: the answer may come at once.
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("lean notify: listener closed: %w", sipmsg.ErrTransactionTransport)
	}
	idle := len(c.txs) == 0
	c.txs[branch] = tx
	c.mu.Unlock()
	if idle {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	if err := tx.write(); err != nil {
		c.take(branch, tx)
		return nil, fmt.Errorf("lean notify: %w. %w", err, sipmsg.ErrTransactionTransport)
	}
	return func(err error) {
		if c.take(branch, tx) {
			tx.done(nil, err)
		}
	}, nil
}

// take removes tx from the map if it is still there.
func (c *udpClient) take(branch string, tx *clientTx) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.txs[branch] != tx {
		return false
	}
	delete(c.txs, branch)
	return true
}

func (tx *clientTx) write() error {
	if tx.raw != nil && tx.raw.send(tx.data, tx.dst.AddrPort()) == nil {
		return nil
	}
	n, err := tx.conn.WriteTo(tx.data, tx.dst)
	if err != nil {
		return fmt.Errorf("udp notify to %s: %w", tx.dst, err)
	}
	if n != len(tx.data) {
		return fmt.Errorf("udp notify to %s: wrote %d of %d bytes", tx.dst, n, len(tx.data))
	}
	return nil
}

// receive takes a response datagram that carries our branch mark and
// reports whether it was ours: the response of a transaction in flight, or
// a late or repeated one of a transaction over (absorbed, as Timer K
// would). It runs in the listener's read loop.
func (c *udpClient) receive(parser *sipmsg.Parser, data []byte) bool {
	r, ok := scanResponse(data)
	if !ok {
		if r, ok = parseResponse(parser, data); !ok {
			return false
		}
	}
	if !strings.HasPrefix(r.branch, leanBranchPrefix) {
		return false
	}
	if r.method != string(sipmsg.NOTIFY) {
		return true // not a response to any NOTIFY of ours (RFC 3261 §17.1.3)
	}
	c.mu.Lock()
	tx := c.txs[r.branch]
	if tx == nil {
		c.mu.Unlock()
		return true
	}
	if r.code < 200 {
		// Proceeding: retransmit every T2 (§17.1.2.2).
		tx.interval = sipmsg.T2
		tx.next = c.now().Add(sipmsg.T2)
		c.mu.Unlock()
		return true
	}
	delete(c.txs, r.branch)
	c.mu.Unlock()
	tx.done(r.response(), nil)
	return true
}

// parseResponse reads what scanResponse declined with sipgo's parser.
func parseResponse(parser *sipmsg.Parser, data []byte) (leanResponse, bool) {
	msg, err := parser.ParseSIP(data)
	if err != nil {
		return leanResponse{}, false
	}
	res, ok := msg.(*sipmsg.Response)
	if !ok {
		return leanResponse{}, false
	}
	via, cs := res.Via(), res.CSeq()
	if via == nil || cs == nil {
		return leanResponse{}, false
	}
	r := leanResponse{code: res.StatusCode, reason: res.Reason, method: string(cs.MethodName)}
	r.branch, _ = via.Params.Get("branch")
	if h := res.GetHeader("Retry-After"); h != nil {
		r.retryAfter, r.hasRetry = h.Value(), true
	}
	return r, true
}

// run retransmits and times out the transactions until quit closes, and
// then ends those still in flight, as sipgo's transaction layer does when
// its user agent closes: their senders must not hold the shutdown.
func (c *udpClient) run(quit <-chan struct{}) {
	t := time.NewTicker(clientTick)
	defer t.Stop()
	defer c.close()
	for {
		c.mu.Lock()
		idle := len(c.txs) == 0
		c.mu.Unlock()
		if idle {
			select {
			case <-quit:
				return
			case <-c.wake:
			}
		}
		select {
		case <-quit:
			return
		case <-t.C:
			c.tick()
		}
	}
}

// tick resends what Timer E has due and ends what Timer F has; the
// writes happen outside the lock that receive needs.
func (c *udpClient) tick() {
	now := c.now()
	var resend, expired []*clientTx
	c.mu.Lock()
	for branch, tx := range c.txs {
		switch {
		case !now.Before(tx.deadline):
			delete(c.txs, branch)
			expired = append(expired, tx)
		case !now.Before(tx.next):
			resend = append(resend, tx)
			tx.next = now.Add(tx.interval)
			tx.interval = min(2*tx.interval, sipmsg.T2)
		}
	}
	c.mu.Unlock()
	for _, tx := range resend {
		_ = tx.write() // a lost retransmission is what Timer E is for
	}
	for _, tx := range expired {
		tx.done(nil, fmt.Errorf("notify to %s: Timer F timed out. %w", tx.dst, sipmsg.ErrTransactionTimeout))
	}
}

func (c *udpClient) close() {
	c.mu.Lock()
	c.closed = true
	txs := c.txs
	c.txs = make(map[string]*clientTx)
	c.mu.Unlock()
	for _, tx := range txs {
		tx.done(nil, fmt.Errorf("notify to %s: listener closed: %w", tx.dst, sipmsg.ErrTransactionTransport))
	}
}

// pending is the number of transactions in flight.
func (c *udpClient) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.txs)
}

// leanNotifier sends NOTIFYs over UDP the lean way and everything else
// through next (sipgo's client).
type leanNotifier struct {
	udp  *udpTxLayer
	next requester
}

func (n *leanNotifier) Do(ctx context.Context, req *sipmsg.Request, opts ...sipgo.ClientRequestOption) (*sipmsg.Response, error) {
	if req.Method == sipmsg.NOTIFY && strings.EqualFold(req.Transport(), "udp") {
		if ap, err := netip.ParseAddrPort(req.Destination()); err == nil {
			if conn := n.udp.sender(); conn != nil {
				return n.udp.client.do(ctx, req, conn, net.UDPAddrFromAddrPort(ap))
			}
		}
	}
	return n.next.Do(ctx, req, opts...)
}
