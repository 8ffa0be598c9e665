package events

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// ErrUnsupportedSchema reports a received event whose "v" is newer than
// [SchemaVersion] or missing.
var ErrUnsupportedSchema = errors.New("unsupported event schema")

// flushTimeout bounds the wait for the server to confirm a new subscription.
const flushTimeout = 5 * time.Second

// Bus publishes and consumes Switchboard events over one NATS connection.
// It is safe for concurrent use.
type Bus struct {
	nc       *nats.Conn
	instance string
	origin   string
	// hdr carries origin in every message's header, so that the Bus
	// drops its own events without decoding them; read-only, shared.
	hdr nats.Header
	log zerolog.Logger

	published        atomic.Uint64
	publishFailed    atomic.Uint64
	consumed         atomic.Uint64
	droppedOwn       atomic.Uint64
	droppedMalformed atomic.Uint64
}

// Stats is a snapshot of a Bus's counters.
type Stats struct {
	// Published counts events handed to the connection (sent or buffered).
	Published uint64
	// PublishFailed counts events the connection refused.
	PublishFailed uint64
	// Consumed counts events delivered to a handler.
	Consumed uint64
	// DroppedOwn counts received events that this Bus published.
	DroppedOwn uint64
	// DroppedMalformed counts received payloads that did not decode or
	// carried an unsupported schema.
	DroppedMalformed uint64
}

// New returns a Bus on nc. instance names this Switchboard instance in
// every published event, for people and logs. Loops are suppressed by a
// random origin token the Bus draws for itself, never by instance: two
// processes given the same name still hear each other.
func New(nc *nats.Conn, instance string, log zerolog.Logger) *Bus {
	origin := rand.Text()
	return &Bus{
		nc:       nc,
		instance: instance,
		origin:   origin,
		hdr:      nats.Header{OriginHeader: []string{origin}},
		log:      log.With().Str("component", "events").Str("origin", origin).Logger(),
	}
}

// Instance returns the instance name this Bus writes into events.
func (b *Bus) Instance() string { return b.instance }

// Origin returns the token, unique to this Bus, that it writes into every
// event and by which it recognises its own.
func (b *Bus) Origin() string { return b.origin }

// Health reports the state of the underlying connection.
func (b *Bus) Health() ConnHealth { return Status(b.nc) }

// Published returns the number of events handed to the connection.
func (b *Bus) Published() uint64 { return b.published.Load() }

// PublishFailed returns the number of events the connection refused.
func (b *Bus) PublishFailed() uint64 { return b.publishFailed.Load() }

// Consumed returns the number of events delivered to handlers.
func (b *Bus) Consumed() uint64 { return b.consumed.Load() }

// DroppedOwn returns the number of received events published by this Bus.
func (b *Bus) DroppedOwn() uint64 { return b.droppedOwn.Load() }

// DroppedMalformed returns the number of received payloads that were dropped
// because they did not decode or carried an unsupported schema.
func (b *Bus) DroppedMalformed() uint64 { return b.droppedMalformed.Load() }

// Stats returns a snapshot of all counters.
func (b *Bus) Stats() Stats {
	return Stats{
		Published:        b.published.Load(),
		PublishFailed:    b.publishFailed.Load(),
		Consumed:         b.consumed.Load(),
		DroppedOwn:       b.droppedOwn.Load(),
		DroppedMalformed: b.droppedMalformed.Load(),
	}
}

// PublishPresence stamps ev with the schema, this instance, the origin
// token and (if unset) the time, then publishes it. While the connection is reconnecting the
// event is buffered by nats.go up to the reconnect buffer set in [Connect].
func (b *Bus) PublishPresence(ctx context.Context, ev PresenceEvent) error {
	ev.Schema = SchemaVersion
	ev.Instance, ev.Origin = b.instance, b.origin
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("publish presence %s@%s: %w", ev.Extension, ev.Domain, err)
	}
	subj, err := PresenceSubject(ev.Domain, ev.Extension)
	if err != nil {
		return fmt.Errorf("publish presence %s@%s: %w", ev.Extension, ev.Domain, err)
	}
	return b.publishEncoded(ctx, subj, ev.appendJSON)
}

// PublishContact stamps ev with the schema, this instance, the origin token
// and (if unset) the time, then publishes it; see [Bus.PublishPresence] for buffering.
func (b *Bus) PublishContact(ctx context.Context, ev ContactEvent) error {
	ev.Schema = SchemaVersion
	ev.Instance, ev.Origin = b.instance, b.origin
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("publish contact %s: %w", ev.ID, err)
	}
	subj, err := ContactSubject(ev.Domain, ev.Owner)
	if err != nil {
		return fmt.Errorf("publish contact %s: %w", ev.ID, err)
	}
	return b.publishEncoded(ctx, subj, ev.appendJSON)
}

// publishEncoded publishes the event appendJSON encodes (the events sent
// at the rate of SIP traffic have encoders of their own; see publish).
func (b *Bus) publishEncoded(ctx context.Context, subj string, appendJSON func([]byte) ([]byte, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s: %w", subj, err)
	}
	data, err := appendJSON(make([]byte, 0, 256))
	if err != nil {
		return fmt.Errorf("marshal %s: %w", subj, err)
	}
	return b.send(subj, data)
}

func (b *Bus) publish(ctx context.Context, subj string, v any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s: %w", subj, err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", subj, err)
	}
	return b.send(subj, data)
}

// OriginHeader is the message header holding the publishing Bus's origin
// token (the same as the event's "origin"); events of older versions have
// none and are told apart after decoding.
const OriginHeader = "Switchboard-Origin"

func (b *Bus) send(subj string, data []byte) error {
	if err := b.nc.PublishMsg(&nats.Msg{Subject: subj, Data: data, Header: b.hdr}); err != nil {
		b.publishFailed.Add(1)
		return fmt.Errorf("publish %s: %w", subj, err)
	}
	b.published.Add(1)
	return nil
}

// SubscribePresence delivers presence events of domain ("" for every domain)
// to fn, skipping events this Bus published and payloads that do not
// decode. The subscription is registered with the server before it returns.
//
// fn runs on one goroutine owned by the subscription, in arrival order; it
// must not block (hand slow work to a worker). The subscription ends when
// ctx ends or stop is called. stop waits for that goroutine to exit and returns
// the unsubscribe error; the owner calls it (also after ctx has ended), more
// than once is harmless.
func (b *Bus) SubscribePresence(ctx context.Context, domain string, fn func(PresenceEvent)) (stop func() error, err error) {
	filter, err := PresenceFilter(domain)
	if err != nil {
		return nil, fmt.Errorf("subscribe presence %q: %w", domain, err)
	}
	return subscribe(ctx, b, filter, fn, func(ev *PresenceEvent) (string, error) {
		if ev.Domain == "" || ev.Extension == "" {
			return ev.Origin, fmt.Errorf("presence without domain or extension: %w", ErrInvalidEvent)
		}
		return ev.Origin, checkSchema(ev.Schema)
	})
}

// SubscribeContacts delivers contact events of domain ("" for every domain)
// to fn, with the same rules as [Bus.SubscribePresence].
func (b *Bus) SubscribeContacts(ctx context.Context, domain string, fn func(ContactEvent)) (stop func() error, err error) {
	filter, err := ContactFilter(domain)
	if err != nil {
		return nil, fmt.Errorf("subscribe contacts %q: %w", domain, err)
	}
	return subscribe(ctx, b, filter, fn, func(ev *ContactEvent) (string, error) {
		if ev.ID == "" {
			return ev.Origin, fmt.Errorf("contact without id: %w", ErrInvalidEvent)
		}
		return ev.Origin, checkSchema(ev.Schema)
	})
}

func checkSchema(v int) error {
	if v < 1 || v > SchemaVersion {
		return fmt.Errorf("schema %d: %w", v, ErrUnsupportedSchema)
	}
	return nil
}

// subscribe registers filter, then runs one receive goroutine that decodes
// into T, checks it (check returns the event's origin token) and calls fn.
// The returned stop owns that goroutine.
func subscribe[T any](ctx context.Context, b *Bus, filter string, fn func(T), check func(*T) (string, error)) (func() error, error) {
	sub, err := b.nc.SubscribeSync(filter)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", filter, err)
	}
	// Flush so the server knows our interest before we return: events
	// published after Subscribe* returns are not lost. While reconnecting,
	// nats.go replays the subscription on reconnect, so there is nothing to wait for.
	if b.nc.IsConnected() {
		fctx, fcancel := context.WithTimeout(ctx, flushTimeout)
		err := b.nc.FlushWithContext(fctx)
		fcancel()
		if err != nil {
			_ = sub.Unsubscribe()
			return nil, fmt.Errorf("subscribe %s: flush: %w", filter, err)
		}
	}
	log := b.log.With().Str("subject", filter).Logger()

	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var unsubErr error // written by the goroutine before close(done)
	go func() {
		defer close(done)
		defer func() {
			if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
				unsubErr = fmt.Errorf("unsubscribe %s: %w", filter, err)
			}
		}()
		for {
			msg, err := sub.NextMsgWithContext(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn().Err(err).Msg("subscription ended")
				}
				return
			}
			// Our own, known by its header: a process hears every event it
			// publishes, and decoding them was a tenth of a PUBLISH's CPU.
			if msg.Header != nil && msg.Header.Get(OriginHeader) == b.origin {
				b.droppedOwn.Add(1)
				continue
			}
			var ev T
			if err := json.Unmarshal(msg.Data, &ev); err != nil {
				b.dropMalformed(log, msg, err)
				continue
			}
			origin, err := check(&ev)
			if err != nil {
				b.dropMalformed(log, msg, err)
				continue
			}
			if origin == b.origin {
				b.droppedOwn.Add(1)
				continue
			}
			b.consumed.Add(1)
			fn(ev)
		}
	}()

	return func() error {
		cancel()
		<-done
		return unsubErr
	}, nil
}

func (b *Bus) dropMalformed(log zerolog.Logger, msg *nats.Msg, err error) {
	b.droppedMalformed.Add(1)
	log.Warn().Err(err).Str("msg_subject", msg.Subject).Int("bytes", len(msg.Data)).Msg("dropped malformed event")
}
