// Package presence is Switchboard's domain core: it combines an extension's
// registrations, the dialogs a PBX or phone reports and the status its user sets
// into one View, and tells watchers every time that view changes.
//
// It knows nothing of SIP, Redis or NATS. The sip package turns REGISTER and
// PUBLISH into calls on Service; stores and event buses plug in behind small
// interfaces.
package presence

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors returned by the Service and its stores.
var (
	// ErrNotFound means no state is stored for the extension.
	ErrNotFound = errors.New("not found")
	// ErrOutOfOrder means a REGISTER repeated or went back in CSeq for a Call-ID
	// the registrar has already seen (RFC 3261 §10.3 step 7).
	ErrOutOfOrder = errors.New("request out of order")
	// ErrUnknownETag means a PUBLISH named an entity-tag the compositor does not
	// hold (RFC 3903 §6 step 5: answered 412).
	ErrUnknownETag = errors.New("unknown entity-tag")
	// ErrTooManyBindings means an AOR would exceed its binding limit.
	ErrTooManyBindings = errors.New("too many bindings")
	// ErrInvalid means the caller passed a value the core cannot hold.
	ErrInvalid = errors.New("invalid presence input")
)

// AOR is an address-of-record: an extension within a SIP domain.
type AOR struct {
	User   string `json:"user"`
	Domain string `json:"domain"`
}

// NewAOR returns the canonical AOR for user@domain: the domain is
// case-insensitive (RFC 3261 §19.1.4), the user part is kept as written.
func NewAOR(user, domain string) AOR {
	return AOR{User: user, Domain: strings.ToLower(domain)}
}

// ParseAOR parses "user@domain".
func ParseAOR(s string) (AOR, error) {
	user, domain, ok := strings.Cut(s, "@")
	if !ok || user == "" || domain == "" {
		return AOR{}, fmt.Errorf("parse aor %q: want user@domain: %w", s, ErrInvalid)
	}
	return NewAOR(user, domain), nil
}

// String returns "user@domain".
func (a AOR) String() string { return a.User + "@" + a.Domain }

// URI returns the AOR as a SIP URI.
func (a AOR) URI() string { return "sip:" + a.User + "@" + a.Domain }

// Status is what a user says about themself, independent of the phone line.
type Status string

// The statuses a user can set.
const (
	StatusAvailable    Status = "available"
	StatusAway         Status = "away"
	StatusDND          Status = "dnd"
	StatusLunch        Status = "lunch"
	StatusBusinessTrip Status = "business_trip"
	StatusUnavailable  Status = "unavailable"
	// StatusOffline is what watchers see of a user whose line is offline
	// (see Derive), whatever status the user chose; no one sets it.
	StatusOffline Status = "offline"
	// StatusMeeting is set by the user's calendar while it says they are
	// busy (see Record.Calendar), or by hand.
	StatusMeeting Status = "meeting"
)

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusAvailable, StatusAway, StatusDND, StatusLunch, StatusBusinessTrip, StatusUnavailable, StatusMeeting:
		return true
	}
	return false
}

// Label is the human name of a status, as phones and apps show it.
func (s Status) Label() string {
	switch s {
	case StatusAvailable:
		return "Available"
	case StatusAway:
		return "Away"
	case StatusDND:
		return "Do Not Disturb"
	case StatusLunch:
		return "Lunch break"
	case StatusBusinessTrip:
		return "Business trip"
	case StatusUnavailable:
		return "Unavailable"
	case StatusOffline:
		return "Offline"
	case StatusMeeting:
		return "In a meeting"
	}
	return string(s)
}

// LineState is what the extension's phone line is doing.
type LineState string

// Line states, from least to most busy.
const (
	LineOffline LineState = "offline"
	LineIdle    LineState = "idle"
	LineRinging LineState = "ringing"
	LineInCall  LineState = "in_call"
	LineOnHold  LineState = "on_hold"
)

// DialogState is an RFC 4235 §3.7.1 dialog state.
type DialogState string

// Dialog states as RFC 4235 names them.
const (
	DialogTrying     DialogState = "trying"
	DialogProceeding DialogState = "proceeding"
	DialogEarly      DialogState = "early"
	DialogConfirmed  DialogState = "confirmed"
	DialogTerminated DialogState = "terminated"
)

// Valid reports whether d is an RFC 4235 state.
func (d DialogState) Valid() bool {
	switch d {
	case DialogTrying, DialogProceeding, DialogEarly, DialogConfirmed, DialogTerminated:
		return true
	}
	return false
}

// Direction is who initiated a dialog, seen from the extension.
type Direction string

// Directions as RFC 4235 §4.1.2 names them.
const (
	DirectionNone      Direction = ""
	DirectionInitiator Direction = "initiator"
	DirectionRecipient Direction = "recipient"
)

// Party is one end of a call.
type Party struct {
	URI       string `json:"uri,omitempty"`
	Display   string `json:"display,omitempty"`
	ContactID string `json:"contact_id,omitempty"`
}

// Dialog is one call leg on an extension, as a PBX or phone reported it.
type Dialog struct {
	// ID is the dialog-info id attribute; Key falls back to CallID.
	ID        string      `json:"id,omitempty"`
	CallID    string      `json:"call_id,omitempty"`
	LocalTag  string      `json:"local_tag,omitempty"`
	RemoteTag string      `json:"remote_tag,omitempty"`
	Direction Direction   `json:"direction,omitempty"`
	State     DialogState `json:"state"`
	// Held is set when the extension put the call on hold.
	Held   bool  `json:"held,omitempty"`
	Local  Party `json:"local"`
	Remote Party `json:"remote"`
	// Event and Code are the RFC 4235 §4.1.1 state attributes of a
	// terminated report: why the dialog ended ("rejected", "replaced") and
	// the SIP status, for the call history.
	Event string `json:"event,omitempty"`
	Code  int    `json:"code,omitempty"`
	// Started is when the dialog was first seen; Updated when it last changed.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
}

// Key identifies the dialog across publications.
func (d Dialog) Key() string {
	if d.ID != "" {
		return d.ID
	}
	return d.CallID
}

// ringing reports whether the dialog is an incoming call not yet answered.
func (d Dialog) ringing() bool {
	return d.Direction != DirectionInitiator && d.setup()
}

func (d Dialog) setup() bool {
	return d.State == DialogTrying || d.State == DialogProceeding || d.State == DialogEarly
}

// Binding is one registered contact of an AOR (RFC 3261 §10).
type Binding struct {
	Contact string    `json:"contact"`
	Expires time.Time `json:"expires"`
	CallID  string    `json:"call_id"`
	CSeq    uint32    `json:"cseq"`
	Q       float32   `json:"q,omitempty"`
	// Instance is the RFC 5626 +sip.instance; when present it, not the
	// Contact URI, identifies the device.
	Instance  string    `json:"instance,omitempty"`
	Source    string    `json:"source,omitempty"`
	Transport string    `json:"transport,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	Updated   time.Time `json:"updated"`
}

func (b Binding) key() string {
	if b.Instance != "" {
		return b.Instance
	}
	return b.Contact
}

// UserStatus is a status with its note and optional end.
type UserStatus struct {
	Status Status `json:"status"`
	Note   string `json:"note,omitempty"`
	// Activity is the RFC 4480 activity a phone published ("on-the-phone",
	// "vacation", ...), kept so watchers see what was said, not only the
	// nearest Status; empty when set through the API.
	Activity string `json:"activity,omitempty"`
	// Invisible is a phone's "appear offline": PIDF basic closed with no
	// activity while it stays registered (see status.go).
	Invisible bool `json:"invisible,omitempty"`
	// Until, when set, reverts the status to Available at that time.
	Until time.Time `json:"until,omitzero"`
	Since time.Time `json:"since"`
}

// View is the derived presence of one extension: what lamps and apps show.
type View struct {
	AOR        AOR       `json:"aor"`
	Registered bool      `json:"registered"`
	Line       LineState `json:"line"`
	Status     Status    `json:"status"`
	Note       string    `json:"note,omitempty"`
	Until      time.Time `json:"until,omitzero"`
	// Activity is the RFC 4480 activity the user's phone published, if
	// any (see UserStatus.Activity).
	Activity string `json:"activity,omitempty"`
	// Invisible means the user appears offline (Registered is false) while
	// the line still works: Line and Dialogs stay true for BLF.
	Invisible bool `json:"invisible,omitempty"`
	// Dialogs are the live calls, most important first (ringing, then
	// in call, then held).
	Dialogs []Dialog `json:"dialogs,omitempty"`
	// Version increases by one with every change of the view.
	Version uint64 `json:"version"`
	// Since is when Line or Status last changed.
	Since time.Time `json:"since"`
}

// Change is one change of an extension's view.
type Change struct {
	View View
	Prev View
	// Origin names the instance that made the change; empty for this one.
	Origin string
}

// RegistrationChanged reports whether the registered flag flipped.
func (c Change) RegistrationChanged() bool { return c.View.Registered != c.Prev.Registered }

// LineChanged reports whether line state or calls changed.
func (c Change) LineChanged() bool {
	return c.View.Line != c.Prev.Line || !sameDialogs(c.View.Dialogs, c.Prev.Dialogs)
}

// StatusChanged reports whether the user's status or note changed.
func (c Change) StatusChanged() bool {
	return c.View.Status != c.Prev.Status || c.View.Note != c.Prev.Note || !c.View.Until.Equal(c.Prev.Until) ||
		c.View.Activity != c.Prev.Activity || c.View.Invisible != c.Prev.Invisible
}
