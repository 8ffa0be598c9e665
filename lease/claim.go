package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Claim errors.
var (
	// ErrHeld reports a key held by another owner that is alive: it renewed
	// its lease while [Take] watched.
	ErrHeld = errors.New("held by another live owner")
	// ErrLost reports a claim another owner took after ours lapsed.
	ErrLost = errors.New("claim lost to another owner")
)

// Claim is an exclusive lease on one key, held for a process's lifetime
// and renewed in the background every third of its TTL.
type Claim struct {
	l   *Redis
	key string
	ttl time.Duration
	log zerolog.Logger

	stopOnce sync.Once
	stop     chan struct{} // closed by Release
	done     chan struct{} // closed when the renewer has returned
	lost     chan struct{} // closed by the renewer when another owner took the key
}

// Take claims key for l's owner and starts renewing it. previous, when not
// empty, names an owner known to be dead (the crashed process this one
// replaces): its lease is taken over at once. Another owner's lease is
// waited for until it lapses, which a crashed holder's does within ttl;
// a holder seen renewing is alive, and Take returns [ErrHeld].
//
// The caller owns the renewer: it calls [Claim.Release] when done.
func Take(ctx context.Context, l *Redis, key string, ttl time.Duration, previous string, log zerolog.Logger) (*Claim, error) {
	poll := min(250*time.Millisecond, ttl/10)
	deadline := time.Now().Add(ttl + 4*poll)
	var seen string // holder watched
	var seenTTL time.Duration
	for {
		ok, err := l.Acquire(ctx, key, ttl)
		if err != nil {
			return nil, err
		}
		if !ok && previous != "" {
			if ok, err = l.Takeover(ctx, key, previous, ttl); err != nil {
				return nil, err
			}
		}
		if ok {
			c := &Claim{l: l, key: key, ttl: ttl, log: log, stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
			go c.renew()
			return c, nil
		}
		holder, left, err := l.Holder(ctx, key)
		if err != nil {
			return nil, err
		}
		switch {
		case holder == "":
			continue // lapsed between the two reads
		case holder == seen && left > seenTTL+poll/2:
			// The TTL went up: the holder renewed, so it is running.
			return nil, fmt.Errorf("claim %s: %w (%s)", key, ErrHeld, holder)
		case holder != seen:
			log.Warn().Str("key", key).Str("holder", holder).Dur("expires_in", left).
				Msg("claim held by another owner; waiting for it to lapse or be renewed")
		}
		seen, seenTTL = holder, left
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("claim %s: %w (%s, not lapsed within %s)", key, ErrHeld, holder, ttl)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("claim %s: %w", key, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Lost is closed when another owner took the key after our lease lapsed
// (Redis unreachable for longer than the TTL, and a second process under
// the same name started meanwhile).
func (c *Claim) Lost() <-chan struct{} { return c.lost }

// Release stops renewing, waits for the renewer to return and deletes the
// lease if it is still ours, so a successor need not wait for it to lapse.
// Later calls only retry the delete.
func (c *Claim) Release(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	return c.l.Release(ctx, c.key)
}

func (c *Claim) renew() {
	defer close(c.done)
	t := time.NewTicker(c.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.ttl/3)
		ok, err := c.l.Renew(ctx, c.key, c.ttl)
		if err == nil && !ok {
			// Lapsed (Redis was away or restarted empty): claim it
			// again unless someone else did.
			ok, err = c.l.Acquire(ctx, c.key, c.ttl)
			if ok {
				c.log.Warn().Str("key", c.key).Msg("claim had lapsed; claimed again")
			}
		}
		cancel()
		switch {
		case err != nil:
			// Keep trying: while Redis is away nobody else can claim it either.
			c.log.Warn().Err(err).Str("key", c.key).Msg("renew claim")
		case !ok:
			c.log.Error().Str("key", c.key).Msg("claim lost to another owner")
			close(c.lost)
			return
		}
	}
}
