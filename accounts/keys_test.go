package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// testKeyStore is the contract every KeyStore meets.
func testKeyStore(t *testing.T, s KeyStore) {
	ctx := context.Background()
	_, err := s.GetKey(ctx, "0123456789abcdef")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, s.DeleteKey(ctx, "0123456789abcdef"), ErrNotFound)
	all, err := s.ListKeys(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)

	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := StoredKey{KeyInfo: KeyInfo{ID: "bb", User: "201@pbx.example.com", Scopes: []Scope{ScopePersonal}, Created: created}, Hash: "h1"}
	b := StoredKey{KeyInfo: KeyInfo{ID: "aa", Admin: true, Scopes: []Scope{ScopeUsersAdmin, ScopeCompanyWrite}, Created: created}, Hash: "h2"}
	require.NoError(t, s.PutKey(ctx, a))
	require.NoError(t, s.PutKey(ctx, b))
	got, err := s.GetKey(ctx, "bb")
	require.NoError(t, err)
	assert.Equal(t, a, got)
	all, err = s.ListKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, []StoredKey{b, a}, all)
	require.NoError(t, s.DeleteKey(ctx, "bb"))
	_, err = s.GetKey(ctx, "bb")
	require.ErrorIs(t, err, ErrNotFound)
	all, err = s.ListKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, []StoredKey{b}, all)
}

func TestMemKeyStore(t *testing.T) { testKeyStore(t, NewMemKeyStore()) }

func TestBoltKeyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir.db")
	testKeyStore(t, openTestBolt(t, path))
}

func TestRedisKeyStore(t *testing.T) {
	rdb := newTestRedis(t)
	testKeyStore(t, NewRedisKeyStore(rdb, redistest.Prefix(t, rdb, "keys")))
}

func TestKeysMintResolve(t *testing.T) {
	ctx := context.Background()
	store := NewMemKeyStore()
	keys := NewKeys(store)
	key, info, err := keys.Mint(ctx, Principal{User: "201@pbx.example.com", Scopes: []Scope{ScopeCompanyRead, ScopePersonal, ScopePersonal}})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(key, "sbk_"+info.ID+"_"), key)
	assert.Equal(t, []Scope{ScopeCompanyRead, ScopePersonal}, info.Scopes)

	p, err := keys.Resolve(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, Principal{User: "201@pbx.example.com", Domain: "pbx.example.com", Scopes: []Scope{ScopeCompanyRead, ScopePersonal}}, p)

	// The store holds neither the key nor its secret.
	sk, err := store.GetKey(ctx, info.ID)
	require.NoError(t, err)
	raw, err := json.Marshal(sk)
	require.NoError(t, err)
	secret := key[len("sbk_0123456789abcdef_"):]
	assert.NotContains(t, string(raw), secret)
	listed, err := keys.List(ctx)
	require.NoError(t, err)
	raw, err = json.Marshal(listed)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret)
	assert.NotContains(t, string(raw), sk.Hash)
	assert.Equal(t, []KeyInfo{info}, listed)

	other, _, err := keys.Mint(ctx, Principal{Admin: true, Scopes: []Scope{ScopeUsersAdmin}})
	require.NoError(t, err)
	otherSecret := other[len("sbk_0123456789abcdef_"):]

	for _, tc := range []struct {
		name string
		key  string
	}{
		{name: "empty", key: ""},
		{name: "no prefix", key: strings.TrimPrefix(key, "sbk_")},
		{name: "wrong secret", key: "sbk_" + info.ID + "_" + otherSecret},
		{name: "truncated secret", key: key[:len(key)-2]},
		{name: "unknown id", key: "sbk_0123456789abcdef_" + secret},
		{name: "uppercase id", key: "sbk_" + strings.ToUpper(info.ID) + "_" + secret},
		{name: "garbage", key: "sbk_zz_zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.Resolve(ctx, tc.key)
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func TestKeysMintValidation(t *testing.T) {
	keys := NewKeys(NewMemKeyStore())
	for _, tc := range []struct {
		name  string
		p     Principal
		field string
	}{
		{name: "no identity", p: Principal{Scopes: []Scope{ScopeLookup}}, field: "user"},
		{name: "bad user", p: Principal{User: "alice", Scopes: []Scope{ScopeLookup}}, field: "user"},
		{name: "non-numeric extension", p: Principal{User: "ana@pbx.example.com", Scopes: []Scope{ScopeLookup}}, field: "user"},
		{name: "no scopes", p: Principal{User: "201@pbx.example.com"}, field: "scopes"},
		{name: "unknown scope", p: Principal{User: "201@pbx.example.com", Scopes: []Scope{"root"}}, field: "scopes"},
		{name: "personal without user", p: Principal{Admin: true, Scopes: []Scope{ScopePersonal}}, field: "scopes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := keys.Mint(context.Background(), tc.p)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "got %v", err)
			assert.Equal(t, tc.field, fe.Field)
		})
	}
}

func TestKeysRevoke(t *testing.T) {
	ctx := context.Background()
	store := NewMemKeyStore()
	keys := NewKeys(store)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	keys.now = func() time.Time { return now }
	// elsewhere shares the store, like a second instance or the CLI.
	elsewhere := NewKeys(store)
	elsewhere.now = keys.now

	key, info, err := keys.Mint(ctx, Principal{User: "201@pbx.example.com", Scopes: []Scope{ScopeLookup}})
	require.NoError(t, err)
	_, err = keys.Resolve(ctx, key)
	require.NoError(t, err)
	_, err = elsewhere.Resolve(ctx, key)
	require.NoError(t, err)

	require.NoError(t, keys.Revoke(ctx, info.ID))
	_, err = keys.Resolve(ctx, key)
	require.ErrorIs(t, err, ErrNotFound, "revoked through the same Keys: at once")
	_, err = elsewhere.Resolve(ctx, key)
	require.NoError(t, err, "cached elsewhere until the TTL ends")
	now = now.Add(KeyCacheTTL + time.Second)
	_, err = elsewhere.Resolve(ctx, key)
	require.ErrorIs(t, err, ErrNotFound, "revoked elsewhere: after the TTL")

	require.ErrorIs(t, keys.Revoke(ctx, info.ID), ErrNotFound)
}

func TestKeysCacheSparesStore(t *testing.T) {
	ctx := context.Background()
	store := &countingKeyStore{KeyStore: NewMemKeyStore()}
	keys := NewKeys(store)
	key, _, err := keys.Mint(ctx, Principal{User: "201@pbx.example.com", Scopes: []Scope{ScopeLookup}})
	require.NoError(t, err)
	for range 5 {
		_, err := keys.Resolve(ctx, key)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, store.gets)
	// A cached id does not let a wrong secret through.
	_, err = keys.Resolve(ctx, key[:len(key)-4]+"AAAA")
	require.ErrorIs(t, err, ErrNotFound)
}

type countingKeyStore struct {
	KeyStore
	gets int
}

func (s *countingKeyStore) GetKey(ctx context.Context, id string) (StoredKey, error) {
	s.gets++
	return s.KeyStore.GetKey(ctx, id)
}

// testPutFirstKey is the bootstrap contract: of many concurrent callers on
// a fresh store exactly one stores its key, and never again afterwards.
func testPutFirstKey(t *testing.T, s KeyStore) {
	ctx := context.Background()
	const callers = 8
	wins := make(chan string, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := StoredKey{KeyInfo: KeyInfo{ID: fmt.Sprintf("%016x", i), Admin: true, Scopes: []Scope{ScopeUsersAdmin}}, Hash: "h"}
			ok, err := s.PutFirstKey(ctx, k)
			assert.NoError(t, err)
			if ok {
				wins <- k.ID
			}
		}()
	}
	wg.Wait()
	close(wins)
	var won []string
	for id := range wins {
		won = append(won, id)
	}
	require.Len(t, won, 1, "exactly one bootstrap")
	all, err := s.ListKeys(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, won[0], all[0].ID)

	// Once bootstrapped, an emptied store does not bootstrap again.
	require.NoError(t, s.DeleteKey(ctx, won[0]))
	ok, err := s.PutFirstKey(ctx, StoredKey{KeyInfo: KeyInfo{ID: "ffffffffffffffff", Admin: true, Scopes: []Scope{ScopeUsersAdmin}}, Hash: "h"})
	require.NoError(t, err)
	assert.False(t, ok)
	all, err = s.ListKeys(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)
}

func TestPutFirstKey(t *testing.T) {
	t.Run("mem", func(t *testing.T) { testPutFirstKey(t, NewMemKeyStore()) })
	t.Run("bolt", func(t *testing.T) {
		testPutFirstKey(t, openTestBolt(t, filepath.Join(t.TempDir(), "dir.db")))
	})
	t.Run("redis", func(t *testing.T) { testPutFirstKey(t, newTestRedisKeyStore(t)) })
	t.Run("not when keys exist", func(t *testing.T) {
		s := NewMemKeyStore()
		_, _, err := NewKeys(s).Mint(context.Background(), Principal{User: "201@pbx.example.com", Scopes: []Scope{ScopeLookup}})
		require.NoError(t, err)
		ok, err := s.PutFirstKey(context.Background(), StoredKey{KeyInfo: KeyInfo{ID: "aa"}})
		require.NoError(t, err)
		assert.False(t, ok)
	})
}

func newTestRedisKeyStore(t *testing.T) *RedisKeyStore {
	t.Helper()
	rdb := newTestRedis(t)
	return NewRedisKeyStore(rdb, redistest.Prefix(t, rdb, "keys"))
}

func TestKeysBootstrap(t *testing.T) {
	ctx := context.Background()
	keys := NewKeys(NewMemKeyStore())
	var staged string
	key, info, ok, err := keys.Bootstrap(ctx, func(k string) error { staged = k; return nil })
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, staged, key)
	assert.Equal(t, KeyKindOperator, info.Kind())
	assert.Equal(t, "bootstrap", info.CreatedBy)
	p, err := keys.Resolve(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, Principal{Admin: true, Scopes: []Scope{ScopeCompanyWrite, ScopeLookup, ScopeUsersAdmin}}, p)

	_, _, ok, err = keys.Bootstrap(ctx, nil)
	require.NoError(t, err)
	assert.False(t, ok, "once per store")

	// A failed stage stores nothing, so a later start bootstraps.
	fresh := NewKeys(NewMemKeyStore())
	_, _, ok, err = fresh.Bootstrap(ctx, func(string) error { return errors.New("disk full") })
	require.ErrorContains(t, err, "disk full")
	assert.False(t, ok)
	_, _, ok, err = fresh.Bootstrap(ctx, nil)
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestKeysKindsAndDomains(t *testing.T) {
	ctx := context.Background()
	keys := NewKeys(NewMemKeyStore())
	for _, tc := range []struct {
		name string
		p    Principal
		kind KeyKind
		want Principal
	}{
		{name: "user takes its domain", p: Principal{User: "201@a.example", Scopes: []Scope{ScopePersonal}}, kind: KeyKindUser,
			want: Principal{User: "201@a.example", Domain: "a.example", Scopes: []Scope{ScopePersonal}}},
		{name: "tenant admin", p: Principal{Admin: true, Domain: "A.Example", Scopes: []Scope{ScopeUsersAdmin}}, kind: KeyKindTenantAdmin,
			want: Principal{Admin: true, Domain: "a.example", Scopes: []Scope{ScopeUsersAdmin}}},
		{name: "operator", p: Principal{Admin: true, Scopes: []Scope{ScopeUsersAdmin}}, kind: KeyKindOperator,
			want: Principal{Admin: true, Scopes: []Scope{ScopeUsersAdmin}}},
		{name: "pbx", p: Principal{PBX: true, Domain: "a.example", Scopes: []Scope{ScopeLookup}}, kind: KeyKindPBX,
			want: Principal{PBX: true, Domain: "a.example", Scopes: []Scope{ScopeLookup}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, info, err := keys.Mint(ctx, tc.p)
			require.NoError(t, err)
			assert.Equal(t, tc.kind, info.Kind())
			p, err := keys.Resolve(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, tc.want, p)
		})
	}
	for _, tc := range []struct {
		name  string
		p     Principal
		field string
	}{
		{name: "user in another domain", p: Principal{User: "201@a.example", Domain: "b.example", Scopes: []Scope{ScopeLookup}}, field: "domain"},
		{name: "bad domain", p: Principal{Admin: true, Domain: "evil\r\n.test", Scopes: []Scope{ScopeUsersAdmin}}, field: "domain"},
		{name: "pbx without domain", p: Principal{PBX: true, Scopes: []Scope{ScopeLookup}}, field: "domain"},
		{name: "pbx with more than lookup", p: Principal{PBX: true, Domain: "a.example", Scopes: []Scope{ScopeLookup, ScopeCompanyRead}}, field: "scopes"},
		{name: "pbx with a user", p: Principal{PBX: true, User: "201@a.example", Domain: "a.example", Scopes: []Scope{ScopeLookup}}, field: "pbx"},
		{name: "pbx admin", p: Principal{PBX: true, Admin: true, Domain: "a.example", Scopes: []Scope{ScopeLookup}}, field: "pbx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := keys.Mint(ctx, tc.p)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "got %v", err)
			assert.Equal(t, tc.field, fe.Field)
		})
	}
}

// Keys stored before tenants existed have no domain: a user key takes its
// user's, an admin key stays an operator key.
func TestKeysWithoutDomain(t *testing.T) {
	ctx := context.Background()
	store := NewMemKeyStore()
	keys := NewKeys(store)
	userKey, user, err := keys.Mint(ctx, Principal{User: "201@a.example", Scopes: []Scope{ScopePersonal}})
	require.NoError(t, err)
	adminKey, admin, err := keys.Mint(ctx, Principal{Admin: true, User: "202@a.example", Scopes: []Scope{ScopeUsersAdmin}})
	require.NoError(t, err)
	// Rewrite both as an old version stored them.
	for _, id := range []string{user.ID, admin.ID} {
		sk, err := store.GetKey(ctx, id)
		require.NoError(t, err)
		raw, err := json.Marshal(sk)
		require.NoError(t, err)
		var old map[string]any
		require.NoError(t, json.Unmarshal(raw, &old))
		delete(old, "domain")
		delete(old, "created_by")
		raw, err = json.Marshal(old)
		require.NoError(t, err)
		var back StoredKey
		require.NoError(t, json.Unmarshal(raw, &back))
		require.Empty(t, back.Domain)
		require.NoError(t, store.PutKey(ctx, back))
	}
	fresh := NewKeys(store)
	p, err := fresh.Resolve(ctx, userKey)
	require.NoError(t, err)
	assert.Equal(t, "a.example", p.Domain)
	p, err = fresh.Resolve(ctx, adminKey)
	require.NoError(t, err)
	assert.Empty(t, p.Domain)
	got, err := fresh.Get(ctx, user.ID)
	require.NoError(t, err)
	assert.Equal(t, "a.example", got.Domain)
	assert.Equal(t, KeyKindUser, got.Kind())
	got, err = fresh.Get(ctx, admin.ID)
	require.NoError(t, err)
	assert.Equal(t, KeyKindOperator, got.Kind())
}

func TestKeysRecheckSkipsCache(t *testing.T) {
	ctx := context.Background()
	store := NewMemKeyStore()
	keys, elsewhere := NewKeys(store), NewKeys(store)
	key, info, err := keys.Mint(ctx, Principal{User: "201@pbx.example.com", Scopes: []Scope{ScopeLookup}})
	require.NoError(t, err)
	_, err = keys.Resolve(ctx, key)
	require.NoError(t, err)
	require.NoError(t, elsewhere.Revoke(ctx, info.ID))
	_, err = keys.Resolve(ctx, key)
	require.NoError(t, err, "cached")
	_, err = keys.Recheck(ctx, key)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = keys.Resolve(ctx, key)
	require.ErrorIs(t, err, ErrNotFound, "the recheck also cleared the cache")
	assert.Equal(t, info.ID, KeyID(key))
	assert.Empty(t, KeyID("alice"))
}
