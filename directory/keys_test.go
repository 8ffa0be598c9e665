package directory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	testKeyStore(t, openTestBolt(t, path).KeyStore())
}

func TestRedisKeyStore(t *testing.T) {
	rdb := newTestRedis(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "sbtest:keys:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, err := rdb.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	testKeyStore(t, NewRedisStore(rdb, prefix).KeyStore())
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
	assert.Equal(t, Principal{User: "201@pbx.example.com", Scopes: []Scope{ScopeCompanyRead, ScopePersonal}}, p)

	// The store holds neither the key nor its secret.
	sk, err := store.GetKey(ctx, info.ID)
	require.NoError(t, err)
	raw, err := json.Marshal(sk)
	require.NoError(t, err)
	secret := key[strings.LastIndex(key, "_")+1:]
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
	otherSecret := other[strings.LastIndex(other, "_")+1:]

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
