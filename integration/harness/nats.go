package harness

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

const natsImage = "nats:2"

// NATS returns the URL (nats://host:port) of a NATS server with JetStream
// for this test; see the package comment for where it comes from.
func NATS(t testing.TB) (url string) {
	t.Helper()
	if u := os.Getenv(EnvNATSURL); u != "" {
		return u
	}
	s, err := startNATS(t)
	if err == nil {
		return s.URL()
	}
	pathErr := err
	if err := dockerErr(context.Background()); err != nil {
		unavailable(t, "no NATS: %s unset, nats-server from PATH: %v, docker: %v", EnvNATSURL, pathErr, err)
	}
	return natsContainer(t)
}

// NATSServer is a nats-server from PATH owned by one test. Use it from the
// test goroutine.
type NATSServer struct {
	p *process
}

// StartNATS starts a nats-server (with JetStream) from PATH for this test,
// ignoring NATS_URL and Docker, so it can be stopped and started for fault
// tests. Without the binary it skips, or fails under
// SWITCHBOARD_INTEGRATION=required.
func StartNATS(t testing.TB) *NATSServer {
	t.Helper()
	s, err := startNATS(t)
	if err != nil {
		unavailable(t, "no restartable NATS: nats-server from PATH: %v", err)
	}
	return s
}

func startNATS(t testing.TB) (*NATSServer, error) {
	t.Helper()
	args := func(port int, dir string) []string {
		return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir}
	}
	// The server greets every client with an INFO line once it accepts them.
	ready := func(addr string) error { return dialLine(addr, "", "INFO ") }
	p, err := startProcess(t, "nats-server", args, ready)
	if err != nil {
		return nil, err
	}
	return &NATSServer{p: p}, nil
}

// URL returns nats://127.0.0.1:port.
func (s *NATSServer) URL() string { return "nats://" + s.p.addr() }

// Addr returns 127.0.0.1:port.
func (s *NATSServer) Addr() string { return s.p.addr() }

// String returns the URL, for logs.
func (s *NATSServer) String() string { return s.URL() }

// Stop stops the server and waits for it to exit; the port stays reserved
// for Start. JetStream data in the test's temp dir survives.
func (s *NATSServer) Stop() { s.p.stop() }

// Start starts the server again on the same port and waits until it
// accepts clients; it fails the test if it cannot.
func (s *NATSServer) Start() {
	s.p.t.Helper()
	if err := s.p.start(); err != nil {
		s.p.t.Fatalf("restart nats-server: %v", err)
	}
}

func natsContainer(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	ctr, err := testcontainers.Run(ctx, natsImage,
		testcontainers.WithCmd("-js"),
		testcontainers.WithExposedPorts("4222/tcp"),
		testcontainers.WithWaitStrategy(wait.ForListeningPort("4222/tcp")),
	)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		unavailable(t, "no NATS: container %s: %v", natsImage, err)
	}
	ep, err := ctr.PortEndpoint(ctx, "4222/tcp", "nats")
	if err != nil {
		t.Fatalf("nats container endpoint: %v", err)
	}
	return ep
}
