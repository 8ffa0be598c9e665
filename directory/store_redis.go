package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboardhq/switchboard/accounts"
)

// RedisStore is a Store on Redis, for deployments that run several
// Switchboard instances or already persist to Redis.
//
// Key layout, all under the configured prefix P (for example "sb:dir:"):
//
//	P c:<id>     string  JSON Contact
//	P contacts   set     every contact ID
//	P u:<aor>    string  JSON User
//	P users      set     every user AOR
//	P m:<owner>  hash    contact ID → JSON Mark (owner is an AOR or "@domain")
//	P marks      set     every owner with at least one mark
//	P g:<id>     string  JSON Group
//	P groups     set     every group ID
//	P seq        string  sequence number of the newest change
//	P log        stream  the change log: one entry per Apply, fields
//	                     seq (number), b (JSON Batch) and o (the batch's
//	                     Origin, so a reader can tell its own changes
//	                     without decoding them), trimmed to about
//	                     RedisLogLen entries or RedisLogBytes (logLen)
//
// Apply WATCHes the contact keys it writes, checks their versions, then
// writes everything in one MULTI/EXEC, retrying when a watched key changed.
// The same MULTI/EXEC appends the batch to the log (a Lua script numbering
// it with INCR), so no instance can see the data without its change, nor
// a change whose data was not written.
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Store = (*RedisStore)(nil)

// KeyStore returns the API key store on s's client and prefix (its key
// layout is in accounts.RedisKeyStore).
func (s *RedisStore) KeyStore() *accounts.RedisKeyStore {
	return accounts.NewRedisKeyStore(s.rdb, s.prefix)
}

// RedisLogLen is about how many changes the Redis change log keeps, and
// RedisLogBytes about how many bytes of them: an import writes batches of
// hundreds of contacts, and ten thousand of those would hold gigabytes.
// An instance that falls further behind (a long partition) reloads from
// the store instead.
const (
	RedisLogLen   = 10000
	RedisLogBytes = 64 << 20
)

// logLen is the MAXLEN of the append of an entry of size bytes: entries
// as large as this one fit RedisLogBytes, within [logMinLen, RedisLogLen].
// After a run of large entries the log holds at least logMinLen of them
// (128,000 contacts of 2,000-row import batches): a follower that keeps
// up with the writer is never that far behind.
func logLen(size int) int {
	return max(logMinLen, min(RedisLogLen, RedisLogBytes/max(size, 1)))
}

const logMinLen = 64

// logScript numbers a change and appends it to the change log. Stream IDs
// are left to Redis ("*"), so the append cannot fail on an ID; the seq
// field carries the hole-free numbering readers check for gaps.
var logScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'seq', n, 'b', ARGV[1], 'o', ARGV[3])
return {n, id}`)

// headScript reads the newest sequence number and stream ID in one step.
var headScript = redis.NewScript(`
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local id = '0-0'
if last[1] then id = last[1][1] end
return {redis.call('GET', KEYS[1]) or '0', id}`)

// NewRedisStore returns a Store keeping its keys under prefix on rdb. The
// caller owns and closes rdb.
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{rdb: rdb, prefix: prefix}
}

func (s *RedisStore) k(parts ...string) string {
	out := s.prefix
	for _, p := range parts {
		out += p
	}
	return out
}

// Apply implements Store.
func (s *RedisStore) Apply(ctx context.Context, b Batch) (uint64, error) {
	pos, err := s.applyAt(ctx, b)
	return pos.Seq, err
}

// applyAt is Apply returning the change's log position, stream ID
// included.
func (s *RedisStore) applyAt(ctx context.Context, b Batch) (Position, error) {
	// The log entry holds each contact's JSON as json.Marshal writes it,
	// so the contact keys are set from spans of the entry: one encoding.
	entry, spans, err := appendBatchJSON(make([]byte, 0, 256+contactJSONSizeHint*len(b.Contacts)), &b, nil)
	if err != nil {
		return Position{}, fmt.Errorf("encode change: %w", err)
	}
	if len(spans) != len(b.Contacts) {
		return Position{}, fmt.Errorf("encode change: %d contact spans for %d contacts", len(spans), len(b.Contacts))
	}
	// Load the script once outside MULTI: inside it EVALSHA cannot fall
	// back to EVAL.
	if err := logScript.Load(ctx, s.rdb).Err(); err != nil {
		return Position{}, fmt.Errorf("load change log script: %w", err)
	}
	var seqCmd *redis.Cmd
	var watch []string
	for _, w := range b.Contacts {
		if !w.fresh || w.Expected != 0 {
			watch = append(watch, s.k("c:", w.Contact.ID))
		}
	}
	for _, d := range b.DeleteContacts {
		watch = append(watch, s.k("c:", d.ID))
	}
	txf := func(tx *redis.Tx) error {
		versions := map[string]uint64{}
		if len(watch) > 0 {
			vals, err := tx.MGet(ctx, watch...).Result()
			if err != nil {
				return fmt.Errorf("read contact versions: %w", err)
			}
			for i, v := range vals {
				str, ok := v.(string)
				if !ok {
					continue
				}
				var c struct {
					ID      string `json:"id"`
					Version uint64 `json:"version"`
				}
				if err := json.Unmarshal([]byte(str), &c); err != nil {
					return fmt.Errorf("decode %s: %w", watch[i], err)
				}
				versions[c.ID] = c.Version
			}
		}
		if err := b.checkVersions(func(id string) (uint64, error) { return versions[id], nil }); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			// One MSET and one SADD per batch: an import batch sets
			// thousands of contacts, and Redis spends more on dispatching
			// a command than on a small SET.
			if len(b.Contacts) > 0 {
				pairs := make([]any, 0, 2*len(b.Contacts))
				ids := make([]any, 0, len(b.Contacts))
				for i, w := range b.Contacts {
					pairs = append(pairs, s.k("c:", w.Contact.ID), entry[spans[i].start:spans[i].end])
					ids = append(ids, w.Contact.ID)
				}
				pipe.MSet(ctx, pairs...)
				pipe.SAdd(ctx, s.k("contacts"), ids...)
			}
			for _, d := range b.DeleteContacts {
				pipe.Del(ctx, s.k("c:", d.ID))
				pipe.SRem(ctx, s.k("contacts"), d.ID)
			}
			for _, u := range b.Users {
				raw, err := json.Marshal(u)
				if err != nil {
					return err
				}
				pipe.Set(ctx, s.k("u:", u.AOR()), raw, 0)
				pipe.SAdd(ctx, s.k("users"), u.AOR())
			}
			for _, aor := range b.DeleteUsers {
				pipe.Del(ctx, s.k("u:", aor))
				pipe.SRem(ctx, s.k("users"), aor)
			}
			for _, m := range b.Marks {
				if len(m.Groups) == 0 {
					pipe.HDel(ctx, s.k("m:", m.Owner), m.ContactID)
					continue
				}
				pipe.HSet(ctx, s.k("m:", m.Owner), m.ContactID, appendMarkJSON(nil, &m))
				pipe.SAdd(ctx, s.k("marks"), m.Owner)
			}
			for _, g := range b.Groups {
				pipe.Set(ctx, s.k("g:", g.ID), appendGroupJSON(nil, &g), 0)
				pipe.SAdd(ctx, s.k("groups"), g.ID)
			}
			for _, id := range b.DeleteGroups {
				pipe.Del(ctx, s.k("g:", id))
				pipe.SRem(ctx, s.k("groups"), id)
			}
			seqCmd = logScript.EvalSha(ctx, pipe, []string{s.k("seq"), s.k("log")}, entry, logLen(len(entry)), b.Origin)
			return nil
		})
		return err
	}
	for attempt := 0; ; attempt++ {
		err := s.rdb.Watch(ctx, txf, watch...)
		if errors.Is(err, redis.TxFailedErr) && attempt < 10 {
			continue
		}
		if errors.Is(err, redis.TxFailedErr) {
			return Position{}, fmt.Errorf("apply batch: concurrent writers: %w", ErrVersionMismatch)
		}
		if err != nil {
			return Position{}, err
		}
		res, err := seqCmd.Slice()
		if err != nil {
			return Position{}, fmt.Errorf("append change log: %w", err)
		}
		if len(res) == 2 {
			seq, ok1 := res[0].(int64)
			id, ok2 := res[1].(string)
			if ok1 && ok2 {
				return Position{Seq: uint64(seq), ID: id}, nil
			}
		}
		return Position{}, fmt.Errorf("append change log: unexpected reply %v", res)
	}
}

// Head implements Store.
func (s *RedisStore) Head(ctx context.Context) (Position, error) {
	res, err := headScript.Run(ctx, s.rdb, []string{s.k("seq"), s.k("log")}).StringSlice()
	if err != nil || len(res) != 2 {
		return Position{}, fmt.Errorf("read change log head: %w", err)
	}
	seq, err := strconv.ParseUint(res[0], 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("read change log head: seq %q: %w", res[0], err)
	}
	return Position{Seq: seq, ID: res[1]}, nil
}

// Changes implements Store with XREAD, which wakes as soon as another
// instance appends.
func (s *RedisStore) Changes(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error) {
	return s.changes(ctx, after, limit, wait, false)
}

// lazyChanges is Changes leaving the batches that name their origin in
// the log entry undecoded (see Change.decode).
func (s *RedisStore) lazyChanges(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error) {
	return s.changes(ctx, after, limit, wait, true)
}

func (s *RedisStore) changes(ctx context.Context, after Position, limit int, wait time.Duration, lazy bool) ([]Change, error) {
	from := after.ID
	if from == "" {
		from = "0-0"
	}
	block := time.Duration(-1) // go-redis: negative omits BLOCK, 0 would block forever
	if wait > 0 {
		block = max(wait, time.Millisecond)
	}
	streams, err := s.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{s.k("log"), from}, Count: int64(limit), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		// Nothing new. A counter behind pos means the store was reset.
		head, err := s.rdb.Get(ctx, s.k("seq")).Uint64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read change log seq: %w", err)
		}
		if head != after.Seq {
			return nil, fmt.Errorf("log at %d, reader at %d: %w", head, after.Seq, ErrGap)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read change log: %w", err)
	}
	var out []Change
	want := after.Seq + 1
	for _, st := range streams {
		for _, m := range st.Messages {
			seq, _ := strconv.ParseUint(fmt.Sprint(m.Values["seq"]), 10, 64)
			if seq != want {
				return nil, fmt.Errorf("change %d follows %d: %w", seq, want-1, ErrGap)
			}
			raw, _ := m.Values["b"].(string)
			ch := Change{Seq: seq, pos: m.ID}
			if o, ok := m.Values["o"].(string); lazy && ok && o != "" {
				// Decoded when applied (Change.decode): a writer applies
				// its own batch as it wrote it, and its follower only
				// needs to see that this one is its own.
				ch.Batch.Origin, ch.raw = o, []byte(raw)
			} else if err := decodeBatchJSON([]byte(raw), &ch.Batch); err != nil {
				return nil, fmt.Errorf("decode change %d: %w", seq, err)
			}
			out = append(out, ch)
			want++
		}
	}
	return out, nil
}

// GetContact implements Store.
func (s *RedisStore) GetContact(ctx context.Context, id string) (Contact, error) {
	var c Contact
	raw, err := s.rdb.Get(ctx, s.k("c:", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return c, fmt.Errorf("contact %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("get contact %s: %w", id, err)
	}
	// Decode before returning c: a return's operands have no order.
	err = decodeContactJSON(raw, &c)
	return c, err
}

// ForEachContact implements Store.
func (s *RedisStore) ForEachContact(ctx context.Context, fn func(Contact) error) error {
	return redisForEach(ctx, s, "contacts", "c:", fn)
}

// GetUser implements Store.
func (s *RedisStore) GetUser(ctx context.Context, aor string) (accounts.User, error) {
	var u accounts.User
	raw, err := s.rdb.Get(ctx, s.k("u:", aor)).Bytes()
	if errors.Is(err, redis.Nil) {
		return u, fmt.Errorf("user %s: %w", aor, ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("get user %s: %w", aor, err)
	}
	return u, json.Unmarshal(raw, &u)
}

// ListUsers implements Store.
func (s *RedisStore) ListUsers(ctx context.Context) ([]accounts.User, error) {
	var out []accounts.User
	err := redisForEach(ctx, s, "users", "u:", func(u accounts.User) error {
		out = append(out, u)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].AOR() < out[j].AOR() })
	return out, err
}

// ForEachMark implements Store.
func (s *RedisStore) ForEachMark(ctx context.Context, fn func(Mark) error) error {
	owners, err := s.rdb.SMembers(ctx, s.k("marks")).Result()
	if err != nil {
		return fmt.Errorf("list mark owners: %w", err)
	}
	for _, owner := range owners {
		all, err := s.rdb.HGetAll(ctx, s.k("m:", owner)).Result()
		if err != nil {
			return fmt.Errorf("read marks of %s: %w", owner, err)
		}
		for _, raw := range all {
			var m Mark
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return fmt.Errorf("decode mark of %s: %w", owner, err)
			}
			if err := fn(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListGroups implements Store.
func (s *RedisStore) ListGroups(ctx context.Context) ([]Group, error) {
	var out []Group
	err := redisForEach(ctx, s, "groups", "g:", func(g Group) error {
		out = append(out, g)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// Close implements Store; the client belongs to the caller.
func (s *RedisStore) Close() error { return nil }

// redisForEach scans the ID set named set and decodes the JSON values of
// keyPrefix+ID in batches.
func redisForEach[T any](ctx context.Context, s *RedisStore, set, keyPrefix string, fn func(T) error) error {
	var cursor uint64
	for {
		ids, next, err := s.rdb.SScan(ctx, s.k(set), cursor, "", 1000).Result()
		if err != nil {
			return fmt.Errorf("scan %s: %w", set, err)
		}
		if len(ids) > 0 {
			keys := make([]string, len(ids))
			for i, id := range ids {
				keys[i] = s.k(keyPrefix, id)
			}
			vals, err := s.rdb.MGet(ctx, keys...).Result()
			if err != nil {
				return fmt.Errorf("read %s: %w", set, err)
			}
			for i, v := range vals {
				str, ok := v.(string)
				if !ok {
					continue // removed between SSCAN and MGET
				}
				var item T
				if err := decodeStored([]byte(str), &item); err != nil {
					return fmt.Errorf("decode %s: %w", keys[i], err)
				}
				if err := fn(item); err != nil {
					return err
				}
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}
