package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SchemaVersion is the wire schema written in the "v" field of every event.
// Receivers drop events with a higher version.
const SchemaVersion = 1

// ErrInvalidEvent reports an event that fails validation before publishing
// or after decoding.
var ErrInvalidEvent = errors.New("invalid event")

// PresenceEvent types.
const (
	// PresenceRegistration: the extension registered or unregistered.
	PresenceRegistration = "registration"
	// PresenceLine: the line state changed (ringing, in a call, ...).
	PresenceLine = "line"
	// PresenceStatus: the user-set status changed (away, dnd, ...).
	PresenceStatus = "status"
)

// Line states carried in PresenceEvent.Line.
const (
	LineOffline = "offline"
	LineIdle    = "idle"
	LineRinging = "ringing"
	LineInCall  = "in_call"
	LineOnHold  = "on_hold"
)

// User statuses carried in PresenceEvent.Status.
const (
	StatusAvailable    = "available"
	StatusAway         = "away"
	StatusDND          = "dnd"
	StatusLunch        = "lunch"
	StatusBusinessTrip = "business_trip"
	StatusUnavailable  = "unavailable"
	// StatusOffline: the line is offline, whatever status the user chose.
	StatusOffline = "offline"
	StatusMeeting = "meeting"
)

// ContactEvent types.
const (
	ContactCreated = "created"
	ContactUpdated = "updated"
	ContactDeleted = "deleted"
)

// Party is the remote side of a call in a line event.
type Party struct {
	URI       string `json:"uri"`
	Display   string `json:"display,omitempty"`
	ContactID string `json:"contact_id,omitempty"`
}

// PresenceEvent is the wire form of one presence change of an extension.
// Published on switchboard.presence.<domain>.<ext>.
type PresenceEvent struct {
	Schema     int       `json:"v"`
	Type       string    `json:"type"`
	Domain     string    `json:"domain"`
	Extension  string    `json:"extension"`
	Registered bool      `json:"registered"`
	Line       string    `json:"line,omitempty"`
	Status     string    `json:"status,omitempty"`
	Note       string    `json:"note,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Remote     *Party    `json:"remote,omitempty"`
	// Instance is the id of the Switchboard instance that published the event.
	Instance string `json:"instance"`
	// Origin is a token unique to the publishing process; receivers drop
	// their own events by it (instance ids may repeat by mistake).
	Origin string `json:"origin,omitempty"`
	// Version is the per-extension state version; receivers ignore older ones.
	Version uint64    `json:"version"`
	At      time.Time `json:"at"`
}

// ContactEvent is the wire form of one change to a contact.
// Published on switchboard.contacts.<domain>.<owner-or-company>.
type ContactEvent struct {
	Schema int    `json:"v"`
	Type   string `json:"type"`
	ID     string `json:"id"`
	Kind   string `json:"kind,omitempty"`
	// Owner is the user or company the contact belongs to.
	Owner    string `json:"owner"`
	Domain   string `json:"domain"`
	Version  uint64 `json:"version"`
	Instance string `json:"instance"`
	// Origin is as in [PresenceEvent].
	Origin string    `json:"origin,omitempty"`
	At     time.Time `json:"at"`
}

// Validate reports whether e can be published or consumed.
func (e PresenceEvent) Validate() error {
	switch e.Type {
	case PresenceRegistration, PresenceLine, PresenceStatus:
	default:
		return fmt.Errorf("presence type %q: %w", e.Type, ErrInvalidEvent)
	}
	if !oneOf(e.Line, "", LineOffline, LineIdle, LineRinging, LineInCall, LineOnHold) {
		return fmt.Errorf("line %q: %w", e.Line, ErrInvalidEvent)
	}
	if !oneOf(e.Status, "", StatusAvailable, StatusAway, StatusDND, StatusLunch, StatusBusinessTrip, StatusUnavailable, StatusOffline, StatusMeeting) {
		return fmt.Errorf("status %q: %w", e.Status, ErrInvalidEvent)
	}
	if _, err := PresenceSubject(e.Domain, e.Extension); err != nil {
		return fmt.Errorf("presence subject: %w: %w", ErrInvalidEvent, err)
	}
	return nil
}

// Validate reports whether e can be published or consumed.
func (e ContactEvent) Validate() error {
	if !oneOf(e.Type, ContactCreated, ContactUpdated, ContactDeleted) {
		return fmt.Errorf("contact type %q: %w", e.Type, ErrInvalidEvent)
	}
	if e.ID == "" {
		return fmt.Errorf("empty contact id: %w", ErrInvalidEvent)
	}
	if _, err := ContactSubject(e.Domain, e.Owner); err != nil {
		return fmt.Errorf("contact subject: %w: %w", ErrInvalidEvent, err)
	}
	return nil
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// appendJSON appends e as json.Marshal writes it, without reflection: an
// import publishes one event per contact. Strings that need escaping
// (rare: IDs, domains and users are plain ASCII) go through encoding/json.
func (e ContactEvent) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(e.Schema), 10)
	b = appendJSONField(b, `,"type":`, e.Type)
	b = appendJSONField(b, `,"id":`, e.ID)
	b = appendJSONOmitEmpty(b, `,"kind":`, e.Kind)
	b = appendJSONField(b, `,"owner":`, e.Owner)
	b = appendJSONField(b, `,"domain":`, e.Domain)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, e.Version, 10)
	b = appendJSONField(b, `,"instance":`, e.Instance)
	b = appendJSONOmitEmpty(b, `,"origin":`, e.Origin)
	b, err := appendJSONTime(b, `,"at":`, e.At)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSON appends e as encoding/json writes it, without reflection:
// every PUBLISH and REGISTER that changes a lamp publishes one, and
// json.Marshal was about 5% of a PUBLISH's CPU (perf, SIPp at 1,200/s).
func (e PresenceEvent) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(e.Schema), 10)
	b = appendJSONField(b, `,"type":`, e.Type)
	b = appendJSONField(b, `,"domain":`, e.Domain)
	b = appendJSONField(b, `,"extension":`, e.Extension)
	b = append(b, `,"registered":`...)
	b = strconv.AppendBool(b, e.Registered)
	b = appendJSONOmitEmpty(b, `,"line":`, e.Line)
	b = appendJSONOmitEmpty(b, `,"status":`, e.Status)
	b = appendJSONOmitEmpty(b, `,"note":`, e.Note)
	b, err := appendJSONOmitZero(b, `,"since":`, e.Since)
	if err != nil {
		return nil, err
	}
	b = appendJSONParty(b, `,"remote":`, e.Remote)
	b = appendJSONField(b, `,"instance":`, e.Instance)
	b = appendJSONOmitEmpty(b, `,"origin":`, e.Origin)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, e.Version, 10)
	if b, err = appendJSONTime(b, `,"at":`, e.At); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSONTime appends name and t as encoding/json writes a time.Time
// (RFC 3339 with nanoseconds; an error for years outside 0-9999).
func appendJSONTime(b []byte, name string, t time.Time) ([]byte, error) {
	b = append(append(b, name...), '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("json: error calling MarshalJSON for type time.Time: %w", err)
	}
	return append(b, '"'), nil
}

// appendJSONOmitZero is appendJSONTime for an omitzero field.
func appendJSONOmitZero(b []byte, name string, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return b, nil
	}
	return appendJSONTime(b, name, t)
}

// appendJSONOmitEmpty is appendJSONField for an omitempty field.
func appendJSONOmitEmpty(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONField(b, name, s)
}

// appendJSONParty appends name and p, if p is not nil.
func appendJSONParty(b []byte, name string, p *Party) []byte {
	if p == nil {
		return b
	}
	b = appendJSONField(append(b, name...), `{"uri":`, p.URI)
	b = appendJSONOmitEmpty(b, `,"display":`, p.Display)
	b = appendJSONOmitEmpty(b, `,"contact_id":`, p.ContactID)
	return append(b, '}')
}

// appendJSONField appends name and s as a JSON string.
func appendJSONField(b []byte, name, s string) []byte {
	b = append(b, name...)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
