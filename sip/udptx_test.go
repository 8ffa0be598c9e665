package sip

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is the lean cache's clock in tests, moved by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// leanServer is a udpTxLayer on a real UDP socket, behind sipgo's
// transport as in New, with a handler the test supplies.
func leanServer(t *testing.T, capacity int, clock *fakeClock, handle func(*sipmsg.Request, sipmsg.ServerTransaction)) (*udpTxLayer, *net.UDPAddr) {
	t.Helper()
	parser := sipmsg.NewParser()
	u := newUDPTxLayer(parser)
	u.cache = newUDPTxCache(capacity, clock.now)
	ua, err := sipgo.NewUA(sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerReadFilter(u.filter)))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(ua)
	require.NoError(t, err)
	// What sipgo itself would see: the lean path must leave it nothing.
	srv.OnNoRoute(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 599, "Reached sipgo", nil))
	})
	u.tl, u.handle = ua.TransportLayer(), handle
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	u.listen(conn)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		conn.Close()
		<-done
		u.closeRaw()
		u.stop()
		u.handlers.Wait()
		ua.Close()
	})
	return u, conn.LocalAddr().(*net.UDPAddr)
}

// udpPeer sends raw requests and reads raw datagrams.
type udpPeer struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
}

func newUDPPeer(t *testing.T, to *net.UDPAddr) *udpPeer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &udpPeer{t: t, conn: c, to: to}
}

// request is a request from this peer; branch names its transaction.
func (p *udpPeer) request(method, branch string, cseq int) []byte {
	return fmt.Appendf(nil, "%s sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:201@pbx.example.com>;tag=f1\r\nTo: <sip:201@pbx.example.com>\r\nCall-ID: %s@test\r\nCSeq: %d %s\r\n"+
		"Content-Length: 0\r\n\r\n", method, p.conn.LocalAddr(), branch, branch, cseq, method)
}

func (p *udpPeer) send(b []byte) {
	_, err := p.conn.WriteToUDP(b, p.to)
	require.NoError(p.t, err)
}

func (p *udpPeer) read() []byte {
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 65535)
	n, _, err := p.conn.ReadFromUDP(buf)
	require.NoError(p.t, err)
	return buf[:n]
}

// roundTrip sends a fresh OPTIONS and reads until its answer, returning
// what came before it: once it is answered, every datagram sent earlier
// has been through the server's read loop.
func (p *udpPeer) roundTrip(branch string) [][]byte {
	p.send(p.request("OPTIONS", branch, 1))
	var before [][]byte
	for {
		m := p.read()
		if bytes.Contains(m, []byte("branch=z9hG4bK"+branch+";")) {
			return before
		}
		before = append(before, m)
	}
}

// countingHandler answers 200 with sipgo's random To tag, so two
// handlings of one request give different bytes; it counts calls by
// branch, and holds REGISTERs of branch "hold" until release is closed.
type countingHandler struct {
	mu      sync.Mutex
	calls   map[string]int
	release chan struct{}
	trying  bool // send 100 Trying before holding
}

func newCountingHandler() *countingHandler {
	return &countingHandler{calls: map[string]int{}, release: make(chan struct{})}
}

func (h *countingHandler) handle(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	branch, _ := req.Via().Params.Get("branch")
	h.mu.Lock()
	h.calls[branch]++
	h.mu.Unlock()
	if branch == "z9hG4bKhold" {
		if h.trying {
			_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 100, "Trying", nil))
		}
		<-h.release
	}
	_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
}

func (h *countingHandler) count(branch string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls["z9hG4bK"+branch]
}

func TestUDPTxRetransmissionGetsSameBytes(t *testing.T) {
	for _, method := range []string{"REGISTER", "PUBLISH", "SUBSCRIBE"} {
		t.Run(method, func(t *testing.T) {
			h := newCountingHandler()
			_, addr := leanServer(t, udpTxCap, &fakeClock{t: time.Now()}, h.handle)
			p := newUDPPeer(t, addr)
			req := p.request(method, "r1", 7)
			p.send(req)
			first := p.read()
			require.True(t, bytes.HasPrefix(first, []byte("SIP/2.0 200 OK\r\n")), "%s", first)
			p.send(req)
			p.send(req)
			assert.Equal(t, first, p.read())
			assert.Equal(t, first, p.read())
			assert.Empty(t, p.roundTrip("mark"))
			assert.Equal(t, 1, h.count("r1"), "handler calls")
			// Another transaction of the same dialog is a new request.
			p.send(p.request(method, "r2", 8))
			assert.NotEqual(t, first, p.read())
			assert.Equal(t, 1, h.count("r2"))
		})
	}
}

func TestUDPTxRetransmissionBeforeFinalAbsorbed(t *testing.T) {
	for _, trying := range []bool{false, true} {
		t.Run(fmt.Sprintf("trying=%v", trying), func(t *testing.T) {
			h := newCountingHandler()
			h.trying = trying
			_, addr := leanServer(t, udpTxCap, &fakeClock{t: time.Now()}, h.handle)
			p := newUDPPeer(t, addr)
			req := p.request("REGISTER", "hold", 1)
			p.send(req)
			if trying {
				assert.True(t, bytes.HasPrefix(p.read(), []byte("SIP/2.0 100 Trying")))
			}
			p.send(req)
			before := p.roundTrip("mark1")
			if trying {
				// RFC 3261 §17.2.2 Proceeding: the provisional is resent.
				require.Len(t, before, 1)
				assert.True(t, bytes.HasPrefix(before[0], []byte("SIP/2.0 100 Trying")))
			} else {
				// Trying: the retransmission is absorbed.
				assert.Empty(t, before)
			}
			close(h.release)
			final := p.read()
			require.True(t, bytes.HasPrefix(final, []byte("SIP/2.0 200 OK")), "%s", final)
			p.send(req)
			assert.Equal(t, final, p.read())
			assert.Empty(t, p.roundTrip("mark2"))
			assert.Equal(t, 1, h.count("hold"), "handler calls")
		})
	}
}

func TestUDPTxExpiresAfterTimerJ(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	h := newCountingHandler()
	u, addr := leanServer(t, udpTxCap, clock, h.handle)
	p := newUDPPeer(t, addr)
	req := p.request("PUBLISH", "j1", 1)
	p.send(req)
	first := p.read()
	// The handler sends the response before it starts Timer J: move the
	// clock only once the transaction is recorded complete.
	require.Eventually(t, func() bool {
		u.cache.mu.Lock()
		defer u.cache.mu.Unlock()
		return len(u.cache.done)-u.cache.head == 1
	}, 5*time.Second, time.Millisecond)

	clock.add(sipmsg.Timer_J - time.Millisecond)
	p.send(req)
	assert.Equal(t, first, p.read(), "answered from the cache before Timer J")
	assert.Equal(t, 1, h.count("j1"))

	clock.add(time.Millisecond)
	p.send(req)
	again := p.read()
	assert.NotEqual(t, first, again, "handled anew after Timer J")
	assert.Equal(t, 2, h.count("j1"))
	// The mark and the second handling of j1 are all that is left.
	assert.Empty(t, p.roundTrip("mark"))
	assert.Equal(t, 2, u.cache.len())
}

func TestUDPTxCacheCapped(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	h := newCountingHandler()
	u, addr := leanServer(t, 3, clock, h.handle)
	p := newUDPPeer(t, addr)
	var first [][]byte
	for i := range 5 {
		p.send(p.request("REGISTER", fmt.Sprint("c", i), 1))
		first = append(first, p.read())
	}
	assert.Equal(t, 3, u.cache.len(), "bounded by the cap")
	// The newest are still answered from the cache.
	p.send(p.request("REGISTER", "c4", 1))
	assert.Equal(t, first[4], p.read())
	assert.Equal(t, 1, h.count("c4"))
	// The oldest were forgotten early: handled anew.
	p.send(p.request("REGISTER", "c0", 1))
	assert.NotEqual(t, first[0], p.read())
	assert.Equal(t, 2, h.count("c0"))
	assert.Equal(t, 3, u.cache.len())
}

func TestUDPTxCacheFullOfPendingFallsBack(t *testing.T) {
	c := newUDPTxCache(2, (&fakeClock{t: time.Now()}).now)
	mk := func(key string) func() *udpTx { return func() *udpTx { return &udpTx{key: key} } }
	a, fresh := c.begin("a", mk("a"))
	require.True(t, fresh)
	_, fresh = c.begin("b", mk("b"))
	require.True(t, fresh)
	got, fresh := c.begin("c", mk("c"))
	assert.Nil(t, got, "nothing completed to evict: left to sipgo")
	assert.False(t, fresh)
	again, fresh := c.begin("a", mk("a"))
	assert.Same(t, a, again)
	assert.False(t, fresh)
	c.drop(a)
	_, fresh = c.begin("c", mk("c"))
	assert.True(t, fresh)
}

func TestUDPTxTerminateCallbacks(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	c := newUDPTxCache(10, clock.now)
	tx := &udpTx{key: "k", layer: &udpTxLayer{cache: c}}
	got, _ := c.begin("k", func() *udpTx { return tx })
	require.Same(t, tx, got)
	var ended atomic.Int32
	require.True(t, tx.OnTerminate(func(string, error) { ended.Add(1) }))
	done := tx.Done()
	tx.mu.Lock()
	tx.final = true
	tx.mu.Unlock()
	c.complete(tx)
	select {
	case <-done:
		t.Fatal("ended before Timer J")
	default:
	}
	clock.add(sipmsg.Timer_J)
	// The sweep of the next request ends it, before begin returns.
	c.begin("other", func() *udpTx { return &udpTx{key: "other"} })
	select {
	case <-done:
	default:
		t.Fatal("not ended at Timer J")
	}
	assert.Equal(t, int32(1), ended.Load())
	assert.False(t, tx.OnTerminate(func(string, error) {}))
}

func TestLeanTxKey(t *testing.T) {
	parse := func(raw string) *sipmsg.Request {
		m, err := sipmsg.ParseMessage([]byte(raw))
		require.NoError(t, err)
		return m.(*sipmsg.Request)
	}
	req := func(method, via, cseq string) string {
		return method + " sip:pbx.example.com SIP/2.0\r\nVia: " + via + "\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n" +
			"Call-ID: x\r\nCSeq: " + cseq + "\r\nContent-Length: 0\r\n\r\n"
	}
	for _, tc := range []struct {
		name, raw, key string
	}{
		{"register", req("REGISTER", "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKab", "1 REGISTER"), "z9hG4bKab__10.0.0.5__5062__REGISTER"},
		{"default port", req("PUBLISH", "SIP/2.0/UDP host;branch=z9hG4bKab", "1 PUBLISH"), "z9hG4bKab__host__5060__PUBLISH"},
		{"invite", req("INVITE", "SIP/2.0/UDP host;branch=z9hG4bKab", "1 INVITE"), ""},
		{"ack", req("ACK", "SIP/2.0/UDP host;branch=z9hG4bKab", "1 ACK"), ""},
		{"cancel", req("CANCEL", "SIP/2.0/UDP host;branch=z9hG4bKab", "1 CANCEL"), ""},
		{"rfc2543 branch", req("REGISTER", "SIP/2.0/UDP host;branch=12345", "1 REGISTER"), ""},
		{"bare cookie", req("REGISTER", "SIP/2.0/UDP host;branch=z9hG4bK", "1 REGISTER"), ""},
		{"cseq method differs", req("REGISTER", "SIP/2.0/UDP host;branch=z9hG4bKab", "1 INVITE"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, ok := leanTxKey(parse(tc.raw))
			assert.Equal(t, tc.key != "", ok)
			assert.Equal(t, tc.key, key)
		})
	}
	assert.False(t, leanCandidate([]byte("SIP/2.0 200 OK\r\n")))
	assert.False(t, leanCandidate([]byte("INVITE sip:x SIP/2.0\r\n")))
	assert.False(t, leanCandidate([]byte("\r\n\r\n")))
	assert.True(t, leanCandidate([]byte("PUBLISH sip:x SIP/2.0\r\n")))
}

func TestResponseAddr(t *testing.T) {
	for _, tc := range []struct{ via, src, want string }{
		{"SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa", "192.0.2.1:40000", "192.0.2.1:5062"},
		{"SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa", "192.0.2.1:40000", "192.0.2.1:5060"},
		{"SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;rport", "192.0.2.1:40000", "192.0.2.1:40000"},
		{"SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKa;rport=41000", "192.0.2.1:40000", "192.0.2.1:41000"},
	} {
		m, err := sipmsg.ParseMessage([]byte("REGISTER sip:a SIP/2.0\r\nVia: " + tc.via +
			"\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"))
		require.NoError(t, err)
		assert.Equal(t, tc.want, responseAddr(m.(*sipmsg.Request), tc.src).String(), tc.via)
	}
}

// TestUDPTxServerRegisterRetransmitted drives the whole edge: a REGISTER
// retransmitted over UDP is stored once and answered with the same bytes.
func TestUDPTxServerRegisterRetransmitted(t *testing.T) {
	srv := startServer(t, Config{})
	to, err := net.ResolveUDPAddr("udp", srv.udp)
	require.NoError(t, err)
	p := newUDPPeer(t, to)
	req := fmt.Appendf(nil, "REGISTER sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKreg1;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:201@pbx.example.com>;tag=a1\r\nTo: <sip:201@pbx.example.com>\r\nCall-ID: rr@test\r\n"+
		"CSeq: 1 REGISTER\r\nContact: <sip:201@%s>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n", p.conn.LocalAddr(), p.conn.LocalAddr())
	p.send(req)
	first := p.read()
	require.True(t, bytes.HasPrefix(first, []byte("SIP/2.0 200 OK")), "%s", first)
	p.send(req)
	assert.Equal(t, first, p.read())
	assert.Equal(t, uint64(1), srv.edge.Stats().Registers, "handled once")
	assert.Equal(t, 1, srv.edge.udptx.cache.len(), "through the lean path")
}

func TestUDPTxSweepWithoutTraffic(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	c := newUDPTxCache(10, clock.now)
	tx := &udpTx{key: "k"}
	c.begin("k", func() *udpTx { return tx })
	tx.final = true
	c.complete(tx)
	c.sweep()
	assert.Equal(t, 1, c.len(), "kept until Timer J")
	clock.add(sipmsg.Timer_J)
	c.sweep()
	assert.Equal(t, 0, c.len())
	assert.True(t, tx.closed)
}

// TestUDPTxHandlersReused: requests are served by goroutines that wait
// for the next one (their stacks grown), not one fresh goroutine each,
// and stop ends the idle ones.
func TestUDPTxHandlersReused(t *testing.T) {
	var mu sync.Mutex
	goroutines := map[string]bool{}
	handle := func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		buf := make([]byte, 64)
		id, _, _ := bytes.Cut(buf[:runtime.Stack(buf, false)], []byte(" ["))
		mu.Lock()
		goroutines[string(id)] = true
		mu.Unlock()
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	}
	u, addr := leanServer(t, udpTxCap, &fakeClock{t: time.Now()}, handle)
	p := newUDPPeer(t, addr)
	const n = 50
	for i := range n {
		p.send(p.request("REGISTER", fmt.Sprintf("seq%d", i), i+1))
		require.True(t, bytes.HasPrefix(p.read(), []byte("SIP/2.0 200 OK\r\n")))
	}
	mu.Lock()
	used := len(goroutines)
	mu.Unlock()
	assert.Less(t, used, n/5, "%d goroutines served %d requests one after the other", used, n)

	u.stop()
	waited := make(chan struct{})
	go func() { u.handlers.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(2 * time.Second):
		t.Fatal("idle handler goroutines outlived stop")
	}
}
