package presence

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func publishStatus(t *testing.T, s *Service, ifMatch string, st *UserStatus, online bool) string {
	t.Helper()
	res, err := s.Publish(context.Background(), alice, Publish{Event: EventPresence, IfMatch: ifMatch, Expires: time.Hour,
		Body: &PublishBody{Status: st, Online: online}})
	require.NoError(t, err)
	return res.ETag
}

func view(t *testing.T, s *Service) View {
	t.Helper()
	v, err := s.Get(context.Background(), alice)
	require.NoError(t, err)
	return v
}

// The most recent statement wins, whoever made it; withdrawing one never
// hands the word back to an older one.
func TestMostRecentStatusWins(t *testing.T) {
	ctx := context.Background()
	s, c, _ := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)

	_, err := s.SetStatus(ctx, alice, UserStatus{Status: StatusDND, Note: "focus"})
	require.NoError(t, err)
	assert.Equal(t, StatusDND, view(t, s).Status)

	// Later, the phone says "online": it wins.
	c.advance(time.Minute)
	etag := publishStatus(t, s, "", &UserStatus{Status: StatusAvailable}, true)
	v := view(t, s)
	assert.Equal(t, StatusAvailable, v.Status)
	assert.Empty(t, v.Note)

	// The phone removes its publication: the older DND does not come back.
	c.advance(time.Minute)
	_, err = s.Publish(ctx, alice, Publish{Event: EventPresence, IfMatch: etag, Expires: 0})
	require.NoError(t, err)
	v = view(t, s)
	assert.Equal(t, StatusAvailable, v.Status, "removing a publication resurrected an older status")
	assert.True(t, v.Registered)

	// A newer API statement counts again.
	c.advance(time.Minute)
	_, err = s.SetStatus(ctx, alice, UserStatus{Status: StatusLunch})
	require.NoError(t, err)
	assert.Equal(t, StatusLunch, view(t, s).Status)

	// A phone's publication that expires unrefreshed does not resurrect
	// the lunch it had overridden either.
	c.advance(time.Minute)
	publishStatus(t, s, "", &UserStatus{Status: StatusAway, Activity: "in-transit", Note: "brb"}, true)
	v = view(t, s)
	assert.Equal(t, StatusAway, v.Status)
	assert.Equal(t, "in-transit", v.Activity)
	assert.Equal(t, "brb", v.Note)
	c.advance(2 * time.Hour)
	register(t, s, "c1", 2, "sip:201@10.0.0.5", time.Hour) // still registered
	require.NoError(t, s.Refresh(ctx, alice))
	v = view(t, s)
	assert.Equal(t, StatusAvailable, v.Status)
	assert.Empty(t, v.Activity)
}

// A newer statement from the API beats an older publication that is
// still live, and the publication winning again needs a newer PUBLISH.
func TestAPIStatusAfterPublication(t *testing.T) {
	ctx := context.Background()
	s, c, _ := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)
	etag := publishStatus(t, s, "", &UserStatus{Status: StatusAway}, true)
	c.advance(time.Minute)
	_, err := s.SetStatus(ctx, alice, UserStatus{Status: StatusBusinessTrip, Note: "Lyon"})
	require.NoError(t, err)
	assert.Equal(t, StatusBusinessTrip, view(t, s).Status)
	c.advance(time.Minute)
	// A refresh without a body is not a new statement.
	_, err = s.Publish(ctx, alice, Publish{Event: EventPresence, IfMatch: etag, Expires: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, StatusBusinessTrip, view(t, s).Status)
}

// basic closed with no activity while registered is "appear offline":
// watchers see the user offline, the line state stays true.
func TestInvisibleKeepsLineState(t *testing.T) {
	ctx := context.Background()
	s, c, rec := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)
	etag := publishStatus(t, s, "", &UserStatus{Status: StatusAvailable, Invisible: true}, false)
	v := view(t, s)
	assert.True(t, v.Invisible)
	assert.False(t, v.Registered, "watchers see the user offline")
	assert.Equal(t, LineIdle, v.Line, "BLF still sees a working line")
	assert.True(t, rec.last(t).RegistrationChanged())

	_, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: time.Minute, Body: dialogBody(1,
		Dialog{ID: "d1", State: DialogConfirmed, Direction: DirectionInitiator})})
	require.NoError(t, err)
	assert.Equal(t, LineInCall, view(t, s).Line)
	assert.Empty(t, view(t, s).Activity)

	// Back online.
	c.advance(time.Second)
	publishStatus(t, s, etag, &UserStatus{Status: StatusAvailable}, true)
	v = view(t, s)
	assert.False(t, v.Invisible)
	assert.True(t, v.Registered)
}

// Nobody there carries no activity: a user with no live binding and no
// open publication is not "on the phone" or "in transit".
func TestOfflineCarriesNoActivity(t *testing.T) {
	ctx := context.Background()
	s, c, _ := newTestService(t)
	_, err := s.SetStatus(ctx, alice, UserStatus{Status: StatusLunch, Activity: "lunch"})
	require.NoError(t, err)
	v := view(t, s)
	assert.False(t, v.Registered)
	assert.Empty(t, v.Activity)

	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Minute)
	assert.Equal(t, "lunch", view(t, s).Activity)
	c.advance(2 * time.Minute)
	require.NoError(t, s.Refresh(ctx, alice))
	v = view(t, s)
	assert.False(t, v.Registered)
	assert.Empty(t, v.Activity, "the user quit: no activity is left behind")
}
