package sip

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// ownedServer is a SIP edge whose shutdown the test starts and watches.
type ownedServer struct {
	*testServer
	stop func()          // starts the drain
	done <-chan struct{} // closed when ServeListeners has returned
	err  *error          // its result, once done is closed
}

func startOwnedServer(t *testing.T, cfg Config, deps Deps, grace time.Duration, log zerolog.Logger) *ownedServer {
	t.Helper()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if len(cfg.Domains) == 0 {
		cfg.Domains = []string{"pbx.example.com"}
	}
	core := presence.New(presence.Config{Tick: 50 * time.Millisecond}, presence.NewMemStore(), zerolog.Nop())
	deps.Core = core
	edge, err := New(cfg, deps, log)
	require.NoError(t, err)
	core.Watch(edge.Changed)
	coreCtx, stopCore := context.WithCancel(context.Background())
	coreDone := make(chan struct{})
	go func() { defer close(coreDone); _ = core.Run(coreCtx) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var serveErr error
	go func() {
		defer close(done)
		serveErr = edge.ServeListeners(ctx, Listeners{UDP: udp, TCP: tcp}, grace)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
		stopCore()
		<-coreDone
	})
	return &ownedServer{
		testServer: &testServer{core: core, edge: edge, udp: udp.LocalAddr().String(), tcp: tcp.Addr().String()},
		stop:       cancel, done: done, err: &serveErr,
	}
}

// nextRequest returns the next request p receives, without answering it.
func nextRequest(t *testing.T, p *siptest.Phone) *sipmsg.Request {
	t.Helper()
	for {
		if req, ok := p.Next().(*sipmsg.Request); ok {
			return req
		}
	}
}

// A watcher that stops answering NOTIFYs must not hold the shutdown: the
// NOTIFY in flight is cut short, the final one has its own short timeout,
// and ServeListeners returns within the grace. While draining, the
// listeners still answer, OPTIONS with 503 and Retry-After.
func TestDrainWithinGraceWhenWatcherNeverAnswers(t *testing.T) {
	const grace = 4 * time.Second
	// NotifyTimeout as in production: 32 s, far beyond the grace.
	srv := startOwnedServer(t, Config{NotifyTimeout: 32 * time.Second}, Deps{}, grace, zerolog.Nop())
	watcher := newPhone(t, srv.testServer, "UDP")
	watcher.Request("SUBSCRIBE", ext201, 1, "drain-1", "w1", "", "Event: dialog\nExpires: 600\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	watcher.Notify(200)

	// The lamp changes; the watcher goes silent, so this NOTIFY stays in
	// flight (retransmitted) for up to NotifyTimeout.
	pbx := newPhone(t, srv.testServer, "TCP")
	pbx.Request("PUBLISH", ext201, 1, "drain-pub", "p1", "", "Event: dialog\nExpires: 120\n", earlyBody(0, "early"))
	require.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
	n := nextRequest(t, watcher)
	require.Contains(t, header(n, "Subscription-State"), "active")

	pinger := newPhone(t, srv.testServer, "UDP")
	pinger.Request("OPTIONS", "sip:pbx.example.com", 1, "opt-0", "o", "", "", "")
	require.Equal(t, 200, pinger.Response("OPTIONS").StatusCode, "serving")

	start := time.Now()
	srv.stop()
	require.Eventually(t, srv.edge.Draining, time.Second, 5*time.Millisecond, "readiness turns false at once")

	// The final NOTIFY comes despite the unanswered one; left unanswered too.
	for n = nextRequest(t, watcher); strings.HasPrefix(header(n, "Subscription-State"), "active"); {
		n = nextRequest(t, watcher) // a retransmission of the unanswered one
	}
	assert.Equal(t, "terminated;reason=deactivated", header(n, "Subscription-State"))

	// Still listening while the final NOTIFY waits: a dispatcher's OPTIONS
	// ping learns that this instance is leaving.
	pinger.Request("OPTIONS", "sip:pbx.example.com", 2, "opt-1", "o", "", "", "")
	res := pinger.Response("OPTIONS")
	assert.Equal(t, 503, res.StatusCode)
	assert.NotEmpty(t, header(res, "Retry-After"))

	select {
	case <-srv.done:
		require.NoError(t, *srv.err)
		t.Logf("ServeListeners returned %s after shutdown began (grace %s)", time.Since(start).Round(time.Millisecond), grace)
		// A correctness bound, not a speed target: the grace plus a
		// generous margin for a loaded machine.
		assert.Less(t, time.Since(start), grace+3*time.Second, "shutdown exceeded the grace")
	case <-time.After(grace + 10*time.Second):
		t.Fatalf("ServeListeners still running %s after shutdown began (grace %s)", time.Since(start), grace)
	}
	assert.Zero(t, srv.edge.Subscriptions(), "the subscription was ended")
}

func TestDrainNotifyTimeout(t *testing.T) {
	tests := []struct {
		name  string
		grace time.Duration
		want  time.Duration
	}{
		{"default grace", 10 * time.Second, 2 * time.Second},
		{"short grace", 2 * time.Second, time.Second},
		{"no grace", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, drainNotifyTimeout(tt.grace))
		})
	}
}
