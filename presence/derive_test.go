package presence

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeriveOffline pins the one offline rule: an extension with no live
// binding, no open PIDF publication and no call is offline to watchers,
// whatever status its user chose.
func TestDeriveOffline(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	lunch := &UserStatus{Status: StatusLunch, Note: "back at 2", Since: now.Add(-time.Minute)}
	tests := []struct {
		name           string
		rec            Record
		wantLine       LineState
		wantStatus     Status
		wantNote       string
		wantRegistered bool
	}{
		{name: "never seen", wantLine: LineOffline, wantStatus: StatusOffline},
		{name: "chosen status while offline", rec: Record{Status: lunch},
			wantLine: LineOffline, wantStatus: StatusOffline},
		{name: "chosen status shows once registered", rec: Record{Status: lunch, Bindings: []Binding{{Contact: "sip:a", Expires: later}}},
			wantLine: LineIdle, wantStatus: StatusLunch, wantNote: "back at 2", wantRegistered: true},
		{name: "lapsed binding", rec: Record{Status: lunch, Bindings: []Binding{{Contact: "sip:a", Expires: now}}},
			wantLine: LineOffline, wantStatus: StatusOffline},
		{name: "open pidf is online but not registered", rec: Record{Status: lunch, Publications: []Publication{{Event: EventPresence, Online: true, Expires: later}}},
			wantLine: LineIdle, wantStatus: StatusLunch, wantNote: "back at 2"},
		{name: "closed pidf without binding", rec: Record{Publications: []Publication{{Event: EventPresence, Expires: later, Status: &UserStatus{Status: StatusDND, Since: now}}}},
			wantLine: LineOffline, wantStatus: StatusOffline},
		{name: "a call the pbx reports is online", rec: Record{Status: lunch, Publications: []Publication{{Event: EventDialog, Expires: later,
			Dialogs: []Dialog{{ID: "d1", State: DialogConfirmed}}}}},
			wantLine: LineInCall, wantStatus: StatusLunch, wantNote: "back at 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.AOR = alice
			v := Derive(&tt.rec, now)
			assert.Equal(t, tt.wantLine, v.Line)
			assert.Equal(t, tt.wantStatus, v.Status)
			assert.Equal(t, tt.wantNote, v.Note)
			assert.Equal(t, tt.wantRegistered, v.Registered)
			if tt.wantStatus == StatusOffline {
				assert.Zero(t, v.Until)
			}
		})
	}
}

func TestOfflineKeepsTheChosenStatus(t *testing.T) {
	ctx := context.Background()
	s, clk, rec := newTestService(t)

	v, err := s.Get(ctx, NewAOR("299", "pbx.example.com"))
	require.NoError(t, err)
	assert.Equal(t, StatusOffline, v.Status, "never seen")
	assert.Zero(t, v.Version, "never seen")

	v, err = s.SetStatus(ctx, alice, UserStatus{Status: StatusLunch, Note: "back at 2"})
	require.NoError(t, err)
	assert.Equal(t, StatusOffline, v.Status, "watchers see an offline user as offline")
	assert.Empty(t, v.Note)

	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Minute)
	last := rec.last(t)
	assert.Equal(t, StatusLunch, last.View.Status, "the choice is back with the phone")
	assert.Equal(t, "back at 2", last.View.Note)
	assert.True(t, last.StatusChanged())

	clk.advance(2 * time.Minute)
	require.NoError(t, s.Refresh(ctx, alice))
	last = rec.last(t)
	assert.Equal(t, StatusOffline, last.View.Status)
	assert.True(t, last.StatusChanged())
}

func TestPresencePublicationInventsNoBinding(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t)
	_, err := s.Publish(ctx, alice, Publish{Event: EventPresence, Expires: time.Hour, Body: &PublishBody{Online: true, Status: &UserStatus{Status: StatusAvailable}}})
	require.NoError(t, err)
	v, err := s.Get(ctx, alice)
	require.NoError(t, err)
	assert.False(t, v.Registered, "registered means a live REGISTER binding")
	assert.Equal(t, LineIdle, v.Line, "an open publication is online")
	b, err := s.Bindings(ctx, alice)
	require.NoError(t, err)
	assert.Empty(t, b)
}
