package limit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsWaitDoesNotTake(t *testing.T) {
	b := NewBuckets[string](0.5, 2, 100)
	assert.Zero(t, b.Wait("201@a.example", t0), "an unseen key may go")
	assert.Zero(t, b.Len(), "Wait tracks no new key")
	for range 2 {
		ok, _ := b.Take("201@a.example", t0)
		require.True(t, ok)
	}
	for range 3 {
		// Asking again and again spends nothing and moves nothing.
		assert.Equal(t, 2*time.Second, b.Wait("201@a.example", t0))
	}
	ok, wait := b.Take("201@a.example", t0)
	assert.False(t, ok)
	assert.Equal(t, 2*time.Second, wait)
	assert.Zero(t, b.Wait("201@b.example", t0), "another key is unaffected")
	assert.Zero(t, b.Wait("201@a.example", t0.Add(2*time.Second)), "refilled")
}

func TestBucketsShardedStringKeys(t *testing.T) {
	b := NewBuckets[string](1, 1, 5000)
	require.Len(t, b.shards, 16)
	for i := range 6000 {
		b.Take(string(rune('a'+i%26))+time.Duration(i).String(), t0)
	}
	assert.LessOrEqual(t, b.Len(), 5000)
	assert.Greater(t, b.Len(), 4500, "keys spread over the shards")
}
