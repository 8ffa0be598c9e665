package events

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Connection tuning for [Connect].
const (
	// ReconnectBufSize is how many bytes of publishes nats.go buffers while
	// reconnecting; beyond it Publish fails with nats.ErrReconnectBufExceeded.
	ReconnectBufSize = 8 << 20
	// reconnectMin and reconnectMax bound the exponential reconnect backoff.
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 5 * time.Second
	// pingInterval and maxPingsOut detect a dead server in about a minute.
	pingInterval = 20 * time.Second
	maxPingsOut  = 3
	// connectPoll is how often Connect checks for the first connection.
	connectPoll = 20 * time.Millisecond
)

// ErrNotConnected reports that the first connection did not come up before
// the context of [Connect] ended.
var ErrNotConnected = errors.New("nats not connected")

// ConnHealth is the connection state as a health endpoint reports it.
type ConnHealth string

// Connection health states.
const (
	// HealthConnected: connected, events flow.
	HealthConnected ConnHealth = "connected"
	// HealthDegraded: (re)connecting; publishes are buffered, nothing is received.
	HealthDegraded ConnHealth = "degraded"
	// HealthClosed: closed for good; nothing flows.
	HealthClosed ConnHealth = "closed"
)

// Status maps the state of nc to a ConnHealth. A nil nc is closed.
func Status(nc *nats.Conn) ConnHealth {
	if nc == nil {
		return HealthClosed
	}
	switch nc.Status() {
	case nats.CONNECTED:
		return HealthConnected
	case nats.CLOSED:
		return HealthClosed
	default: // CONNECTING, RECONNECTING, DISCONNECTED, DRAINING_*
		return HealthDegraded
	}
}

// Connect dials url with production options: it reconnects forever with
// exponential backoff and jitter, buffers up to [ReconnectBufSize] bytes of
// publishes while disconnected, and logs disconnects, reconnects, closes and
// asynchronous errors. name identifies the client to the server.
//
// It waits for the first connection until ctx ends, then closes the
// connection and returns an error wrapping [ErrNotConnected]; give ctx a
// timeout. Register resync work with [OnReconnect].
//
// extra options follow the production ones: a process whose Bus is the only
// user of its connection passes nats.NoEcho(), so that the server does not
// deliver it the events it publishes (its Bus would drop them anyway).
func Connect(ctx context.Context, url string, name string, log zerolog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	log = log.With().Str("component", "nats").Str("nats_name", name).Logger()
	nc, err := nats.Connect(url, append(options(name, log), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", url, err)
	}
	t := time.NewTicker(connectPoll)
	defer t.Stop()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("connect nats %s: %w: %w", url, ErrNotConnected, ctx.Err())
		case <-t.C:
		}
	}
	log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats connected")
	return nc, nil
}

func options(name string, log zerolog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ReconnectBufSize(ReconnectBufSize),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				log.Info().Msg("nats disconnected")
				return
			}
			log.Warn().Err(err).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", nc.ConnectedUrlRedacted()).Uint64("reconnects", nc.Stats().Reconnects).Msg("nats reconnected")
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				log.Warn().Err(err).Msg("nats connection closed")
				return
			}
			log.Info().Msg("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Warn().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats async error")
		}),
	}
}

// reconnectDelay is exponential from reconnectMin up to reconnectMax with up
// to 25% added jitter, so a fleet of sidecars does not reconnect in lockstep.
func reconnectDelay(attempts int) time.Duration {
	d := reconnectMax
	if attempts < 16 {
		d = min(reconnectMin<<max(attempts-1, 0), reconnectMax)
	}
	return d + rand.N(d/4+1)
}

// OnReconnect chains fn after the reconnect handlers already set on nc, such
// as the logging one from [Connect]. Use it to resync state that may have
// been missed while disconnected. fn runs on nats.go's callback goroutine:
// keep it short and hand real work to a goroutine you own. Call it while
// wiring, before events flow.
func OnReconnect(nc *nats.Conn, fn func()) {
	prev := nc.ReconnectHandler()
	nc.SetReconnectHandler(func(c *nats.Conn) {
		if prev != nil {
			prev(c)
		}
		fn()
	})
}
