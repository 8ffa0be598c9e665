package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Store keeps records. Implementations must make Update atomic per AOR, also
// across processes sharing the store.
type Store interface {
	// Update loads the record of aor (a zero Record when there is none), runs
	// fn on it and saves the result, all atomically. fn may run more than
	// once when a concurrent writer wins, so it must have no side effects.
	// An error from fn aborts the update and is returned as is.
	Update(ctx context.Context, aor AOR, fn func(*Record) error) (Record, error)
	// Get returns the record of aor, or ErrNotFound.
	Get(ctx context.Context, aor AOR) (Record, error)
	// Due returns the AORs whose Record.Next is at or before now.
	Due(ctx context.Context, now time.Time) ([]AOR, error)
}

// Config tunes the presence core.
type Config struct {
	// MaxRinging is how long a dialog may stay in setup before it is taken as
	// a lost "terminated".
	MaxRinging time.Duration
	// Tick is how often expiries are checked.
	Tick time.Duration
	// MaxBindings caps the contacts one AOR may register; 0 means no cap.
	MaxBindings int
}

func (c *Config) setDefaults() {
	if c.MaxRinging <= 0 {
		c.MaxRinging = 3 * time.Minute
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
}

// Service owns the presence state of every extension.
type Service struct {
	cfg   Config
	store Store
	log   zerolog.Logger
	now   func() time.Time

	mu       sync.RWMutex // guards watchers and callers
	watchers []func(Change)
	callers  CallerResolver
}

// CallerResolver decides how the remote party of a call on an extension
// appears in the extension's view, which every watcher of it shares
// (lamps, apps, events): named from the directory, so colleagues see who
// is calling rather than a bare number, and shown or hidden per the
// domain's policy. It returns the party to store and true, or false to
// keep remote as reported.
type CallerResolver interface {
	ResolveCaller(ctx context.Context, callee AOR, remote Party) (Party, bool)
}

// SetCallerResolver installs r; nil turns enrichment off.
func (s *Service) SetCallerResolver(r CallerResolver) {
	s.mu.Lock()
	s.callers = r
	s.mu.Unlock()
}

// enrich passes the remote party of every live dialog, in either
// direction, through the CallerResolver: a name a PBX or phone reported
// (perhaps from someone's personal book) must not reach colleagues as is.
// It runs before the store update: a lookup is a read and must not be
// retried with an optimistic transaction.
func (s *Service) enrich(ctx context.Context, aor AOR, b *PublishBody) {
	s.mu.RLock()
	r := s.callers
	s.mu.RUnlock()
	if r == nil || b == nil {
		return
	}
	for i := range b.Dialogs {
		d := &b.Dialogs[i]
		if d.State == DialogTerminated || d.Remote == (Party{}) {
			continue
		}
		if p, ok := r.ResolveCaller(ctx, aor, d.Remote); ok {
			d.Remote = p
		}
	}
}

// New returns a Service keeping its state in store.
func New(cfg Config, store Store, log zerolog.Logger) *Service {
	cfg.setDefaults()
	return &Service{cfg: cfg, store: store, log: log.With().Str("component", "presence").Logger(), now: time.Now}
}

// Watch registers fn to be called with every change, on the goroutine that
// made it. fn must not block: hand slow work to a worker.
func (s *Service) Watch(fn func(Change)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, fn)
	s.mu.Unlock()
}

// Deliver hands a change made elsewhere (another instance sharing the store)
// to this instance's watchers.
func (s *Service) Deliver(c Change) {
	s.mu.RLock()
	ws := s.watchers
	s.mu.RUnlock()
	for _, w := range ws {
		w(c)
	}
}

// Get returns the current view of aor; an extension never seen is offline.
func (s *Service) Get(ctx context.Context, aor AOR) (View, error) {
	rec, err := s.store.Get(ctx, aor)
	if errors.Is(err, ErrNotFound) {
		return Derive(&Record{AOR: aor}, s.now()), nil // never seen: version 0
	}
	if err != nil {
		return View{}, fmt.Errorf("get presence of %s: %w", aor, err)
	}
	return rec.View, nil
}

// Bindings returns the live bindings of aor.
func (s *Service) Bindings(ctx context.Context, aor AOR) ([]Binding, error) {
	rec, err := s.store.Get(ctx, aor)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get bindings of %s: %w", aor, err)
	}
	now := s.now()
	return slices.DeleteFunc(rec.Bindings, func(b Binding) bool { return !b.Expires.After(now) }), nil
}

// ContactUpdate is one Contact of a REGISTER.
type ContactUpdate struct {
	URI string
	// Expires is the binding's lifetime; zero removes it.
	Expires   time.Duration
	Q         float32
	Instance  string
	Source    string
	Transport string
	UserAgent string
}

// Registration is a REGISTER reduced to what the registrar decides on.
type Registration struct {
	CallID   string
	CSeq     uint32
	Contacts []ContactUpdate
	// RemoveAll is "Contact: *" with "Expires: 0" (RFC 3261 §10.2.2).
	RemoveAll bool
}

// Register applies a REGISTER to aor and returns the bindings that remain,
// following RFC 3261 §10.3 steps 6 to 8.
func (s *Service) Register(ctx context.Context, aor AOR, reg Registration) ([]Binding, error) {
	var bindings []Binding
	err := s.update(ctx, aor, func(r *Record, now time.Time) error {
		if reg.RemoveAll {
			for _, b := range r.Bindings {
				if b.CallID == reg.CallID && reg.CSeq <= b.CSeq {
					return fmt.Errorf("remove all bindings of %s with cseq %d: %w", aor, reg.CSeq, ErrOutOfOrder)
				}
			}
			r.Bindings = nil
		}
		for _, c := range reg.Contacts {
			nb := Binding{
				Contact: c.URI, Expires: now.Add(c.Expires), CallID: reg.CallID, CSeq: reg.CSeq,
				Q: c.Q, Instance: c.Instance, Source: c.Source, Transport: c.Transport,
				UserAgent: c.UserAgent, Updated: now,
			}
			i := slices.IndexFunc(r.Bindings, func(b Binding) bool { return b.key() == nb.key() })
			if i >= 0 {
				old := r.Bindings[i]
				if old.CallID == reg.CallID && reg.CSeq <= old.CSeq {
					return fmt.Errorf("update binding %s of %s with cseq %d: %w", c.URI, aor, reg.CSeq, ErrOutOfOrder)
				}
				if c.Expires <= 0 {
					r.Bindings = slices.Delete(r.Bindings, i, i+1)
				} else {
					r.Bindings[i] = nb
				}
				continue
			}
			if c.Expires <= 0 {
				continue
			}
			if s.cfg.MaxBindings > 0 && len(r.Bindings) >= s.cfg.MaxBindings {
				return fmt.Errorf("add binding %s to %s: %w", c.URI, aor, ErrTooManyBindings)
			}
			r.Bindings = append(r.Bindings, nb)
		}
		bindings = slices.Clone(r.Bindings)
		return nil
	})
	return bindings, err
}

// PublishBody is the state carried by a PUBLISH body.
type PublishBody struct {
	// DocVersion orders dialog-info documents of one publication; zero when
	// the format has none.
	DocVersion uint64
	// Partial is dialog-info state="partial": only the listed dialogs change.
	Partial bool
	Dialogs []Dialog
	// Status and Online come from PIDF; Status is nil when the document says
	// nothing about the user's status.
	Status *UserStatus
	Online bool
}

// Publish is one PUBLISH (RFC 3903 §6).
type Publish struct {
	Event Event
	// IfMatch is SIP-If-Match; empty for an initial publication.
	IfMatch string
	// Expires is the granted lifetime; zero removes the publication.
	Expires time.Duration
	// Body is nil for a refresh.
	Body *PublishBody
}

// PublishResult is what the compositor answers.
type PublishResult struct {
	ETag    string
	Expires time.Time
}

// Publish applies a publication to aor. Every successful publish gets a new
// entity-tag (RFC 3903 §6 step 8).
func (s *Service) Publish(ctx context.Context, aor AOR, p Publish) (PublishResult, error) {
	if p.IfMatch == "" && (p.Body == nil || p.Expires <= 0) {
		return PublishResult{}, fmt.Errorf("initial publication for %s needs a body and a lifetime: %w", aor, ErrInvalid)
	}
	s.enrich(ctx, aor, p.Body)
	etag := newETag()
	var res PublishResult
	err := s.update(ctx, aor, func(r *Record, now time.Time) error {
		i := -1
		if p.IfMatch != "" {
			i = slices.IndexFunc(r.Publications, func(x Publication) bool {
				return x.Event == p.Event && (x.ETag == p.IfMatch || (x.PrevETag == p.IfMatch && now.Before(x.PrevUntil)))
			})
			if i < 0 {
				return fmt.Errorf("publish %s for %s: %w", p.IfMatch, aor, ErrUnknownETag)
			}
		}
		if p.Expires <= 0 {
			r.retire(r.Publications[i])
			r.Publications = slices.Delete(r.Publications, i, i+1)
			res = PublishResult{}
			return nil
		}
		if i < 0 {
			r.Publications = append(r.Publications, Publication{Event: p.Event})
			i = len(r.Publications) - 1
		}
		pub := &r.Publications[i]
		if pub.ETag != "" {
			// The replaced tag stays good for what it was granted, and at
			// least prevETagGrace: Kamailio's pua pipelines PUBLISHes, so
			// the 200s of two sent on one tag can reach it in either order
			// and leave it holding the replaced one for its next refresh,
			// seconds later; a 412 there has it publish the call afresh.
			pub.PrevETag, pub.PrevUntil = pub.ETag, now.Add(prevETagGrace)
			if pub.Expires.After(pub.PrevUntil) {
				pub.PrevUntil = pub.Expires
			}
		}
		pub.ETag, pub.Expires = etag, now.Add(p.Expires)
		if p.Body != nil {
			applyBody(r, i, *p.Body, now)
		}
		res = PublishResult{ETag: etag, Expires: r.Publications[i].Expires}
		return nil
	})
	if err != nil {
		return PublishResult{}, err
	}
	return res, nil
}

// applyBody merges a publication body into publication i of r.
func applyBody(r *Record, i int, b PublishBody, now time.Time) {
	pub := &r.Publications[i]
	if b.DocVersion != 0 && pub.DocVersion != 0 && b.DocVersion <= pub.DocVersion {
		return // stale or repeated document: keep what we have
	}
	pub.DocVersion, pub.Updated = b.DocVersion, now
	pub.Online = b.Online
	if b.Status != nil {
		st := *b.Status
		if st.Since.IsZero() {
			st.Since = now
		}
		pub.Status = &st
	} else if pub.Event == EventPresence {
		r.retire(*pub)
		pub.Status = nil
	}
	if pub.Event != EventDialog {
		return
	}
	old := pub.Dialogs
	if !b.Partial {
		pub.Dialogs = nil
	}
	for _, d := range b.Dialogs {
		key := d.Key()
		if d.State == DialogTerminated {
			r.bury(key, now)
			for j := range r.Publications {
				r.Publications[j].Dialogs = slices.DeleteFunc(r.Publications[j].Dialogs, func(x Dialog) bool { return x.Key() == key })
			}
			continue
		}
		if r.tombstoned(key) {
			continue // a late report of a call that has already ended
		}
		d.Updated = now
		if j := slices.IndexFunc(old, func(x Dialog) bool { return x.Key() == key }); j >= 0 {
			keepKnown(&d, old[j])
		} else {
			d.Started = now
		}
		pub = &r.Publications[i]
		if j := slices.IndexFunc(pub.Dialogs, func(x Dialog) bool { return x.Key() == key }); j >= 0 {
			pub.Dialogs[j] = d
		} else {
			pub.Dialogs = append(pub.Dialogs, d)
		}
	}
}

// keepKnown carries over what an earlier report of the same dialog said and
// a later one left out: many PBXs name the caller only while it rings, and
// directed pickup needs the tags.
func keepKnown(d *Dialog, old Dialog) {
	d.Started = old.Started
	if stateOrder(d.State) < stateOrder(old.State) {
		d.State = old.State // a late "early" after "confirmed": states only move forward
	}
	if d.Remote.URI == "" {
		d.Remote.URI = old.Remote.URI
	}
	if d.Remote.Display == "" {
		d.Remote.Display = old.Remote.Display
	}
	if d.Remote.ContactID == "" {
		d.Remote.ContactID = old.Remote.ContactID
	}
	if d.Local.URI == "" {
		d.Local = old.Local
	}
	if d.CallID == "" {
		d.CallID = old.CallID
	}
	if d.LocalTag == "" {
		d.LocalTag = old.LocalTag
	}
	if d.RemoteTag == "" {
		d.RemoteTag = old.RemoteTag
	}
	if d.Direction == DirectionNone {
		d.Direction = old.Direction
	}
}

// SetStatus sets the status a user chose, as the API does. A zero Since is
// now.
func (s *Service) SetStatus(ctx context.Context, aor AOR, st UserStatus) (View, error) {
	if !st.Status.Valid() {
		return View{}, fmt.Errorf("set status %q of %s: %w", st.Status, aor, ErrInvalid)
	}
	var v View
	err := s.update(ctx, aor, func(r *Record, now time.Time) error {
		if st.Since.IsZero() {
			st.Since = now
		}
		r.Status = &st
		return nil
	})
	if err != nil {
		return View{}, err
	}
	v, err = s.Get(ctx, aor)
	return v, err
}

// Refresh re-derives aor's view, applying whatever has expired.
func (s *Service) Refresh(ctx context.Context, aor AOR) error {
	return s.update(ctx, aor, func(*Record, time.Time) error { return nil })
}

// Run expires bindings, publications and stale dialogs until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		due, err := s.store.Due(ctx, s.now())
		if err != nil {
			s.log.Warn().Err(err).Msg("list due extensions")
			continue
		}
		for _, aor := range due {
			if err := s.Refresh(ctx, aor); err != nil {
				s.log.Warn().Err(err).Str("aor", aor.String()).Msg("expire extension state")
			}
		}
	}
}

// update runs fn on aor's record inside a store update, re-derives the view,
// advances its version when it changed and tells the watchers.
func (s *Service) update(ctx context.Context, aor AOR, fn func(*Record, time.Time) error) error {
	var change *Change
	_, err := s.store.Update(ctx, aor, func(r *Record) error {
		change = nil
		now := s.now()
		r.AOR = aor
		r.prune(now, s.cfg.MaxRinging)
		if err := fn(r, now); err != nil {
			return err
		}
		prev := r.View
		v := Derive(r, now)
		v.Version, v.Since = prev.Version, prev.Since
		if prev.Version == 0 || !sameView(v, prev) {
			v.Version++
			if v.Line != prev.Line || v.Status != prev.Status || v.Since.IsZero() {
				v.Since = now
			}
			change = &Change{View: v, Prev: prev}
		}
		r.View = v
		r.Next = earliest(r.Deadline(s.cfg.MaxRinging), r.calendarDeadline(now))
		return nil
	})
	if err != nil {
		return err
	}
	if change != nil {
		s.Deliver(*change)
	}
	return nil
}

func newETag() string {
	var b [9]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
