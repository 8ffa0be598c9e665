package presence

import (
	"slices"
	"time"
)

// Event is the RFC 6665 event package a publication carries.
type Event string

// The event packages Switchboard composes.
const (
	EventDialog   Event = "dialog"
	EventPresence Event = "presence"
)

// Publication is the state one PUBLISH (RFC 3903) or watched subscription
// contributes to an extension, kept until it expires or is removed.
type Publication struct {
	ETag string `json:"etag"`
	// PrevETag stays valid until PrevUntil (the end of what it was
	// granted, at least prevETagGrace after it was replaced): publishers
	// such as Kamailio's pua send the next PUBLISH before the 200 with the
	// new tag arrives.
	PrevETag  string    `json:"prev_etag,omitempty"`
	PrevUntil time.Time `json:"prev_until,omitzero"`
	Event     Event     `json:"event"`
	Expires   time.Time `json:"expires"`
	Updated   time.Time `json:"updated"`
	// DocVersion is the last dialog-info version applied; a document with a
	// version at or below it is stale (RFC 4235 §4.1).
	DocVersion uint64   `json:"doc_version,omitempty"`
	Dialogs    []Dialog `json:"dialogs,omitempty"`
	// Status and Online come from a PIDF publication.
	Status *UserStatus `json:"status,omitempty"`
	Online bool        `json:"online,omitempty"`
}

// Tombstone remembers a terminated dialog so that a late "early" or
// "confirmed" for it cannot light the lamp again.
type Tombstone struct {
	Key string    `json:"key"`
	At  time.Time `json:"at"`
}

// Record is everything stored for one extension. The View in it is derived
// and kept only to detect changes and carry the version.
type Record struct {
	AOR          AOR           `json:"aor"`
	Bindings     []Binding     `json:"bindings,omitempty"`
	Publications []Publication `json:"publications,omitempty"`
	Tombstones   []Tombstone   `json:"tombstones,omitempty"`
	// Status is the status set through the API, as opposed to one published
	// by a softphone.
	Status *UserStatus `json:"status,omitempty"`
	// Calendar is the user's coming busy time from their calendar feed
	// (see SetCalendar), a separate input combined in Derive.
	Calendar []Busy `json:"calendar,omitempty"`
	// StatusFloor: statements of status made before it are void (status.go).
	StatusFloor time.Time `json:"status_floor,omitzero"`
	View        View      `json:"view"`
	// Next is when the record next changes by itself; stores index it.
	Next time.Time `json:"next,omitzero"`
}

// Clone returns a deep copy, so an update function can work on it freely.
func (r Record) Clone() Record {
	r.Bindings = slices.Clone(r.Bindings)
	r.Tombstones = slices.Clone(r.Tombstones)
	pubs := make([]Publication, len(r.Publications))
	for i, p := range r.Publications {
		p.Dialogs = slices.Clone(p.Dialogs)
		if p.Status != nil {
			s := *p.Status
			p.Status = &s
		}
		pubs[i] = p
	}
	r.Publications = pubs
	if r.Status != nil {
		s := *r.Status
		r.Status = &s
	}
	r.Calendar = slices.Clone(r.Calendar)
	r.View.Dialogs = slices.Clone(r.View.Dialogs)
	return r
}

// Deadline is the next time the record changes by itself (a binding,
// publication, tombstone or status ends, or a ringing dialog goes stale);
// zero when nothing is pending.
func (r *Record) Deadline(maxRinging time.Duration) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, b := range r.Bindings {
		consider(b.Expires)
	}
	for _, p := range r.Publications {
		consider(p.Expires)
		if p.Status != nil {
			consider(p.Status.Until)
		}
		for _, d := range p.Dialogs {
			if d.setup() {
				consider(d.Started.Add(maxRinging))
			}
		}
	}
	for _, t := range r.Tombstones {
		consider(t.At.Add(tombstoneTTL))
	}
	if r.Status != nil {
		consider(r.Status.Until)
	}
	return next
}

// prevETagGrace is the least time a replaced entity-tag is still accepted.
const prevETagGrace = 5 * time.Second

// tombstoneTTL is how long a terminated dialog shadows late reports of it:
// long enough for any retransmission or reordered PUBLISH (Timer F is 32s).
const tombstoneTTL = 64 * time.Second

// prune drops everything that has expired by now.
func (r *Record) prune(now time.Time, maxRinging time.Duration) {
	r.Bindings = slices.DeleteFunc(r.Bindings, func(b Binding) bool { return !b.Expires.After(now) })
	r.Publications = slices.DeleteFunc(r.Publications, func(p Publication) bool {
		if !p.Expires.After(now) {
			r.retire(p)
			return true
		}
		return false
	})
	for i := range r.Publications {
		p := &r.Publications[i]
		// A call nobody moved past ringing for maxRinging is a lost
		// "terminated": let the lamp go dark rather than blink forever.
		p.Dialogs = slices.DeleteFunc(p.Dialogs, func(d Dialog) bool {
			return d.setup() && !d.Started.Add(maxRinging).After(now)
		})
		if p.Status != nil && !p.Status.Until.IsZero() && !p.Status.Until.After(now) {
			p.Status = nil
		}
	}
	r.Tombstones = slices.DeleteFunc(r.Tombstones, func(t Tombstone) bool { return !t.At.Add(tombstoneTTL).After(now) })
	if r.Status != nil && !r.Status.Until.IsZero() && !r.Status.Until.After(now) {
		r.Status = nil
	}
	r.Calendar = slices.DeleteFunc(r.Calendar, func(b Busy) bool { return !b.End.After(now) })
}

func (r *Record) tombstoned(key string) bool {
	for _, t := range r.Tombstones {
		if t.Key == key {
			return true
		}
	}
	return false
}

func (r *Record) bury(key string, now time.Time) {
	if key == "" || r.tombstoned(key) {
		return
	}
	r.Tombstones = append(r.Tombstones, Tombstone{Key: key, At: now})
}

// Empty reports whether the record holds nothing worth keeping.
func (r *Record) Empty() bool {
	return len(r.Bindings) == 0 && len(r.Publications) == 0 && len(r.Tombstones) == 0 && r.Status == nil && len(r.Calendar) == 0
}
