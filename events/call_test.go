package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/events"
)

func TestCallRoundTrip(t *testing.T) {
	url, _ := embedded(t, -1)
	pub := events.New(connect(t, url), "inst-a", zerolog.Nop())
	sub := events.New(connect(t, url), "inst-b", zerolog.Nop())
	rec := newRecorder[events.CallEvent]()
	stop, err := sub.SubscribeCalls(context.Background(), "pbx.example.com", rec.handle)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })

	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	sent := events.CallEvent{
		Type: events.CallEnded, Domain: "pbx.example.com", Extension: "201", ID: "abc", Direction: "incoming",
		Remote: &events.Party{URI: "sip:+33491550142@trunk"}, Started: at, Ended: at.Add(time.Minute),
		Outcome: "missed", At: at,
	}
	require.NoError(t, pub.PublishCall(context.Background(), sent))
	// Another domain's call is not delivered to this subscription.
	other := sent
	other.Domain = "other.example.com"
	require.NoError(t, pub.PublishCall(context.Background(), other))
	require.NoError(t, pub.PublishCall(context.Background(), sent))

	got := rec.next(t)
	sent.Schema, sent.Instance, sent.Origin = events.CallSchemaVersion, "inst-a", pub.Origin()
	assert.Equal(t, sent, got)
	assert.Equal(t, "pbx.example.com", rec.next(t).Domain)

	subj, err := events.CallSubject("PBX.example.com", "201")
	require.NoError(t, err)
	assert.Equal(t, "switchboard.calls.pbx_example_com.201", subj)
	assert.ErrorIs(t, pub.PublishCall(context.Background(), events.CallEvent{Type: "ringing", Domain: "x", Extension: "1", ID: "a"}), events.ErrInvalidEvent)
	assert.ErrorIs(t, pub.PublishCall(context.Background(), events.CallEvent{Type: events.CallStarted, Domain: "x", Extension: "1"}), events.ErrInvalidEvent)
}
