// Package watcher makes Switchboard a subscriber to the PBX: it SUBSCRIBEs
// to the dialog (RFC 4235), presence (RFC 3856) and reg (RFC 3680) event
// packages of each configured extension, keeps those subscriptions alive
// (RFC 6665) and feeds what the PBX NOTIFYs into the presence core as
// publications, so that PBXs which never PUBLISH still light the lamps.
//
// Each (extension, event) pair has one subscription owned by one goroutine
// that runs a small state machine: subscribe, refresh, re-subscribe after
// failure with capped, jittered backoff. Incoming NOTIFYs reach it through
// HandleNotify, which the SIP server calls before treating a NOTIFY as stray.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/presence"
)

// Event packages the watcher can subscribe to.
const (
	EventDialog   = "dialog"
	EventPresence = "presence"
	EventReg      = "reg"
)

// Sink receives the state learned from the PBX as RFC 3903 style
// publications; *presence.Service satisfies it, so watched and PUBLISHed
// state end up in the same records.
type Sink interface {
	Publish(ctx context.Context, aor presence.AOR, p presence.Publish) (presence.PublishResult, error)
}

// Registrar receives the registrations learned from a "reg" subscription
// (RFC 3680). When the Sink also implements it (as *presence.Service does),
// the watcher uses it; otherwise "reg" NOTIFYs are only acknowledged.
type Registrar interface {
	Register(ctx context.Context, aor presence.AOR, reg presence.Registration) ([]presence.Binding, error)
}

// Config configures a Watcher.
type Config struct {
	// PBX is the host:port SUBSCRIBEs are sent to.
	PBX string
	// Transport is "udp" (the default) or "tcp".
	Transport string
	// Domain is the SIP domain of the extensions.
	Domain string
	// Extensions are the user parts of the extensions to watch.
	Extensions []string
	// Events are the event packages to subscribe to; default ["dialog"].
	Events []string
	// Expires is the subscription lifetime asked for; default 600s.
	Expires time.Duration
	// Username and Password answer digest challenges (RFC 3261 §22.2).
	Username, Password string
	// MinBackoff and MaxBackoff bound the delay between failed attempts;
	// defaults 1s and 60s.
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one SUBSCRIBE transaction; default 32s, the
	// RFC 3261 Timer F over UDP.
	RequestTimeout time.Duration
	// FromUser is the user part of our identity; default "switchboard".
	FromUser string
	// ContactHost and ContactPort are where the PBX sends NOTIFYs: the
	// listening address of the SIP server that calls HandleNotify.
	ContactHost string
	ContactPort int
	// Lease, when set, shares the extensions between instances: a
	// subscription is only kept while this instance holds its lease.
	Lease Lease
	// LeaseTTL is the lease lifetime, renewed every third of it; default 30s.
	LeaseTTL time.Duration
}

// setDefaults fills zero values with the defaults.
func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Expires, 600*time.Second)
	def(&c.MinBackoff, time.Second)
	def(&c.MaxBackoff, 60*time.Second)
	def(&c.RequestTimeout, 32*time.Second)
	def(&c.LeaseTTL, 30*time.Second)
	if c.Transport == "" {
		c.Transport = "udp"
	}
	if len(c.Events) == 0 {
		c.Events = []string{EventDialog}
	}
	if c.FromUser == "" {
		c.FromUser = "switchboard"
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
}

// Validate reports every problem with the configuration, after defaults.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if c.PBX == "" {
		errs = append(errs, errors.New("watcher: pbx address is required"))
	}
	if c.Domain == "" {
		errs = append(errs, errors.New("watcher: domain is required"))
	}
	if c.ContactHost == "" || c.ContactPort <= 0 {
		errs = append(errs, errors.New("watcher: contact host and port are required"))
	}
	switch strings.ToLower(c.Transport) {
	case "udp", "tcp":
	default:
		errs = append(errs, fmt.Errorf("watcher: transport %q is not udp or tcp", c.Transport))
	}
	for _, e := range c.Events {
		switch e {
		case EventDialog, EventPresence, EventReg:
		default:
			errs = append(errs, fmt.Errorf("watcher: unknown event package %q", e))
		}
	}
	return errors.Join(errs...)
}

// Watcher keeps one subscription per (extension, event) at the PBX.
type Watcher struct {
	cfg    Config
	client *sipgo.Client
	sink   Sink
	reg    Registrar // nil when the sink cannot register
	log    zerolog.Logger

	// mu guards subs, calls, gone and the dialog fields of every sub
	// (see sub). It is never held while doing I/O.
	mu    sync.Mutex
	subs  []*sub
	calls map[string]*sub      // live Call-ID -> subscription
	gone  map[string]time.Time // retired Call-ID -> when
}

// New returns a Watcher that sends through client and feeds sink. Run
// starts it.
func New(cfg Config, client *sipgo.Client, sink Sink, log zerolog.Logger) *Watcher {
	cfg.setDefaults()
	w := &Watcher{
		cfg: cfg, client: client, sink: sink,
		log:   log.With().Str("component", "watcher").Logger(),
		calls: make(map[string]*sub),
		gone:  make(map[string]time.Time),
	}
	if r, ok := sink.(Registrar); ok {
		w.reg = r
	}
	return w
}

// Run keeps the subscriptions until ctx ends, then unsubscribes, withdraws
// what it published and returns once every goroutine it started has exited.
func (w *Watcher) Run(ctx context.Context) error {
	if err := w.cfg.Validate(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.subs != nil {
		w.mu.Unlock()
		return errors.New("watcher: already running")
	}
	for _, ext := range w.cfg.Extensions {
		for _, ev := range w.cfg.Events {
			w.subs = append(w.subs, newSub(w, ext, ev))
		}
	}
	subs := w.subs
	w.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Go(func() { s.run(ctx) })
	}
	wg.Wait()
	return nil
}

// goneTTL is how long a retired Call-ID is remembered so that late NOTIFYs
// for it get 481, which makes the notifier drop the subscription
// (RFC 6665 §4.2.2); 64*T1 covers every retransmission.
const goneTTL = 2 * time.Minute

// retireLocked forgets callID as live and remembers it as gone. w.mu held.
func (w *Watcher) retireLocked(callID string, now time.Time) {
	if callID == "" {
		return
	}
	delete(w.calls, callID)
	w.gone[callID] = now
	for id, at := range w.gone {
		if now.Sub(at) > goneTTL {
			delete(w.gone, id)
		}
	}
}
