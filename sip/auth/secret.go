package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// SecretStore is a store every instance shares, such as Redis behind a
// small adapter. SharedSecret keeps one nonce secret per rotation period
// in it.
type SecretStore interface {
	// GetOrSet stores value under key, to expire after ttl, unless key
	// already exists, and returns what key holds afterwards: value when
	// it was absent, the existing value otherwise (Redis SET NX, GET).
	GetOrSet(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error)
}

// DefaultRotation is how long one shared nonce secret is used to issue
// nonces.
const DefaultRotation = time.Hour

// minSecretLen is the shortest secret accepted from a store or a flag.
const minSecretLen = 16

// ErrShortSecret means a nonce secret is too short to key an HMAC safely.
var ErrShortSecret = fmt.Errorf("nonce secret shorter than %d bytes", minSecretLen)

// SharedSecret is a keyring whose secrets live in a SecretStore, so that a
// nonce issued by one instance validates on every other one behind the
// same dispatcher. There is one secret per rotation period, created by
// whichever instance asks first (SET NX) and read by the others; it
// expires from the store three periods later, so a secret that leaked
// stops working.
//
// A nonce carries its issue time, so the verifier takes that period's
// secret directly. The previous period's secret is kept, so a nonce
// issued just before a rotation stays valid for its whole lifetime
// (the period must be at least the nonce lifetime); the next period's is
// fetched ahead, so instances agree at the boundary although their
// refreshes are not simultaneous.
//
// When the store cannot be reached, the instance uses a secret of its own
// for the periods it lacks: its nonces then validate on itself only, and
// the next refresh that reaches the store adopts the shared secret.
type SharedSecret struct {
	store  SecretStore
	prefix string
	period time.Duration
	log    zerolog.Logger
	now    func() time.Time // replaced in tests

	refreshMu sync.Mutex // serializes refresh; readers use keys only
	keys      atomic.Pointer[periodKeys]
}

// periodKeys is an immutable snapshot: the key of each period held.
type periodKeys map[int64]periodKey

type periodKey struct {
	k      *macKey
	shared bool // from the store; false for a local fallback
}

// NewSharedSecret returns a SharedSecret keeping its secrets in store
// under prefix followed by the period number. A period below 1 means
// DefaultRotation. It starts with local secrets; call Refresh (at start)
// and Run to share them.
func NewSharedSecret(store SecretStore, prefix string, period time.Duration, log zerolog.Logger) *SharedSecret {
	if period <= 0 {
		period = DefaultRotation
	}
	s := &SharedSecret{store: store, prefix: prefix, period: period, log: log, now: time.Now}
	e := s.periodOf(s.now())
	s.keys.Store(&periodKeys{e: {k: randomKey()}, e + 1: {k: randomKey()}})
	return s
}

func (s *SharedSecret) periodOf(t time.Time) int64 {
	return t.UnixNano() / int64(s.period)
}

// key implements keyring.
func (s *SharedSecret) key(issued time.Time) *macKey {
	return (*s.keys.Load())[s.periodOf(issued)].k
}

// Refresh makes sure the previous, current and next periods' secrets are
// the shared ones, creating those the store lacks. On error the periods it
// could not fetch keep (or get) a local secret, and the error says which.
func (s *SharedSecret) Refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	e := s.periodOf(s.now())
	old := *s.keys.Load()
	next := make(periodKeys, 3)
	var errs []error
	for p := e - 1; p <= e+1; p++ {
		if k, ok := old[p]; ok && k.shared {
			next[p] = k
			continue
		}
		fresh := make([]byte, 32)
		randomBytes(fresh)
		// Three periods: from being fetched ahead until the end of the
		// period after it, when its nonces have all expired.
		got, err := s.store.GetOrSet(ctx, s.prefix+strconv.FormatInt(p, 10), fresh, 3*s.period)
		if err == nil && len(got) < minSecretLen {
			err = ErrShortSecret
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("nonce secret of period %d: %w", p, err))
			if k, ok := old[p]; ok {
				next[p] = k
			} else if p >= e {
				next[p] = periodKey{k: randomKey()}
			}
			continue
		}
		next[p] = periodKey{k: newMACKey(got), shared: true}
	}
	s.keys.Store(&next)
	return errors.Join(errs...)
}

// Run refreshes the secrets until ctx ends, often enough that the next
// period's secret is always fetched well before it begins. Failures are
// logged and retried at the next tick; Run returns nil when ctx ends.
func (s *SharedSecret) Run(ctx context.Context) error {
	every := min(max(s.period/8, time.Second), 5*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, min(every, 10*time.Second))
		if err := s.Refresh(rctx); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("refresh shared sip nonce secret; nonces of this instance may be refused by others until it succeeds")
		}
		cancel()
	}
}

var _ keyring = (*SharedSecret)(nil)
