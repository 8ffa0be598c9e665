package main

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/api"
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/calls"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/events"
	"github.com/switchboardhq/switchboard/presence"
)

// callsFile is the embedded call store in --data-dir.
const callsFile = "calls.db"

// openCalls opens the call history: in Redis when there is one, else in
// its own bolt file. names is filled in once the caller-ID lookup exists.
func openCalls(cfg config, rdb *redis.Client, log zerolog.Logger) (*calls.Service, *callNames, func(), error) {
	var store calls.Store
	closeStore := func() {}
	if rdb != nil {
		store = calls.NewRedisStore(rdb, callsPrefix)
	} else {
		b, err := calls.OpenBolt(filepath.Join(cfg.DataDir, callsFile))
		if err != nil {
			return nil, nil, nil, err
		}
		store, closeStore = b, func() { b.Close() }
	}
	names := &callNames{}
	h, err := calls.New(calls.Config{
		MaxPerUser: cfg.CallsPerUser, Retention: time.Duration(cfg.CallsRetentionDays) * 24 * time.Hour,
		DefaultRegion: cfg.Region, DomainRegions: cfg.DomainRegions,
	}, store, names, log)
	if err != nil {
		closeStore()
		return nil, nil, nil, err
	}
	return h, names, closeStore, nil
}

// callNames names a call's other party for the history's owner, from the
// caller-ID lookup (personal contacts first). Set lookup before the
// history's workers run.
type callNames struct {
	lookup *callerid.Lookup
}

// NameFor implements calls.Namer.
func (n *callNames) NameFor(ctx context.Context, number, user string) (string, string, bool) {
	if n.lookup == nil {
		return "", "", false
	}
	res, ok := n.lookup.Resolve(ctx, number, user)
	if !ok || res.Display == "" {
		return "", "", false
	}
	return res.Display, res.ContactID, true
}

// reportingCore is the presence core as the SIP edge and the PBX watcher
// see it: every dialog report goes to the call history as the PBX sent
// it, before the core names or hides the caller for colleagues.
type reportingCore struct {
	*presence.Service
	history *calls.Service
}

// Publish implements the SIP edge's and the watcher's presence sink.
func (c reportingCore) Publish(ctx context.Context, aor presence.AOR, p presence.Publish) (presence.PublishResult, error) {
	if p.Event == presence.EventDialog && p.Body != nil {
		c.history.Reported(aor, p.Body.Dialogs) // copies: the core rewrites the parties
	}
	return c.Service.Publish(ctx, aor, p)
}

// forgetDeletedUser drops the call history of a deleted user: a user's
// deletion removes their team contact, whichever API or instance did it.
// Only the instance that wrote the change acts.
func forgetDeletedUser(h *calls.Service, ev directory.ChangeEvent) {
	if ev.Local && ev.Op == directory.ChangeDeleted && ev.Contact.Kind == directory.KindTeam {
		h.Forget(strings.TrimPrefix(ev.Contact.ID, directory.TeamContactID("")))
	}
}

// wireCallEvents sends the history's call starts and ends to this
// instance's event streams and to NATS, and other instances' from NATS
// to this instance's streams. The returned stop ends the subscription.
func wireCallEvents(ctx context.Context, h *calls.Service, bus *events.Bus, apiSrv *api.Server, log zerolog.Logger) (func() error, error) {
	h.OnEvent(func(ev calls.Event) {
		apiSrv.DeliverCall(ev)
		if err := bus.PublishCall(context.Background(), callEvent(ev)); err != nil {
			log.Warn().Err(err).Str("call", ev.Call.ID).Msg("publish call event")
		}
	})
	return bus.SubscribeCalls(ctx, "", func(ev events.CallEvent) {
		apiSrv.DeliverCall(fromCallEvent(ev))
	})
}

// callEvent is the wire form of a call event: the party as colleagues see
// it (ev.Shared), never the owner's personal name.
func callEvent(ev calls.Event) events.CallEvent {
	c := ev.Call
	user, domain, _ := strings.Cut(c.User, "@")
	out := events.CallEvent{
		Type: events.CallStarted, Domain: domain, Extension: user, ID: c.ID, CallID: c.CallID,
		Direction: string(c.Direction), Started: c.Started, Answered: c.Answered, Ended: c.Ended,
		Duration: c.Duration, Outcome: string(c.Outcome), TakenBy: c.TakenBy,
	}
	if ev.Type == calls.EventEnded {
		out.Type = events.CallEnded
	}
	if ev.Shared.URI != "" || ev.Shared.Display != "" {
		out.Remote = &events.Party{URI: ev.Shared.URI, Display: ev.Shared.Display, ContactID: ev.Shared.ContactID}
	}
	return out
}

// fromCallEvent turns another instance's call event into the history's
// form for the local streams, which name the party for their user.
func fromCallEvent(ev events.CallEvent) calls.Event {
	out := calls.Event{Type: calls.EventStarted, Call: calls.Call{
		ID: ev.ID, User: ev.Extension + "@" + ev.Domain, Direction: calls.Direction(ev.Direction), CallID: ev.CallID,
		Started: ev.Started, Answered: ev.Answered, Ended: ev.Ended, Duration: ev.Duration,
		Outcome: calls.Outcome(ev.Outcome), TakenBy: ev.TakenBy,
	}}
	if ev.Type == events.CallEnded {
		out.Type = calls.EventEnded
	}
	if ev.Remote != nil {
		out.Shared = presence.Party{URI: ev.Remote.URI, Display: ev.Remote.Display, ContactID: ev.Remote.ContactID}
		out.Call.URI, out.Call.Number = ev.Remote.URI, calls.NumberOf(ev.Remote.URI)
	}
	return out
}
