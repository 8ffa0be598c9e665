package presence

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// testRedis returns a client to the test Redis and a key prefix of this
// test alone (see internal/redistest).
func testRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	rdb := redistest.Client(t)
	return rdb, redistest.Prefix(t, rdb, "presence")
}

func TestStores(t *testing.T) {
	stores := []struct {
		name string
		new  func(t *testing.T) Store
	}{
		{name: "memory", new: func(*testing.T) Store { return NewMemStore() }},
		{name: "redis", new: func(t *testing.T) Store {
			rdb, prefix := testRedis(t)
			return NewRedisStore(rdb, prefix)
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { testStore(t, st.new) })
	}
}

// testStore is the contract every Store keeps.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)

	t.Run("missing record", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Get(ctx, alice)
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("update then get", func(t *testing.T) {
		s := newStore(t)
		out, err := s.Update(ctx, alice, func(r *Record) error {
			r.AOR = alice
			r.Bindings = append(r.Bindings, Binding{Contact: "sip:201@10.0.0.5", Expires: now.Add(time.Minute)})
			r.View.Version = 7
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, uint64(7), out.View.Version)
		got, err := s.Get(ctx, alice)
		require.NoError(t, err)
		require.Len(t, got.Bindings, 1)
		assert.True(t, got.Bindings[0].Expires.Equal(now.Add(time.Minute)))
	})

	t.Run("failed update writes nothing", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		_, err := s.Update(ctx, alice, func(r *Record) error {
			r.View.Version = 99
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = s.Get(ctx, alice)
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("due", func(t *testing.T) {
		s := newStore(t)
		bob := NewAOR("202", "pbx.example.com")
		set := func(a AOR, next time.Time) {
			_, err := s.Update(ctx, a, func(r *Record) error { r.AOR, r.Next = a, next; return nil })
			require.NoError(t, err)
		}
		set(alice, now.Add(-time.Second))
		set(bob, now.Add(time.Hour))
		due, err := s.Due(ctx, now)
		require.NoError(t, err)
		assert.Equal(t, []AOR{alice}, due)
		set(alice, time.Time{})
		due, err = s.Due(ctx, now)
		require.NoError(t, err)
		assert.Empty(t, due)
	})

	t.Run("concurrent updates are atomic", func(t *testing.T) {
		s := newStore(t)
		const writers, each = 8, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					_, err := s.Update(ctx, alice, func(r *Record) error {
						r.Bindings = append(r.Bindings, Binding{Contact: fmt.Sprintf("sip:%d-%d@x", w, i)})
						return nil
					})
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := s.Get(ctx, alice)
		require.NoError(t, err)
		assert.Len(t, got.Bindings, writers*each, "no update lost")
	})
}

func TestServiceOnRedis(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	// Two services over one Redis act as two instances: what one writes,
	// the other reads, with one version sequence.
	a := New(Config{}, NewRedisStore(rdb, prefix), zerolog.Nop())
	b := New(Config{}, NewRedisStore(rdb, prefix), zerolog.Nop())
	_, err := a.Register(ctx, alice, Registration{CallID: "c", CSeq: 1, Contacts: []ContactUpdate{{URI: "sip:201@10.0.0.5", Expires: time.Minute}}})
	require.NoError(t, err)
	res, err := b.Publish(ctx, alice, Publish{Event: EventDialog, Expires: time.Minute, Body: dialogBody(1, Dialog{ID: "d", State: DialogEarly, Direction: DirectionRecipient})})
	require.NoError(t, err)
	v, err := a.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, LineRinging, v.Line)
	assert.Equal(t, uint64(2), v.Version)
	_, err = a.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res.ETag, Expires: time.Minute, Body: dialogBody(2, Dialog{ID: "d", State: DialogConfirmed})})
	require.NoError(t, err, "an entity-tag issued by one instance is valid on the other")

	ttl, err := rdb.PTTL(ctx, prefix+"presence:pbx.example.com:201").Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, recordGrace, "the record outlives its bindings by the grace")
	assert.LessOrEqual(t, ttl, recordGrace+time.Minute+time.Second)
}

// roundTrips counts network round trips: one per command or pipeline.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

func BenchmarkRedisRegister(b *testing.B) {
	rdb, prefix := testRedis(b)
	rt := &roundTrips{}
	rdb.AddHook(rt)
	s := New(Config{}, NewRedisStore(rdb, prefix), zerolog.Nop())
	ctx := context.Background()
	var cseq uint32
	b.ReportAllocs()
	defer func() { b.ReportMetric(float64(rt.n.Load())/float64(b.N), "roundtrips/op") }()
	for b.Loop() {
		cseq++
		if _, err := s.Register(ctx, alice, Registration{CallID: "c", CSeq: cseq, Contacts: []ContactUpdate{{URI: "sip:201@10.0.0.5", Expires: time.Hour}}}); err != nil {
			b.Fatal(err)
		}
	}
}
