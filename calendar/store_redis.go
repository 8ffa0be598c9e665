package calendar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboardhq/switchboard/presence"
)

// RedisStore is the Store instances share. Key layout, under the store's
// prefix (cmd/switchboard/prefixes.go):
//
//	{p}feed:{domain}:{user}   string  JSON Feed of one user
//	{p}due                    zset    "user@domain" scored by Poll.Next (unix ms)
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a Store on rdb with keys under prefix.
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{rdb: rdb, prefix: prefix}
}

func (s *RedisStore) key(aor presence.AOR) string {
	return s.prefix + "feed:" + aor.Domain + ":" + aor.User
}

func (s *RedisStore) dueKey() string { return s.prefix + "due" }

// maxRetries bounds optimistic retries when instances race on one user.
const maxRetries = 16

// Update implements Store with WATCH/MULTI.
func (s *RedisStore) Update(ctx context.Context, aor presence.AOR, fn func(*Feed, bool) error) (Feed, error) {
	key := s.key(aor)
	for attempt := range maxRetries {
		if attempt > 0 {
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt)*int64(time.Millisecond) + 1)))
		}
		var out Feed
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			f, err := s.read(ctx, tx, key)
			found := err == nil
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err := fn(&f, found); err != nil {
				return err
			}
			b, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("encode calendar of %s: %w", aor, err)
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, b, 0)
				p.ZAdd(ctx, s.dueKey(), redis.Z{Score: float64(f.Poll.Next.UnixMilli()), Member: aor.String()})
				return nil
			})
			out = f
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return Feed{}, fmt.Errorf("update calendar of %s: %w", aor, err)
		}
		return out, nil
	}
	return Feed{}, fmt.Errorf("update calendar of %s: %d concurrent retries lost", aor, maxRetries)
}

func (s *RedisStore) read(ctx context.Context, c redis.Cmdable, key string) (Feed, error) {
	b, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Feed{}, ErrNotFound
	}
	if err != nil {
		return Feed{}, fmt.Errorf("read %s: %w", key, err)
	}
	var f Feed
	if err := json.Unmarshal(b, &f); err != nil {
		return Feed{}, fmt.Errorf("decode %s: %w", key, err)
	}
	return f, nil
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, aor presence.AOR) (Feed, error) {
	f, err := s.read(ctx, s.rdb, s.key(aor))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Feed{}, fmt.Errorf("get calendar of %s: %w", aor, err)
	}
	return f, err
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, aor presence.AOR) error {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, s.key(aor))
		p.ZRem(ctx, s.dueKey(), aor.String())
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete calendar of %s: %w", aor, err)
	}
	if del.Val() == 0 {
		return ErrNotFound
	}
	return nil
}

// Due implements Store.
func (s *RedisStore) Due(ctx context.Context, now time.Time, limit int) ([]presence.AOR, error) {
	members, err := s.rdb.ZRangeByScore(ctx, s.dueKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("list due calendars: %w", err)
	}
	out := make([]presence.AOR, 0, len(members))
	for _, m := range members {
		if aor, err := presence.ParseAOR(m); err == nil {
			out = append(out, aor)
		}
	}
	return out, nil
}
