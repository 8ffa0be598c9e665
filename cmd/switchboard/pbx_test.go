package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedisLease(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if os.Getenv("SWITCHBOARD_INTEGRATION") == "required" {
			t.Fatalf("redis required: %v", err)
		}
		t.Skipf("no redis at %s: %v", url, err)
	}
	prefix := "sbtest:lease:" + time.Now().Format("150405.000000") + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	a := redisLease{rdb: rdb, prefix: prefix, owner: "a"}
	b := redisLease{rdb: rdb, prefix: prefix, owner: "b"}

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

	require.NoError(t, a.Release(ctx, "201/dialog"))
	ok, err = b.Acquire(ctx, "201/dialog", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
}
