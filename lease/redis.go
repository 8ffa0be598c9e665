// Package lease hands out time-limited exclusive claims on keys in Redis:
// the PBX watches split between instances (a [Redis] is a watcher.Lease)
// and the claim on an instance id that keeps two processes from running
// under one name ([Claim]).
package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is one owner's view of leases kept as Redis keys under a prefix:
// a lease is the key holding the owner's name, with a TTL (SET NX PX).
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	owner  string
}

// NewRedis returns the leases that owner takes on rdb, with keys under prefix.
func NewRedis(rdb redis.UniversalClient, prefix, owner string) *Redis {
	return &Redis{rdb: rdb, prefix: prefix, owner: owner}
}

// Owner returns the name this Redis claims leases under.
func (l *Redis) Owner() string { return l.owner }

// Every script acts only on a lease the given owner holds, so a holder
// whose lease lapsed and was taken never touches the new holder's.
var (
	renewScript   = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)
	// takeoverScript moves a lease from a holder known to be dead to us.
	takeoverScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3]) return 1 else return 0 end`)
)

// Acquire claims key for ttl and reports whether this owner now holds it.
// A lease the owner already holds (after a restart under the same name) is
// renewed.
func (l *Redis) Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.prefix+key, l.owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", key, err)
	}
	if ok {
		return true, nil
	}
	return l.Renew(ctx, key, ttl)
}

// Renew extends a lease this owner holds; false means it was lost.
func (l *Redis) Renew(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.prefix + key}, l.owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", key, err)
	}
	return n == 1, nil
}

// Release gives up a lease this owner holds; another's is left alone.
func (l *Redis) Release(ctx context.Context, key string) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{l.prefix + key}, l.owner).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", key, err)
	}
	return nil
}

// Takeover moves key from owner from, known to be gone, to this owner, and
// reports whether it did: false when from no longer holds it.
func (l *Redis) Takeover(ctx context.Context, key, from string, ttl time.Duration) (bool, error) {
	n, err := takeoverScript.Run(ctx, l.rdb, []string{l.prefix + key}, from, l.owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("take over lease %s: %w", key, err)
	}
	return n == 1, nil
}

// Holder returns who holds key and for how much longer; "" when nobody does.
func (l *Redis) Holder(ctx context.Context, key string) (string, time.Duration, error) {
	var get *redis.StringCmd
	var pttl *redis.DurationCmd
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, l.prefix+key)
		pttl = p.PTTL(ctx, l.prefix+key)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("read lease %s: %w", key, err)
	}
	return get.Val(), pttl.Val(), nil
}
