package lease_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/lease"
)

const claimTTL = 2 * time.Second

func take(t *testing.T, l *lease.Redis, previous string) (*lease.Claim, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*claimTTL)
	defer cancel()
	c, err := lease.Take(ctx, l, "instance:x", claimTTL, previous, zerolog.Nop())
	if err == nil {
		t.Cleanup(func() { _ = c.Release(context.Background()) })
	}
	return c, err
}

func TestClaimRefusedWhileHolderRenews(t *testing.T) {
	rdb, prefix := testRedis(t)
	first, err := take(t, lease.NewRedis(rdb, prefix, "process-1"), "")
	require.NoError(t, err)

	_, err = take(t, lease.NewRedis(rdb, prefix, "process-2"), "")
	require.ErrorIs(t, err, lease.ErrHeld)
	assert.Contains(t, err.Error(), "process-1")

	// Released on a clean stop: the next process claims it at once.
	require.NoError(t, first.Release(context.Background()))
	_, err = take(t, lease.NewRedis(rdb, prefix, "process-3"), "")
	require.NoError(t, err)
}

func TestClaimOfDeadHolder(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	// A crashed process: its lease stays until the TTL, nobody renews it.
	dead := lease.NewRedis(rdb, prefix, "crashed")
	ok, err := dead.Acquire(ctx, "instance:x", claimTTL)
	require.NoError(t, err)
	require.True(t, ok)

	t.Run("waits for the lapse", func(t *testing.T) {
		_, err := take(t, lease.NewRedis(rdb, prefix, "successor"), "")
		require.NoError(t, err)
		holder, _, err := dead.Holder(ctx, "instance:x")
		require.NoError(t, err)
		assert.Equal(t, "successor", holder)
	})

	t.Run("takes over from the known predecessor", func(t *testing.T) {
		require.NoError(t, rdb.Del(ctx, prefix+"instance:x").Err())
		ok, err := dead.Acquire(ctx, "instance:x", time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = take(t, lease.NewRedis(rdb, prefix, "restarted"), "crashed")
		require.NoError(t, err, "an hour-long lease of the predecessor is not waited for")
	})
}

func TestClaimLost(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	c, err := take(t, lease.NewRedis(rdb, prefix, "mine"), "")
	require.NoError(t, err)
	// Our lease lapsed and another process claimed the name.
	require.NoError(t, rdb.Set(ctx, prefix+"instance:x", "intruder", time.Minute).Err())
	select {
	case <-c.Lost():
	case <-time.After(2 * claimTTL):
		t.Fatal("loss not noticed")
	}
	require.NoError(t, c.Release(ctx))
	holder, _, err := lease.NewRedis(rdb, prefix, "mine").Holder(ctx, "instance:x")
	require.NoError(t, err)
	assert.Equal(t, "intruder", holder, "release leaves another's lease alone")
}

func TestClaimSurvivesLapse(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	c, err := take(t, lease.NewRedis(rdb, prefix, "mine"), "")
	require.NoError(t, err)
	// Redis restarted empty: the renewer claims the name again.
	require.NoError(t, rdb.Del(ctx, prefix+"instance:x").Err())
	require.Eventually(t, func() bool {
		h, _, err := lease.NewRedis(rdb, prefix, "x").Holder(ctx, "instance:x")
		return err == nil && h == "mine"
	}, 2*claimTTL, 50*time.Millisecond)
	select {
	case <-c.Lost():
		t.Fatal("a lapse with nobody else is not a loss")
	default:
	}
}
