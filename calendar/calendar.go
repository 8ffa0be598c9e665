// Package calendar reads each user's calendar free/busy feed (an iCalendar
// address such as Google's, Microsoft 365's or Nextcloud's "secret address
// in iCal format") in the background, tells the presence core when the
// user is busy, and answers colleagues' availability questions with busy
// blocks only: never titles, places or attendees.
//
// It reaches presence only through the Presence interface it declares;
// feeds live in a Store shared by the instances (Redis, or a bbolt file
// for a single process), and a Lease keeps instances from polling the
// same feed at once.
package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/presence"
)

// Sentinel errors.
var (
	// ErrNotFound means the user has no calendar.
	ErrNotFound = errors.New("no calendar")
	// ErrInvalid means a setting or query cannot be used.
	ErrInvalid = errors.New("invalid calendar input")
)

// Presence is what the calendar needs of the presence core:
// *presence.Service satisfies it.
type Presence interface {
	// SetCalendar replaces aor's coming busy time; nil clears it.
	SetCalendar(ctx context.Context, aor presence.AOR, busy []presence.Busy) error
}

// Lease is an exclusive, expiring claim on a key shared by the instances
// (lease.Redis satisfies it): the holder polls the feed.
type Lease interface {
	Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, key string) error
}

// Config tunes the poller. Zero fields take the defaults.
type Config struct {
	// Interval is how often a good feed is read again; default 5 min.
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the wait after failures, doubling
	// from one to the other; defaults 1 min and 1 h.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one request, body included; default 20 s.
	Timeout time.Duration
	// MaxBytes caps a feed's size; default 8 MiB.
	MaxBytes int64
	// Workers is how many feeds one instance reads at once; default 4.
	Workers int
	// Tick is how often due feeds are looked for; default 2 s.
	Tick time.Duration
	// Ahead and Behind bound the busy time kept for availability around
	// the poll; defaults 90 and 7 days.
	Ahead, Behind time.Duration
	// PresenceAhead is how much of it presence gets; default 36 h, so a
	// feed failing for a day still shows the meetings already read.
	PresenceAhead time.Duration
	// Location reads floating times of feeds that name no zone; default UTC.
	Location *time.Location
	// AllowPrivate lets feeds live on loopback, private and link-local
	// addresses (a Nextcloud on the LAN, tests). Off, such addresses are
	// refused, so a user cannot make Switchboard probe its own network.
	AllowPrivate bool
	// Lease, when set, shares the polling between instances.
	Lease Lease
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Interval, 5*time.Minute)
	def(&c.MinBackoff, time.Minute)
	def(&c.MaxBackoff, time.Hour)
	def(&c.Timeout, 20*time.Second)
	def(&c.Tick, 2*time.Second)
	def(&c.Ahead, 90*24*time.Hour)
	def(&c.Behind, 7*24*time.Hour)
	def(&c.PresenceAhead, 36*time.Hour)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 8 << 20
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
}

// Service owns the users' calendar feeds and polls them.
type Service struct {
	cfg      Config
	store    Store
	presence Presence
	log      zerolog.Logger
	now      func() time.Time
	fetcher  *fetcher
	kick     chan struct{} // wakes Run when a feed is added
}

// New returns a Service keeping feeds in store and telling p when users
// are busy.
func New(cfg Config, store Store, p Presence, log zerolog.Logger) *Service {
	cfg.setDefaults()
	return &Service{
		cfg: cfg, store: store, presence: p, log: log.With().Str("component", "calendar").Logger(),
		now: time.Now, fetcher: newFetcher(cfg), kick: make(chan struct{}, 1),
	}
}

// maxURLLen bounds a feed address.
const maxURLLen = 2048

// checkURL validates a feed address and returns it as stored: webcal
// links (what "subscribe" buttons give) are read over HTTPS.
func checkURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxURLLen {
		return "", fmt.Errorf("url must be 1 to %d bytes: %w", maxURLLen, ErrInvalid)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("url is not a URL: %w", ErrInvalid)
	}
	switch strings.ToLower(u.Scheme) {
	case "webcal", "webcals":
		u.Scheme = "https"
	case "http", "https":
		u.Scheme = strings.ToLower(u.Scheme)
	default:
		return "", fmt.Errorf("url must be http, https or webcal: %w", ErrInvalid)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("url has no host: %w", ErrInvalid)
	}
	return u.String(), nil
}

// Redact is a feed address fit for logs and administrators: scheme and
// host only, as the rest is the secret.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(hidden)"
	}
	return u.Scheme + "://" + u.Hostname() + "/…"
}

// Put sets aor's feed: a new address (nil keeps the current one, which
// must exist) and whether colleagues see its busy time (nil keeps it; a
// new feed shares by default). A new address is read at once.
func (s *Service) Put(ctx context.Context, aor presence.AOR, rawURL *string, share *bool) (Feed, error) {
	var addr string
	if rawURL != nil {
		var err error
		if addr, err = checkURL(*rawURL); err != nil {
			return Feed{}, err
		}
	}
	now := s.now()
	f, err := s.store.Update(ctx, aor, func(f *Feed, found bool) error {
		if !found {
			if rawURL == nil {
				return fmt.Errorf("url is required for a new calendar: %w", ErrInvalid)
			}
			*f = Feed{AOR: aor, Share: true, Created: now}
		}
		if rawURL != nil && addr != f.URL {
			f.URL = addr
			f.Poll = PollState{Next: now}
			f.Busy = nil
		}
		if share != nil {
			f.Share = *share
		}
		f.Gen++
		f.Updated = now
		return nil
	})
	if err != nil {
		return Feed{}, err
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return f, nil
}

// Get returns aor's feed, or ErrNotFound.
func (s *Service) Get(ctx context.Context, aor presence.AOR) (Feed, error) {
	return s.store.Get(ctx, aor)
}

// Delete removes aor's feed and the busy time it gave presence.
func (s *Service) Delete(ctx context.Context, aor presence.AOR) error {
	if err := s.store.Delete(ctx, aor); err != nil {
		return err
	}
	if err := s.presence.SetCalendar(ctx, aor, nil); err != nil {
		return fmt.Errorf("clear calendar presence of %s: %w", aor, err)
	}
	return nil
}

// MaxSpan is the longest availability query.
const MaxSpan = 62 * 24 * time.Hour

// Busy returns aor's feed and its busy blocks within [from, to), clipped.
// Callers decide who may see them (Feed.Share).
func (s *Service) Busy(ctx context.Context, aor presence.AOR, from, to time.Time) (Feed, []presence.Busy, error) {
	if !to.After(from) || to.Sub(from) > MaxSpan {
		return Feed{}, nil, fmt.Errorf("from must be before to, at most %d days apart: %w", int(MaxSpan.Hours()/24), ErrInvalid)
	}
	f, err := s.store.Get(ctx, aor)
	if err != nil {
		return Feed{}, nil, err
	}
	return f, within(f.Busy, from, to), nil
}

// within is the part of busy in [from, to).
func within(busy []presence.Busy, from, to time.Time) []presence.Busy {
	out := []presence.Busy{}
	for _, b := range busy {
		if !b.End.After(from) || !b.Start.Before(to) {
			continue
		}
		if b.Start.Before(from) {
			b.Start = from
		}
		if b.End.After(to) {
			b.End = to
		}
		out = append(out, b)
	}
	return slices.Clip(out)
}
