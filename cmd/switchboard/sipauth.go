package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/sip/auth"
)

// newSIPAuth builds the digest authenticator. Its nonces are keyed with
// --sip-auth-secret when given; else, with --redis, with secrets every
// instance shares and rotates through Redis, so a challenge issued by one
// instance is answered on another; else with a random per-process secret.
// refresh, when non-nil, keeps the shared secrets current until its ctx
// ends and must be run.
func newSIPAuth(ctx context.Context, cfg config, creds auth.Credentials, rdb *redis.Client, log zerolog.Logger) (a *auth.Authenticator, refresh func(context.Context) error) {
	acfg := auth.Config{Algorithms: cfg.SIPAuthAlgorithms}
	switch {
	case cfg.SIPAuthSecret != "":
		acfg.Secret = []byte(cfg.SIPAuthSecret)
	case rdb != nil:
		shared := auth.NewSharedSecret(redisSecrets{rdb}, sipAuthSecretPrefix, auth.DefaultRotation, log.With().Str("component", "sipauth").Logger())
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := shared.Refresh(rctx); err != nil {
			// Not fatal: this instance's own nonces still work, and the
			// refresher adopts the shared secrets once Redis answers.
			log.Warn().Err(err).Msg("load shared sip nonce secret; retrying in the background")
		}
		cancel()
		acfg.Shared = shared
		refresh = shared.Run
	}
	return auth.New(acfg, creds), refresh
}

// redisSecrets is the auth.SecretStore on Redis.
type redisSecrets struct{ rdb *redis.Client }

var _ auth.SecretStore = redisSecrets{}

// GetOrSet implements auth.SecretStore with SET NX then GET, which Redis
// before 7.0 also knows (SET NX GET needs 7.0).
func (r redisSecrets) GetOrSet(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	set, err := r.rdb.SetNX(ctx, key, value, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("set %s: %w", key, err)
	}
	if set {
		return value, nil
	}
	v, err := r.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return v, nil
}
