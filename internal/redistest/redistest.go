// Package redistest gives tests a real Redis: the server at REDIS_URL (or
// 127.0.0.1:6379) and a key prefix of their own, removed when the test
// ends. Without a server the test is skipped, or fails when
// SWITCHBOARD_INTEGRATION=required (as in CI).
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client returns a client to the test server, closed at cleanup.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL %q: %v", url, err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("SWITCHBOARD_INTEGRATION") == "required" {
			t.Fatalf("redis at %s is required: %v", url, err)
		}
		t.Skipf("no redis at %s (set REDIS_URL, or SWITCHBOARD_INTEGRATION=required to fail): %v", url, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Prefix returns a fresh key prefix "sbtest:<name>:<random>:" whose keys
// are deleted at cleanup (registered after the client's, so it runs first).
func Prefix(t testing.TB, rdb *redis.Client, name string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "sbtest:" + name + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, err := rdb.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return prefix
}
