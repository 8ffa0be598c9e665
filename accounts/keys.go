package accounts

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

// KeyKind names what a key acts as; it follows from KeyInfo's fields.
type KeyKind string

// Key kinds.
const (
	// KeyKindUser acts as one user (User), in the user's domain.
	KeyKindUser KeyKind = "user"
	// KeyKindTenantAdmin is an admin key bound to one domain (tenant).
	KeyKindTenantAdmin KeyKind = "tenant_admin"
	// KeyKindOperator is an admin key with no domain: it acts in every
	// served domain.
	KeyKindOperator KeyKind = "operator"
	// KeyKindPBX is what a PBX dialplan uses: scope lookup for any callee
	// of its domain.
	KeyKindPBX KeyKind = "pbx"
	// KeyKindSession is a web app sign-in (MintSession): a short-lived
	// key acting as its user, carried in a cookie. Keys.List leaves
	// sessions out.
	KeyKindSession KeyKind = "session"
)

// KeyInfo describes an API key without its secret.
//
// Domain is the tenant the key is bound to. Keys stored before tenants
// existed have none: a user key then takes its user's domain (see
// normalize) and an admin key stays an operator key.
type KeyInfo struct {
	ID     string  `json:"id"`
	User   string  `json:"user,omitempty"`
	Admin  bool    `json:"admin,omitempty"`
	Domain string  `json:"domain,omitempty"`
	PBX    bool    `json:"pbx,omitempty"`
	Scopes []Scope `json:"scopes"`
	// CreatedBy is the ID of the key that minted this one over the API,
	// "bootstrap", or empty for the CLI.
	CreatedBy string    `json:"created_by,omitempty"`
	Created   time.Time `json:"created"`
	// Session marks a web app session (MintSession); Expires, when set,
	// is when the key stops resolving.
	Session bool      `json:"session,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// Kind reports what k acts as.
func (k KeyInfo) Kind() KeyKind {
	switch {
	case k.Session:
		return KeyKindSession
	case k.PBX:
		return KeyKindPBX
	case k.Admin && k.Domain == "":
		return KeyKindOperator
	case k.Admin:
		return KeyKindTenantAdmin
	}
	return KeyKindUser
}

// normalize fills the domain of a user key stored before keys had one.
func (k KeyInfo) normalize() KeyInfo {
	if k.Domain == "" && !k.Admin && !k.PBX {
		if _, d, ok := SplitAOR(k.User); ok {
			k.Domain = strings.ToLower(d)
		}
	}
	return k
}

// Principal returns the principal the key acts as.
func (k KeyInfo) Principal() Principal {
	k = k.normalize()
	return Principal{User: k.User, Admin: k.Admin, Domain: k.Domain, PBX: k.PBX, Scopes: slices.Clone(k.Scopes)}
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
	// PutFirstKey stores k and reports true only the first time it is
	// called on the store, and only if the store holds no key then; it
	// is atomic against concurrent callers on the same store.
	PutFirstKey(ctx context.Context, k StoredKey) (bool, error)
}

// Keys mints, lists, revokes and resolves API keys. It is safe for
// concurrent use.
type Keys struct {
	store KeyStore
	now   func() time.Time

	changed func(ctx context.Context, id string) // announces a revocation to every instance

	mu        sync.Mutex // guards cache and lastPrune
	cache     map[string]cachedKey
	lastPrune time.Time
}

// AnnounceChanges makes Revoke call fn after the store has dropped a key,
// so every instance can Forget it at once (directory.Service.KeyChanged
// does so through the change log). Call it before serving.
func (k *Keys) AnnounceChanges(fn func(ctx context.Context, id string)) { k.changed = fn }

// Forget drops key id from the cache, so its next use reads the store.
func (k *Keys) Forget(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.cache, id)
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

// checkPrincipal validates the identity and scopes a key is minted for and
// returns it with its domain settled: a user key takes its user's domain.
func checkPrincipal(p Principal) (Principal, error) {
	p.Domain = strings.ToLower(strings.TrimSpace(p.Domain))
	if p.User == "" && !p.Admin && !p.PBX {
		return p, &FieldError{Field: "user", Reason: "a key needs a user (ext@domain), or must be an admin or pbx key"}
	}
	if p.Domain != "" && !validDomain(p.Domain) {
		return p, &FieldError{Field: "domain", Reason: fmt.Sprintf("want a host name such as pbx.example.com, got %q", p.Domain)}
	}
	if p.User != "" {
		ext, dom, ok := SplitAOR(p.User)
		u := User{Extension: ext, Domain: dom, FirstName: "-"}
		if err := u.Validate(); !ok || err != nil || strings.ToLower(dom) != dom {
			return p, &FieldError{Field: "user", Reason: fmt.Sprintf("want ext@domain with a numeric extension and a lowercase domain, got %q", p.User)}
		}
		if p.Domain != "" && p.Domain != dom {
			return p, &FieldError{Field: "domain", Reason: fmt.Sprintf("a key with a user is bound to its user's domain %s", dom)}
		}
		if !p.Admin {
			p.Domain = dom
		}
	}
	if p.PBX {
		switch {
		case p.Admin || p.User != "":
			return p, &FieldError{Field: "pbx", Reason: "a pbx key has neither a user nor admin rights"}
		case p.Domain == "":
			return p, &FieldError{Field: "domain", Reason: "a pbx key is bound to one domain"}
		}
	}
	if len(p.Scopes) == 0 {
		return p, &FieldError{Field: "scopes", Reason: "at least one scope is required (" + scopeList() + ")"}
	}
	for _, s := range p.Scopes {
		if !slices.Contains(knownScopes, s) {
			return p, &FieldError{Field: "scopes", Reason: fmt.Sprintf("unknown scope %q (want %s)", s, scopeList())}
		}
		if p.PBX && s != ScopeLookup {
			return p, &FieldError{Field: "scopes", Reason: "a pbx key has only the scope " + string(ScopeLookup)}
		}
	}
	if p.User == "" && slices.Contains(p.Scopes, ScopePersonal) {
		return p, &FieldError{Field: "scopes", Reason: string(ScopePersonal) + " needs a user"}
	}
	return p, nil
}

// validDomain reports whether d is a lowercase DNS host name.
func validDomain(d string) bool {
	if len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

// Mint creates a key acting as p and returns it. The key string is shown
// only here: the store keeps its hash.
func (k *Keys) Mint(ctx context.Context, p Principal) (string, KeyInfo, error) {
	return k.MintBy(ctx, p, "")
}

// MintBy is Mint recording who minted the key (a key ID, or "bootstrap").
func (k *Keys) MintBy(ctx context.Context, p Principal, createdBy string) (string, KeyInfo, error) {
	key, sk, err := k.newKey(p, createdBy)
	if err != nil {
		return "", KeyInfo{}, err
	}
	if err := k.store.PutKey(ctx, sk); err != nil {
		return "", KeyInfo{}, fmt.Errorf("store key %s: %w", sk.ID, err)
	}
	return key, sk.KeyInfo, nil
}

// newKey draws a key for p and returns it with its stored form.
func (k *Keys) newKey(p Principal, createdBy string) (string, StoredKey, error) {
	p, err := checkPrincipal(p)
	if err != nil {
		return "", StoredKey{}, err
	}
	var id [keyIDBytes]byte
	var secret [keySecretLen]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", StoredKey{}, fmt.Errorf("mint key: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", StoredKey{}, fmt.Errorf("mint key: %w", err)
	}
	scopes := slices.Clone(p.Scopes)
	slices.Sort(scopes)
	info := KeyInfo{
		ID: hex.EncodeToString(id[:]), User: p.User, Admin: p.Admin, Domain: p.Domain, PBX: p.PBX,
		Scopes: slices.Compact(scopes), CreatedBy: createdBy, Created: k.now().UTC().Truncate(time.Second),
	}
	sum := sha256.Sum256(secret[:])
	key := keyPrefix + info.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	return key, StoredKey{KeyInfo: info, Hash: hex.EncodeToString(sum[:])}, nil
}

// BootstrapPrincipal is what the bootstrap key acts as: an operator admin
// that can provision users, write company contacts, look numbers up and
// mint every other key.
var BootstrapPrincipal = Principal{Admin: true, Scopes: []Scope{ScopeUsersAdmin, ScopeCompanyWrite, ScopeLookup}}

// Bootstrap mints the first key of a fresh store, acting as
// BootstrapPrincipal, and reports whether it did. A store bootstraps once
// in its life, whatever happens to its keys later, and only if it holds no
// key: of several instances starting at once on one store exactly one gets
// a key, and deleting every key never makes a new admin key appear in a
// log. stage, when set, runs with the key before the store is asked (to
// write it where the operator will find it); if it fails nothing is
// stored.
func (k *Keys) Bootstrap(ctx context.Context, stage func(key string) error) (key string, info KeyInfo, ok bool, err error) {
	key, sk, err := k.newKey(BootstrapPrincipal, "bootstrap")
	if err != nil {
		return "", KeyInfo{}, false, err
	}
	if stage != nil {
		if err := stage(key); err != nil {
			return "", KeyInfo{}, false, fmt.Errorf("bootstrap key: %w", err)
		}
	}
	ok, err = k.store.PutFirstKey(ctx, sk)
	if err != nil {
		return "", KeyInfo{}, false, fmt.Errorf("bootstrap key: %w", err)
	}
	if !ok {
		return "", KeyInfo{}, false, nil
	}
	return key, sk.KeyInfo, true, nil
}

// KeyID returns the ID part of an API key string, or "" when key is not
// one. It does not check the secret.
func KeyID(key string) string {
	id, _, ok := parseKey(key)
	if !ok {
		return ""
	}
	return id
}

// Get returns key id without its secret, or ErrNotFound.
func (k *Keys) Get(ctx context.Context, id string) (KeyInfo, error) {
	sk, err := k.store.GetKey(ctx, id)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("api key %s: %w", id, err)
	}
	return sk.normalize(), nil
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
	if k.changed != nil {
		k.changed(ctx, id)
	}
	return nil
}

// List returns every key, without secrets, sorted by ID.
func (k *Keys) List(ctx context.Context) ([]KeyInfo, error) {
	all, err := k.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]KeyInfo, 0, len(all))
	for _, sk := range all {
		if !sk.Session {
			out = append(out, sk.normalize())
		}
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
	return k.resolve(ctx, key, false)
}

// Recheck is Resolve asking the store, not the cache: long-lived uses of a
// key (an open event stream) call it to learn of a revocation made on
// another instance sooner than KeyCacheTTL.
func (k *Keys) Recheck(ctx context.Context, key string) (Principal, error) {
	return k.resolve(ctx, key, true)
}

func (k *Keys) resolve(ctx context.Context, key string, fresh bool) (Principal, error) {
	id, sum, ok := parseKey(key)
	if !ok {
		return Principal{}, fmt.Errorf("api key: malformed: %w", ErrNotFound)
	}
	now := k.now()
	k.mu.Lock()
	c, hit := k.cache[id]
	k.mu.Unlock()
	if fresh || !hit || now.After(c.expires) {
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
	if !c.k.Expires.IsZero() && !now.Before(c.k.Expires) {
		k.mu.Lock()
		delete(k.cache, id)
		k.mu.Unlock()
		return Principal{}, fmt.Errorf("api key %s: expired: %w", id, ErrNotFound)
	}
	return c.k.Principal(), nil
}

// sessionPruneEvery is how often MintSession sweeps expired sessions out
// of stores that do not expire keys themselves (bbolt, memory).
const sessionPruneEvery = time.Hour

// MintSession creates a web app session acting as p, valid for ttl
// from now (an absolute lifetime: using it does not extend it). It is a
// key like any other, so Resolve, Recheck and Revoke, with their cache
// and cross-instance revocation, apply; List leaves it out.
func (k *Keys) MintSession(ctx context.Context, p Principal, ttl time.Duration) (string, KeyInfo, error) {
	if p.User == "" || p.Admin || p.PBX {
		return "", KeyInfo{}, &FieldError{Field: "user", Reason: "a session acts as one user"}
	}
	key, sk, err := k.newKey(p, "session")
	if err != nil {
		return "", KeyInfo{}, err
	}
	sk.Session, sk.Expires = true, k.now().UTC().Add(ttl).Truncate(time.Second)
	if err := k.store.PutKey(ctx, sk); err != nil {
		return "", KeyInfo{}, fmt.Errorf("store session %s: %w", sk.ID, err)
	}
	k.pruneSessions(ctx)
	return key, sk.KeyInfo, nil
}

// pruneSessions deletes expired sessions from the store, at most once per
// sessionPruneEvery; failures are left for the next sweep.
func (k *Keys) pruneSessions(ctx context.Context) {
	now := k.now()
	k.mu.Lock()
	due := now.Sub(k.lastPrune) >= sessionPruneEvery
	if due {
		k.lastPrune = now
	}
	k.mu.Unlock()
	if !due {
		return
	}
	all, err := k.store.ListKeys(ctx)
	if err != nil {
		return
	}
	for _, sk := range all {
		if sk.Session && !sk.Expires.IsZero() && !now.Before(sk.Expires) {
			_ = k.store.DeleteKey(ctx, sk.ID)
		}
	}
}

// MemKeyStore is an in-memory KeyStore for tests.
type MemKeyStore struct {
	mu           sync.Mutex // guards keys and bootstrapped
	keys         map[string]StoredKey
	bootstrapped bool
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

// PutFirstKey implements KeyStore.
func (s *MemKeyStore) PutFirstKey(_ context.Context, k StoredKey) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.bootstrapped && len(s.keys) == 0
	s.bootstrapped = true
	if first {
		k.Scopes = slices.Clone(k.Scopes)
		s.keys[k.ID] = k
	}
	return first, nil
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
// StoredKey. bucketKeyMeta holds "bootstrapped" once the store has been
// offered a bootstrap key.
var (
	bucketKeys    = []byte("keys")
	bucketKeyMeta = []byte("keymeta")
	keyBootstrap  = []byte("bootstrapped")
)

// BoltKeyStore keeps API keys in a bbolt database, the directory's own
// file (directory.BoltStore.KeyStore).
type BoltKeyStore struct {
	db *bolt.DB
}

var _ KeyStore = (*BoltKeyStore)(nil)

// NewBoltKeyStore returns the API key store in db. It is valid until db is
// closed.
func NewBoltKeyStore(db *bolt.DB) *BoltKeyStore { return &BoltKeyStore{db: db} }

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

// PutFirstKey implements KeyStore.
func (s *BoltKeyStore) PutFirstKey(_ context.Context, k StoredKey) (bool, error) {
	raw, err := json.Marshal(k)
	if err != nil {
		return false, err
	}
	first := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketKeyMeta)
		if err != nil {
			return err
		}
		if meta.Get(keyBootstrap) != nil {
			return nil
		}
		if err := meta.Put(keyBootstrap, []byte(k.ID)); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketKeys)
		if err != nil {
			return err
		}
		if id, _ := b.Cursor().First(); id != nil {
			return nil
		}
		first = true
		return b.Put([]byte(k.ID), raw)
	})
	if err != nil {
		return false, fmt.Errorf("put first key: %w", err)
	}
	return first, nil
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

// RedisKeyStore keeps API keys next to the directory's data in Redis
// (directory.RedisStore.KeyStore), P being the key prefix:
//
//	P key:<id>             string  JSON StoredKey (a session's expires with it)
//	P keys                 set     every key ID but sessions'
//	P keys:bootstrapped    string  ID of the bootstrap key offered first
type RedisKeyStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ KeyStore = (*RedisKeyStore)(nil)

// NewRedisKeyStore returns the API key store on rdb under prefix.
func NewRedisKeyStore(rdb redis.UniversalClient, prefix string) *RedisKeyStore {
	return &RedisKeyStore{rdb: rdb, prefix: prefix}
}

// PutKey implements KeyStore.
func (s *RedisKeyStore) PutKey(ctx context.Context, k StoredKey) error {
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if k.Session {
		// Sessions are many and short-lived: Redis drops them a minute
		// after they expire, and they stay out of the set ListKeys reads.
		ttl := time.Until(k.Expires) + time.Minute
		if err := s.rdb.Set(ctx, s.prefix+"key:"+k.ID, raw, max(ttl, time.Minute)).Err(); err != nil {
			return fmt.Errorf("put session %s: %w", k.ID, err)
		}
		return nil
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

// putFirstKey claims the bootstrap marker with SET NX and stores the key
// only when the claim succeeds and no key exists, all in one script so
// instances starting together cannot both bootstrap.
var putFirstKey = redis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`)

// PutFirstKey implements KeyStore.
func (s *RedisKeyStore) PutFirstKey(ctx context.Context, k StoredKey) (bool, error) {
	raw, err := json.Marshal(k)
	if err != nil {
		return false, err
	}
	n, err := putFirstKey.Run(ctx, s.rdb, []string{s.prefix + "keys:bootstrapped", s.prefix + "keys", s.prefix + "key:" + k.ID}, k.ID, raw).Int()
	if err != nil {
		return false, fmt.Errorf("put first key: %w", err)
	}
	return n == 1, nil
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
