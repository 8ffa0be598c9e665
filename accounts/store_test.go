package accounts

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// openTestBolt returns a key store in a bbolt file at path, closed at
// cleanup.
func openTestBolt(t *testing.T, path string) *BoltKeyStore {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return NewBoltKeyStore(db)
}

// newTestRedis returns a client to the test Redis (see internal/redistest).
func newTestRedis(t testing.TB) *redis.Client {
	t.Helper()
	return redistest.Client(t)
}

// TestKeyStoreLayout pins where keys live, so that stores written before
// a change keep working: bolt buckets "keys" (ID → JSON StoredKey) and
// "keymeta" ("bootstrapped" → ID); Redis keys P"key:<id>", P"keys" and
// P"keys:bootstrapped"; the JSON field names of StoredKey.
func TestKeyStoreLayout(t *testing.T) {
	ctx := context.Background()
	sk := StoredKey{KeyInfo: KeyInfo{ID: "00112233445566aa", User: "201@a.example", Domain: "a.example",
		Scopes: []Scope{ScopePersonal}, CreatedBy: "bootstrap", Created: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, Hash: "h"}
	const wantJSON = `{"id":"00112233445566aa","user":"201@a.example","domain":"a.example","scopes":["contacts:personal"],` +
		`"created_by":"bootstrap","created":"2026-03-01T12:00:00Z","hash":"h"}`

	t.Run("bolt", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "dir.db")
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		defer db.Close()
		ok, err := NewBoltKeyStore(db).PutFirstKey(ctx, sk)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, db.View(func(tx *bolt.Tx) error {
			assert.JSONEq(t, wantJSON, string(tx.Bucket([]byte("keys")).Get([]byte(sk.ID))))
			assert.Equal(t, sk.ID, string(tx.Bucket([]byte("keymeta")).Get([]byte("bootstrapped"))))
			return nil
		}))
	})
	t.Run("redis", func(t *testing.T) {
		rdb := newTestRedis(t)
		prefix := redistest.Prefix(t, rdb, "keys")
		ok, err := NewRedisKeyStore(rdb, prefix).PutFirstKey(ctx, sk)
		require.NoError(t, err)
		require.True(t, ok)
		raw, err := rdb.Get(ctx, prefix+"key:"+sk.ID).Result()
		require.NoError(t, err)
		assert.JSONEq(t, wantJSON, raw)
		assert.True(t, rdb.SIsMember(ctx, prefix+"keys", sk.ID).Val())
		assert.Equal(t, sk.ID, rdb.Get(ctx, prefix+"keys:bootstrapped").Val())
	})
	raw, err := json.Marshal(sk)
	require.NoError(t, err)
	assert.JSONEq(t, wantJSON, string(raw))
}
