package presence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis key layout, all under the store's prefix (cmd/switchboard/prefixes.go
// sets it, with every other prefix of a deployment) and namespaced per SIP
// domain:
//
//	{p}presence:{domain}:{user}        string  JSON Record of one extension
//	{p}presence:due                    zset    "user@domain" scored by Record.Next (unix ms)
//	{p}watchers:{instance}             hash    subscription id -> opaque state of the
//	                                           SIP edge's subscriptions on that instance
//
// A record expires in Redis recordGrace after the last binding or
// publication in it would have, so Redis TTLs follow SIP expiry; a record
// holding a status the user set without an end never expires.
const recordGrace = time.Hour

// RedisStore keeps records in Redis so several instances share them.
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store using rdb with keys under prefix.
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{rdb: rdb, prefix: prefix}
}

func (s *RedisStore) key(aor AOR) string {
	return s.prefix + "presence:" + aor.Domain + ":" + aor.User
}

func (s *RedisStore) dueKey() string { return s.prefix + "presence:due" }

// maxRetries bounds optimistic retries when instances race on one AOR.
const maxRetries = 32

// Update implements Store with WATCH/MULTI: fn runs on the record as read,
// and the write succeeds only if nobody changed it meanwhile.
func (s *RedisStore) Update(ctx context.Context, aor AOR, fn func(*Record) error) (Record, error) {
	key := s.key(aor)
	for attempt := range maxRetries {
		if attempt > 0 {
			// Back off with jitter so racing instances stop colliding.
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt)*int64(time.Millisecond) + 1)))
		}
		var out Record
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			r, err := s.read(ctx, tx, key)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err := fn(&r); err != nil {
				return err
			}
			b, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("encode record %s: %w", aor, err)
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, b, 0)
				if exp := recordExpiry(&r); !exp.IsZero() {
					p.PExpireAt(ctx, key, exp)
				}
				if r.Next.IsZero() {
					p.ZRem(ctx, s.dueKey(), aor.String())
				} else {
					p.ZAdd(ctx, s.dueKey(), redis.Z{Score: float64(r.Next.UnixMilli()), Member: aor.String()})
				}
				return nil
			})
			out = r
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return Record{}, fmt.Errorf("update presence of %s: %w", aor, err)
		}
		return out, nil
	}
	return Record{}, fmt.Errorf("update presence of %s: %d concurrent retries lost", aor, maxRetries)
}

// recordExpiry is when the record may vanish from Redis; zero for never.
func recordExpiry(r *Record) time.Time {
	if r.Status != nil && r.Status.Until.IsZero() {
		return time.Time{}
	}
	var last time.Time
	for _, b := range r.Bindings {
		last = later(last, b.Expires)
	}
	for _, p := range r.Publications {
		last = later(last, p.Expires)
	}
	if r.Status != nil {
		last = later(last, r.Status.Until)
	}
	for _, b := range r.Calendar {
		last = later(last, b.End) // the meeting must still flip the status
	}
	if last.IsZero() {
		last = time.Now()
	}
	return last.Add(recordGrace)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *RedisStore) read(ctx context.Context, c redis.Cmdable, key string) (Record, error) {
	b, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("read %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("decode %s: %w", key, err)
	}
	return r, nil
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, aor AOR) (Record, error) {
	return s.read(ctx, s.rdb, s.key(aor))
}

// Due implements Store.
func (s *RedisStore) Due(ctx context.Context, now time.Time) ([]AOR, error) {
	members, err := s.rdb.ZRangeByScore(ctx, s.dueKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: 1000,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("list due extensions: %w", err)
	}
	aors := make([]AOR, 0, len(members))
	for _, m := range members {
		a, err := ParseAOR(m)
		if err != nil {
			continue
		}
		aors = append(aors, a)
	}
	return aors, nil
}

// Ping checks the connection, for readiness.
func (s *RedisStore) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Watchers returns the store of one instance's subscription states.
func (s *RedisStore) Watchers(instance string) *RedisWatchers {
	return &RedisWatchers{rdb: s.rdb, key: s.prefix + "watchers:" + instance}
}

// RedisWatchers keeps the SIP edge's subscription states of one instance,
// so a restarted instance resumes its NOTIFYs.
type RedisWatchers struct {
	rdb redis.UniversalClient
	key string
}

// Save stores the opaque state of subscription id.
func (w *RedisWatchers) Save(ctx context.Context, id string, state []byte) error {
	if err := w.rdb.HSet(ctx, w.key, id, state).Err(); err != nil {
		return fmt.Errorf("save subscription %s: %w", id, err)
	}
	return nil
}

// Delete forgets subscription id.
func (w *RedisWatchers) Delete(ctx context.Context, id string) error {
	if err := w.rdb.HDel(ctx, w.key, id).Err(); err != nil {
		return fmt.Errorf("delete subscription %s: %w", id, err)
	}
	return nil
}

// Apply stores saves and forgets deletes in one round trip.
func (w *RedisWatchers) Apply(ctx context.Context, saves map[string][]byte, deletes []string) error {
	_, err := w.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if len(saves) > 0 {
			args := make([]any, 0, 2*len(saves))
			for id, st := range saves {
				args = append(args, id, st)
			}
			p.HSet(ctx, w.key, args...)
		}
		if len(deletes) > 0 {
			p.HDel(ctx, w.key, deletes...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save %d and delete %d subscriptions: %w", len(saves), len(deletes), err)
	}
	return nil
}

// Load returns every stored subscription state.
func (w *RedisWatchers) Load(ctx context.Context) (map[string][]byte, error) {
	m, err := w.rdb.HGetAll(ctx, w.key).Result()
	if err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}
