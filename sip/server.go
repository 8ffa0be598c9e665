// Package sip is Switchboard's SIP edge on github.com/emiago/sipgo: the
// registrar (RFC 3261 §10), the notifier for the dialog (RFC 4235) and
// presence (RFC 3856) event packages with its own SUBSCRIBE dialog layer
// (RFC 6665), and the event state compositor for PUBLISH (RFC 3903).
//
// It turns SIP into calls on the presence core and presence changes into
// NOTIFYs. It never talks to Redis or NATS.
package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/limit"
)

// presenceCore is what the SIP edge needs of the presence core.
type presenceCore interface {
	Register(ctx context.Context, aor presence.AOR, reg presence.Registration) ([]presence.Binding, error)
	Publish(ctx context.Context, aor presence.AOR, p presence.Publish) (presence.PublishResult, error)
	Get(ctx context.Context, aor presence.AOR) (presence.View, error)
}

// requester sends a request and waits for its final response; it is
// *sipgo.Client's Do, the seam fuzz tests fake so nothing leaves the host.
type requester interface {
	Do(ctx context.Context, req *sipmsg.Request, opts ...sipgo.ClientRequestOption) (*sipmsg.Response, error)
}

// Config is the SIP edge's configuration.
type Config struct {
	// Domains are the SIP domains served; the first is the default, used
	// when a request names an IP address instead of a domain.
	Domains []string
	// Registration lifetimes (RFC 3261 §10.2.1.1, §10.3 step 7).
	RegisterMinExpires, RegisterMaxExpires, RegisterDefaultExpires time.Duration
	// Subscription lifetimes (RFC 6665 §4.2.1.1).
	SubscribeMinExpires, SubscribeMaxExpires, SubscribeDefaultExpires time.Duration
	// Publication lifetimes (RFC 3903 §6 step 4).
	PublishMinExpires, PublishMaxExpires, PublishDefaultExpires time.Duration
	// SingleDialog sends only the most important dialog in each dialog-info
	// NOTIFY, for phones that mishandle several.
	SingleDialog bool
	// NotifyTimeout bounds how long one NOTIFY transaction may take.
	NotifyTimeout time.Duration
	// UserAgent is sent in the Server and User-Agent headers.
	UserAgent string

	// TrustedCIDRs are the PBX's addresses: REGISTER and PUBLISH from them
	// skip authentication, and they are exempt from the rate limit and the
	// in-flight cap. See trust.go for the rules.
	TrustedCIDRs []netip.Prefix
	// MaxSubscriptionsPerWatcher caps the subscriptions one watcher (From
	// AOR) may hold; default 200, negative means no cap.
	MaxSubscriptionsPerWatcher int
	// MaxSubscriptionsPerTarget caps the subscriptions to one extension;
	// default 1000, negative means no cap.
	MaxSubscriptionsPerTarget int
	// RateLimit is the sustained requests per second allowed per source IP;
	// 0 means limit.DefaultRate (50), negative disables rate limiting.
	RateLimit float64
	// RateBurst is how many requests a quiet source may send at once;
	// 0 means limit.DefaultBurst (100).
	RateBurst int
	// MaxInFlight caps the requests being handled at once; default 2000,
	// negative means no cap.
	MaxInFlight int
	// MaxMessageSize is the largest SIP message accepted, in bytes, over
	// any transport; default 65535 (sipgo's). A TCP or TLS message
	// announcing more is refused before its body is buffered.
	MaxMessageSize int
	// TCPIdleTimeout closes a TCP or TLS connection that carried no traffic
	// for this long, unless it is a live subscription's flow (see conn.go);
	// default DefaultTCPIdleTimeout (10 min), negative means never.
	TCPIdleTimeout time.Duration
	// MaxConnsPerSource caps the TCP and TLS connections one address may
	// hold at once, trusted addresses exempt; default
	// DefaultMaxConnsPerSource (128), negative means no cap.
	MaxConnsPerSource int
	// EventListBatch is how long a BLF or ad-hoc list gathers changes
	// after its full state before its next NOTIFY; 0 sends each at once.
	EventListBatch time.Duration
}

// SetDefaults fills zero values with the defaults real phones expect.
func (c *Config) SetDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RegisterMinExpires, 60*time.Second)
	def(&c.RegisterMaxExpires, 2*time.Hour)
	def(&c.RegisterDefaultExpires, time.Hour)
	def(&c.SubscribeMinExpires, 60*time.Second)
	def(&c.SubscribeMaxExpires, time.Hour)
	// RFC 4235 §3.3 and RFC 3856 §6.4 both default to 3600 seconds.
	def(&c.SubscribeDefaultExpires, time.Hour)
	def(&c.PublishMinExpires, 60*time.Second)
	def(&c.PublishMaxExpires, 2*time.Hour)
	def(&c.PublishDefaultExpires, time.Hour)
	def(&c.NotifyTimeout, 32*time.Second)
	if c.MaxSubscriptionsPerWatcher == 0 {
		c.MaxSubscriptionsPerWatcher = 200
	}
	if c.MaxSubscriptionsPerTarget == 0 {
		c.MaxSubscriptionsPerTarget = 1000
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 2000
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = sipmsg.ParseMaxMessageLength
	}
	if c.UserAgent == "" {
		c.UserAgent = "Switchboard"
	}
	if c.TCPIdleTimeout == 0 {
		c.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if c.MaxConnsPerSource == 0 {
		c.MaxConnsPerSource = DefaultMaxConnsPerSource
	}
}

// Deps are the SIP edge's collaborators.
type Deps struct {
	// Core is the presence core; required.
	Core presenceCore
	// Subscriptions keeps subscription dialogs across restarts; optional.
	Subscriptions subscriptionStore
	// Auth checks digest credentials of REGISTER, SUBSCRIBE and PUBLISH,
	// usually an *auth.Authenticator. Nil means no authentication: the
	// first-run default, fit only for a closed network (see trust.go).
	Auth Authenticator
	// Policy decides which watchers may see which extensions, after the
	// same-domain rule; nil allows every watcher of the domain.
	Policy Policy
	// Lists resolves BLF list URIs (sip:blf-<name>@domain, blflist.go);
	// nil serves none.
	Lists ListResolver
}

// notifyHandler takes NOTIFYs of subscriptions this instance made itself,
// such as the PBX watcher's; it reports whether the NOTIFY was its own.
type notifyHandler interface {
	HandleNotify(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool
}

// Server is the SIP edge.
type Server struct {
	mu       sync.RWMutex // guards notifies, c2c
	notifies notifyHandler
	c2c      *ClickToCall // in-dialog NOTIFY and BYE of click-to-calls

	cfg    Config
	core   presenceCore
	store  subscriptionStore
	log    zerolog.Logger
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	subs   *subscriptions
	auth   Authenticator
	policy Policy
	lists  ListResolver
	// notifier sends NOTIFYs: the sipgo client, a fake in fuzz tests.
	notifier requester
	limiter  *limit.Limiter // nil when rate limiting is off
	gate     *limit.Gate    // nil when in-flight is not capped
	handlers map[sipmsg.RequestMethod]sipgo.RequestHandler
	noRoute  sipgo.RequestHandler

	// senders owns the NOTIFY goroutines: senders of lists, TCP/TLS and
	// large NOTIFYs, final NOTIFYs, and cancelled lean NOTIFYs' outcomes.
	senders sync.WaitGroup

	// The background writer of subscription states (persist.go).
	persistMu  sync.Mutex // guards persistQ and persisting
	persistQ   map[string]*pendingWrite
	persisting bool
	persistWG  sync.WaitGroup

	pendMu  sync.Mutex // guards pending
	pending map[presence.AOR]presence.View
	wake    chan struct{}

	draining chan struct{} // closed when shutdown starts
	drainOne sync.Once
	drained  chan struct{} // closed when the final NOTIFYs are done
	// drainNotifyTimeout bounds each NOTIFY sent while draining; set by
	// ServeListeners from its grace before serving.
	drainNotifyTimeout time.Duration

	stats     stats
	malformed *malformedReporter

	// udpAddr is our UDP listener; NOTIFYs over UDP leave from it, so they
	// pass the NAT pinhole the phone opened towards it.
	udpAddr *net.UDPAddr
	udpConn net.PacketConn // for responses beyond sipgo's UDP size guard
	// udptx serves UDP non-INVITE requests without sipgo's transactions.
	udptx *udpTxLayer
}

// New builds the SIP edge. Set up sipgo's logger before calling it.
func New(cfg Config, deps Deps, log zerolog.Logger) (*Server, error) {
	cfg.SetDefaults()
	if len(cfg.Domains) == 0 {
		return nil, errors.New("sip: at least one domain is required")
	}
	for i, d := range cfg.Domains {
		cfg.Domains[i] = strings.ToLower(d)
	}
	parser := sipmsg.NewParser()
	parser.MaxMessageLength = cfg.MaxMessageSize
	log = log.With().Str("component", "sip").Logger()
	malformed := newMalformedReporter(log)
	// sipgo's transports log through this, not the default logger alone.
	tlLog := slog.New(&malformedLog{next: sipmsg.DefaultLogger().Handler(), r: malformed})
	udptx := newUDPTxLayer(parser)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(cfg.UserAgent), sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(tlLog),
			sipmsg.WithTransportLayerReadFilter(udptx.filter)))
	if err != nil {
		return nil, fmt.Errorf("create sip user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		return nil, fmt.Errorf("create sip server: %w", err)
	}
	client, err := sipgo.NewClient(ua)
	if err != nil {
		return nil, fmt.Errorf("create sip client: %w", err)
	}
	s := &Server{
		cfg: cfg, core: deps.Core, store: deps.Subscriptions, log: log, malformed: malformed,
		ua: ua, srv: srv, client: client, subs: newSubscriptions(),
		pending: make(map[presence.AOR]presence.View), wake: make(chan struct{}, 1),
		draining: make(chan struct{}), drained: make(chan struct{}),
		auth: deps.Auth, policy: deps.Policy, lists: deps.Lists,
		notifier: &leanNotifier{udp: udptx, next: client},
	}
	if cfg.RateLimit >= 0 {
		s.limiter = limit.New(limit.Config{Rate: cfg.RateLimit, Burst: cfg.RateBurst, Exempt: cfg.TrustedCIDRs})
	}
	if cfg.MaxInFlight > 0 {
		s.gate = limit.NewGate(cfg.MaxInFlight)
	}
	s.handlers = s.routes()
	s.noRoute = s.guard(s.handleNoRoute)
	for m, h := range s.handlers {
		srv.OnRequest(m, h)
	}
	srv.OnNoRoute(s.noRoute)
	udptx.tl, udptx.handle = ua.TransportLayer(), s.dispatch
	s.udptx = udptx
	return s, nil
}

// SetNotifyHandler routes incoming NOTIFYs to h first; call it before
// serving.
func (s *Server) SetNotifyHandler(h notifyHandler) {
	s.mu.Lock()
	s.notifies = h
	s.mu.Unlock()
}

// Client is the SIP client of this server's user agent: requests sent with
// it leave from, and get answers on, the server's own sockets.
func (s *Server) Client() *sipgo.Client { return s.client }

// Changed is the presence watcher: it queues the view for every subscriber
// of its AOR and returns at once. Bursts for one AOR coalesce to the latest
// view, so the queue is bounded by the number of extensions.
func (s *Server) Changed(c presence.Change) {
	s.pendMu.Lock()
	if old, ok := s.pending[c.View.AOR]; !ok || old.Version <= c.View.Version {
		s.pending[c.View.AOR] = c.View
	}
	s.pendMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Listeners are the sockets the SIP edge serves; any may be nil.
type Listeners struct {
	UDP net.PacketConn
	TCP net.Listener
	// TLS must already speak TLS (tls.NewListener, or tls.Listen with a
	// tls.Config whose GetCertificate is a CertReloader's), for sips: URIs
	// and transport=tls on port 5061 (RFC 3261 §26.2, RFC 5630).
	TLS net.Listener
}

// Serve answers SIP on the given sockets until ctx ends; see ServeListeners.
func (s *Server) Serve(ctx context.Context, udp net.PacketConn, tcp net.Listener, grace time.Duration) error {
	return s.ServeListeners(ctx, Listeners{UDP: udp, TCP: tcp}, grace)
}

// ServeListeners answers SIP on ls until ctx ends, then sends every
// subscriber a final NOTIFY (RFC 6665 §4.2.2, reason=deactivated so phones
// re-subscribe at once) within grace, and closes the listeners.
func (s *Server) ServeListeners(ctx context.Context, ls Listeners, grace time.Duration) error {
	// Take the stored subscriptions back before the first request is read,
	// so a SUBSCRIBE arriving now cannot be taken for a stored one.
	restored := s.restore(ctx)
	s.drainNotifyTimeout = drainNotifyTimeout(grace)
	g, gctx := errgroup.WithContext(ctx)
	if ls.UDP != nil {
		s.udpAddr, _ = ls.UDP.LocalAddr().(*net.UDPAddr)
		s.udpConn = ls.UDP
		s.udptx.listen(ls.UDP)
		g.Go(func() error { return ignoreClosed(s.srv.ServeUDP(ls.UDP)) })
		g.Go(func() error { s.udptx.expire(gctx); return nil })
		// Until the final NOTIFYs of the drain are over, not ctx.
		g.Go(func() error { s.udptx.client.run(s.drained); return nil })
	}
	if ls.TCP != nil {
		tcp := s.limitConns(ls.TCP, "tcp")
		g.Go(func() error { return ignoreClosed(s.srv.ServeTCP(tcp)) })
	}
	if ls.TLS != nil {
		tls := s.limitConns(ls.TLS, "tls")
		g.Go(func() error { return ignoreClosed(s.srv.ServeTLS(tls)) })
	}
	g.Go(func() error { return s.fanOut(gctx) })
	g.Go(func() error { return s.expireSubscriptions(gctx) })
	g.Go(func() error {
		s.waitListening(gctx, ls)
		s.notifyRestored(gctx, restored)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.drain(grace)
		close(s.drained)
		if ls.UDP != nil {
			ls.UDP.Close()
		}
		if ls.TCP != nil {
			ls.TCP.Close()
		}
		if ls.TLS != nil {
			ls.TLS.Close()
		}
		return s.ua.Close()
	})
	err := g.Wait()
	s.udptx.closeRaw()
	s.udptx.stop()
	s.udptx.handlers.Wait()
	s.senders.Wait()
	s.flushSubscriptions() // the final NOTIFYs' deletions reach the store
	return err
}

// drainNotifyTimeout is how long one final NOTIFY may take while draining:
// short, and at most half the grace so that a slow watcher still leaves
// time for the others and for closing.
func drainNotifyTimeout(grace time.Duration) time.Duration {
	return min(2*time.Second, grace/2)
}

// Draining reports whether shutdown has begun; new registrations and
// subscriptions are then refused with 503.
func (s *Server) Draining() bool {
	select {
	case <-s.draining:
		return true
	default:
		return false
	}
}

// Drained is closed once the final NOTIFYs of a shutdown are done, right
// before the listeners close: until then readiness should keep answering
// "draining", so that a load balancer sees this instance leave.
func (s *Server) Drained() <-chan struct{} { return s.drained }

// Subscriptions returns how many subscriptions are active.
func (s *Server) Subscriptions() int { return s.subs.count() }

// SubscriptionsOf counts this instance's subscriptions watching aor and
// those aor's own phones hold on others.
func (s *Server) SubscriptionsOf(aor presence.AOR) (watchedBy, watching int) {
	watchedBy = len(s.subs.watching(aor))
	for _, sub := range s.subs.all() {
		if w, ok := s.aorOf(sub.remote); ok && w == aor {
			watching++
		}
	}
	return watchedBy, watching
}

// Stats are running totals of the SIP edge, for metrics.
type Stats struct {
	Registers, RegistersFailed   uint64
	Subscribes, SubscribesFailed uint64
	Publishes, PublishesFailed   uint64
	NotifiesSent, NotifiesFailed uint64
	// RateLimited counts requests refused with 503 because their source
	// went over Config.RateLimit; Overloaded those refused because
	// Config.MaxInFlight requests were already being handled.
	RateLimited, Overloaded uint64
	// AuthChallenged counts 401/407 challenges sent, AuthRefused 403s
	// for authentication or authorization.
	AuthChallenged, AuthRefused uint64
	// ConnsRefused counts TCP/TLS connections closed at accept because
	// their source held Config.MaxConnsPerSource; ConnsIdleClosed those
	// closed after Config.TCPIdleTimeout without traffic.
	ConnsRefused, ConnsIdleClosed uint64
	// ParseErrors counts messages sipgo could not parse (see logs.go).
	ParseErrors uint64
	// SenderPanics counts NOTIFY senders stopped by a panic (see goSender).
	SenderPanics uint64
}

type stats struct {
	registers, registersFailed    atomic.Uint64
	subscribes, subscribesFailed  atomic.Uint64
	publishes, publishesFailed    atomic.Uint64
	notifiesSent, notifiesFailed  atomic.Uint64
	rateLimited, overloaded       atomic.Uint64
	authChallenged, authRefused   atomic.Uint64
	connsRefused, connsIdleClosed atomic.Uint64
	senderPanics                  atomic.Uint64
}

// Stats returns the running totals.
func (s *Server) Stats() Stats {
	return Stats{
		Registers: s.stats.registers.Load(), RegistersFailed: s.stats.registersFailed.Load(),
		Subscribes: s.stats.subscribes.Load(), SubscribesFailed: s.stats.subscribesFailed.Load(),
		Publishes: s.stats.publishes.Load(), PublishesFailed: s.stats.publishesFailed.Load(),
		NotifiesSent: s.stats.notifiesSent.Load(), NotifiesFailed: s.stats.notifiesFailed.Load(),
		RateLimited: s.stats.rateLimited.Load(), Overloaded: s.stats.overloaded.Load(),
		AuthChallenged: s.stats.authChallenged.Load(), AuthRefused: s.stats.authRefused.Load(),
		ConnsRefused: s.stats.connsRefused.Load(), ConnsIdleClosed: s.stats.connsIdleClosed.Load(),
		ParseErrors: s.malformed.count.Load(), SenderPanics: s.stats.senderPanics.Load(),
	}
}

// Resync re-reads the state of every watched extension and NOTIFYs the
// subscribers whose view moved on, e.g. after the event bus reconnected and
// changes from other instances may have been missed.
func (s *Server) Resync(ctx context.Context) {
	seen := map[presence.AOR]presence.View{}
	for _, sub := range s.subs.all() {
		v, ok := seen[sub.aor]
		if !ok {
			var err error
			if v, err = s.core.Get(ctx, sub.aor); err != nil {
				s.log.Warn().Err(err).Str("aor", sub.aor.String()).Msg("resync presence")
				continue
			}
			seen[sub.aor] = v
		}
		sub.mu.Lock()
		stale := v.Version > sub.latest.Version
		sub.mu.Unlock()
		if stale {
			s.kick(sub, v)
		}
	}
}

// drainParallel bounds the final NOTIFYs in flight at once while draining:
// enough that thousands of subscribers are told within a few seconds, few
// enough not to open a socket per subscriber at once.
const drainParallel = 128

// drain tells every subscriber that this instance is going away, within
// grace: readiness turns false first (Draining), then each subscription
// gets "terminated;reason=deactivated" (RFC 6665 §4.2.2) so its phone
// re-subscribes at once, elsewhere. Each final NOTIFY gets
// drainNotifyTimeout, not NotifyTimeout: a watcher that does not answer
// must not hold the shutdown for Timer F (32 s). Subscribers not reached
// within grace stay stored; the listeners close after drain returns.
func (s *Server) drain(grace time.Duration) {
	s.drainOne.Do(func() { close(s.draining) })
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	subs := s.subs.all()
	// NOTIFYs in flight were given NotifyTimeout; cut them short so that
	// their senders let go of the dialogs and the process can exit.
	for _, sub := range subs {
		sub.mu.Lock()
		if sub.cancelSend != nil {
			sub.cancelSend()
		}
		sub.mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(drainParallel)
	for _, sub := range subs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			defer s.recoverSender(sub)
			nctx, cancel := context.WithTimeout(gctx, s.drainNotifyTimeout)
			defer cancel()
			s.terminate(nctx, sub, "deactivated")
			return nil
		})
	}
	_ = g.Wait()
}

// fanOut turns queued views into NOTIFYs until ctx ends.
func (s *Server) fanOut(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		}
		s.pendMu.Lock()
		batch := s.pending
		s.pending = make(map[presence.AOR]presence.View, len(batch))
		s.pendMu.Unlock()
		for aor, v := range batch {
			s.kickAll(s.subs.watching(aor), v)
		}
	}
}

// fanOutChunk is the fewest subscriptions worth a goroutine of their own
// in kickAll: a kick that sends costs ~30–50 µs (most of it sendto).
const fanOutChunk = 256

// kickAll kicks the subscriptions of subs that v is news to. Kicks send
// their NOTIFY on the calling goroutine (stepLean), so many watchers are
// split over one goroutine a CPU; it returns once all are sent.
func (s *Server) kickAll(subs []*subscription, v presence.View) {
	if len(subs) == 0 {
		return
	}
	shared := newViewBodies(v, s.cfg.SingleDialog)
	parts := min(runtime.GOMAXPROCS(0), len(subs)/fanOutChunk)
	if parts <= 1 {
		for _, sub := range subs {
			if sub.behind(v) {
				s.kickShared(sub, v, shared)
			}
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(subs) + parts - 1) / parts
	for part := range slices.Chunk(subs, per) {
		wg.Go(func() {
			for _, sub := range part {
				if sub.behind(v) {
					s.kickShared(sub, v, shared)
				}
			}
		})
	}
	wg.Wait()
}

// waitListening returns once sipgo has taken up the listeners, so that
// NOTIFYs of restored subscriptions can leave from them.
func (s *Server) waitListening(ctx context.Context, ls Listeners) {
	for range 100 {
		tl := s.ua.TransportLayer()
		// ListenPorts, unlike GetListenPort, takes sipgo's lock.
		if (ls.UDP == nil || len(tl.ListenPorts("udp")) > 0) && (ls.TCP == nil || len(tl.ListenPorts("tcp")) > 0) &&
			(ls.TLS == nil || len(tl.ListenPorts("tls")) > 0) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// domainOf maps a request's host to a served domain: a served name as is,
// an IP address or localhost to the default domain. ok is false for a
// domain this server does not serve.
func (s *Server) domainOf(host string) (string, bool) {
	host = strings.ToLower(strings.Trim(host, "[]"))
	for _, d := range s.cfg.Domains {
		if host == d {
			return d, true
		}
	}
	if net.ParseIP(host) != nil || host == "localhost" || host == "" {
		return s.cfg.Domains[0], true
	}
	return "", false
}

// aorOf returns the AOR a URI names.
func (s *Server) aorOf(u sipmsg.Uri) (presence.AOR, bool) {
	if u.User == "" {
		return presence.AOR{}, false
	}
	d, ok := s.domainOf(u.Host)
	if !ok {
		return presence.AOR{}, false
	}
	return presence.NewAOR(u.User, d), true
}
