package sip

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// memSubscriptions is a subscriptionStore in memory.
type memSubscriptions struct {
	mu sync.Mutex // guards m
	m  map[string][]byte
}

var _ subscriptionStore = (*memSubscriptions)(nil)

func (s *memSubscriptions) Save(_ context.Context, id string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = append([]byte(nil), b...)
	return nil
}

func (s *memSubscriptions) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

func (s *memSubscriptions) Load(context.Context) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out, nil
}

func (s *memSubscriptions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// storedTCPSubscription is what a crashed instance left in the store for a
// watcher that subscribed over TCP from source, with Contact contact: a
// flow no process holds any more.
func storedTCPSubscription(t *testing.T, contact string) *memSubscriptions {
	t.Helper()
	st := savedSubscription{
		CallID: "crash-1", LocalTag: "lt1", RemoteTag: "w1", Event: presence.EventDialog,
		AOR: presence.NewAOR("201", "pbx.example.com"), Local: ext201, Remote: siptest.Watcher,
		Target: contact, Source: "127.0.0.1:9", Transport: "TCP", Contact: "<sip:switchboard@127.0.0.1;transport=tcp>",
		Expires: time.Now().Add(10 * time.Minute), RemoteCSeq: 1, CSeqMark: 65, VersionMrk: 65,
	}
	b, err := json.Marshal(st)
	require.NoError(t, err)
	return &memSubscriptions{m: map[string][]byte{"crash-1;lt1;w1;": b}}
}

// A restarted instance reaches a TCP subscriber whose connection died with
// the old process over a new connection to its Contact, in the same
// dialog, and keeps using that connection for later NOTIFYs.
func TestRestoredTCPSubscriptionReconnectsToContact(t *testing.T) {
	watcher := siptest.NewListeningPhone(t)
	store := storedTCPSubscription(t, "sip:300@"+watcher.Addr()+";transport=tcp")
	srv := startServerWith(t, Config{}, serverOpts{deps: Deps{Subscriptions: store}})

	n := watcher.Notify(200)
	assert.Equal(t, "crash-1", n.CallID().Value())
	assert.Greater(t, n.CSeq().SeqNo, uint32(65), "CSeq goes on from the reservation")
	assert.Equal(t, "active", header(n, "Subscription-State")[:6])
	assert.Equal(t, 1, watcher.Accepted())

	pbx := newPhone(t, srv, "UDP")
	pbx.Request("PUBLISH", ext201, 1, "rs-pub", "p1", "", "Event: dialog\nExpires: 120\n", earlyBody(0, "early"))
	require.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
	doc := dialogDoc(t, watcher.Notify(200))
	require.Len(t, doc.Dialogs, 1)
	assert.Equal(t, "early", doc.Dialogs[0].State)
	assert.Equal(t, 1, watcher.Accepted(), "the new connection is reused")
	assert.Equal(t, 1, srv.edge.Subscriptions())
	assert.Equal(t, 1, store.len())
}

// When the Contact cannot be reached either, the subscription is ended and
// removed from the store, not retried for ever.
func TestRestoredTCPSubscriptionUnreachableIsForgotten(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens at the Contact
	store := storedTCPSubscription(t, "sip:300@"+closed+";transport=tcp")
	srv := startServerWith(t, Config{}, serverOpts{deps: Deps{Subscriptions: store}})

	require.Eventually(t, func() bool { return srv.edge.Subscriptions() == 0 && store.len() == 0 },
		5*time.Second, 20*time.Millisecond, "subscription still held: %d, stored: %d", srv.edge.Subscriptions(), store.len())
	assert.NotZero(t, srv.edge.Stats().NotifiesFailed)
}

func TestRemoteTarget(t *testing.T) {
	tests := []struct {
		name, uri, flow string
		dst, transport  string
	}{
		{"contact with port and transport", "sip:300@10.0.0.5:5070;transport=tcp", "TCP", "10.0.0.5:5070", "TCP"},
		{"no transport: the flow's", "sip:300@10.0.0.5:5070", "TLS", "10.0.0.5:5070", "TLS"},
		{"no port: the transport's default", "sip:300@10.0.0.5;transport=tls", "TCP", "10.0.0.5:5061", "TLS"},
		{"sips means TLS", "sips:300@phone.example.com", "TCP", "phone.example.com:5061", "TLS"},
		{"contact asks for UDP", "sip:300@10.0.0.5;transport=udp", "TCP", "10.0.0.5:5060", "UDP"},
		{"IPv6", "sip:300@[2001:db8::5]:5080;transport=tcp", "TCP", "[2001:db8::5]:5080", "TCP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := savedSubscription{Local: ext201, Remote: siptest.Watcher, Target: tt.uri}
			b, err := json.Marshal(st)
			require.NoError(t, err)
			sub, err := restoreSubscription(b)
			require.NoError(t, err)
			dst, tp := remoteTarget(sub.target, tt.flow)
			assert.Equal(t, tt.dst, dst)
			assert.Equal(t, tt.transport, tp)
		})
	}
}
