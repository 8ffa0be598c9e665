package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/instance"
	"github.com/switchboardhq/switchboard/lease"
)

// instanceTTL is how long the claim on an instance id outlives a crashed
// holder; a live one renews it every third of it.
const instanceTTL = 10 * time.Second

// openRedis returns the process's Redis client; go-redis reconnects by itself.
func openRedis(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	return redis.NewClient(opt), nil
}

// claimInstance claims the instance id for this process, so that two
// processes never run under one id (they would share one set of stored
// subscriptions and PBX watches). The process that last ran on this data
// dir is known dead and its claim is taken over at once; another's is
// waited for until it lapses, or refused when it is renewed.
func claimInstance(ctx context.Context, rdb *redis.Client, id *instance.Identity, log zerolog.Logger) (*lease.Claim, error) {
	l := lease.NewRedis(rdb, instancePrefix, id.Token)
	c, err := lease.Take(ctx, l, id.ID, instanceTTL, id.Previous, log.With().Str("component", "instance").Logger())
	if errors.Is(err, lease.ErrHeld) {
		return nil, fmt.Errorf("--instance-id %q is in use by another running switchboard on this Redis; give each instance its own id (or leave --instance-id unset): %w", id.ID, err)
	}
	if err != nil {
		return nil, fmt.Errorf("claim instance id %q: %w", id.ID, err)
	}
	return c, nil
}

// watchClaim ends the process when another process took the instance id.
func watchClaim(ctx context.Context, c *lease.Claim, id string) error {
	select {
	case <-ctx.Done():
		return nil
	case <-c.Lost():
		return fmt.Errorf("instance id %q was claimed by another process while Redis was unreachable: stopping", id)
	}
}

// releaseClaim frees the instance id, so a restart need not wait for it.
func releaseClaim(c *lease.Claim, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Release(ctx); err != nil {
		log.Warn().Err(err).Msg("release instance id")
	}
}
