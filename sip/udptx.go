package sip

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// The lean UDP path: non-INVITE requests arriving on our UDP listener are
// taken from sipgo's read loop (through its read filter, before its
// transaction layer) and handed to the same handlers with a small server
// transaction of our own. RFC 3261 §17.2.2 asks of a non-INVITE server
// transaction only that a retransmitted request be absorbed until there is
// a response and answered with the last response after, until Timer J
// (64*T1, 32 s) has passed since the final one. sipgo meets this with an
// FSM, a goroutine, a done channel and timers per request, kept 32 s; here
// it is the response bytes in a map, expired in order of completion.
// INVITE, ACK, CANCEL, responses, TCP/TLS, requests from other sockets and
// anything this path would have to judge (unparsable, no Via or CSeq, an
// RFC 2543 branch, a CSeq method unlike the request's) go to sipgo as before.

// udpTxCap bounds the transactions the lean path remembers: about 3,000
// requests a second for Timer J. Past it the oldest completed one is
// forgotten early, or a new request goes through sipgo.
const udpTxCap = 100_000

// udpTxLayer is the lean path; filter is sipgo's transport read filter.
type udpTxLayer struct {
	parser *sipmsg.Parser
	// handle runs the handler of a request (Server.dispatch).
	handle func(req *sipmsg.Request, tx sipmsg.ServerTransaction)
	// tl is sipgo's transport layer, for its listener connection and pool.
	tl    *sipmsg.TransportLayer
	cache *udpTxCache
	// client holds the lean NOTIFY transactions (notifyudp.go).
	client *udpClient
	// handlers are the handler goroutines, waited for after serving;
	// idle ones wait on work for their next request until quit closes.
	handlers sync.WaitGroup
	work     chan udpWork
	quit     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex // guards laddr, conn, pool
	laddr    net.Addr   // our UDP listener's address; nil before serving
	conn     *sipmsg.UDPConnection
	pool     *sipmsg.ConnectionPool
	lastSeen string // owned by the listener's read loop
}

func newUDPTxLayer(parser *sipmsg.Parser) *udpTxLayer {
	return &udpTxLayer{parser: parser, cache: newUDPTxCache(udpTxCap, time.Now), client: newUDPClient(time.Now),
		work: make(chan udpWork), quit: make(chan struct{})}
}

// listen takes l as the listener whose requests may go the lean way;
// call it before sipgo serves l.
func (u *udpTxLayer) listen(l net.PacketConn) {
	u.mu.Lock()
	u.laddr = l.LocalAddr()
	u.conn, u.pool = nil, nil
	u.mu.Unlock()
	if raw, err := newRawSender(l); err == nil {
		if old := u.client.raw.Swap(raw); old != nil {
			old.close()
		}
	}
}

// closeRaw releases the raw sender once the listener is closed; later
// writes fail on the closed net.Conn as before.
func (u *udpTxLayer) closeRaw() {
	if raw := u.client.raw.Swap(nil); raw != nil {
		raw.close()
	}
}

// listener returns sipgo's connection of our listener, which it adds to
// its pool when it starts serving it.
func (u *udpTxLayer) listener(laddr net.Addr) (*sipmsg.UDPConnection, *sipmsg.ConnectionPool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.laddr == nil || laddr != u.laddr || u.tl == nil {
		return nil, nil
	}
	if u.conn == nil {
		c, err := u.tl.GetConnection("udp", laddr.String())
		uc, ok := c.(*sipmsg.UDPConnection)
		if err != nil || !ok {
			return nil, nil
		}
		u.conn, u.pool = uc, u.tl.Pool("udp")
	}
	return u.conn, u.pool
}

// sender returns sipgo's connection of our listener once it serves it,
// for the lean NOTIFYs, or nil.
func (u *udpTxLayer) sender() *sipmsg.UDPConnection {
	u.mu.Lock()
	laddr := u.laddr
	u.mu.Unlock()
	if laddr == nil {
		return nil
	}
	conn, _ := u.listener(laddr)
	return conn
}

// filter takes the requests it serves and the responses to lean NOTIFYs
// out of sipgo's read loop (returning no bytes) and passes everything else
// on unchanged. It runs in the read loop of each UDP socket, and must
// never return an error: that stops it.
func (u *udpTxLayer) filter(info sipmsg.TransportReadProps, data []byte) ([]byte, error) {
	if info.Transport != "UDP" {
		return data, nil
	}
	if bytes.HasPrefix(data, sipVersionSP) {
		if bytes.Contains(data, leanBranchMark) && u.client.receive(u.parser, data) {
			return nil, nil
		}
		return data, nil
	}
	if !leanCandidate(data) {
		return data, nil
	}
	conn, pool := u.listener(info.LocalAddr)
	if conn == nil {
		return data, nil
	}
	msg, err := u.parser.ParseSIP(data)
	if err != nil {
		return data, nil // sipgo parses it again, logs and counts it
	}
	req, ok := msg.(*sipmsg.Request)
	if !ok {
		return data, nil
	}
	key, ok := leanTxKey(req)
	if !ok {
		return data, nil
	}
	src := info.RemoteAddr.String()
	req.SetTransport("UDP")
	req.SetSource(src)
	if src != u.lastSeen {
		// What sipgo's read loop does, so that requests sent to this
		// address from the listener's port find it.
		pool.Add(src, conn)
		u.lastSeen = src
	}
	tx, fresh := u.cache.begin(key, func() *udpTx {
		return &udpTx{layer: u, key: key, conn: conn, dst: responseAddr(req, src)}
	})
	if tx == nil {
		return data, nil // cache full of requests in progress
	}
	if !fresh {
		tx.retransmitted()
		return nil, nil
	}
	u.serve(udpWork{req, tx})
	return nil, nil
}

// expire sweeps the cache every second until ctx ends, so that responses
// kept for Timer J are let go after a burst even if no request follows.
func (u *udpTxLayer) expire(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			u.cache.sweep()
		}
	}
}

// udpWork is a request for a handler goroutine.
type udpWork struct {
	req *sipmsg.Request
	tx  *udpTx
}

// handlerIdle is how long a handler goroutine waits for another request
// before it ends.
const handlerIdle = 10 * time.Second

// serve hands w to an idle handler goroutine, or starts one. A goroutine
// that has served a request has grown its stack; one per request grew a
// fresh one every time, and copying stacks was about a tenth of a
// REGISTER's CPU (perf, SIPp at 3,000/s).
func (u *udpTxLayer) serve(w udpWork) {
	select {
	case u.work <- w:
	default:
		u.handlers.Add(1)
		go u.handler(w)
	}
}

func (u *udpTxLayer) handler(w udpWork) {
	defer u.handlers.Done()
	idle := time.NewTimer(handlerIdle)
	defer idle.Stop()
	for {
		u.run(w)
		w = udpWork{} // an idle handler keeps no request alive
		idle.Reset(handlerIdle)
		select {
		case w = <-u.work:
		case <-idle.C:
			return
		case <-u.quit:
			return
		}
	}
}

func (u *udpTxLayer) run(w udpWork) {
	defer w.tx.handled()
	u.handle(w.req, w.tx)
}

// stop ends the idle handler goroutines, once no request can arrive.
func (u *udpTxLayer) stop() { u.stopOnce.Do(func() { close(u.quit) }) }

var (
	sipVersionSP   = []byte("SIP/2.0 ")
	leanBranchMark = []byte(leanBranchPrefix)
)

// leanCandidate says from the start line alone whether a datagram may be a
// request for the lean path: not a response, INVITE, ACK or CANCEL.
func leanCandidate(data []byte) bool {
	sp := bytes.IndexByte(data, ' ')
	if sp <= 0 {
		return false
	}
	switch string(data[:sp]) {
	case "SIP/2.0", "INVITE", "ACK", "CANCEL":
		return false
	}
	return true
}

// leanTxKey is sipgo's server transaction key of req (RFC 3261 §17.2.3:
// branch, sent-by and method), and false for a request the lean path
// leaves to sipgo.
func leanTxKey(req *sipmsg.Request) (string, bool) {
	via, cseq := req.Via(), req.CSeq()
	if via == nil || cseq == nil || cseq.MethodName != req.Method {
		return "", false
	}
	switch req.Method {
	case sipmsg.INVITE, sipmsg.ACK, sipmsg.CANCEL:
		return "", false
	}
	branch, _ := via.Params.Get("branch")
	if len(branch) <= len(sipmsg.RFC3261BranchMagicCookie) || branch[:len(sipmsg.RFC3261BranchMagicCookie)] != sipmsg.RFC3261BranchMagicCookie {
		return "", false
	}
	port := via.Port
	if port <= 0 {
		port = sipmsg.DefaultPort(via.Transport)
	}
	sep := sipmsg.TxSeperator
	return branch + sep + via.Host + sep + strconv.Itoa(port) + sep + string(req.Method), true
}

// responseAddr is where sipgo sends responses to a UDP request from src
// (RFC 3261 §18.2.2, RFC 3581 §4): the source IP, and the Via port, or the
// rport value, or the source port when rport is asked for.
func responseAddr(req *sipmsg.Request, src string) *net.UDPAddr {
	host, sport, _ := net.SplitHostPort(src)
	via := req.Via()
	port := via.Port
	if port <= 0 {
		port = sipmsg.DefaultUdpPort
	}
	if rport, ok := via.Params.Get("rport"); ok {
		if rport == "" {
			port, _ = strconv.Atoi(sport)
		} else if p, err := strconv.Atoi(rport); err == nil {
			port = p
		}
	}
	if port == 0 {
		port = sipmsg.DefaultUdpPort
	}
	return &net.UDPAddr{IP: net.ParseIP(host), Port: port}
}

// udpTx is the lean server transaction of one request; it is what the
// handlers get as their sipmsg.ServerTransaction.
type udpTx struct {
	layer *udpTxLayer
	key   string
	conn  *sipmsg.UDPConnection
	dst   *net.UDPAddr

	mu     sync.Mutex // guards the fields below
	last   []byte     // the last response sent, resent to retransmissions
	final  bool
	closed bool
	// closedForResponses is set once a response could not be sent.
	closedForResponses bool
	err                error
	done               chan struct{} // made on demand
	onTerm             []sipmsg.FnTxTerminate
	expireAt           time.Time
}

var _ sipmsg.ServerTransaction = (*udpTx)(nil)

// Respond sends res and keeps its bytes for retransmissions of the
// request; a final response completes the transaction. As with sipgo, a
// response over its UDP size guard fails with ErrUDPMTUCongestion (the
// handler then sends it itself) and ends the transaction.
func (tx *udpTx) Respond(res *sipmsg.Response) error {
	res.SetDestination(tx.dst.String())
	tx.mu.Lock()
	if tx.final || tx.closed || tx.closedForResponses {
		err := tx.err
		tx.mu.Unlock()
		return err // sipgo's FSM ignores a response after the final one
	}
	tx.mu.Unlock()

	buf := responseBufs.Get().(*bytes.Buffer)
	buf.Reset()
	res.StringWrite(buf)
	if buf.Len() > sipmsg.UDPMTUSize-200 {
		responseBufs.Put(buf)
		return tx.fail(sipmsg.ErrUDPMTUCongestion)
	}
	data := bytes.Clone(buf.Bytes())
	responseBufs.Put(buf)

	// Kept before it is sent: the phone may retransmit as soon as it has
	// the response, and the retransmission must find it.
	final := !res.IsProvisional()
	tx.mu.Lock()
	prev := tx.last
	tx.last, tx.final = data, final
	tx.mu.Unlock()
	if err := tx.write(data); err != nil {
		tx.mu.Lock()
		tx.last, tx.final = prev, false
		tx.mu.Unlock()
		return tx.fail(err)
	}
	if final {
		tx.layer.cache.complete(tx)
	}
	return nil
}

// fail records why a response could not be sent; like sipgo's FSM, the
// transaction is then over and ends when its handler returns.
func (tx *udpTx) fail(err error) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.err = fmt.Errorf("%w. %w", err, sipmsg.ErrTransactionTransport)
	tx.closedForResponses = true
	return tx.err
}

var responseBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (tx *udpTx) write(data []byte) error {
	if raw := tx.layer.client.raw.Load(); raw != nil && raw.send(data, tx.dst.AddrPort()) == nil {
		return nil
	}
	n, err := tx.conn.WriteTo(data, tx.dst)
	if err != nil {
		return fmt.Errorf("udp response to %s: %w", tx.dst, err)
	}
	if n != len(data) {
		return fmt.Errorf("udp response to %s: wrote %d of %d bytes", tx.dst, n, len(data))
	}
	return nil
}

// retransmitted answers a retransmission of the request with the last
// response, or absorbs it when there is none yet.
func (tx *udpTx) retransmitted() {
	tx.mu.Lock()
	last := tx.last
	tx.mu.Unlock()
	if last != nil {
		_ = tx.write(last)
	}
}

// handled is called when the handler returns: a transaction without a
// final response ends then, as sipgo's TerminateGracefully does, so a
// retransmission is handled anew.
func (tx *udpTx) handled() {
	tx.mu.Lock()
	final := tx.final
	tx.mu.Unlock()
	if !final {
		tx.layer.cache.drop(tx)
		tx.terminate(sipmsg.ErrTransactionTerminated)
	}
}

// terminate ends the transaction once and runs its OnTerminate callbacks.
func (tx *udpTx) terminate(err error) {
	for _, f := range tx.end(err) {
		f(tx.key, err)
	}
}

// end closes the transaction once and returns the callbacks to run, which
// the caller runs outside its locks.
func (tx *udpTx) end(err error) []sipmsg.FnTxTerminate {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.closed {
		return nil
	}
	tx.closed = true
	if tx.err == nil {
		tx.err = err
	}
	if tx.done != nil {
		close(tx.done)
	}
	fns := tx.onTerm
	tx.onTerm = nil
	return fns
}

// Terminate ends the transaction now: retransmissions are handled anew.
func (tx *udpTx) Terminate() {
	tx.layer.cache.drop(tx)
	tx.terminate(sipmsg.ErrTransactionTerminated)
}

// OnTerminate registers f, called once the transaction ends (Timer J after
// the final response); false if it has already ended.
func (tx *udpTx) OnTerminate(f sipmsg.FnTxTerminate) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.closed {
		return false
	}
	tx.onTerm = append(tx.onTerm, f)
	return true
}

// Done is closed once the transaction ends.
func (tx *udpTx) Done() <-chan struct{} {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done == nil {
		tx.done = make(chan struct{})
		if tx.closed {
			close(tx.done)
		}
	}
	return tx.done
}

// Err is why the transaction ended, or why it could not send.
func (tx *udpTx) Err() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.err
}

// Acks never delivers: a non-INVITE transaction has no ACK.
func (tx *udpTx) Acks() <-chan *sipmsg.Request { return nil }

// OnCancel never fires: like sipgo, only INVITE transactions are cancelled.
func (tx *udpTx) OnCancel(sipmsg.FnTxCancel) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return !tx.closed
}

// Connection is sipgo's connection of our UDP listener, so that a Contact
// can name the address the request reached (subscribe.go contactFor).
func (tx *udpTx) Connection() sipmsg.Connection { return tx.conn }

// udpTxCache holds the lean transactions by key: those being handled, and
// completed ones until Timer J. Completed ones expire in the order they
// completed (a FIFO: Timer J is the same for all), each insertion sweeping
// the expired head, so expiry costs O(1) amortized and needs no timer.
type udpTxCache struct {
	now func() time.Time
	cap int

	mu   sync.Mutex // guards m, done, head
	m    map[string]*udpTx
	done []*udpTx // completed, oldest first from head
	head int
}

func newUDPTxCache(capacity int, now func() time.Time) *udpTxCache {
	return &udpTxCache{now: now, cap: capacity, m: make(map[string]*udpTx)}
}

// begin returns the transaction of key and whether it is new (made by
// mk); nil when the cache is full of transactions still being handled.
func (c *udpTxCache) begin(key string, mk func() *udpTx) (*udpTx, bool) {
	now := c.now()
	c.mu.Lock()
	expired := c.sweepLocked(now)
	tx, ok := c.m[key]
	if !ok {
		if len(c.m) >= c.cap {
			expired = append(expired, c.evictLocked()...)
		}
		if len(c.m) < c.cap {
			tx = mk()
			c.m[key] = tx
		}
	}
	c.mu.Unlock()
	runEnded(expired)
	return tx, !ok && tx != nil
}

// complete starts Timer J for tx, which sent its final response.
func (c *udpTxCache) complete(tx *udpTx) {
	now := c.now()
	at := now.Add(sipmsg.Timer_J)
	tx.mu.Lock()
	tx.expireAt = at
	tx.mu.Unlock()
	c.mu.Lock()
	if c.m[tx.key] == tx {
		c.done = append(c.done, tx)
	}
	expired := c.sweepLocked(now)
	c.mu.Unlock()
	runEnded(expired)
}

// sweep forgets the transactions past Timer J now, for when no request
// comes to do it.
func (c *udpTxCache) sweep() {
	now := c.now()
	c.mu.Lock()
	expired := c.sweepLocked(now)
	c.mu.Unlock()
	runEnded(expired)
}

// drop forgets tx before Timer J.
func (c *udpTxCache) drop(tx *udpTx) {
	c.mu.Lock()
	if c.m[tx.key] == tx {
		delete(c.m, tx.key)
	}
	c.mu.Unlock()
}

// sweepLocked forgets the completed transactions whose Timer J has fired
// and returns those with OnTerminate callbacks (usually none: no garbage).
func (c *udpTxCache) sweepLocked(now time.Time) []ended {
	var expired []ended
	for c.head < len(c.done) {
		tx := c.done[c.head]
		tx.mu.Lock()
		at := tx.expireAt
		tx.mu.Unlock()
		if at.After(now) {
			break
		}
		if fns := c.forgetHeadLocked(tx); fns != nil {
			expired = append(expired, ended{tx, fns})
		}
	}
	c.compactLocked()
	return expired
}

// evictLocked forgets the oldest completed transaction early, to make room.
func (c *udpTxCache) evictLocked() []ended {
	if c.head == len(c.done) {
		return nil
	}
	tx := c.done[c.head]
	fns := c.forgetHeadLocked(tx)
	c.compactLocked()
	if fns != nil {
		return []ended{{tx, fns}}
	}
	return nil
}

// forgetHeadLocked forgets the head of done and ends it; it returns the
// OnTerminate callbacks to run once the lock is released.
func (c *udpTxCache) forgetHeadLocked(tx *udpTx) []sipmsg.FnTxTerminate {
	c.done[c.head] = nil
	c.head++
	if c.m[tx.key] == tx {
		delete(c.m, tx.key)
	}
	return tx.end(nil)
}

// ended is a transaction whose OnTerminate callbacks are still to run.
type ended struct {
	tx  *udpTx
	fns []sipmsg.FnTxTerminate
}

func runEnded(es []ended) {
	for _, e := range es {
		for _, f := range e.fns {
			f(e.tx.key, nil)
		}
	}
}

// compactLocked moves the live part of done to the front once the head
// has passed half of it, so its memory follows the live transactions.
func (c *udpTxCache) compactLocked() {
	if c.head == len(c.done) {
		c.done, c.head = c.done[:0], 0
		return
	}
	if c.head > 1024 && c.head > len(c.done)/2 {
		n := copy(c.done, c.done[c.head:])
		clear(c.done[n:])
		c.done, c.head = c.done[:n], 0
	}
}

// len is how many transactions are remembered.
func (c *udpTxCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
