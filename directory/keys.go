package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// API keys have the form "sbk_<id>_<secret>": id is 16 hex digits naming
// the key, secret is 32 random bytes in unpadded base64url. Only the
// SHA-256 of the secret is stored, so a leaked store does not leak keys;
// the id lets Resolve fetch one record and compare hashes in constant
// time.
const (
	keyPrefix    = "sbk_"
	keyIDBytes   = 8
	keySecretLen = 32
)

// KeyCacheTTL is how long Keys trusts a resolved key without asking the
// store again. A key revoked through the same Keys stops working at once;
// one revoked elsewhere (the CLI, another instance sharing Redis) stops
// working within KeyCacheTTL.
const KeyCacheTTL = 10 * time.Second

// KeyInfo describes an API key without its secret.
type KeyInfo struct {
	ID      string    `json:"id"`
	User    string    `json:"user,omitempty"`
	Admin   bool      `json:"admin,omitempty"`
	Scopes  []Scope   `json:"scopes"`
	Created time.Time `json:"created"`
}

// Principal returns the principal the key acts as.
func (k KeyInfo) Principal() Principal {
	return Principal{User: k.User, Admin: k.Admin, Scopes: slices.Clone(k.Scopes)}
}

// StoredKey is a key as persisted: its description and the hex SHA-256 of
// its secret.
type StoredKey struct {
	KeyInfo
	Hash string `json:"hash"`
}

// KeyStore persists API keys. Implementations must be safe for concurrent
// use.
type KeyStore interface {
	// PutKey stores k under k.ID, replacing any previous record.
	PutKey(ctx context.Context, k StoredKey) error
	// GetKey returns key id, or ErrNotFound.
	GetKey(ctx context.Context, id string) (StoredKey, error)
	// DeleteKey removes key id, or returns ErrNotFound.
	DeleteKey(ctx context.Context, id string) error
	// ListKeys returns every key sorted by ID.
	ListKeys(ctx context.Context) ([]StoredKey, error)
}

// Keys mints, lists, revokes and resolves API keys. It is safe for
// concurrent use.
type Keys struct {
	store KeyStore
	now   func() time.Time

	mu    sync.Mutex // guards cache
	cache map[string]cachedKey
}

type cachedKey struct {
	k       StoredKey
	expires time.Time
}

// NewKeys returns Keys persisting to store.
func NewKeys(store KeyStore) *Keys {
	return &Keys{store: store, now: time.Now, cache: map[string]cachedKey{}}
}

// knownScopes are the scopes a key may carry.
var knownScopes = []Scope{ScopePersonal, ScopeCompanyRead, ScopeCompanyWrite, ScopeUsersAdmin, ScopeLookup}

// ParseScopes parses a comma-separated scope list, rejecting unknown
// scopes.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(knownScopes, Scope(f)) {
			return nil, &FieldError{Field: "scopes", Reason: fmt.Sprintf("unknown scope %q (want %s)", f, scopeList())}
		}
		out = append(out, Scope(f))
	}
	return out, nil
}

func scopeList() string {
	names := make([]string, len(knownScopes))
	for i, s := range knownScopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// checkPrincipal validates the identity and scopes a key is minted for.
func checkPrincipal(p Principal) error {
	if p.User == "" && !p.Admin {
		return &FieldError{Field: "user", Reason: "a key needs a user (ext@domain) or must be an admin key"}
	}
	if p.User != "" {
		ext, dom, ok := splitAOR(p.User)
		u := User{Extension: ext, Domain: dom, FirstName: "-"}
		if err := u.Validate(); !ok || err != nil || strings.ToLower(dom) != dom {
			return &FieldError{Field: "user", Reason: fmt.Sprintf("want ext@domain with a numeric extension and a lowercase domain, got %q", p.User)}
		}
	}
	if len(p.Scopes) == 0 {
		return &FieldError{Field: "scopes", Reason: "at least one scope is required (" + scopeList() + ")"}
	}
	for _, s := range p.Scopes {
		if !slices.Contains(knownScopes, s) {
			return &FieldError{Field: "scopes", Reason: fmt.Sprintf("unknown scope %q (want %s)", s, scopeList())}
		}
	}
	if p.User == "" && slices.Contains(p.Scopes, ScopePersonal) {
		return &FieldError{Field: "scopes", Reason: string(ScopePersonal) + " needs a user"}
	}
	return nil
}

// Mint creates a key acting as p and returns it. The key string is shown
// only here: the store keeps its hash.
func (k *Keys) Mint(ctx context.Context, p Principal) (string, KeyInfo, error) {
	if err := checkPrincipal(p); err != nil {
		return "", KeyInfo{}, err
	}
	var id [keyIDBytes]byte
	var secret [keySecretLen]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", KeyInfo{}, fmt.Errorf("mint key: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", KeyInfo{}, fmt.Errorf("mint key: %w", err)
	}
	scopes := slices.Clone(p.Scopes)
	slices.Sort(scopes)
	info := KeyInfo{
		ID: hex.EncodeToString(id[:]), User: p.User, Admin: p.Admin,
		Scopes: slices.Compact(scopes), Created: k.now().UTC().Truncate(time.Second),
	}
	sum := sha256.Sum256(secret[:])
	if err := k.store.PutKey(ctx, StoredKey{KeyInfo: info, Hash: hex.EncodeToString(sum[:])}); err != nil {
		return "", KeyInfo{}, fmt.Errorf("store key %s: %w", info.ID, err)
	}
	return keyPrefix + info.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:]), info, nil
}

// Revoke deletes key id. It stops working at once through k and within
// KeyCacheTTL through any other Keys on the same store.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	k.mu.Lock()
	delete(k.cache, id)
	k.mu.Unlock()
	if err := k.store.DeleteKey(ctx, id); err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	return nil
}

// List returns every key, without secrets, sorted by ID.
func (k *Keys) List(ctx context.Context) ([]KeyInfo, error) {
	all, err := k.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]KeyInfo, len(all))
	for i, sk := range all {
		out[i] = sk.KeyInfo
	}
	return out, nil
}

// parseKey splits "sbk_<id>_<secret>" and returns the id and the hash of
// the secret.
func parseKey(key string) (id string, sum [sha256.Size]byte, ok bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return "", sum, false
	}
	id, enc, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 2*keyIDBytes {
		return "", sum, false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", sum, false
	}
	secret, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(secret) != keySecretLen {
		return "", sum, false
	}
	return id, sha256.Sum256(secret), true
}

// Resolve returns the principal key acts as. Unknown, revoked and
// malformed keys are ErrNotFound; other errors come from the store.
func (k *Keys) Resolve(ctx context.Context, key string) (Principal, error) {
	id, sum, ok := parseKey(key)
	if !ok {
		return Principal{}, fmt.Errorf("api key: malformed: %w", ErrNotFound)
	}
	now := k.now()
	k.mu.Lock()
	c, hit := k.cache[id]
	k.mu.Unlock()
	if !hit || now.After(c.expires) {
		sk, err := k.store.GetKey(ctx, id)
		if errors.Is(err, ErrNotFound) {
			k.mu.Lock()
			delete(k.cache, id)
			k.mu.Unlock()
			return Principal{}, fmt.Errorf("api key %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return Principal{}, fmt.Errorf("api key %s: %w", id, err)
		}
		c = cachedKey{k: sk, expires: now.Add(KeyCacheTTL)}
		k.mu.Lock()
		k.cache[id] = c
		k.mu.Unlock()
	}
	want, err := hex.DecodeString(c.k.Hash)
	if err != nil || subtle.ConstantTimeCompare(want, sum[:]) != 1 {
		return Principal{}, fmt.Errorf("api key %s: wrong secret: %w", id, ErrNotFound)
	}
	return c.k.Principal(), nil
}

// MemKeyStore is an in-memory KeyStore for tests.
type MemKeyStore struct {
	mu   sync.Mutex // guards keys
	keys map[string]StoredKey
}

var _ KeyStore = (*MemKeyStore)(nil)

// NewMemKeyStore returns an empty MemKeyStore.
func NewMemKeyStore() *MemKeyStore { return &MemKeyStore{keys: map[string]StoredKey{}} }

// PutKey implements KeyStore.
func (s *MemKeyStore) PutKey(_ context.Context, k StoredKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k.Scopes = slices.Clone(k.Scopes)
	s.keys[k.ID] = k
	return nil
}

// GetKey implements KeyStore.
func (s *MemKeyStore) GetKey(_ context.Context, id string) (StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return StoredKey{}, fmt.Errorf("key %s: %w", id, ErrNotFound)
	}
	k.Scopes = slices.Clone(k.Scopes)
	return k, nil
}

// DeleteKey implements KeyStore.
func (s *MemKeyStore) DeleteKey(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; !ok {
		return fmt.Errorf("key %s: %w", id, ErrNotFound)
	}
	delete(s.keys, id)
	return nil
}

// ListKeys implements KeyStore.
func (s *MemKeyStore) ListKeys(context.Context) ([]StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Values(s.keys))
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// bucketKeys holds API keys in the directory database: ID → JSON
// StoredKey.
var bucketKeys = []byte("keys")

// BoltKeyStore keeps API keys in the bbolt database of a BoltStore.
type BoltKeyStore struct {
	db *bolt.DB
}

var _ KeyStore = (*BoltKeyStore)(nil)

// KeyStore returns the API key store sharing s's database file. It is
// valid until s is closed.
func (s *BoltStore) KeyStore() *BoltKeyStore { return &BoltKeyStore{db: s.db} }

// PutKey implements KeyStore.
func (s *BoltKeyStore) PutKey(_ context.Context, k StoredKey) error {
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketKeys)
		if err != nil {
			return err
		}
		return b.Put([]byte(k.ID), raw)
	})
}

// GetKey implements KeyStore.
func (s *BoltKeyStore) GetKey(_ context.Context, id string) (StoredKey, error) {
	var k StoredKey
	err := s.db.View(func(tx *bolt.Tx) error {
		var raw []byte
		if b := tx.Bucket(bucketKeys); b != nil {
			raw = b.Get([]byte(id))
		}
		if raw == nil {
			return fmt.Errorf("key %s: %w", id, ErrNotFound)
		}
		return json.Unmarshal(raw, &k)
	})
	return k, err
}

// DeleteKey implements KeyStore.
func (s *BoltKeyStore) DeleteKey(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		if b == nil || b.Get([]byte(id)) == nil {
			return fmt.Errorf("key %s: %w", id, ErrNotFound)
		}
		return b.Delete([]byte(id))
	})
}

// ListKeys implements KeyStore; bbolt keys are sorted.
func (s *BoltKeyStore) ListKeys(ctx context.Context) ([]StoredKey, error) {
	var out []StoredKey
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketKeys) == nil {
			return nil
		}
		return forEachJSONTx(ctx, tx, bucketKeys, func(k StoredKey) error {
			out = append(out, k)
			return nil
		})
	})
	return out, err
}

func forEachJSONTx[T any](ctx context.Context, tx *bolt.Tx, bucket []byte, fn func(T) error) error {
	return tx.Bucket(bucket).ForEach(func(k, raw []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %s %s: %w", bucket, k, err)
		}
		return fn(v)
	})
}

// RedisKeyStore keeps API keys next to a RedisStore's data:
//
//	P key:<id>  string  JSON StoredKey
//	P keys      set     every key ID
type RedisKeyStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ KeyStore = (*RedisKeyStore)(nil)

// KeyStore returns the API key store on s's client and prefix.
func (s *RedisStore) KeyStore() *RedisKeyStore { return &RedisKeyStore{rdb: s.rdb, prefix: s.prefix} }

// PutKey implements KeyStore.
func (s *RedisKeyStore) PutKey(ctx context.Context, k StoredKey) error {
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, s.prefix+"key:"+k.ID, raw, 0)
		pipe.SAdd(ctx, s.prefix+"keys", k.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("put key %s: %w", k.ID, err)
	}
	return nil
}

// GetKey implements KeyStore.
func (s *RedisKeyStore) GetKey(ctx context.Context, id string) (StoredKey, error) {
	var k StoredKey
	raw, err := s.rdb.Get(ctx, s.prefix+"key:"+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return k, fmt.Errorf("key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("get key %s: %w", id, err)
	}
	return k, json.Unmarshal(raw, &k)
}

// DeleteKey implements KeyStore.
func (s *RedisKeyStore) DeleteKey(ctx context.Context, id string) error {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		del = pipe.Del(ctx, s.prefix+"key:"+id)
		pipe.SRem(ctx, s.prefix+"keys", id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete key %s: %w", id, err)
	}
	if del.Val() == 0 {
		return fmt.Errorf("key %s: %w", id, ErrNotFound)
	}
	return nil
}

// ListKeys implements KeyStore.
func (s *RedisKeyStore) ListKeys(ctx context.Context) ([]StoredKey, error) {
	ids, err := s.rdb.SMembers(ctx, s.prefix+"keys").Result()
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]StoredKey, 0, len(ids))
	for _, id := range ids {
		k, err := s.GetKey(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // revoked meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
