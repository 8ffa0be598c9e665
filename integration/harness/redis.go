package harness

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

const redisImage = "redis:7"

// Redis returns the URL (redis://host:port) of a Redis for this test; see
// the package comment for where it comes from.
func Redis(t testing.TB) (url string) {
	t.Helper()
	if u := os.Getenv(EnvRedisURL); u != "" {
		return u
	}
	s, err := startRedis(t)
	if err == nil {
		return s.URL()
	}
	pathErr := err
	if err := dockerErr(context.Background()); err != nil {
		unavailable(t, "no Redis: %s unset, redis-server from PATH: %v, docker: %v", EnvRedisURL, pathErr, err)
	}
	return redisContainer(t)
}

// RedisServer is a redis-server from PATH owned by one test. Use it from
// the test goroutine.
type RedisServer struct {
	p *process
}

// StartRedis starts a redis-server from PATH for this test, ignoring
// REDIS_URL and Docker, so it can be stopped and started for fault tests.
// Without the binary it skips, or fails under SWITCHBOARD_INTEGRATION=required.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	s, err := startRedis(t)
	if err != nil {
		unavailable(t, "no restartable Redis: redis-server from PATH: %v", err)
	}
	return s
}

func startRedis(t testing.TB) (*RedisServer, error) {
	t.Helper()
	args := func(port int, dir string) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	}
	ready := func(addr string) error { return dialLine(addr, "PING\r\n", "+PONG") }
	p, err := startProcess(t, "redis-server", args, ready)
	if err != nil {
		return nil, err
	}
	return &RedisServer{p: p}, nil
}

// URL returns redis://127.0.0.1:port.
func (s *RedisServer) URL() string { return "redis://" + s.p.addr() }

// Addr returns 127.0.0.1:port.
func (s *RedisServer) Addr() string { return s.p.addr() }

// Stop stops the server and waits for it to exit; the port stays reserved
// for Start. Data is lost: persistence is off.
func (s *RedisServer) Stop() { s.p.stop() }

// Start starts the server again on the same port and waits until it
// answers PING; it fails the test if it cannot.
func (s *RedisServer) Start() {
	s.p.t.Helper()
	if err := s.p.start(); err != nil {
		s.p.t.Fatalf("restart redis-server: %v", err)
	}
}

func redisContainer(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	ctr, err := tcredis.Run(ctx, redisImage)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		unavailable(t, "no Redis: container %s: %v", redisImage, err)
	}
	u, err := ctr.ConnectionString(ctx)
	if err != nil {
		t.Fatalf("redis container url: %v", err)
	}
	return u
}

// String returns the URL, for logs.
func (s *RedisServer) String() string { return s.URL() }
