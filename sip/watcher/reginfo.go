package watcher

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"github.com/switchboardhq/switchboard/presence"
)

// maxReginfo caps a reginfo document, as dialoginfo and pidf cap theirs.
const maxReginfo = 64 << 10

// reginfo is the part of an RFC 3680 document the watcher uses.
type reginfo struct {
	Version       uint64         `xml:"version,attr"`
	State         string         `xml:"state,attr"`
	Registrations []registration `xml:"registration"`
}

type registration struct {
	AOR      string       `xml:"aor,attr"`
	State    string       `xml:"state,attr"`
	Contacts []regContact `xml:"contact"`
}

type regContact struct {
	State   string `xml:"state,attr"`
	Expires int    `xml:"expires,attr"`
	URI     string `xml:"uri"`
}

// parseReginfo parses an application/reginfo+xml body minimally: contact
// URIs with their state and expiry (RFC 3680 §5.3).
func parseReginfo(b []byte) (*reginfo, error) {
	if len(b) > maxReginfo {
		return nil, fmt.Errorf("reginfo document of %d bytes exceeds %d", len(b), maxReginfo)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.Entity = nil
	var ri reginfo
	if err := d.Decode(&ri); err != nil {
		return nil, fmt.Errorf("parse reginfo: %w", err)
	}
	if ri.State != "full" && ri.State != "partial" {
		return nil, errors.New("parse reginfo: state is neither full nor partial")
	}
	return &ri, nil
}

// regState is what a reg subscription has told the registrar, owned by the
// subscription's goroutine.
type regState struct {
	callID   string
	cseq     uint32
	contacts map[string]bool // contact URI -> bound by us
}

// applyReg turns a reginfo NOTIFY into a Registration of the extension:
// active contacts are bound, terminated ones removed, and a full document
// removes those it no longer lists (RFC 3680 §5.3).
func (s *sub) applyReg(ctx context.Context, callID string, ri *reginfo, lifetime time.Duration) {
	if s.w.reg == nil {
		return
	}
	r := &s.regs
	if r.callID != callID {
		// A new subscription: Call-ID and CSeq of the bindings start over.
		r.callID, r.cseq = callID, 0
	}
	if r.contacts == nil {
		r.contacts = make(map[string]bool)
	}
	seen := make(map[string]bool)
	var updates []presence.ContactUpdate
	for _, reg := range ri.Registrations {
		for _, c := range reg.Contacts {
			if c.URI == "" {
				continue
			}
			u := presence.ContactUpdate{URI: c.URI, Source: "pbx"}
			if c.State == "active" && reg.State != "terminated" {
				u.Expires = time.Duration(c.Expires) * time.Second
				if u.Expires <= 0 {
					u.Expires = lifetime
				}
				seen[c.URI] = true
			}
			updates = append(updates, u)
		}
	}
	if ri.State == "full" {
		for uri := range r.contacts {
			if !seen[uri] {
				updates = append(updates, presence.ContactUpdate{URI: uri, Source: "pbx"})
			}
		}
	}
	// reginfo versions order the documents of one subscription like CSeq
	// orders REGISTERs of one Call-ID.
	cseq := uint32(ri.Version) + 1
	if cseq <= r.cseq {
		return // stale or repeated document
	}
	r.cseq = cseq
	if _, err := s.w.reg.Register(ctx, s.aor, presence.Registration{CallID: "watch-" + callID, CSeq: cseq, Contacts: updates}); err != nil {
		s.log.Warn().Err(err).Msg("feed reginfo")
		return
	}
	for _, u := range updates {
		if u.Expires > 0 {
			r.contacts[u.URI] = true
		} else {
			delete(r.contacts, u.URI)
		}
	}
}

// withdrawRegs removes the bindings this subscription made.
func (s *sub) withdrawRegs(ctx context.Context) {
	r := &s.regs
	if s.w.reg == nil || len(r.contacts) == 0 {
		return
	}
	var updates []presence.ContactUpdate
	for uri := range r.contacts {
		updates = append(updates, presence.ContactUpdate{URI: uri, Source: "pbx"})
	}
	r.cseq++
	if _, err := s.w.reg.Register(ctx, s.aor, presence.Registration{CallID: "watch-" + r.callID, CSeq: r.cseq, Contacts: updates}); err != nil {
		s.log.Warn().Err(err).Msg("withdraw reginfo bindings")
	}
	r.contacts = nil
}
