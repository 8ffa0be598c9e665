package events

import (
	"context"
	"fmt"
	"time"
)

// ClickToCallRoot prefixes every click-to-call subject:
//
//	switchboard.clicktocall.<domain>.<ext>   progress of a click-to-call of the extension (ClickToCallEvent)
const ClickToCallRoot = "switchboard.clicktocall"

// ClickToCallSchemaVersion is the schema of [ClickToCallEvent], versioned
// on its own.
const ClickToCallSchemaVersion = 1

// Click-to-call states carried in ClickToCallEvent.State.
const (
	ClickToCallRinging    = "ringing"
	ClickToCallConnecting = "connecting"
	ClickToCallConnected  = "connected"
	ClickToCallFailed     = "failed"
)

// ClickToCallEvent is one step of a click-to-call (POST /v1/calls): the
// user's phone rings, is connecting to the number, is connected, or the
// call failed with a reason. Published on
// switchboard.clicktocall.<domain>.<ext> of the calling user.
type ClickToCallEvent struct {
	Schema    int    `json:"v"`
	ID        string `json:"id"`
	Domain    string `json:"domain"`
	Extension string `json:"extension"`
	// To is the number called, normalized (E.164 or an extension).
	To     string `json:"to"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// SIPStatus is the SIP status behind a failure, if any.
	SIPStatus int `json:"sip_status,omitempty"`
	// Seq orders one call's events from 1.
	Seq      int    `json:"seq"`
	Instance string `json:"instance"`
	// Origin is as in [PresenceEvent].
	Origin string    `json:"origin,omitempty"`
	At     time.Time `json:"at"`
}

// ClickToCallSubject returns the subject for click-to-calls of ext in domain.
func ClickToCallSubject(domain, ext string) (string, error) {
	return leafSubject(ClickToCallRoot, domain, ext)
}

// ClickToCallFilter returns the subscription subject for click-to-calls
// in domain, or in every domain when domain is empty.
func ClickToCallFilter(domain string) (string, error) {
	return filterSubject(ClickToCallRoot, domain)
}

// Validate reports whether e can be published or consumed.
func (e ClickToCallEvent) Validate() error {
	if !oneOf(e.State, ClickToCallRinging, ClickToCallConnecting, ClickToCallConnected, ClickToCallFailed) {
		return fmt.Errorf("click-to-call state %q: %w", e.State, ErrInvalidEvent)
	}
	if e.ID == "" || e.Seq < 1 {
		return fmt.Errorf("click-to-call without id or seq: %w", ErrInvalidEvent)
	}
	if _, err := ClickToCallSubject(e.Domain, e.Extension); err != nil {
		return fmt.Errorf("click-to-call subject: %w: %w", ErrInvalidEvent, err)
	}
	return nil
}

// PublishClickToCall stamps ev with its schema, this instance, the origin
// token and (if unset) the time, then publishes it.
func (b *Bus) PublishClickToCall(ctx context.Context, ev ClickToCallEvent) error {
	ev.Schema = ClickToCallSchemaVersion
	ev.Instance, ev.Origin = b.instance, b.origin
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("publish click-to-call %s: %w", ev.ID, err)
	}
	subj, err := ClickToCallSubject(ev.Domain, ev.Extension)
	if err != nil {
		return fmt.Errorf("publish click-to-call %s: %w", ev.ID, err)
	}
	return b.publish(ctx, subj, ev)
}

// SubscribeClickToCall delivers other instances' click-to-call events of
// domain ("" for every domain) to fn, with the rules of
// [Bus.SubscribePresence].
func (b *Bus) SubscribeClickToCall(ctx context.Context, domain string, fn func(ClickToCallEvent)) (stop func() error, err error) {
	filter, err := ClickToCallFilter(domain)
	if err != nil {
		return nil, fmt.Errorf("subscribe click-to-call %q: %w", domain, err)
	}
	return subscribe(ctx, b, filter, fn, func(ev *ClickToCallEvent) (string, error) {
		if err := ev.Validate(); err != nil {
			return ev.Origin, err
		}
		if ev.Schema < 1 || ev.Schema > ClickToCallSchemaVersion {
			return ev.Origin, fmt.Errorf("click-to-call schema %d: %w", ev.Schema, ErrUnsupportedSchema)
		}
		return ev.Origin, nil
	})
}
