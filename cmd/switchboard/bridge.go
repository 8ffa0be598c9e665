package main

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/events"
	"github.com/switchboardhq/switchboard/presence"
)

// bridge joins the presence core to the event bus: it publishes this
// instance's changes and hands other instances' changes to local watchers.
type bridge struct {
	bus  *events.Bus
	core *presence.Service
	log  zerolog.Logger
}

// publish is a presence watcher. Changes that came from the bus are not
// published again, so events never loop between instances.
func (b *bridge) publish(c presence.Change) {
	if c.Origin != "" {
		return
	}
	for _, typ := range eventTypes(c) {
		ev := presenceEvent(c.View, typ)
		if err := b.bus.PublishPresence(context.Background(), ev); err != nil {
			b.log.Warn().Err(err).Str("aor", c.View.AOR.String()).Msg("publish presence event")
		}
	}
}

// consume takes another instance's event. The event names what changed;
// the shared store holds the full state (dialogs with their tags) that
// subscribers need, so it is read from there.
func (b *bridge) consume(ev events.PresenceEvent) {
	aor := presence.NewAOR(ev.Extension, ev.Domain)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := b.core.Get(ctx, aor)
	if err != nil {
		b.log.Warn().Err(err).Str("aor", aor.String()).Msg("read presence for remote change")
		return
	}
	b.core.Deliver(presence.Change{View: v, Origin: ev.Instance})
}

func eventTypes(c presence.Change) []string {
	var types []string
	if c.RegistrationChanged() {
		types = append(types, events.PresenceRegistration)
	}
	if c.LineChanged() {
		types = append(types, events.PresenceLine)
	}
	if c.StatusChanged() {
		types = append(types, events.PresenceStatus)
	}
	if len(types) == 0 {
		types = append(types, events.PresenceLine)
	}
	return types
}

func presenceEvent(v presence.View, typ string) events.PresenceEvent {
	ev := events.PresenceEvent{
		Schema: events.SchemaVersion, Type: typ, Domain: v.AOR.Domain, Extension: v.AOR.User,
		Registered: v.Registered, Line: string(v.Line), Status: string(v.Status), Note: v.Note,
		Since: v.Since, Version: v.Version, At: time.Now(),
	}
	if len(v.Dialogs) > 0 {
		r := v.Dialogs[0].Remote
		ev.Remote = &events.Party{URI: r.URI, Display: r.Display, ContactID: r.ContactID}
	}
	return ev
}

// timedStore measures every store call, for the store latency metric.
type timedStore struct {
	presence.Store
	hist *prometheus.HistogramVec
}

func (t timedStore) Update(ctx context.Context, aor presence.AOR, fn func(*presence.Record) error) (presence.Record, error) {
	defer t.observe("update", time.Now())
	return t.Store.Update(ctx, aor, fn)
}

func (t timedStore) Get(ctx context.Context, aor presence.AOR) (presence.Record, error) {
	defer t.observe("get", time.Now())
	return t.Store.Get(ctx, aor)
}

func (t timedStore) Due(ctx context.Context, now time.Time) ([]presence.AOR, error) {
	defer t.observe("due", time.Now())
	return t.Store.Due(ctx, now)
}

func (t timedStore) observe(op string, start time.Time) {
	t.hist.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// contactEvent is the wire form of a directory change. It carries the
// change (type), the contact's id, kind and version, never its content —
// for a personal contact nothing its owner typed — so subscribers read the
// content through the API with their own permissions. Subjects stay in
// the tenant: personal contacts under the owner's domain and extension,
// team contacts under "<domain>.team", company contacts under
// "<domain>.company".
func contactEvent(ev directory.ChangeEvent) events.ContactEvent {
	c := ev.Contact
	out := events.ContactEvent{Type: string(ev.Op), ID: c.ID, Kind: string(c.Kind), Version: c.Version}
	switch c.Kind {
	case directory.KindPersonal:
		user, domain, _ := strings.Cut(c.Owner, "@")
		out.Domain, out.Owner = domain, user
	case directory.KindTeam:
		out.Domain, out.Owner = c.Domain, "team"
	default:
		out.Domain, out.Owner = c.Domain, "company"
	}
	return out
}
