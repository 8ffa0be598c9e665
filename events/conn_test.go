package events_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/events"
)

// TestReconnect stops the server, publishes while it is down, restarts it
// on the same port and expects the buffered event to arrive and the
// OnReconnect hook to fire.
func TestReconnect(t *testing.T) {
	url, stopServer := embedded(t, -1)
	port := portOf(t, url)
	// Publisher and subscriber share the connection: on reconnect nats.go
	// replays subscriptions before flushing the buffered publishes, so
	// the event cannot overtake the subscription.
	nc := connect(t, url)
	pub := events.New(nc, "inst-a", zerolog.Nop())
	sub := events.New(nc, "inst-b", zerolog.Nop())
	rec := subscribePresence(t, sub, "x.org")

	var hooks atomic.Int32
	events.OnReconnect(nc, func() { hooks.Add(1) })
	require.Equal(t, events.HealthConnected, sub.Health())

	stopServer()
	require.Eventually(t, func() bool { return events.Status(nc) == events.HealthDegraded },
		waitFor, 10*time.Millisecond, "connection notices the outage")

	ctx := context.Background()
	require.NoError(t, pub.PublishPresence(ctx, presence("x.org", "while-down")), "buffered")
	assert.Equal(t, int32(0), hooks.Load())

	embedded(t, port)
	assert.Equal(t, "while-down", rec.next(t).Extension)
	require.Eventually(t, func() bool { return hooks.Load() == 1 }, waitFor, 10*time.Millisecond, "hook fired")
	assert.Equal(t, events.HealthConnected, pub.Health())

	// And the bus keeps working after the reconnect.
	require.NoError(t, pub.PublishPresence(ctx, presence("x.org", "after")))
	assert.Equal(t, "after", rec.next(t).Extension)
}

func TestStatus(t *testing.T) {
	url, _ := embedded(t, -1)
	nc := connect(t, url)
	tests := []struct {
		name string
		nc   func() *nats.Conn
		want events.ConnHealth
	}{
		{name: "nil", nc: func() *nats.Conn { return nil }, want: events.HealthClosed},
		{name: "connected", nc: func() *nats.Conn { return nc }, want: events.HealthConnected},
		{name: "closed", nc: func() *nats.Conn { nc.Close(); return nc }, want: events.HealthClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, events.Status(tt.nc()))
		})
	}
}

func TestConnectGivesUpWithContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	nc, err := events.Connect(ctx, "nats://"+addr, "nobody", zerolog.Nop())
	require.ErrorIs(t, err, events.ErrNotConnected)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Nil(t, nc)
}

func TestRunEmbeddedJetStream(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		want bool
	}{
		{name: "no dir no jetstream", dir: "", want: false},
		{name: "dir enables jetstream", dir: t.TempDir(), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			srv, url, err := events.RunEmbedded(ctx, tt.dir, zerolog.Nop())
			require.NoError(t, err)
			assert.Regexp(t, `^nats://127\.0\.0\.1:\d+$`, url)
			assert.Equal(t, tt.want, srv.JetStreamEnabled())
			cancel()
			srv.WaitForShutdown()
			assert.False(t, srv.Running())
		})
	}
}

// TestLocalServer runs the round trip against the machine's NATS
// (NATS_URL, else 127.0.0.1:4222) when one answers. Domains are unique to
// the run, so other users of that server do not interfere.
func TestLocalServer(t *testing.T) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	nc1, err := events.Connect(ctx, url, "events-test", zerolog.Nop())
	if err != nil {
		t.Skipf("no NATS server at %s: %v", url, err)
	}
	t.Cleanup(nc1.Close)
	nc2 := connect(t, url)

	domain := "t" + nats.NewInbox()[len("_INBOX."):] + ".example"
	pub := events.New(nc1, "inst-a", zerolog.Nop())
	sub := events.New(nc2, "inst-b", zerolog.Nop())
	rec := subscribePresence(t, sub, domain)
	require.NoError(t, pub.PublishPresence(context.Background(), presence(domain, "1001")))
	got := rec.next(t)
	assert.Equal(t, domain, got.Domain)
	assert.Equal(t, "inst-a", got.Instance)
}

func BenchmarkPublishPresence(b *testing.B) {
	url, _ := embedded(b, -1)
	nc := connect(b, url)
	bus := events.New(nc, "inst-a", zerolog.Nop())
	ev := presence("pbx.example.com", "1001")
	ev.At = time.Now()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.PublishPresence(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalPresence(b *testing.B) {
	ev := presence("pbx.example.com", "1001")
	ev.Schema, ev.Instance, ev.At = 1, "inst-a", time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}
