package calls

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/directory/phone"
	"github.com/switchboardhq/switchboard/presence"
)

// Sentinel errors.
var (
	// ErrNotFound means no such call (or block-list entry) of the user.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the caller passed a value the service cannot take.
	ErrInvalid = errors.New("invalid call input")
	// ErrFull means a block list is at MaxBlocked.
	ErrFull = errors.New("block list full")
)

// Direction is who placed a call, seen from the user.
type Direction string

// Directions.
const (
	Incoming Direction = "incoming"
	Outgoing Direction = "outgoing"
)

// Outcome is how a call ended for the user.
type Outcome string

// Outcomes.
const (
	// Answered: the user's extension took the call.
	Answered Outcome = "answered"
	// Missed: an incoming call rang and nobody took it.
	Missed Outcome = "missed"
	// Rejected: the user declined the incoming call (busy, decline).
	Rejected Outcome = "rejected"
	// AnsweredElsewhere: another extension took the call (a ring group,
	// a pickup); TakenBy names it when known.
	AnsweredElsewhere Outcome = "answered_elsewhere"
	// Unanswered: an outgoing call the other side never answered.
	Unanswered Outcome = "unanswered"
)

// Call is one finished call in a user's history.
type Call struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Direction Direction `json:"direction"`
	// Number is the other party as reported (user part of its URI).
	Number string `json:"number"`
	URI    string `json:"uri,omitempty"`
	// Name is the other party as this user may see it: their personal
	// contacts first, then company and team, else what colleagues see.
	Name      string    `json:"name,omitempty"`
	ContactID string    `json:"contact_id,omitempty"`
	Started   time.Time `json:"started"`
	Answered  time.Time `json:"answered,omitzero"`
	Ended     time.Time `json:"ended"`
	// Duration is answered to ended, in whole seconds.
	Duration int     `json:"duration"`
	Outcome  Outcome `json:"outcome"`
	// TakenBy is the extension that answered ("201"), when one did.
	TakenBy string `json:"taken_by,omitempty"`
	CallID  string `json:"call_id,omitempty"`
}

// EventType says whether a call started or ended.
type EventType string

// Event types.
const (
	EventStarted EventType = "started"
	EventEnded   EventType = "ended"
)

// Event reports a call of a user starting or ending. For a start, Call
// holds what is known so far (no Ended, no Outcome). Shared is the other
// party as colleagues may see it (the presence view's party): what may
// leave the user's own API, such as on NATS.
type Event struct {
	Type   EventType
	Call   Call
	Shared presence.Party
}

// Namer names a number as user may see it (personal contacts first);
// the caller-ID lookup implements it through an adapter.
type Namer interface {
	NameFor(ctx context.Context, number, user string) (name, contactID string, ok bool)
}

// Config tunes the Service; zero values take the defaults.
type Config struct {
	// MaxPerUser is how many calls a user's history keeps (default 500).
	MaxPerUser int
	// Retention is how long a call is kept (default 90 days).
	Retention time.Duration
	// MaxBlocked bounds a user's block list (default 1000).
	MaxBlocked int
	// DefaultRegion and DomainRegions read numbers, as caller ID does.
	DefaultRegion string
	DomainRegions map[string]string
	// Workers and Queue size the derivation workers (default 4 × 1024).
	Workers, Queue int
	// LegTTL is how long the facts of a live leg are kept (default 24 h).
	LegTTL time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxPerUser <= 0 {
		c.MaxPerUser = 500
	}
	if c.Retention <= 0 {
		c.Retention = 90 * 24 * time.Hour
	}
	if c.MaxBlocked <= 0 {
		c.MaxBlocked = 1000
	}
	if c.DefaultRegion == "" {
		c.DefaultRegion = "US"
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Queue <= 0 {
		c.Queue = 1024
	}
	if c.LegTTL <= 0 {
		c.LegTTL = 24 * time.Hour
	}
}

// job is one unit of derivation work: a raw report or a transition.
type job struct {
	at     time.Time
	aor    presence.AOR
	raw    []presence.Dialog // raw dialog reports, before caller enrichment
	trans  *Transition
	forget bool // the user was deleted
}

// Service derives per-user call history from dialog events and serves
// it. Work arrives from the presence core's goroutines (Changed,
// Reported) and is done by Run's workers, one shard per extension so a
// leg's steps keep their order.
type Service struct {
	cfg   Config
	store Store
	names Namer
	log   zerolog.Logger
	norm  map[string]*phone.Normalizer // by region
	now   func() time.Time
	queue []chan job

	dropped atomic.Uint64

	normMu    sync.Mutex        // guards normCache
	normCache map[string]string // "region number" → block-list key, "" when invalid

	mu      sync.RWMutex // guards onEvent
	onEvent func(Event)
}

// New returns a Service keeping its documents in store; names may be nil.
func New(cfg Config, store Store, names Namer, log zerolog.Logger) (*Service, error) {
	cfg.setDefaults()
	s := &Service{cfg: cfg, store: store, names: names, log: log.With().Str("component", "calls").Logger(),
		norm: map[string]*phone.Normalizer{}, normCache: map[string]string{}, now: time.Now}
	regions := []string{cfg.DefaultRegion}
	for _, r := range cfg.DomainRegions {
		regions = append(regions, r)
	}
	for _, r := range regions {
		if s.norm[r] != nil {
			continue
		}
		n, err := phone.NewNormalizer(phone.Config{DefaultRegion: r})
		if err != nil {
			return nil, fmt.Errorf("call history numbers: %w", err)
		}
		s.norm[r] = n
	}
	s.queue = make([]chan job, cfg.Workers)
	for i := range s.queue {
		s.queue[i] = make(chan job, cfg.Queue)
	}
	return s, nil
}

// OnEvent sets the observer of call starts and ends, called on a worker
// goroutine; fn must not block.
func (s *Service) OnEvent(fn func(Event)) {
	s.mu.Lock()
	s.onEvent = fn
	s.mu.Unlock()
}

// Dropped counts work refused because a worker queue was full.
func (s *Service) Dropped() uint64 { return s.dropped.Load() }

func (s *Service) enqueue(j job) {
	h := fnv.New32a()
	h.Write([]byte(j.aor.String()))
	select {
	case s.queue[h.Sum32()%uint32(len(s.queue))] <- j:
	default:
		if s.dropped.Add(1)%100 == 1 {
			s.log.Warn().Str("aor", j.aor.String()).Msg("call history queue full; dropping dialog work")
		}
	}
}

// Changed is a presence watcher: it derives the legs' steps from a local
// change and queues them. It never blocks.
func (s *Service) Changed(c presence.Change) {
	at := s.now()
	for _, t := range Transitions(c) {
		s.enqueue(job{at: at, aor: t.AOR, trans: &t})
	}
}

// Reported takes the dialogs of a PUBLISH or watched NOTIFY as reported,
// before the presence core names the remote party for colleagues (or
// hides it), so the user's own history keeps the number. Call it before
// handing the report to the core: the steps the core derives from it
// then queue behind it. It never blocks.
func (s *Service) Reported(aor presence.AOR, dialogs []presence.Dialog) {
	if len(dialogs) == 0 {
		return
	}
	s.enqueue(job{at: s.now(), aor: aor, raw: slices.Clone(dialogs)})
}

// Run works the queues until ctx ends, and sweeps an embedded store.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, q := range s.queue {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					s.drain(q)
					return
				case j := <-q:
					s.work(ctx, j)
				}
			}
		})
	}
	if sw, ok := s.store.(interface{ Sweep(context.Context) error }); ok {
		wg.Go(func() {
			t := time.NewTicker(time.Hour)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := sw.Sweep(ctx); err != nil {
						s.log.Warn().Err(err).Msg("sweep call store")
					}
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// drainTimeout bounds how long queued work is taken up on shutdown (each
// job has its own 5 s bound): calls that ended just before it are still
// recorded, a dead store does not hold the exit for long.
const drainTimeout = 2 * time.Second

// drain does the work queued in q when Run ends, taking no new job after
// drainTimeout.
func (s *Service) drain(q chan job) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for ctx.Err() == nil {
		select {
		case j := <-q:
			s.work(ctx, j)
		default:
			return
		}
	}
}

func (s *Service) work(ctx context.Context, j job) {
	// A job taken is finished even when shutdown begins meanwhile; each is
	// bounded by its own timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var err error
	switch {
	case j.forget:
		err = s.DeleteUser(ctx, j.aor.String())
	case j.trans != nil:
		err = s.step(ctx, j.at, *j.trans)
	default:
		for _, d := range j.raw {
			if err = s.report(ctx, j.at, j.aor, d); err != nil {
				break
			}
		}
	}
	if err != nil {
		s.log.Warn().Err(err).Str("aor", j.aor.String()).Msg("record call")
	}
}

// Forget queues the deletion of everything kept for user (ext@domain),
// for a directory observer that must not block. Work for the user queued
// before it is done first.
func (s *Service) Forget(user string) {
	aor, err := presence.ParseAOR(user)
	if err != nil {
		return
	}
	s.enqueue(job{at: s.now(), aor: aor, forget: true})
}
