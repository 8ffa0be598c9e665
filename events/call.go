package events

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// CallsRoot prefixes every call subject:
//
//	switchboard.calls.<domain>.<ext>   a call of the extension started or ended (CallEvent)
const CallsRoot = "switchboard.calls"

// CallSchemaVersion is the schema of [CallEvent], versioned on its own
// so the presence and contact schemas need not move with it.
const CallSchemaVersion = 1

// CallEvent types.
const (
	CallStarted = "started"
	CallEnded   = "ended"
)

// CallEvent is the wire form of a call of one extension starting or
// ending. Published on switchboard.calls.<domain>.<ext>. Remote is the
// other party as colleagues see it on the extension's lamp (the
// --caller-display policy, company and team names): never a name from
// anyone's personal contacts. Subscribers read the owner's view of the
// call through GET /v1/calls/{id} with the owner's key.
type CallEvent struct {
	Schema    int    `json:"v"`
	Type      string `json:"type"`
	Domain    string `json:"domain"`
	Extension string `json:"extension"`
	// ID is the call's id in the extension owner's history.
	ID        string    `json:"id"`
	CallID    string    `json:"call_id,omitempty"`
	Direction string    `json:"direction"`
	Remote    *Party    `json:"remote,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	Answered  time.Time `json:"answered,omitzero"`
	Ended     time.Time `json:"ended,omitzero"`
	Duration  int       `json:"duration,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	TakenBy   string    `json:"taken_by,omitempty"`
	Instance  string    `json:"instance"`
	// Origin is as in [PresenceEvent].
	Origin string    `json:"origin,omitempty"`
	At     time.Time `json:"at"`
}

// CallSubject returns the subject for a call of ext in domain.
func CallSubject(domain, ext string) (string, error) {
	return leafSubject(CallsRoot, domain, ext)
}

// CallFilter returns the subscription subject for calls in domain, or in
// every domain when domain is empty.
func CallFilter(domain string) (string, error) {
	return filterSubject(CallsRoot, domain)
}

// Validate reports whether e can be published or consumed.
func (e CallEvent) Validate() error {
	if !oneOf(e.Type, CallStarted, CallEnded) {
		return fmt.Errorf("call type %q: %w", e.Type, ErrInvalidEvent)
	}
	if e.ID == "" {
		return fmt.Errorf("empty call id: %w", ErrInvalidEvent)
	}
	if _, err := CallSubject(e.Domain, e.Extension); err != nil {
		return fmt.Errorf("call subject: %w: %w", ErrInvalidEvent, err)
	}
	return nil
}

// PublishCall stamps ev with its schema, this instance, the origin token
// and (if unset) the time, then publishes it.
func (b *Bus) PublishCall(ctx context.Context, ev CallEvent) error {
	ev.Schema = CallSchemaVersion
	ev.Instance, ev.Origin = b.instance, b.origin
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("publish call %s: %w", ev.ID, err)
	}
	subj, err := CallSubject(ev.Domain, ev.Extension)
	if err != nil {
		return fmt.Errorf("publish call %s: %w", ev.ID, err)
	}
	return b.publishEncoded(ctx, subj, ev.appendJSON)
}

// appendJSON appends e as encoding/json writes it, without reflection
// (a call of a PUBLISHed dialog publishes two).
func (e CallEvent) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(e.Schema), 10)
	b = appendJSONField(b, `,"type":`, e.Type)
	b = appendJSONField(b, `,"domain":`, e.Domain)
	b = appendJSONField(b, `,"extension":`, e.Extension)
	b = appendJSONField(b, `,"id":`, e.ID)
	b = appendJSONOmitEmpty(b, `,"call_id":`, e.CallID)
	b = appendJSONField(b, `,"direction":`, e.Direction)
	b = appendJSONParty(b, `,"remote":`, e.Remote)
	var err error
	for _, f := range [...]struct {
		name string
		t    time.Time
	}{{`,"started":`, e.Started}, {`,"answered":`, e.Answered}, {`,"ended":`, e.Ended}} {
		if b, err = appendJSONOmitZero(b, f.name, f.t); err != nil {
			return nil, err
		}
	}
	if e.Duration != 0 {
		b = strconv.AppendInt(append(b, `,"duration":`...), int64(e.Duration), 10)
	}
	b = appendJSONOmitEmpty(b, `,"outcome":`, e.Outcome)
	b = appendJSONOmitEmpty(b, `,"taken_by":`, e.TakenBy)
	b = appendJSONField(b, `,"instance":`, e.Instance)
	b = appendJSONOmitEmpty(b, `,"origin":`, e.Origin)
	if b, err = appendJSONTime(b, `,"at":`, e.At); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// SubscribeCalls delivers call events of domain ("" for every domain) to
// fn, with the same rules as [Bus.SubscribePresence].
func (b *Bus) SubscribeCalls(ctx context.Context, domain string, fn func(CallEvent)) (stop func() error, err error) {
	filter, err := CallFilter(domain)
	if err != nil {
		return nil, fmt.Errorf("subscribe calls %q: %w", domain, err)
	}
	return subscribe(ctx, b, filter, fn, func(ev *CallEvent) (string, error) {
		if err := ev.Validate(); err != nil {
			return ev.Origin, err
		}
		if ev.Schema < 1 || ev.Schema > CallSchemaVersion {
			return ev.Origin, fmt.Errorf("call schema %d: %w", ev.Schema, ErrUnsupportedSchema)
		}
		return ev.Origin, nil
	})
}
