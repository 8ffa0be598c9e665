package directory

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogLen(t *testing.T) {
	require.Equal(t, RedisLogLen, logLen(300), "small changes keep the full count")
	require.Equal(t, RedisLogBytes/100_000, logLen(100_000), "large ones fit the byte budget")
	require.Equal(t, logMinLen, logLen(10<<20), "never fewer than logMinLen")
}

// TestRedisLogBoundedBySize: a run of import-sized batches trims the log
// kept for small changes, so its size stays near RedisLogBytes instead of
// RedisLogLen entries of hundreds of contacts each.
func TestRedisLogBoundedBySize(t *testing.T) {
	ctx := context.Background()
	rdb := newTestRedis(t)
	s := newTestRedisStore(t, rdb)
	contact := func(i int, notes string) Contact {
		return Contact{ID: fmt.Sprintf("c_%06d", i), Kind: KindCompany, Domain: "pbx.example.com", Version: 1, LastName: "Smith", Notes: notes}
	}
	for i := range 700 {
		requireApply(t, s, ctx, Batch{Contacts: []ContactWrite{{Contact: contact(i, "")}}})
	}
	n, err := rdb.XLen(ctx, s.k("log")).Result()
	require.NoError(t, err)
	require.EqualValues(t, 700, n, "small changes are all kept")

	// The batch encodes to about 1.2 MB: logLen gives logMinLen entries.
	notes := strings.Repeat("n", 3000)
	var b Batch
	for i := range 400 {
		b.Contacts = append(b.Contacts, ContactWrite{Contact: contact(1000+i, notes)})
	}
	requireApply(t, s, ctx, b)
	n, err = rdb.XLen(ctx, s.k("log")).Result()
	require.NoError(t, err)
	// MAXLEN ~ trims whole stream nodes (100 entries by default).
	require.LessOrEqual(t, n, int64(logMinLen+100), "the large entry trimmed the log to its length")
	require.Greater(t, n, int64(logMinLen-1), "not below the minimum")
}

// TestRedisLazyChanges: the Service reads the log without decoding
// batches whose entry names their origin, and decodes them when it
// applies them; an entry without the origin field (written by an
// older version) is decoded at once. Changes, the Store method, always
// decodes.
func TestRedisLazyChanges(t *testing.T) {
	ctx := context.Background()
	rdb := newTestRedis(t)
	s := newTestRedisStore(t, rdb)
	c := Contact{ID: "c1", Kind: KindCompany, Domain: "example.com", LastName: "Lazy", Version: 1}
	requireApply(t, s, ctx, Batch{Contacts: []ContactWrite{{Contact: c}}, Origin: "inst-a", Actor: "ann@example.com"})
	// An entry as an older version appends it: no o field.
	old, _, err := appendBatchJSON(nil, &Batch{Contacts: []ContactWrite{{Contact: Contact{ID: "c2", Kind: KindCompany, Domain: "example.com", LastName: "Old", Version: 1}}}, Origin: "inst-b"}, nil)
	require.NoError(t, err)
	require.NoError(t, rdb.Incr(ctx, s.k("seq")).Err())
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.k("log"), Values: []any{"seq", 2, "b", old}}).Err())

	lazy, err := s.lazyChanges(ctx, Position{}, 10, 0)
	require.NoError(t, err)
	require.Len(t, lazy, 2)
	assert.Equal(t, "inst-a", lazy[0].Batch.Origin)
	assert.Empty(t, lazy[0].Batch.Contacts, "not decoded yet")
	assert.NotNil(t, lazy[0].raw)
	assert.Nil(t, lazy[1].raw, "no origin field: decoded")
	require.Len(t, lazy[1].Batch.Contacts, 1)

	full, err := s.Changes(ctx, Position{}, 10, 0)
	require.NoError(t, err)
	require.Len(t, full, 2)
	require.NoError(t, lazy[0].decode())
	assert.Equal(t, full[0].Batch, lazy[0].Batch)
	assert.Equal(t, "Lazy", lazy[0].Batch.Contacts[0].Contact.LastName)
	assert.Equal(t, "ann@example.com", lazy[0].Batch.Actor)

	// A log entry whose origin field disagrees with its batch is refused.
	bad := Change{Seq: 9, Batch: Batch{Origin: "inst-z"}, raw: old}
	assert.ErrorContains(t, bad.decode(), "origin")
}
