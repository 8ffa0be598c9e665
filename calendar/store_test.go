package calendar

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/internal/redistest"
	"github.com/switchboardhq/switchboard/presence"
)

// testRedis returns a client to the test Redis and a key prefix of this
// test alone (see internal/redistest).
func testRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	rdb := redistest.Client(t)
	return rdb, redistest.Prefix(t, rdb, "cal")
}

var (
	alice = presence.NewAOR("201", "pbx.example.com")
	bob   = presence.NewAOR("202", "pbx.example.com")
)

func TestStores(t *testing.T) {
	stores := []struct {
		name string
		new  func(t *testing.T) Store
	}{
		{name: "memory", new: func(*testing.T) Store { return NewMemStore() }},
		{name: "bolt", new: func(t *testing.T) Store {
			s, err := OpenBolt(filepath.Join(t.TempDir(), "calendar.db"))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}},
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
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("missing feed", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Get(ctx, alice)
		require.ErrorIs(t, err, ErrNotFound)
		require.ErrorIs(t, s.Delete(ctx, alice), ErrNotFound)
	})

	t.Run("update then get, found only the second time", func(t *testing.T) {
		s := newStore(t)
		var seen []bool
		for range 2 {
			_, err := s.Update(ctx, alice, func(f *Feed, found bool) error {
				seen = append(seen, found)
				f.AOR, f.URL, f.Share = alice, "https://cal.example.com/secret.ics", true
				f.Gen++
				f.Busy = []presence.Busy{{Start: now, End: now.Add(time.Hour)}}
				return nil
			})
			require.NoError(t, err)
		}
		assert.Equal(t, []bool{false, true}, seen)
		got, err := s.Get(ctx, alice)
		require.NoError(t, err)
		assert.Equal(t, uint64(2), got.Gen)
		assert.Equal(t, "https://cal.example.com/secret.ics", got.URL)
		require.Len(t, got.Busy, 1)
		assert.True(t, got.Busy[0].End.Equal(now.Add(time.Hour)))
	})

	t.Run("failed update writes nothing", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		_, err := s.Update(ctx, alice, func(f *Feed, _ bool) error { f.URL = "x"; return boom })
		require.ErrorIs(t, err, boom)
		_, err = s.Get(ctx, alice)
		require.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("due, most overdue first, limited; delete leaves it", func(t *testing.T) {
		s := newStore(t)
		carol := presence.NewAOR("203", "pbx.example.com")
		set := func(a presence.AOR, next time.Time) {
			_, err := s.Update(ctx, a, func(f *Feed, _ bool) error { f.AOR, f.Poll.Next = a, next; return nil })
			require.NoError(t, err)
		}
		set(alice, now.Add(-time.Second))
		set(bob, now.Add(-time.Minute))
		set(carol, now.Add(time.Hour))
		due, err := s.Due(ctx, now, 10)
		require.NoError(t, err)
		assert.Equal(t, []presence.AOR{bob, alice}, due)
		due, err = s.Due(ctx, now, 1)
		require.NoError(t, err)
		assert.Equal(t, []presence.AOR{bob}, due)

		require.NoError(t, s.Delete(ctx, bob))
		due, err = s.Due(ctx, now, 10)
		require.NoError(t, err)
		assert.Equal(t, []presence.AOR{alice}, due)
	})

	t.Run("concurrent updates all apply", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := s.Update(ctx, alice, func(f *Feed, _ bool) error { f.Gen++; return nil })
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		got, err := s.Get(ctx, alice)
		require.NoError(t, err)
		assert.Equal(t, uint64(8), got.Gen)
	})
}
