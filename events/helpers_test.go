package events_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/events"
)

const waitFor = 10 * time.Second

// embedded runs an in-process nats-server on port (-1: random) until stop
// or the end of the test, and returns its URL and a stop func that waits
// for shutdown.
func embedded(t testing.TB, port int) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, url, err := events.RunEmbeddedPort(ctx, "", port, zerolog.Nop())
	if err != nil {
		cancel()
		require.NoError(t, err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			srv.WaitForShutdown()
		})
	}
	t.Cleanup(stop)
	return url, stop
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	nc, err := events.Connect(ctx, url, t.Name(), zerolog.Nop())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

func portOf(t testing.TB, url string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(url[len("nats://"):])
	require.NoError(t, err)
	port, err := strconv.Atoi(p)
	require.NoError(t, err)
	return port
}

// recorder collects events delivered to a subscription handler.
type recorder[T any] struct {
	mu  sync.Mutex // guards got
	got []T
	ch  chan T
}

func newRecorder[T any]() *recorder[T] { return &recorder[T]{ch: make(chan T, 64)} }

func (r *recorder[T]) handle(ev T) {
	r.mu.Lock()
	r.got = append(r.got, ev)
	r.mu.Unlock()
	r.ch <- ev
}

func (r *recorder[T]) next(t testing.TB) T {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(waitFor):
		t.Fatal("no event arrived")
		var zero T
		return zero
	}
}

func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.got...)
}

func subscribePresence(t testing.TB, b *events.Bus, domain string) *recorder[events.PresenceEvent] {
	t.Helper()
	rec := newRecorder[events.PresenceEvent]()
	stop, err := b.SubscribePresence(context.Background(), domain, rec.handle)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })
	return rec
}

func presence(domain, ext string) events.PresenceEvent {
	return events.PresenceEvent{
		Type:       events.PresenceLine,
		Domain:     domain,
		Extension:  ext,
		Registered: true,
		Line:       events.LineInCall,
		Status:     events.StatusAvailable,
		Since:      time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Remote:     &events.Party{URI: "sip:1002@" + domain, Display: "Bob", ContactID: "c-1"},
		Version:    7,
	}
}
