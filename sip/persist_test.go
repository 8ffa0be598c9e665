package sip

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// slowSubscriptions is a subscription store whose writes wait for release.
type slowSubscriptions struct {
	memSubscriptions
	release  chan struct{}
	released atomic.Bool
	saves    atomic.Int32
}

func (s *slowSubscriptions) Save(ctx context.Context, id string, b []byte) error {
	s.saves.Add(1)
	<-s.release
	return s.memSubscriptions.Save(ctx, id, b)
}

func newSlowServer() (*Server, *slowSubscriptions) {
	st := &slowSubscriptions{memSubscriptions: memSubscriptions{m: map[string][]byte{}}, release: make(chan struct{})}
	return &Server{store: st, log: zerolog.Nop(), subs: newSubscriptions()}, st
}

func persistedSub() *subscription {
	return &subscription{id: dialogID{callID: "p1", localTag: "l", remoteTag: "r"},
		localParty: &localParty{event: presence.EventDialog, aor: presence.NewAOR("201", "pbx.example.com")}}
}

// A store write in progress holds no lock of the subscription: the
// fan-out can still take it.
func TestPersistHoldsNoLockDuringWrite(t *testing.T) {
	s, st := newSlowServer()
	sub := persistedSub()
	sub.mu.Lock()
	s.persist(sub)
	sub.mu.Unlock()
	require.Eventually(t, func() bool { return st.saves.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	require.True(t, sub.mu.TryLock(), "the subscription is free while its state is written")
	sub.mu.Unlock()
	close(st.release)
	s.flushSubscriptions()
	assert.Equal(t, 1, st.len())

	s.forget(sub)
	s.flushSubscriptions()
	assert.Equal(t, 0, st.len())
}

// A NOTIFY never takes a CSeq past the reservation already written: a
// restarted instance starts from the stored one.
func TestNextSeqWaitsForWrittenReservation(t *testing.T) {
	s, st := newSlowServer()
	sub := persistedSub()
	// As restored: the store holds a reservation of 64.
	sub.cseq, sub.version = 40, 40
	sub.cseqMark, sub.versionMark = 64, 64
	sub.stored, sub.savedCSeqMark, sub.savedVersionMark = true, 64, 64
	for want := uint32(41); want <= 63; want++ {
		cseq, _ := s.nextSeq(sub) // the new reservation is queued, not waited for
		require.Equal(t, want, cseq)
	}
	require.Eventually(t, func() bool { return st.saves.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	var sawReleased atomic.Bool
	done := make(chan uint32)
	go func() {
		_, _ = s.nextSeq(sub) // CSeq 64, version 63: within the reservation
		cseq, _ := s.nextSeq(sub)
		sawReleased.Store(st.released.Load())
		done <- cseq
	}()
	st.released.Store(true)
	close(st.release)
	assert.Equal(t, uint32(65), <-done)
	assert.True(t, sawReleased.Load(), "CSeq 65 waited for the reservation beyond 64 to be written")
	s.flushSubscriptions()
}
