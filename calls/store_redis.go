package calls

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis key layout, all under the store's prefix (cmd/switchboard/prefixes.go):
//
//	{p}calls:user:{ext@domain}        string  book: framed JSON records, newest first, and read marker (bookdoc.go)
//	{p}calls:block:{ext@domain}       string  JSON block list of the user
//	{p}calls:leg:{ext@domain}:{key}   string  JSON facts of one live call leg (expires)
//	{p}calls:call:{domain}:{call-id}  string  JSON: who answered a call, its missed legs (expires)
//
// Every write is a WATCH/MULTI read-modify-write of one key, so instances
// that see the same call agree on one record.

// RedisStore is a Store in Redis, shared by every instance.
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store using rdb with keys under prefix.
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{rdb: rdb, prefix: prefix}
}

// maxRetries bounds optimistic retries when instances race on one key.
const maxRetries = 32

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b, nil
}

// Update implements Store with WATCH/MULTI.
func (s *RedisStore) Update(ctx context.Context, key string, ttl time.Duration, fn func([]byte) ([]byte, error)) error {
	k := s.prefix + key
	for attempt := range maxRetries {
		if attempt > 0 {
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt)*int64(time.Millisecond) + 1)))
		}
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			old, err := tx.Get(ctx, k).Bytes()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			val, err := fn(old)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if val == nil {
					p.Del(ctx, k)
				} else {
					p.Set(ctx, k, val, ttl)
				}
				return nil
			})
			return err
		}, k)
		switch {
		case errors.Is(err, redis.TxFailedErr):
			continue
		case errors.Is(err, errKeep):
			return nil
		case err != nil:
			return fmt.Errorf("update %s: %w", key, err)
		}
		return nil
	}
	return fmt.Errorf("update %s: %d concurrent retries lost", key, maxRetries)
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = s.prefix + k
	}
	if err := s.rdb.Del(ctx, ks...).Err(); err != nil {
		return fmt.Errorf("delete %v: %w", keys, err)
	}
	return nil
}

// Ping checks the connection, for readiness.
func (s *RedisStore) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }
