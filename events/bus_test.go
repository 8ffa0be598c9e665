package events_test

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/events"
)

func TestPresenceRoundTrip(t *testing.T) {
	url, _ := embedded(t, -1)
	pub := events.New(connect(t, url), "inst-a", zerolog.Nop())
	sub := events.New(connect(t, url), "inst-b", zerolog.Nop())
	rec := subscribePresence(t, sub, "pbx.example.com")

	sent := presence("pbx.example.com", "1001")
	require.NoError(t, pub.PublishPresence(context.Background(), sent))

	got := rec.next(t)
	assert.Equal(t, events.SchemaVersion, got.Schema)
	assert.Equal(t, "inst-a", got.Instance)
	assert.Equal(t, pub.Origin(), got.Origin)
	assert.NotEqual(t, pub.Origin(), sub.Origin())
	assert.False(t, got.At.IsZero(), "at stamped")
	sent.Schema, sent.Instance, sent.Origin, sent.At = got.Schema, got.Instance, got.Origin, got.At
	assert.Equal(t, sent, got)
	assert.Equal(t, uint64(1), pub.Published())
	assert.Equal(t, uint64(1), sub.Consumed())
}

func TestContactRoundTrip(t *testing.T) {
	url, _ := embedded(t, -1)
	pub := events.New(connect(t, url), "inst-a", zerolog.Nop())
	sub := events.New(connect(t, url), "inst-b", zerolog.Nop())
	rec := newRecorder[events.ContactEvent]()
	stop, err := sub.SubscribeContacts(context.Background(), "", rec.handle)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })

	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	sent := events.ContactEvent{Type: events.ContactUpdated, ID: "c-9", Kind: "company", Owner: "acme", Domain: "x.org", Version: 3, At: at}
	require.NoError(t, pub.PublishContact(context.Background(), sent))

	got := rec.next(t)
	sent.Schema, sent.Instance, sent.Origin = events.SchemaVersion, "inst-a", pub.Origin()
	assert.Equal(t, sent, got)
}

func TestWireFieldNames(t *testing.T) {
	ev := presence("x.org", "1")
	ev.Schema, ev.Instance, ev.Origin = 1, "i", "o"
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	for _, k := range []string{"v", "type", "domain", "extension", "registered", "line", "status", "since", "remote", "instance", "origin", "version", "at"} {
		assert.Contains(t, m, k)
	}
	assert.Contains(t, m["remote"], "contact_id")
}

func TestOwnOriginDropped(t *testing.T) {
	url, _ := embedded(t, -1)
	nc := connect(t, url)
	own := events.New(nc, "inst-a", zerolog.Nop())
	other := events.New(nc, "inst-b", zerolog.Nop())
	rec := subscribePresence(t, own, "")

	ctx := context.Background()
	require.NoError(t, own.PublishPresence(ctx, presence("x.org", "own")))
	// Same connection, so the server delivers in publish order: when the
	// foreign event arrives, the own one has been seen and dropped.
	require.NoError(t, other.PublishPresence(ctx, presence("x.org", "foreign")))

	assert.Equal(t, "foreign", rec.next(t).Extension)
	assert.Equal(t, uint64(1), own.DroppedOwn())
	assert.Equal(t, uint64(1), own.Consumed())
	assert.Len(t, rec.all(), 1)
}

// TestSameInstanceNameNotDropped: two processes started with the same
// instance id, each on its own connection, still receive each other's
// events; each drops only its own.
func TestSameInstanceNameNotDropped(t *testing.T) {
	url, _ := embedded(t, -1)
	first := events.New(connect(t, url), "same", zerolog.Nop())
	second := events.New(connect(t, url), "same", zerolog.Nop())
	require.NotEqual(t, first.Origin(), second.Origin(), "origin tokens are drawn per Bus")
	recFirst := subscribePresence(t, first, "")
	recSecond := subscribePresence(t, second, "")
	contacts := newRecorder[events.ContactEvent]()
	stop, err := second.SubscribeContacts(context.Background(), "", contacts.handle)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })

	ctx := context.Background()
	require.NoError(t, first.PublishPresence(ctx, presence("x.org", "from-first")))
	require.NoError(t, second.PublishPresence(ctx, presence("x.org", "from-second")))
	require.NoError(t, first.PublishContact(ctx, events.ContactEvent{Type: events.ContactCreated, ID: "c-1", Owner: "201", Domain: "x.org"}))

	got := recSecond.next(t)
	assert.Equal(t, "from-first", got.Extension)
	assert.Equal(t, "same", got.Instance)
	assert.Equal(t, "from-second", recFirst.next(t).Extension)
	assert.Equal(t, "c-1", contacts.next(t).ID)

	// Each saw its own event come back and dropped it; a later event
	// from the other proves the own one was processed (one connection
	// delivers in order).
	require.NoError(t, second.PublishPresence(ctx, presence("x.org", "again")))
	assert.Equal(t, "again", recFirst.next(t).Extension)
	assert.Equal(t, uint64(1), first.DroppedOwn())
	assert.Len(t, recFirst.all(), 2)
	assert.Len(t, recSecond.all(), 1)
}

// TestLoopSuppressionIgnoresName: an event is dropped for its origin token
// alone; the instance name in it plays no part.
func TestLoopSuppressionIgnoresName(t *testing.T) {
	url, _ := embedded(t, -1)
	nc := connect(t, url)
	b := events.New(nc, "inst-a", zerolog.Nop())
	rec := subscribePresence(t, b, "x.org")
	raw := func(ext, instance, origin string) {
		t.Helper()
		ev := presence("x.org", ext)
		ev.Schema, ev.Instance, ev.Origin = events.SchemaVersion, instance, origin
		data, err := json.Marshal(ev)
		require.NoError(t, err)
		require.NoError(t, nc.Publish("switchboard.presence.x_org."+ext, data))
	}
	raw("own-token-other-name", "inst-z", b.Origin())
	raw("own-name-other-token", "inst-a", "another-process")
	raw("no-token", "inst-a", "") // an older publisher
	assert.Equal(t, "own-name-other-token", rec.next(t).Extension)
	assert.Equal(t, "no-token", rec.next(t).Extension)
	assert.Equal(t, uint64(1), b.DroppedOwn())
	assert.Len(t, rec.all(), 2)
}

func TestDomainFilter(t *testing.T) {
	url, _ := embedded(t, -1)
	nc := connect(t, url)
	pub := events.New(nc, "inst-a", zerolog.Nop())
	sub := events.New(nc, "inst-b", zerolog.Nop())
	rec := subscribePresence(t, sub, "a.org")

	ctx := context.Background()
	for _, d := range []string{"b.org", "a_org", "x.a.org", "a.org"} {
		require.NoError(t, pub.PublishPresence(ctx, presence(d, "1")))
	}
	assert.Equal(t, "a.org", rec.next(t).Domain)
	assert.Len(t, rec.all(), 1)
}

func TestMalformedCounted(t *testing.T) {
	tests := []struct {
		name    string
		payload string
	}{
		{name: "not json", payload: "garbage"},
		{name: "wrong json type", payload: `[1,2]`},
		{name: "newer schema", payload: `{"v":2,"type":"line","domain":"x.org","extension":"1","instance":"z"}`},
		{name: "missing schema", payload: `{"type":"line","domain":"x.org","extension":"1","instance":"z"}`},
		{name: "missing extension", payload: `{"v":1,"type":"line","domain":"x.org","instance":"z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := embedded(t, -1)
			nc := connect(t, url)
			sub := events.New(nc, "inst-b", zerolog.Nop())
			pub := events.New(nc, "inst-a", zerolog.Nop())
			rec := subscribePresence(t, sub, "x.org")

			require.NoError(t, nc.Publish("switchboard.presence.x_org.1", []byte(tt.payload)))
			require.NoError(t, pub.PublishPresence(context.Background(), presence("x.org", "valid")))

			assert.Equal(t, "valid", rec.next(t).Extension)
			assert.Equal(t, uint64(1), sub.DroppedMalformed())
			assert.Equal(t, uint64(1), sub.Consumed())
		})
	}
}

func TestPublishRejectsInvalid(t *testing.T) {
	url, _ := embedded(t, -1)
	b := events.New(connect(t, url), "inst-a", zerolog.Nop())
	tests := []struct {
		name    string
		ev      func() events.PresenceEvent
		wantErr error
	}{
		{name: "unknown type", ev: func() events.PresenceEvent { e := presence("x.org", "1"); e.Type = "bogus"; return e }, wantErr: events.ErrInvalidEvent},
		{name: "unknown line", ev: func() events.PresenceEvent { e := presence("x.org", "1"); e.Line = "busy"; return e }, wantErr: events.ErrInvalidEvent},
		{name: "unknown status", ev: func() events.PresenceEvent { e := presence("x.org", "1"); e.Status = "gone"; return e }, wantErr: events.ErrInvalidEvent},
		{name: "wildcard extension", ev: func() events.PresenceEvent { return presence("x.org", "1*") }, wantErr: events.ErrInvalidToken},
		{name: "empty domain", ev: func() events.PresenceEvent { return presence("", "1") }, wantErr: events.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.PublishPresence(context.Background(), tt.ev())
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	assert.Equal(t, uint64(0), b.Published())

	err := b.PublishContact(context.Background(), events.ContactEvent{Type: "moved", ID: "c", Owner: "o", Domain: "x.org"})
	require.ErrorIs(t, err, events.ErrInvalidEvent)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, b.PublishPresence(ctx, presence("x.org", "1")), context.Canceled)
}

func TestStopEndsSubscription(t *testing.T) {
	url, _ := embedded(t, -1)
	nc := connect(t, url)
	pub := events.New(nc, "inst-a", zerolog.Nop())
	sub := events.New(nc, "inst-b", zerolog.Nop())
	rec := newRecorder[events.PresenceEvent]()

	ctx, cancel := context.WithCancel(context.Background())
	stop, err := sub.SubscribePresence(ctx, "", rec.handle)
	require.NoError(t, err)
	cancel() // ctx ending alone ends the subscription ...
	require.NoError(t, stop())
	require.NoError(t, stop(), "second stop is harmless")

	require.NoError(t, pub.PublishPresence(context.Background(), presence("x.org", "1")))
	require.NoError(t, nc.Flush())
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, rec.all(), "no delivery after stop")
	assert.Equal(t, 0, nc.NumSubscriptions())
}

// TestNoGoroutineLeak runs a full server/connect/subscribe/publish cycle and
// checks that every goroutine it started is gone afterwards.
func TestNoGoroutineLeak(t *testing.T) {
	cycle := func() {
		ctx, cancel := context.WithCancel(context.Background())
		srv, url, err := events.RunEmbedded(ctx, "", zerolog.Nop())
		require.NoError(t, err)
		nc, err := events.Connect(ctx, url, "leak", zerolog.Nop())
		require.NoError(t, err)
		b := events.New(nc, "inst-a", zerolog.Nop())
		other := events.New(nc, "inst-b", zerolog.Nop())
		rec := newRecorder[events.PresenceEvent]()
		stop, err := b.SubscribePresence(ctx, "", rec.handle)
		require.NoError(t, err)
		require.NoError(t, other.PublishPresence(ctx, presence("x.org", "1")))
		rec.next(t)
		require.NoError(t, stop())
		nc.Close()
		cancel()
		srv.WaitForShutdown()
	}
	cycle() // warm up package-level goroutines, if any
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	before := settle()
	cycle()
	const tolerance = 2
	assert.Eventually(t, func() bool { return settle() <= before+tolerance },
		5*time.Second, 20*time.Millisecond, "goroutines before=%d now=%d", before, runtime.NumGoroutine())
}

// TestOwnOriginDroppedByHeader: an event whose header carries the Bus's
// own origin is dropped before its body is read (a body that would not
// decode counts as own, not malformed); another origin's header does not
// drop it.
func TestOwnOriginDroppedByHeader(t *testing.T) {
	url, _ := embedded(t, -1)
	nc := connect(t, url)
	b := events.New(nc, "inst-a", zerolog.Nop())
	rec := subscribePresence(t, b, "x.org")
	send := func(origin string, data []byte) {
		t.Helper()
		require.NoError(t, nc.PublishMsg(&nats.Msg{Subject: "switchboard.presence.x_org.201", Data: data,
			Header: nats.Header{events.OriginHeader: []string{origin}}}))
	}
	send(b.Origin(), []byte("not json"))
	ev := presence("x.org", "201")
	ev.Schema = events.SchemaVersion
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	send("another-process", data)
	assert.Equal(t, "201", rec.next(t).Extension)
	assert.Equal(t, uint64(1), b.DroppedOwn())
	assert.Zero(t, b.Stats().DroppedMalformed)
}

// TestNoEchoConnection: on a connection made with nats.NoEcho() (as the
// binary makes it) a Bus is not even handed its own events, and still hears
// another connection's.
func TestNoEchoConnection(t *testing.T) {
	url, _ := embedded(t, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := events.Connect(ctx, url, "no-echo", zerolog.Nop(), nats.NoEcho())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	own := events.New(nc, "inst-a", zerolog.Nop())
	other := events.New(connect(t, url), "inst-b", zerolog.Nop())
	rec := subscribePresence(t, own, "")
	require.NoError(t, own.PublishPresence(ctx, presence("x.org", "own")))
	require.NoError(t, other.PublishPresence(ctx, presence("x.org", "foreign")))
	assert.Equal(t, "foreign", rec.next(t).Extension)
	// A second foreign event after a flush of our own publication: had
	// the own one been delivered, it would have come first.
	require.NoError(t, nc.Flush())
	require.NoError(t, other.PublishPresence(ctx, presence("x.org", "foreign2")))
	assert.Equal(t, "foreign2", rec.next(t).Extension)
	assert.Zero(t, own.DroppedOwn(), "never delivered, so never dropped")
	assert.Len(t, rec.all(), 2)
}
