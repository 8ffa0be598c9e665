// Package harness provides real Redis and NATS servers to tests.
//
// Each of [Redis] and [NATS] picks the first source that works:
//
//  1. REDIS_URL / NATS_URL when set (a shared server: use unique keys and subjects);
//  2. redis-server / nats-server from PATH, started for this test alone on a
//     free loopback port with its data in t.TempDir(), stopped in t.Cleanup;
//  3. a testcontainers-go container when a Docker engine answers;
//  4. otherwise the test is skipped with the reason, or fails when
//     SWITCHBOARD_INTEGRATION=required (as in CI).
//
// [StartRedis] and [StartNATS] always use the PATH binary and return a handle
// whose Stop and Start restart the server on the same port, for fault tests.
package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Environment variables read by the harness.
const (
	// EnvRequired set to "required" turns every skip into a failure.
	EnvRequired = "SWITCHBOARD_INTEGRATION"
	// EnvRedisURL points at an existing Redis.
	EnvRedisURL = "REDIS_URL"
	// EnvNATSURL points at an existing NATS server.
	EnvNATSURL = "NATS_URL"
)

// startTimeout bounds the wait for a server to answer.
const startTimeout = 15 * time.Second

// unavailable skips t, or fails it when integration servers are required.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(EnvRequired) == "required" {
		t.Fatalf("%s (and %s=required)", msg, EnvRequired)
	}
	t.Skipf("skipping: %s (%s=required turns this skip into a failure)", msg, EnvRequired)
}

// Test servers listen on ports below Linux's default ephemeral range
// (32768-60999): a port the kernel hands out at random is also the source
// port of outgoing connections, so between the check and the bind another
// process's connection could take it.
const (
	portLow  = 20000
	portHigh = 32767
)

// handed holds the ports freePort returned in this process: a port is
// free until its server binds it, so two calls in a row (a server's SIP
// and HTTP ports) could otherwise both get it.
var handed struct {
	sync.Mutex
	ports map[int]bool
}

// freePort returns a random port in [portLow, portHigh] that free reports
// bindable and that no earlier call returned.
func freePort(t testing.TB, proto string, free func(addr string) error) int {
	t.Helper()
	var err error
	for range 100 {
		p := portLow + rand.IntN(portHigh-portLow+1)
		handed.Lock()
		taken := handed.ports[p]
		if !taken {
			if handed.ports == nil {
				handed.ports = map[int]bool{}
			}
			handed.ports[p] = true
		}
		handed.Unlock()
		if taken {
			continue
		}
		if err = free(net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			return p
		}
	}
	t.Fatalf("find free %s port: %v", proto, err)
	return 0
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	return freePort(t, "tcp", func(addr string) error {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
		}
		return err
	})
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	return freePort(t, "udp", func(addr string) error {
		c, err := net.ListenPacket("udp", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// dockerErr reports why no Docker engine is usable, or nil when one answers.
func dockerErr(ctx context.Context) (err error) {
	// testcontainers panics on some broken setups instead of returning.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker provider panicked: %v", r)
		}
	}()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("docker provider: %w", err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Health(ctx); err != nil {
		return fmt.Errorf("docker health: %w", err)
	}
	return nil
}
