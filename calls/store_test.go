package calls

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// testRedis returns a client to the test Redis and a key prefix of this
// test alone (see internal/redistest).
func testRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	rdb := redistest.Client(t)
	return rdb, redistest.Prefix(t, rdb, "calls")
}

// stores lists every Store for the contract tests.
func stores() []struct {
	name string
	open func(t *testing.T) Store
} {
	return []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"mem", func(*testing.T) Store { return NewMemStore() }},
		{"bolt", func(t *testing.T) Store {
			s, err := OpenBolt(filepath.Join(t.TempDir(), "calls.db"))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"redis", func(t *testing.T) Store {
			rdb, prefix := testRedis(t)
			return NewRedisStore(rdb, prefix)
		}},
	}
}

func TestStoreContract(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			s := st.open(t)

			_, err := s.Get(ctx, "a")
			require.ErrorIs(t, err, ErrNotFound)

			require.NoError(t, s.Update(ctx, "a", 0, func(old []byte) ([]byte, error) {
				assert.Nil(t, old)
				return []byte("1"), nil
			}))
			got, err := s.Get(ctx, "a")
			require.NoError(t, err)
			assert.Equal(t, "1", string(got))

			// errKeep writes nothing; another error is returned as is.
			require.NoError(t, s.Update(ctx, "a", 0, func([]byte) ([]byte, error) { return []byte("2"), errKeep }))
			boom := errors.New("boom")
			require.ErrorIs(t, s.Update(ctx, "a", 0, func([]byte) ([]byte, error) { return nil, boom }), boom)
			got, _ = s.Get(ctx, "a")
			assert.Equal(t, "1", string(got))

			// nil deletes.
			require.NoError(t, s.Update(ctx, "a", 0, func([]byte) ([]byte, error) { return nil, nil }))
			_, err = s.Get(ctx, "a")
			require.ErrorIs(t, err, ErrNotFound)

			require.NoError(t, s.Update(ctx, "b", 0, func([]byte) ([]byte, error) { return []byte("x"), nil }))
			require.NoError(t, s.Delete(ctx, "b", "missing"))
			_, err = s.Get(ctx, "b")
			require.ErrorIs(t, err, ErrNotFound)

			// A document with a TTL is gone after it.
			require.NoError(t, s.Update(ctx, "t", 50*time.Millisecond, func([]byte) ([]byte, error) { return []byte("x"), nil }))
			require.Eventually(t, func() bool {
				_, err := s.Get(ctx, "t")
				return errors.Is(err, ErrNotFound)
			}, 5*time.Second, 20*time.Millisecond)
		})
	}
}

// TestStoreUpdateIsAtomic counts with concurrent read-modify-writes: no
// increment may be lost, also across clients of one Redis.
func TestStoreUpdateIsAtomic(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			s := st.open(t)
			const workers, each = 8, 25
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range each {
						assert.NoError(t, s.Update(ctx, "n", 0, func(old []byte) ([]byte, error) {
							n, _ := strconv.Atoi(string(old))
							return []byte(strconv.Itoa(n + 1)), nil
						}))
					}
				})
			}
			wg.Wait()
			got, err := s.Get(ctx, "n")
			require.NoError(t, err)
			assert.Equal(t, strconv.Itoa(workers*each), string(got))
		})
	}
}

func TestBoltSweep(t *testing.T) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "calls.db"))
	require.NoError(t, err)
	defer s.Close()
	now := time.Now()
	s.now = func() time.Time { return now }
	for _, k := range []string{"a", "b", "c"} {
		ttl := time.Minute
		if k == "b" {
			ttl = 0
		}
		require.NoError(t, s.Update(ctx, k, ttl, func([]byte) ([]byte, error) { return []byte(k), nil }))
	}
	now = now.Add(2 * time.Minute)
	require.NoError(t, s.Sweep(ctx))
	n := 0
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error { n++; return nil })
	}))
	assert.Equal(t, 1, n, "only the document without TTL is left")
	got, err := s.Get(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, "b", string(got))
}

// BenchmarkIsBlocked is the block-list read /v1/lookup adds for a user or
// pbx key: one document read and a normalization.
func BenchmarkIsBlocked(b *testing.B) {
	for _, st := range stores() {
		b.Run(st.name, func(b *testing.B) {
			var s Store
			switch st.name {
			case "mem":
				s = NewMemStore()
			case "bolt":
				bs, err := OpenBolt(filepath.Join(b.TempDir(), "calls.db"))
				require.NoError(b, err)
				defer bs.Close()
				s = bs
			case "redis":
				rdb, prefix := testRedis(b)
				s = NewRedisStore(rdb, prefix)
			}
			svc, err := New(Config{DefaultRegion: "FR"}, s, nil, zerolog.Nop())
			require.NoError(b, err)
			ctx := context.Background()
			for i := range 50 {
				_, err := svc.Block(ctx, "201@pbx.test", "06123456"+strconv.Itoa(10+i))
				require.NoError(b, err)
			}
			for _, user := range []string{"201@pbx.test", "202@pbx.test"} {
				name := "50 numbers"
				if user == "202@pbx.test" {
					name = "empty"
				}
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						if _, err := svc.IsBlocked(ctx, user, "0491550142"); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// TestBoltCloseKeepsPendingWrites: grouped writes not yet flushed reach
// the file on Close, and a reopened store reads them.
func TestBoltCloseKeepsPendingWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "calls.db")
	s, err := OpenBolt(path)
	require.NoError(t, err)
	for i := range 10 {
		k := strconv.Itoa(i)
		require.NoError(t, s.Update(ctx, k, time.Hour, func([]byte) ([]byte, error) { return []byte(k), nil }))
	}
	require.NoError(t, s.Delete(ctx, "3"))
	require.NoError(t, s.Close())

	s, err = OpenBolt(path)
	require.NoError(t, err)
	defer s.Close()
	for i := range 10 {
		got, err := s.Get(ctx, strconv.Itoa(i))
		if i == 3 {
			require.ErrorIs(t, err, ErrNotFound)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(i), string(got))
	}
}

// BenchmarkBoltUpdate is one call step's write: a read-modify-write of a
// user's document in the embedded store.
func BenchmarkBoltUpdate(b *testing.B) {
	ctx := context.Background()
	s, err := OpenBolt(filepath.Join(b.TempDir(), "calls.db"))
	require.NoError(b, err)
	defer s.Close()
	doc := make([]byte, 2048)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		key := "user:" + strconv.Itoa(i%200)
		if err := s.Update(ctx, key, time.Hour, func([]byte) ([]byte, error) { return doc, nil }); err != nil {
			b.Fatal(err)
		}
	}
}
