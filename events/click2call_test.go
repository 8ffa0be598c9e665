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

func TestClickToCallRoundTrip(t *testing.T) {
	url, _ := embedded(t, -1)
	pub := events.New(connect(t, url), "inst-a", zerolog.Nop())
	sub := events.New(connect(t, url), "inst-b", zerolog.Nop())
	rec := newRecorder[events.ClickToCallEvent]()
	stop, err := sub.SubscribeClickToCall(context.Background(), "pbx.example.com", rec.handle)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })

	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	sent := events.ClickToCallEvent{ID: "c2c_1", Domain: "pbx.example.com", Extension: "201", To: "+33491550142",
		State: events.ClickToCallFailed, Reason: "busy", SIPStatus: 486, Seq: 2, At: at}
	require.NoError(t, pub.PublishClickToCall(context.Background(), sent))
	got := rec.next(t)
	sent.Schema, sent.Instance, sent.Origin = events.ClickToCallSchemaVersion, "inst-a", pub.Origin()
	assert.Equal(t, sent, got)
}

func TestClickToCallRejectsInvalid(t *testing.T) {
	url, _ := embedded(t, -1)
	pub := events.New(connect(t, url), "inst-a", zerolog.Nop())
	ok := events.ClickToCallEvent{ID: "c2c_1", Domain: "pbx.example.com", Extension: "201", State: events.ClickToCallRinging, Seq: 1}
	tests := []struct {
		name   string
		mutate func(*events.ClickToCallEvent)
	}{
		{name: "unknown state", mutate: func(e *events.ClickToCallEvent) { e.State = "dancing" }},
		{name: "no id", mutate: func(e *events.ClickToCallEvent) { e.ID = "" }},
		{name: "no seq", mutate: func(e *events.ClickToCallEvent) { e.Seq = 0 }},
		{name: "no domain", mutate: func(e *events.ClickToCallEvent) { e.Domain = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := ok
			tt.mutate(&ev)
			assert.ErrorIs(t, pub.PublishClickToCall(context.Background(), ev), events.ErrInvalidEvent)
		})
	}
	require.NoError(t, pub.PublishClickToCall(context.Background(), ok))
}
