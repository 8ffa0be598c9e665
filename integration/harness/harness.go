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
	"net"
	"os"
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

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free tcp port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free udp port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
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
