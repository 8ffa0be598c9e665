// Package dialoginfo parses and renders RFC 4235 dialog event package
// documents (application/dialog-info+xml), the body of the NOTIFYs that
// drive busy lamp fields on desk phones.
//
// Parse is tolerant of what Asterisk, FreeSWITCH and Kamailio's
// pua_dialoginfo actually send and strict about hostile input: documents are
// capped in size, depth and dialog count, and DTDs are refused outright.
// Render writes the compact subset of RFC 4235 that Yealink, Polycom, Snom,
// Grandstream and Cisco phones accept.
package dialoginfo

import (
	"errors"
	"fmt"
)

// Namespace is the XML namespace of dialog-info documents (RFC 4235 §4).
const Namespace = "urn:ietf:params:xml:ns:dialog-info"

// ContentType is the MIME type of dialog-info documents (RFC 4235 §4).
const ContentType = "application/dialog-info+xml"

// Limits applied by Parse to bound the work done on untrusted input.
const (
	// MaxSize is the largest document Parse accepts, in bytes.
	MaxSize = 64 << 10
	// MaxDialogs is the largest number of <dialog> elements in one document.
	MaxDialogs = 64
	// MaxDepth is the deepest element nesting Parse accepts. RFC 4235
	// documents need six levels (dialog-info/dialog/local/target/param).
	MaxDepth = 16
	// MaxElements is the largest number of elements in one document.
	MaxElements = 4096
	// MaxAttrs is the largest number of attributes on one element,
	// namespace declarations included.
	MaxAttrs = 32
	// MaxAttrLen is the longest attribute value Parse accepts, in bytes.
	MaxAttrLen = 2048
)

// Document states (RFC 4235 §4.1): a full document replaces everything the
// watcher knows, a partial one updates only the dialogs it lists.
const (
	StateFull    = "full"
	StatePartial = "partial"
)

// Dialog directions (RFC 4235 §4.1.1).
const (
	DirectionInitiator = "initiator"
	DirectionRecipient = "recipient"
)

// Dialog states (RFC 4235 §3.7.1).
const (
	DialogTrying     = "trying"
	DialogProceeding = "proceeding"
	DialogEarly      = "early"
	DialogConfirmed  = "confirmed"
	DialogTerminated = "terminated"
)

// Termination events carried in the event attribute of <state>
// (RFC 4235 §4.1.2).
const (
	EventCancelled = "cancelled"
	EventRejected  = "rejected"
	EventReplaced  = "replaced"
	EventLocalBye  = "local-bye"
	EventRemoteBye = "remote-bye"
	EventError     = "error"
	EventTimeout   = "timeout"
)

// Sentinel errors returned, wrapped with details, by Parse and Validate.
var (
	// ErrMalformed reports a document that is not well-formed XML or not a
	// valid dialog-info document.
	ErrMalformed = errors.New("dialoginfo: malformed document")
	// ErrTooLarge reports a document exceeding one of the package limits.
	ErrTooLarge = errors.New("dialoginfo: document too large")
)

// Document is a dialog-info document: the dialogs of one monitored entity.
type Document struct {
	// Version increases by one with each NOTIFY of a subscription
	// (RFC 4235 §4.1), letting watchers discard stale or reordered bodies.
	Version uint64
	// State is StateFull or StatePartial.
	State string
	// Entity is the URI of the monitored resource, e.g. sip:201@example.com.
	Entity string
	// Dialogs lists the entity's dialogs; an idle entity has none.
	Dialogs []Dialog
}

// Dialog is one <dialog> element.
type Dialog struct {
	// ID identifies the dialog within the document; it is required.
	ID string
	// CallID, LocalTag and RemoteTag are the SIP dialog identifiers. They
	// are optional: Asterisk omits them when no channel exists.
	CallID    string
	LocalTag  string
	RemoteTag string
	// Direction is DirectionInitiator, DirectionRecipient or empty.
	Direction string
	// State is one of the Dialog* state constants.
	State string
	// Event is the reason a terminated dialog ended, one of the Event*
	// constants, or empty.
	Event string
	// Code is the SIP response code of the state change, or 0 to omit it.
	Code int
	// Duration is the dialog age in seconds, or 0 to omit it.
	Duration int
	// Local and Remote are the two parties of the dialog.
	Local  Participant
	Remote Participant
}

// Participant is the <local> or <remote> element of a dialog.
type Participant struct {
	// Identity is the participant's URI (the <identity> element).
	Identity string
	// Display is the display name of the identity.
	Display string
	// Target is the participant's target URI, usually its contact.
	Target string
	// Held reports that the participant does not render media: its target
	// carries the feature parameter +sip.rendering="no" (RFC 4235 §4.1.6,
	// RFC 3840 §9), with its value in "pval" as the RFC names it or in
	// "pvalue" as Asterisk writes it. Asterisk and FreeSWITCH use it to
	// signal a held call.
	Held bool
}

// Validate checks d against the rules Parse enforces: a known document
// state, at most MaxDialogs dialogs, and for each dialog an id, a known
// state and direction, a plausible response code and a non-negative
// duration. Errors wrap ErrMalformed or ErrTooLarge.
func (d *Document) Validate() error {
	if d.State != StateFull && d.State != StatePartial {
		return fmt.Errorf("%w: document state %q is neither full nor partial", ErrMalformed, d.State)
	}
	if len(d.Dialogs) > MaxDialogs {
		return fmt.Errorf("%w: %d dialogs, limit %d", ErrTooLarge, len(d.Dialogs), MaxDialogs)
	}
	for i := range d.Dialogs {
		if err := d.Dialogs[i].validate(); err != nil {
			return fmt.Errorf("dialog %d: %w", i+1, err)
		}
	}
	return nil
}

func (dl *Dialog) validate() error {
	if dl.ID == "" {
		return fmt.Errorf("%w: dialog has no id", ErrMalformed)
	}
	switch dl.State {
	case DialogTrying, DialogProceeding, DialogEarly, DialogConfirmed, DialogTerminated:
	case "":
		return fmt.Errorf("%w: dialog %q has no state", ErrMalformed, dl.ID)
	default:
		return fmt.Errorf("%w: dialog %q has unknown state %q", ErrMalformed, dl.ID, dl.State)
	}
	switch dl.Direction {
	case "", DirectionInitiator, DirectionRecipient:
	default:
		return fmt.Errorf("%w: dialog %q has unknown direction %q", ErrMalformed, dl.ID, dl.Direction)
	}
	// RFC 3261 §7.2: response codes are three digits, 1xx to 6xx.
	if dl.Code != 0 && (dl.Code < 100 || dl.Code > 699) {
		return fmt.Errorf("%w: dialog %q has invalid response code %d", ErrMalformed, dl.ID, dl.Code)
	}
	if dl.Duration < 0 {
		return fmt.Errorf("%w: dialog %q has negative duration %d", ErrMalformed, dl.ID, dl.Duration)
	}
	return nil
}
