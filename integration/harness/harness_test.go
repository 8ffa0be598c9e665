package harness_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
)

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	opts.MaxRetries = -1 // fault tests want to see failures, not retries
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func natsConn(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

func roundTrip(t *testing.T, nc *nats.Conn) {
	t.Helper()
	subj := nats.NewInbox()
	sub, err := nc.SubscribeSync(subj)
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, nc.Publish(subj, []byte("hi")))
	msg, err := sub.NextMsg(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(msg.Data))
}

func TestRedis(t *testing.T) {
	c := redisClient(t, harness.Redis(t))
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx).Err())
	key := "harness:" + t.Name()
	require.NoError(t, c.Set(ctx, key, "v", time.Minute).Err())
	got, err := c.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)
}

func TestNATS(t *testing.T) {
	roundTrip(t, natsConn(t, harness.NATS(t)))
}

func TestEachTestOwnsItsServers(t *testing.T) {
	t.Setenv(harness.EnvRedisURL, "")
	t.Setenv(harness.EnvNATSURL, "")
	assert.NotEqual(t, harness.Redis(t), harness.Redis(t))
	assert.NotEqual(t, harness.NATS(t), harness.NATS(t))
}

func TestEnvURLWins(t *testing.T) {
	t.Setenv(harness.EnvRedisURL, "redis://example.invalid:1")
	t.Setenv(harness.EnvNATSURL, "nats://example.invalid:2")
	assert.Equal(t, "redis://example.invalid:1", harness.Redis(t))
	assert.Equal(t, "nats://example.invalid:2", harness.NATS(t))
}

func TestRedisFaultCycle(t *testing.T) {
	s := harness.StartRedis(t)
	c := redisClient(t, s.URL())
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx).Err())

	s.Stop()
	require.Error(t, c.Ping(ctx).Err(), "down after Stop")

	s.Start()
	assert.True(t, strings.HasSuffix(s.URL(), s.Addr()))
	require.Eventually(t, func() bool { return c.Ping(ctx).Err() == nil }, 5*time.Second, 20*time.Millisecond, "same client works after Start")
}

func TestNATSFaultCycle(t *testing.T) {
	s := harness.StartNATS(t)
	nc := natsConn(t, s.URL())
	roundTrip(t, nc)

	s.Stop()
	require.Eventually(t, func() bool { return !nc.IsConnected() }, 5*time.Second, 10*time.Millisecond, "down after Stop")

	s.Start()
	require.Eventually(t, nc.IsConnected, 10*time.Second, 10*time.Millisecond, "reconnects to the same port")
	roundTrip(t, nc)
}

func TestFreePorts(t *testing.T) {
	tests := []struct {
		name   string
		port   func(testing.TB) int
		listen func(addr string) (func() error, error)
	}{
		{name: "tcp", port: harness.FreePort, listen: func(addr string) (func() error, error) {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return nil, err
			}
			return l.Close, nil
		}},
		{name: "udp", port: harness.FreeUDPPort, listen: func(addr string) (func() error, error) {
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				return nil, err
			}
			return c.Close, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.port(t)
			require.Greater(t, p, 0)
			closeFn, err := tt.listen(fmt.Sprintf("127.0.0.1:%d", p))
			require.NoError(t, err, "port is bindable")
			require.NoError(t, closeFn())
		})
	}
}

// recordingTB stands in for t to observe Skip and Fatal without ending the
// real test; like testing.T it ends the calling goroutine.
type recordingTB struct {
	testing.TB
	mu      sync.Mutex // guards skipped, failed, msg
	skipped bool
	failed  bool
	msg     string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// TestNothingAvailable hides every source and checks the skip/fail rule.
func TestNothingAvailable(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	t.Setenv(harness.EnvRedisURL, "")
	t.Setenv(harness.EnvNATSURL, "")

	servers := []struct {
		name string
		get  func(testing.TB)
	}{
		{name: "redis", get: func(tb testing.TB) { harness.Redis(tb) }},
		{name: "nats", get: func(tb testing.TB) { harness.NATS(tb) }},
		{name: "restartable redis", get: func(tb testing.TB) { harness.StartRedis(tb) }},
		{name: "restartable nats", get: func(tb testing.TB) { harness.StartNATS(tb) }},
	}
	modes := []struct {
		name     string
		required string
		wantFail bool
	}{
		{name: "optional skips", required: "", wantFail: false},
		{name: "required fails", required: "required", wantFail: true},
	}
	for _, srv := range servers {
		for _, mode := range modes {
			t.Run(srv.name+"/"+mode.name, func(t *testing.T) {
				t.Setenv(harness.EnvRequired, mode.required)
				rec := &recordingTB{TB: t}
				done := make(chan struct{})
				go func() {
					defer close(done)
					srv.get(rec)
				}()
				<-done
				assert.Equal(t, mode.wantFail, rec.failed, rec.msg)
				assert.Equal(t, !mode.wantFail, rec.skipped, rec.msg)
				assert.Contains(t, rec.msg, "from PATH")
				t.Log(rec.msg)
			})
		}
	}
}
