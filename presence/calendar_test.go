package presence

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCalendarMeeting(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5:5060", 2*time.Hour)
	start := clk.now().Add(10 * time.Minute)
	require.NoError(t, s.SetCalendar(ctx, alice, []Busy{{Start: start, End: start.Add(30 * time.Minute)}}))

	v, err := s.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, StatusAvailable, v.Status, "before the meeting")
	rec, err := s.store.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, start, rec.Next, "the record is due when the meeting starts")

	// The expiry loop flips the status at the block's edges.
	clk.advance(10 * time.Minute)
	require.NoError(t, s.Refresh(ctx, alice))
	v, _ = s.Get(ctx, alice)
	assert.Equal(t, StatusMeeting, v.Status)
	assert.Equal(t, "In a meeting", v.Status.Label())
	assert.Equal(t, LineIdle, v.Line, "the lamp is unaffected")

	// A status set by hand wins over the calendar; "available" is how a
	// user clears one, so it gives the calendar back.
	_, err = s.SetStatus(ctx, alice, UserStatus{Status: StatusDND})
	require.NoError(t, err)
	v, _ = s.Get(ctx, alice)
	assert.Equal(t, StatusDND, v.Status)
	_, err = s.SetStatus(ctx, alice, UserStatus{Status: StatusAvailable})
	require.NoError(t, err)
	v, _ = s.Get(ctx, alice)
	assert.Equal(t, StatusMeeting, v.Status)

	clk.advance(30 * time.Minute)
	require.NoError(t, s.Refresh(ctx, alice))
	v, _ = s.Get(ctx, alice)
	assert.Equal(t, StatusAvailable, v.Status, "after the meeting")
	rec, _ = s.store.Get(ctx, alice)
	assert.Empty(t, rec.Calendar, "blocks over are dropped")
}

func TestSetCalendarUnchangedAndInvalid(t *testing.T) {
	ctx := context.Background()
	s, clk, rr := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5:5060", 2*time.Hour) // online: offline users show "offline"
	now := clk.now()
	busy := []Busy{{Start: now.Add(-time.Minute), End: now.Add(time.Hour)}}
	require.NoError(t, s.SetCalendar(ctx, alice, busy))
	n := rr.count()
	v, _ := s.Get(ctx, alice)
	require.Equal(t, StatusMeeting, v.Status)

	require.NoError(t, s.SetCalendar(ctx, alice, busy), "the same blocks again")
	assert.Equal(t, n, rr.count(), "no change, no notification")

	require.NoError(t, s.SetCalendar(ctx, alice, nil))
	v, _ = s.Get(ctx, alice)
	assert.Equal(t, StatusAvailable, v.Status, "a cleared calendar")

	err := s.SetCalendar(ctx, alice, []Busy{{Start: now, End: now}})
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestCalendarOutlivesRedisExpiry: a record holding only coming meetings
// stays in Redis until they are over, so the status still flips.
func TestCalendarOutlivesRedisExpiry(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testRedis(t)
	store := NewRedisStore(rdb, prefix)
	s := New(Config{}, store, zerolog.Nop())
	start := time.Now().Add(3 * time.Hour)
	require.NoError(t, s.SetCalendar(ctx, alice, []Busy{{Start: start, End: start.Add(time.Hour)}}))
	ttl, err := rdb.PTTL(ctx, store.key(alice)).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 4*time.Hour, "kept until the meeting ends, plus the grace")
	due, err := store.Due(ctx, start)
	require.NoError(t, err)
	assert.Contains(t, due, alice, "due when the meeting starts")
}
