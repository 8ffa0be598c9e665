package calls

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
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

func (s *Service) work(ctx context.Context, j job) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
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

// leg is what is known of one live call leg, shared by instances.
type leg struct {
	CallID   string    `json:"call_id,omitempty"`
	URI      string    `json:"uri,omitempty"` // as reported, before enrichment
	Event    string    `json:"event,omitempty"`
	Code     int       `json:"code,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Answered time.Time `json:"answered,omitzero"`
	Ended    bool      `json:"ended,omitempty"`
	// EndedAt tells a late or repeated report of the ended leg (another
	// instance's, a retransmission) from a new call reusing its dialog
	// id, which can only start after it.
	EndedAt time.Time `json:"ended_at,omitzero"`
}

func legKey(aor presence.AOR, key string) string { return "leg:" + aor.String() + ":" + key }

func userKey(user string) string  { return "user:" + user }
func blockKey(user string) string { return "block:" + user }
func callKey(domain, callID string) string {
	return "call:" + domain + ":" + callID
}

// updateJSON runs fn on the decoded document at key.
func updateJSON[T any](ctx context.Context, st Store, key string, ttl time.Duration, fn func(*T) error) error {
	return st.Update(ctx, key, ttl, func(old []byte) ([]byte, error) {
		var v T
		if old != nil {
			if err := json.Unmarshal(old, &v); err != nil {
				return nil, fmt.Errorf("decode %s: %w", key, err)
			}
		}
		if err := fn(&v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
}

func getJSON[T any](ctx context.Context, st Store, key string) (T, error) {
	var v T
	b, err := st.Get(ctx, key)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, nil
}

// report folds one raw dialog report into its leg: the first number
// reported wins, and a terminated report says why (RFC 4235 §4.1 event
// and code).
func (s *Service) report(ctx context.Context, at time.Time, aor presence.AOR, d presence.Dialog) error {
	return updateJSON(ctx, s.store, legKey(aor, d.Key()), s.cfg.LegTTL, func(l *leg) error {
		if l.Ended {
			if d.State == presence.DialogTerminated || !at.After(l.EndedAt) {
				return errKeep // a repeated or late report of the ended leg
			}
			*l = leg{} // the key is reused by a new call
		}
		changed := false
		set := func(dst *string, v string) {
			if *dst == "" && v != "" {
				*dst, changed = v, true
			}
		}
		set(&l.CallID, d.CallID)
		set(&l.URI, d.Remote.URI)
		if d.State == presence.DialogTerminated {
			l.Event, l.Code, changed = d.Event, d.Code, true
		}
		if !changed {
			return errKeep
		}
		return nil
	})
}

func direction(d presence.Dialog) Direction {
	if d.Direction == presence.DirectionInitiator {
		return Outgoing
	}
	return Incoming
}

// step applies one transition.
func (s *Service) step(ctx context.Context, at time.Time, t Transition) error {
	d := t.Dialog
	key := legKey(t.AOR, d.Key())
	switch t.Step {
	case StepStart:
		first := false
		var l leg
		err := updateJSON(ctx, s.store, key, s.cfg.LegTTL, func(x *leg) error {
			first = false
			if x.Ended {
				if !d.Started.After(x.EndedAt) {
					return errKeep // another instance's view of the ended leg
				}
				*x = leg{}
			}
			first = x.Started.IsZero()
			if first {
				x.Started = d.Started
			}
			if x.CallID == "" {
				x.CallID = d.CallID
			}
			if x.URI == "" {
				x.URI = d.Remote.URI
			}
			l = *x
			return nil
		})
		if err != nil || !first {
			return err
		}
		c := s.draft(ctx, t.AOR, d, l)
		s.emit(Event{Type: EventStarted, Call: c, Shared: d.Remote})
		return nil

	case StepAnswer:
		first := false
		var l leg
		err := updateJSON(ctx, s.store, key, s.cfg.LegTTL, func(x *leg) error {
			first = x.Answered.IsZero() && !x.Ended
			if !first {
				return errKeep
			}
			x.Answered = at
			if x.Started.IsZero() {
				x.Started = d.Started
			}
			if x.CallID == "" {
				x.CallID = d.CallID
			}
			l = *x
			return nil
		})
		if err != nil || !first || l.CallID == "" || direction(d) != Incoming {
			return err
		}
		return s.answeredHere(ctx, t.AOR, l.CallID)

	case StepEnd:
		var l leg
		first := false
		err := updateJSON(ctx, s.store, key, time.Hour, func(x *leg) error {
			first = false
			if x.Ended {
				return errKeep
			}
			first = true
			x.Ended, x.EndedAt = true, at
			if x.Started.IsZero() {
				x.Started = d.Started
			}
			l = *x
			return nil
		})
		if err != nil || !first {
			return err
		}
		return s.finish(ctx, at, t.AOR, d, l)
	}
	return nil
}

// draft is the call record as known while the leg is live.
func (s *Service) draft(ctx context.Context, aor presence.AOR, d presence.Dialog, l leg) Call {
	uri := l.URI
	if uri == "" {
		uri = d.Remote.URI
	}
	started := l.Started
	if started.IsZero() {
		started = d.Started
	}
	c := Call{
		ID: callRecordID(aor, d.Key(), started), User: aor.String(), Direction: direction(d),
		Number: NumberOf(uri), URI: uri, Started: started.UTC(), CallID: l.CallID,
	}
	c.Name = d.Remote.Display // what colleagues see, so the user may too
	if s.names != nil && c.Number != "" {
		if name, id, ok := s.names.NameFor(ctx, uri, c.User); ok && name != "" {
			c.Name, c.ContactID = name, id
		}
	}
	return c
}

// finish writes the record of an ended leg, once.
func (s *Service) finish(ctx context.Context, at time.Time, aor presence.AOR, d presence.Dialog, l leg) error {
	c := s.draft(ctx, aor, d, l)
	c.Ended = at.UTC()
	if !l.Answered.IsZero() {
		c.Answered = l.Answered.UTC()
		c.Duration = int(c.Ended.Sub(c.Answered).Seconds())
		c.Outcome, c.TakenBy = Answered, aor.User
	}
	if c.Outcome == "" {
		c.Outcome = unansweredOutcome(c.Direction, l.Event, l.Code)
	}
	written, err := s.insert(ctx, c)
	if err != nil || !written {
		return err
	}
	if c.Outcome == Missed && c.CallID != "" {
		// Written first, then registered with the call: whichever of this
		// and the answering leg comes second turns it into answered
		// elsewhere (see answeredHere).
		var by string
		err := updateJSON(ctx, s.store, callKey(aor.Domain, c.CallID), s.cfg.LegTTL, func(cd *callDoc) error {
			by = cd.AnsweredBy
			if by != "" && by != aor.User {
				return errKeep
			}
			if !slices.Contains(cd.Missed, c.User+" "+c.ID) {
				cd.Missed = append(cd.Missed, c.User+" "+c.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if by != "" && by != aor.User {
			if err := s.patchElsewhere(ctx, c.User, c.ID, by); err != nil {
				return err
			}
			c.Outcome, c.TakenBy = AnsweredElsewhere, by
		}
	}
	s.emit(Event{Type: EventEnded, Call: c, Shared: d.Remote})
	return nil
}

// unansweredOutcome classifies a leg that was never answered here.
func unansweredOutcome(dir Direction, event string, code int) Outcome {
	if dir == Outgoing {
		return Unanswered
	}
	switch {
	case strings.EqualFold(event, "replaced"):
		return AnsweredElsewhere // directed pickup with Replaces
	case strings.EqualFold(event, "rejected"), code == 486, code == 600, code == 603:
		return Rejected
	}
	return Missed
}

// callDoc correlates the legs of one call (one Call-ID, as a forking PBX
// keeps it) across a domain's extensions.
type callDoc struct {
	AnsweredBy string   `json:"answered_by,omitempty"`
	Missed     []string `json:"missed,omitempty"` // "user id" of legs recorded as missed
}

// answeredHere records that ext took call callID and turns the legs
// already recorded as missed on other extensions into answered elsewhere.
func (s *Service) answeredHere(ctx context.Context, aor presence.AOR, callID string) error {
	var missed []string
	err := updateJSON(ctx, s.store, callKey(aor.Domain, callID), s.cfg.LegTTL, func(cd *callDoc) error {
		if cd.AnsweredBy != "" {
			return errKeep
		}
		cd.AnsweredBy = aor.User
		missed = slices.Clone(cd.Missed)
		cd.Missed = nil
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range missed {
		user, id, _ := strings.Cut(m, " ")
		if user == aor.String() {
			continue
		}
		if err := s.patchElsewhere(ctx, user, id, aor.User); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) patchElsewhere(ctx context.Context, user, id, by string) error {
	return updateJSON(ctx, s.store, userKey(user), s.cfg.Retention, func(b *book) error {
		i := slices.IndexFunc(b.Calls, func(c Call) bool { return c.ID == id })
		if i < 0 || b.Calls[i].Outcome != Missed {
			return errKeep
		}
		b.Calls[i].Outcome, b.Calls[i].TakenBy = AnsweredElsewhere, by
		return nil
	})
}

func (s *Service) emit(ev Event) {
	s.mu.RLock()
	fn := s.onEvent
	s.mu.RUnlock()
	if fn != nil {
		fn(ev)
	}
}

// book is a user's history: calls newest first, and when they last read it.
type book struct {
	Calls  []Call    `json:"calls"`
	ReadAt time.Time `json:"read_at,omitzero"`
}

func before(a, b Call) bool { // a is newer than b
	if !a.Started.Equal(b.Started) {
		return a.Started.After(b.Started)
	}
	return a.ID > b.ID
}

// insert adds c to its user's book unless a record with its ID is there:
// several instances may finish the same leg, one record results.
func (s *Service) insert(ctx context.Context, c Call) (bool, error) {
	written := false
	err := updateJSON(ctx, s.store, userKey(c.User), s.cfg.Retention, func(b *book) error {
		written = false
		if slices.ContainsFunc(b.Calls, func(x Call) bool { return x.ID == c.ID }) {
			return errKeep
		}
		i, _ := slices.BinarySearchFunc(b.Calls, c, func(x, t Call) int {
			if before(x, t) {
				return -1
			}
			return 1
		})
		b.Calls = slices.Insert(b.Calls, i, c)
		s.trim(b)
		written = slices.ContainsFunc(b.Calls, func(x Call) bool { return x.ID == c.ID })
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record call %s of %s: %w", c.ID, c.User, err)
	}
	return written, nil
}

// trim applies retention: at most MaxPerUser calls, none older than
// Retention.
func (s *Service) trim(b *book) {
	cut := s.now().Add(-s.cfg.Retention)
	b.Calls = slices.DeleteFunc(b.Calls, func(c Call) bool { return c.Started.Before(cut) })
	if len(b.Calls) > s.cfg.MaxPerUser {
		b.Calls = b.Calls[:s.cfg.MaxPerUser]
	}
}

func (s *Service) book(ctx context.Context, user string) (book, error) {
	b, err := getJSON[book](ctx, s.store, userKey(user))
	if errors.Is(err, ErrNotFound) {
		return book{}, nil
	}
	if err != nil {
		return book{}, fmt.Errorf("read calls of %s: %w", user, err)
	}
	s.trim(&b)
	return b, nil
}

// Query selects a page of a user's calls.
type Query struct {
	// Cursor continues after the last call of a previous page.
	Cursor string
	// Limit is the page size (1 to 200; 0 means 50).
	Limit int
	// Missed keeps only missed calls.
	Missed bool
}

// Page is one page of calls, newest first.
type Page struct {
	Calls []Call
	// Next is the cursor of the next page; empty on the last.
	Next string
}

// List returns user's calls, newest first.
func (s *Service) List(ctx context.Context, user string, q Query) (Page, error) {
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 0 || q.Limit > 200 {
		return Page{}, fmt.Errorf("limit %d: want 1 to 200: %w", q.Limit, ErrInvalid)
	}
	var after *Call
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}
	b, err := s.book(ctx, user)
	if err != nil {
		return Page{}, err
	}
	var p Page
	for _, c := range b.Calls {
		if after != nil && !before(*after, c) {
			continue
		}
		if q.Missed && c.Outcome != Missed {
			continue
		}
		if len(p.Calls) == q.Limit {
			last := p.Calls[len(p.Calls)-1]
			p.Next = encodeCursor(last)
			break
		}
		p.Calls = append(p.Calls, c)
	}
	return p, nil
}

func encodeCursor(c Call) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Started.UnixNano(), 10) + " " + c.ID))
}

func decodeCursor(s string) (Call, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		ts, id, ok := strings.Cut(string(b), " ")
		if n, perr := strconv.ParseInt(ts, 10, 64); ok && perr == nil {
			return Call{ID: id, Started: time.Unix(0, n)}, nil
		}
	}
	return Call{}, fmt.Errorf("cursor %q: %w", s, ErrInvalid)
}

// Get returns one call of user.
func (s *Service) Get(ctx context.Context, user, id string) (Call, error) {
	b, err := s.book(ctx, user)
	if err != nil {
		return Call{}, err
	}
	for _, c := range b.Calls {
		if c.ID == id {
			return c, nil
		}
	}
	return Call{}, fmt.Errorf("call %s of %s: %w", id, user, ErrNotFound)
}

// Delete removes one call from user's history.
func (s *Service) Delete(ctx context.Context, user, id string) error {
	found := false
	err := updateJSON(ctx, s.store, userKey(user), s.cfg.Retention, func(b *book) error {
		n := len(b.Calls)
		b.Calls = slices.DeleteFunc(b.Calls, func(c Call) bool { return c.ID == id })
		found = len(b.Calls) < n
		if !found {
			return errKeep
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete call %s of %s: %w", id, user, err)
	}
	if !found {
		return fmt.Errorf("call %s of %s: %w", id, user, ErrNotFound)
	}
	return nil
}

// Missed counts user's missed calls that ended after they last read
// their history, and returns when that was.
func (s *Service) Missed(ctx context.Context, user string) (int, time.Time, error) {
	b, err := s.book(ctx, user)
	if err != nil {
		return 0, time.Time{}, err
	}
	n := 0
	for _, c := range b.Calls {
		if c.Outcome == Missed && c.Ended.After(b.ReadAt) {
			n++
		}
	}
	return n, b.ReadAt, nil
}

// MarkRead marks every call of user as read now.
func (s *Service) MarkRead(ctx context.Context, user string) error {
	now := s.now().UTC()
	err := updateJSON(ctx, s.store, userKey(user), s.cfg.Retention, func(b *book) error {
		b.ReadAt = now
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark calls of %s read: %w", user, err)
	}
	return nil
}

// LastIncoming returns user's most recent incoming call.
func (s *Service) LastIncoming(ctx context.Context, user string) (Call, error) {
	b, err := s.book(ctx, user)
	if err != nil {
		return Call{}, err
	}
	for _, c := range b.Calls {
		if c.Direction == Incoming && c.Number != "" {
			return c, nil
		}
	}
	return Call{}, fmt.Errorf("last caller of %s: %w", user, ErrNotFound)
}

// DeleteUser removes everything kept for user: history and block list.
// Live legs expire by themselves.
func (s *Service) DeleteUser(ctx context.Context, user string) error {
	if err := s.store.Delete(ctx, userKey(user), blockKey(user)); err != nil {
		return fmt.Errorf("delete call history of %s: %w", user, err)
	}
	return nil
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

// callRecordID names the record of one leg: the same leg (extension,
// dialog, start) gets the same ID on every instance.
func callRecordID(aor presence.AOR, key string, started time.Time) string {
	h := sha256.Sum256([]byte(aor.String() + "\x00" + key + "\x00" + strconv.FormatInt(started.UnixNano(), 10)))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:10]))
}

// NumberOf is the user part of a SIP or tel URI ("sip:+334…@host;…").
func NumberOf(uri string) string {
	s := strings.TrimSpace(uri)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	for _, scheme := range [...]string{"sips:", "sip:", "tel:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			break
		}
	}
	if i := strings.IndexAny(s, "@;?"); i >= 0 {
		s = s[:i]
	}
	return s
}
