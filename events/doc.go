// Package events is Switchboard's message bus: NATS subjects, versioned wire
// types and a publisher/subscriber over a *nats.Conn.
//
// # Subjects
//
// This is the one place the subject scheme is defined:
//
//	switchboard.presence.<domain>.<ext>              presence changes (PresenceEvent)
//	switchboard.contacts.<domain>.<owner-or-company> contact changes (ContactEvent)
//	switchboard.calls.<domain>.<ext>                 calls starting and ending (CallEvent, its own schema)
//
// Each of <domain>, <ext> and <owner-or-company> is a single NATS token made
// by [Token]:
//
//   - the domain is lowercased first (SIP and DNS domains are case-insensitive);
//     extensions and owners keep their case;
//   - "." becomes "_", so "pbx.example.com" is the readable "pbx_example_com";
//   - to keep the mapping one-to-one, a literal "_" becomes "~u" and a literal
//     "~" becomes "~~" ([ParseToken] reverses it);
//   - the empty string, whitespace, control characters and the NATS wildcards
//     "*" and ">" are rejected with [ErrInvalidToken].
//
// A subscriber for one domain listens on switchboard.presence.<domain>.*; for
// every domain on switchboard.presence.>.
//
// # Wire types
//
// [PresenceEvent] and [ContactEvent] are JSON with snake_case names and a
// schema number in "v" ([SchemaVersion]). They are deliberately separate from
// the presence and directory domain types: the cmd adapters translate.
// Receivers ignore unknown fields and drop events of a newer schema.
//
// # Loops and counters
//
// Every event carries the publishing instance's id ("instance", for people)
// and a random token drawn by each [Bus] ("origin"). A Bus drops events
// carrying its own token, so instances that mirror the bus into local state
// never echo — and two processes mistakenly given the same instance id
// still hear each other instead of silently dropping each other's events. Published, consumed and dropped events are counted with atomic
// counters ([Bus.Stats]) for the metrics layer.
package events
