package lease_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"github.com/switchboardhq/switchboard/lease"
	"github.com/switchboardhq/switchboard/sip/watcher"
)

var _ watcher.Lease = (*lease.Redis)(nil)

// testRedis returns a client to the test Redis and a key prefix of this
// test alone (see internal/redistest).
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	rdb := redistest.Client(t)
	return rdb, redistest.Prefix(t, rdb, "lease")
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
