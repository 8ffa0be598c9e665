package sip

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// nilNotifier answers every NOTIFY the way sipgo's Client.Do does when the
// user agent closes under a transaction: no response and no error.
type nilNotifier struct{ calls atomic.Int32 }

func (n *nilNotifier) Do(context.Context, *sipmsg.Request, ...sipgo.ClientRequestOption) (*sipmsg.Response, error) {
	n.calls.Add(1)
	return nil, nil
}

// panicNotifier panics in the sender, as a bug in a dependency could.
type panicNotifier struct{}

func (panicNotifier) Do(context.Context, *sipmsg.Request, ...sipgo.ClientRequestOption) (*sipmsg.Response, error) {
	panic("transaction layer bug")
}

// unservedServer is a Server whose handlers the test calls directly, with
// NOTIFYs going to n.
func unservedServer(t *testing.T, n requester) *Server {
	t.Helper()
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	s, err := New(Config{Domains: []string{"pbx.example.com"}, RateLimit: -1}, Deps{Core: core}, zerolog.Nop())
	require.NoError(t, err)
	s.notifier = n
	t.Cleanup(func() {
		s.drain(time.Second)
		s.senders.Wait()
		_ = s.ua.Close()
	})
	return s
}

// subscribeDirect hands s a SUBSCRIBE for 201 and returns the answer code.
func subscribeDirect(t *testing.T, s *Server, callID string) int {
	t.Helper()
	msg := "SUBSCRIBE sip:201@pbx.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK" + callID + "\r\n" +
		"From: <sip:300@pbx.example.com>;tag=w" + callID + "\r\nTo: <sip:201@pbx.example.com>\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\n" +
		"Contact: <sip:300@127.0.0.1:5062>\r\nEvent: dialog\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
	m, err := sipmsg.ParseMessage([]byte(msg))
	require.NoError(t, err)
	req := m.(*sipmsg.Request)
	req.SetSource("127.0.0.1:5062")
	tx := newRecordingTx()
	s.dispatch(req, tx)
	codes := tx.codes()
	require.Len(t, codes, 1)
	return codes[0]
}

// A NOTIFY whose transaction ends with neither a response nor an error (the
// crash of issue 17 at sendNotify) is a failed NOTIFY: the subscription
// ends, the failure is counted, nothing panics.
func TestNotifyWithoutResponseIsAnError(t *testing.T) {
	n := &nilNotifier{}
	s := unservedServer(t, n)
	require.Equal(t, 200, subscribeDirect(t, s, "nil-1"))
	require.Eventually(t, func() bool { return s.Subscriptions() == 0 }, 5*time.Second, 10*time.Millisecond)
	s.senders.Wait()
	assert.EqualValues(t, 1, n.calls.Load())
	assert.EqualValues(t, 1, s.Stats().NotifiesFailed)
	assert.Zero(t, s.Stats().SenderPanics)
}

// The guard around each sender turns a panic into a log line, a count and
// an ended subscription; the server goes on serving.
func TestSenderPanicRecovered(t *testing.T) {
	s := unservedServer(t, panicNotifier{})
	require.Equal(t, 200, subscribeDirect(t, s, "panic-1"))
	require.Eventually(t, func() bool { return s.Stats().SenderPanics == 1 }, 5*time.Second, 10*time.Millisecond)
	s.senders.Wait()
	assert.Zero(t, s.Subscriptions())
	// The dialog's locks were released: a second subscription works, and
	// the shutdown's final NOTIFYs (panicking too) do not hang.
	require.Equal(t, 200, subscribeDirect(t, s, "panic-2"))
	require.Eventually(t, func() bool { return s.Stats().SenderPanics == 2 }, 5*time.Second, 10*time.Millisecond)
}

// outcomes records what the real sipgo client returned for each NOTIFY.
type outcomes struct {
	next requester

	mu     sync.Mutex // guards noResp, errs
	noResp int
	errs   []error
}

func (o *outcomes) Do(ctx context.Context, req *sipmsg.Request, opts ...sipgo.ClientRequestOption) (*sipmsg.Response, error) {
	res, err := o.next.Do(ctx, req, opts...)
	o.mu.Lock()
	defer o.mu.Unlock()
	if res == nil && err == nil {
		o.noResp++
	}
	if err != nil {
		o.errs = append(o.errs, err)
	}
	return res, err
}

// The crash of issue 17 over real sockets: a phone un-SUBSCRIBEs, does not
// answer the final NOTIFY, and the server shuts down while that NOTIFY is
// retransmitting, so the user agent closes under its transaction. The
// shutdown ends within the grace, without a panic, the failure counted.
func TestShutdownWithUnansweredFinalNotify(t *testing.T) {
	const grace = 2 * time.Second
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	edge, err := New(Config{Domains: []string{"pbx.example.com"}, NotifyTimeout: 32 * time.Second}, Deps{Core: core}, zerolog.Nop())
	require.NoError(t, err)
	rec := &outcomes{next: edge.notifier}
	edge.notifier = rec
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- edge.ServeListeners(ctx, Listeners{UDP: udp}, grace) }()

	watcher := newPhone(t, &testServer{edge: edge, udp: udp.LocalAddr().String()}, "UDP")
	watcher.Request("SUBSCRIBE", ext201, 1, "unsub-1", "w1", "", "Event: dialog\nExpires: 600\n", "")
	res := watcher.Response("SUBSCRIBE")
	require.Equal(t, 200, res.StatusCode)
	toTag, _ := res.To().Params.Get("tag")
	watcher.Notify(200)
	// The answer reached the sender, so the only NOTIFY in flight below is
	// the final one.
	require.Eventually(t, func() bool { return edge.Stats().NotifiesSent == 1 }, 5*time.Second, 5*time.Millisecond)

	watcher.Request("SUBSCRIBE", ext201, 2, "unsub-1", "w1", toTag, "Event: dialog\nExpires: 0\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	final := nextRequest(t, watcher) // left unanswered: it retransmits
	require.Equal(t, "NOTIFY", string(final.Method))
	require.Contains(t, header(final, "Subscription-State"), "terminated")

	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(grace + 10*time.Second):
		t.Fatal("shutdown hung on the unanswered NOTIFY")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	t.Logf("transaction ended without response %d time(s); errors %v", rec.noResp, rec.errs)
	assert.Equal(t, 1, rec.noResp+len(rec.errs), "the unanswered NOTIFY failed, once")
	assert.EqualValues(t, 1, edge.Stats().NotifiesFailed)
	assert.Zero(t, edge.Stats().SenderPanics)
}

func TestRequestSize(t *testing.T) {
	req := sipmsg.NewRequest(sipmsg.NOTIFY, sipmsg.Uri{Scheme: "sip", User: "300", Host: "10.0.0.5"})
	req.AppendHeader(sipmsg.NewHeader("Event", "dialog"))
	req.SetBody([]byte("<dialog-info/>"))
	assert.Equal(t, len(req.String()), requestSize(req))
}
