// Package pidf parses and renders RFC 3863 presence documents
// (application/pidf+xml), with the RFC 4480 RPID activities and RFC 4479
// data-model person element that phones and softphones use for busy, away
// or do-not-disturb states.
//
// Parse is tolerant of what Linphone, baresip, Zoiper, Bria, Asterisk and
// older RPID-draft clients publish, and strict about hostile input:
// documents are capped in size, depth and tuple count, and DTDs are refused
// outright. Render writes the shape Polycom, Yealink, Snom and Linphone
// display.
package pidf

import (
	"errors"
	"fmt"
	"time"
)

// XML namespaces used by presence documents.
const (
	// Namespace is the PIDF namespace (RFC 3863 §4.4).
	Namespace = "urn:ietf:params:xml:ns:pidf"
	// DataModelNamespace is the presence data model namespace holding
	// <person> (RFC 4479 §4.1).
	DataModelNamespace = "urn:ietf:params:xml:ns:pidf:data-model"
	// RPIDNamespace is the rich presence namespace holding <activities>
	// (RFC 4480 §3).
	RPIDNamespace = "urn:ietf:params:xml:ns:pidf:rpid"
	// legacyNamespace is the CPIM draft namespace some old clients still
	// put on <presence>.
	legacyNamespace = "urn:ietf:params:xml:ns:cpim-pidf"
)

// ContentType is the MIME type of PIDF documents (RFC 3863 §7).
const ContentType = "application/pidf+xml"

// Limits applied by Parse to bound the work done on untrusted input.
const (
	// MaxSize is the largest document Parse accepts, in bytes.
	MaxSize = 64 << 10
	// MaxTuples is the largest number of <tuple> elements in one document.
	MaxTuples = 64
	// MaxActivities is the largest number of distinct activities.
	MaxActivities = 32
	// MaxDepth is the deepest element nesting Parse accepts. Asterisk's
	// person/status/activities nesting needs five levels.
	MaxDepth = 16
	// MaxElements is the largest number of elements in one document.
	MaxElements = 4096
	// MaxAttrs is the largest number of attributes on one element,
	// namespace declarations included.
	MaxAttrs = 32
	// MaxAttrLen is the longest attribute value Parse accepts, in bytes.
	MaxAttrLen = 2048
)

// Basic statuses of a tuple (RFC 3863 §4.1.4): whether the contact can
// accept communication.
const (
	Open   = "open"
	Closed = "closed"
)

// Common RPID activities (RFC 4480 §3.2), by element name.
const (
	ActivityAppointment      = "appointment"
	ActivityAway             = "away"
	ActivityBusy             = "busy"
	ActivityLunch            = "lunch"
	ActivityMeeting          = "meeting"
	ActivityOnThePhone       = "on-the-phone"
	ActivityTravel           = "travel"
	ActivityVacation         = "vacation"
	ActivityUnknown          = "unknown"
	ActivityInTransit        = "in-transit"
	ActivityHoliday          = "holiday"
	ActivitySleeping         = "sleeping"
	ActivityPermanentAbsence = "permanent-absence"
	ActivityOther            = "other"
)

// Sentinel errors returned, wrapped with details, by Parse and Validate.
var (
	// ErrMalformed reports a document that is not well-formed XML or not a
	// valid PIDF document.
	ErrMalformed = errors.New("pidf: malformed document")
	// ErrTooLarge reports a document exceeding one of the package limits.
	ErrTooLarge = errors.New("pidf: document too large")
)

// Document is a presence document for one presentity.
type Document struct {
	// Entity is the presentity URI, e.g. sip:201@example.com or
	// pres:201@example.com.
	Entity string
	// Tuples are the presentity's communication endpoints.
	Tuples []Tuple
	// Activities are RPID activity names such as "busy", "away" or
	// "on-the-phone", wherever the publisher put them: under a person,
	// under presence or inside a tuple status. Each appears once.
	Activities []string
	// ActivityText is the text inside an activity element, by activity
	// name, for those that have any: liblinphone tells its "Do not
	// disturb" from plain busy by <rpid:busy>Do not disturb</rpid:busy>.
	ActivityText map[string]string
	// StatusActivities are written again, without text, inside each
	// tuple's <status>, where RPID drafts put them and where clients that
	// match the document as text (baresip looks for "<rpid:busy/>") find
	// them. Parse folds them into Activities and never sets this field.
	StatusActivities []string
	// Note is the human-readable status text: the presence-level <note>
	// or, failing that, the person's note.
	Note string
}

// Tuple is one <tuple> element.
type Tuple struct {
	// ID identifies the tuple within the document; it is required.
	ID string
	// Basic is Open, Closed or empty when the status has no <basic>.
	Basic string
	// Contact is the URI to reach this tuple, or empty.
	Contact string
	// Note is the tuple's own human-readable text, or empty.
	Note string
	// Timestamp is when the status last changed, in UTC, or the zero time.
	Timestamp time.Time
}

// Validate checks d against the rules Parse enforces: at most MaxTuples
// tuples, each with an id and a basic status that is open, closed or
// empty, and at most MaxActivities activities. Errors wrap ErrMalformed or
// ErrTooLarge.
func (d *Document) Validate() error {
	if len(d.Tuples) > MaxTuples {
		return fmt.Errorf("%w: %d tuples, limit %d", ErrTooLarge, len(d.Tuples), MaxTuples)
	}
	if len(d.Activities) > MaxActivities {
		return fmt.Errorf("%w: %d activities, limit %d", ErrTooLarge, len(d.Activities), MaxActivities)
	}
	for i, t := range d.Tuples {
		// RFC 3863 §4.1.4: the id attribute is mandatory.
		if t.ID == "" {
			return fmt.Errorf("tuple %d: %w: tuple has no id", i+1, ErrMalformed)
		}
		switch t.Basic {
		case "", Open, Closed:
		default:
			return fmt.Errorf("tuple %d: %w: tuple %q has basic status %q, want open or closed", i+1, ErrMalformed, t.ID, t.Basic)
		}
	}
	return nil
}
