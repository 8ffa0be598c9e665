package presence

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedisWatchersApply: one pipelined write stores and forgets several
// subscription states, as Save and Delete one by one would.
func TestRedisWatchersApply(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testRedis(t)
	w := NewRedisStore(rdb, prefix).Watchers("i1")
	require.NoError(t, w.Save(ctx, "a", []byte("old")))
	require.NoError(t, w.Save(ctx, "b", []byte("b")))
	require.NoError(t, w.Apply(ctx, map[string][]byte{"a": []byte("new"), "c": []byte("c")}, []string{"b"}))
	got, err := w.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("new"), "c": []byte("c")}, got)
	require.NoError(t, w.Apply(ctx, nil, nil))
}
