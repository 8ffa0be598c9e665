package accounts

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSessions(t *testing.T) {
	stores := map[string]func(t *testing.T) KeyStore{
		"mem":   func(*testing.T) KeyStore { return NewMemKeyStore() },
		"bolt":  func(t *testing.T) KeyStore { return openTestBolt(t, filepath.Join(t.TempDir(), "k.db")) },
		"redis": func(t *testing.T) KeyStore { return newTestRedisKeyStore(t) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			keys := NewKeys(store)
			now := time.Now()
			keys.now = func() time.Time { return now }
			user := Principal{User: "201@a.example", Scopes: []Scope{ScopePersonal, ScopeCompanyRead}}
			apiKey, _, err := keys.Mint(ctx, user)
			require.NoError(t, err)

			_, _, err = keys.MintSession(ctx, Principal{Admin: true, Scopes: []Scope{ScopeUsersAdmin}}, time.Hour)
			require.Error(t, err, "a session is a user's")

			sess, info, err := keys.MintSession(ctx, user, 12*time.Hour)
			require.NoError(t, err)
			assert.Equal(t, KeyKindSession, info.Kind())
			assert.Equal(t, "a.example", info.Domain)
			p, err := keys.Resolve(ctx, sess)
			require.NoError(t, err)
			assert.Equal(t, "201@a.example", p.User)
			assert.Equal(t, "a.example", p.Tenant())

			list, err := keys.List(ctx)
			require.NoError(t, err)
			require.Len(t, list, 1, "sessions are not listed as API keys")
			assert.Equal(t, KeyID(apiKey), list[0].ID)

			now = now.Add(12*time.Hour + time.Second)
			_, err = keys.Resolve(ctx, sess)
			require.ErrorIs(t, err, ErrNotFound, "expired, from the cache too")
			_, err = keys.Recheck(ctx, sess)
			require.ErrorIs(t, err, ErrNotFound)

			// A sweep after an hour drops expired sessions from the store.
			_, _, err = keys.MintSession(ctx, user, time.Hour)
			require.NoError(t, err)
			_, err = store.GetKey(ctx, info.ID)
			if name != "redis" { // Redis expires them itself
				require.ErrorIs(t, err, ErrNotFound)
			}

			other, _, err := keys.MintSession(ctx, user, time.Hour)
			require.NoError(t, err)
			require.NoError(t, keys.Revoke(ctx, KeyID(other)))
			_, err = keys.Resolve(ctx, other)
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func TestRedisSessionExpiresInRedis(t *testing.T) {
	ctx := context.Background()
	rdb := newTestRedis(t)
	store := newTestRedisKeyStore(t)
	keys := NewKeys(store)
	_, info, err := keys.MintSession(ctx, Principal{User: "201@a.example", Scopes: []Scope{ScopePersonal}}, time.Hour)
	require.NoError(t, err)
	ttl := rdb.TTL(ctx, store.prefix+"key:"+info.ID).Val()
	assert.Greater(t, ttl, time.Hour)
	assert.LessOrEqual(t, ttl, time.Hour+time.Minute)
	assert.False(t, rdb.SIsMember(ctx, store.prefix+"keys", info.ID).Val())
}
