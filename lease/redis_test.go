package lease_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/lease"
	"github.com/switchboardhq/switchboard/sip/watcher"
)

var _ watcher.Lease = (*lease.Redis)(nil)

// testRedis connects to REDIS_URL (default the local server) and returns
// the client and a key prefix of this test alone, deleted at the end.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if os.Getenv("SWITCHBOARD_INTEGRATION") == "required" {
			t.Fatalf("redis required: %v", err)
		}
		t.Skipf("no redis at %s: %v", url, err)
	}
	prefix := "sbtest:lease:" + t.Name() + ":" + time.Now().Format("150405.000000") + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return rdb, prefix
}

func TestRedisLease(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	a := lease.NewRedis(rdb, prefix, "a")
	b := lease.NewRedis(rdb, prefix, "b")

	ok, err := a.Acquire(ctx, "201/dialog", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = b.Acquire(ctx, "201/dialog", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "one holder at a time")
	ok, err = b.Renew(ctx, "201/dialog", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "only the holder renews")
	require.NoError(t, b.Release(ctx, "201/dialog"))
	ok, err = a.Renew(ctx, "201/dialog", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "another's release does not free it")
	ok, err = a.Acquire(ctx, "201/dialog", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "a restarted holder with the same id keeps it")

	holder, left, err := b.Holder(ctx, "201/dialog")
	require.NoError(t, err)
	assert.Equal(t, "a", holder)
	assert.Greater(t, left, 50*time.Second)

	ok, err = b.Takeover(ctx, "201/dialog", "c", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "takeover only from the holder named")
	ok, err = b.Takeover(ctx, "201/dialog", "a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	holder, _, err = a.Holder(ctx, "201/dialog")
	require.NoError(t, err)
	assert.Equal(t, "b", holder)

	require.NoError(t, b.Release(ctx, "201/dialog"))
	holder, _, err = a.Holder(ctx, "201/dialog")
	require.NoError(t, err)
	assert.Empty(t, holder)
	ok, err = a.Acquire(ctx, "201/dialog", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
}
