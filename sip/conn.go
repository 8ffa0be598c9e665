package sip

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Connection limits for SIP over TCP and TLS. sipgo accepts from the
// listener it is given and reads each connection until it closes, with no
// idle timeout and no limit per peer; rather than fork it, ServeListeners
// hands it a connListener, which refuses connections over the per-source
// cap at accept and closes idle ones from inside Read.
//
// Idle: a connection that carried no traffic, either way, for the idle
// timeout is closed, unless it is the flow of a live subscription: its
// NOTIFYs must go back over it, since a phone behind NAT cannot be reached
// otherwise (RFC 5626 §3.5.1, and see nextHop). Such a connection is closed
// only after its last subscription ends. Phones keep their connection
// busy anyway, with CRLF keep-alives (RFC 5626 §4.4.1: at most every 120 s
// for TCP; sipgo answers a double CRLF) or by re-registering; the default
// of 10 minutes leaves a wide margin over both.
//
// Per-source cap: one address may hold at most that many connections;
// more are closed as soon as they are accepted, and logged (rate-limited).
// Trusted addresses (the PBX, a proxy) are exempt. Many phones behind one
// office NAT share an address, hence a generous default.

// Defaults of Config.TCPIdleTimeout and Config.MaxConnsPerSource.
const (
	DefaultTCPIdleTimeout    = 10 * time.Minute
	DefaultMaxConnsPerSource = 128
)

// connListener is a TCP or TLS listener that enforces the limits above.
type connListener struct {
	net.Listener
	network   string // "tcp" or "tls", as in sipgo's flows
	idle      time.Duration
	maxPerSrc int
	exempt    func(netip.Addr) bool
	// inUse reports whether a live subscription's flow is network+remote.
	inUse func(network, remote string) bool
	log   zerolog.Logger // sampled: refusals come in floods
	debug zerolog.Logger

	refused, idleClosed *atomic.Uint64

	mu    sync.Mutex // guards perIP
	perIP map[netip.Addr]int
}

func (s *Server) limitConns(l net.Listener, network string) net.Listener {
	if s.cfg.TCPIdleTimeout < 0 && s.cfg.MaxConnsPerSource < 0 {
		return l
	}
	return &connListener{
		Listener: l, network: network, idle: s.cfg.TCPIdleTimeout, maxPerSrc: s.cfg.MaxConnsPerSource,
		exempt: s.trusted, inUse: s.subs.hasFlow,
		log:   s.log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Minute}),
		debug: s.log, refused: &s.stats.connsRefused, idleClosed: &s.stats.connsIdleClosed,
		perIP: make(map[netip.Addr]int),
	}
}

// Accept returns the next connection within the per-source cap.
func (l *connListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := addrIP(c.RemoteAddr())
		if !l.admit(ip) {
			l.refused.Add(1)
			l.log.Warn().Str("source", ip.String()).Str("transport", l.network).Int("max", l.maxPerSrc).
				Msg("connection refused: too many from this source")
			c.Close()
			continue
		}
		tc := &limitedConn{Conn: c, l: l, ip: ip, remote: c.RemoteAddr().String()}
		tc.touch()
		return tc, nil
	}
}

// admit counts a new connection from ip, unless ip is at its cap.
func (l *connListener) admit(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxPerSrc > 0 && l.perIP[ip] >= l.maxPerSrc && !l.exempt(ip) {
		return false
	}
	l.perIP[ip]++
	return true
}

func (l *connListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

func addrIP(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn is an accepted connection that closes itself when idle.
type limitedConn struct {
	net.Conn
	l      *connListener
	ip     netip.Addr
	remote string
	last   atomic.Int64 // unix nanoseconds of the last read or write
	closed atomic.Bool
}

func (c *limitedConn) touch() { c.last.Store(time.Now().UnixNano()) }

// Read reads with a deadline at the end of the idle period. When it
// passes, the connection is closed unless it carried traffic meanwhile (a
// write) or is a live subscription's flow; sipgo then sees io.EOF, a
// normal close, rather than a timeout it would log as an error.
func (c *limitedConn) Read(b []byte) (int, error) {
	if c.l.idle <= 0 {
		return c.Conn.Read(b)
	}
	for {
		if err := c.Conn.SetReadDeadline(time.Unix(0, c.last.Load()).Add(c.l.idle)); err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(b)
		if n > 0 {
			c.touch()
		}
		var ne net.Error
		if n > 0 || err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			return n, err
		}
		if time.Since(time.Unix(0, c.last.Load())) < c.l.idle {
			continue // written to meanwhile
		}
		if c.l.inUse(c.l.network, c.remote) {
			c.touch()
			continue
		}
		c.l.idleClosed.Add(1)
		c.l.debug.Debug().Str("remote", c.remote).Str("transport", c.l.network).Dur("idle", c.l.idle).Msg("idle connection closed")
		c.Close()
		return 0, io.EOF
	}
}

func (c *limitedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.touch()
	}
	return n, err
}

// Close closes the connection and frees its place under the cap, once.
func (c *limitedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.ip)
	}
	return c.Conn.Close()
}
