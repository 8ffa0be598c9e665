package directory

import (
	"context"
	"fmt"
	"strings"
	"testing"

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
