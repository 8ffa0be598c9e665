package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/presence"
)

// Resumable event streams. Every instance sees every presence change (the
// events bus delivers them all to Watch) within moments of each other, so
// an instance stamps each change with its wall clock as it arrives and
// uses the stamp in milliseconds as the SSE event id. A client
// reconnecting, to this instance or another, sends its last id
// (Last-Event-ID); the stream first sends the current view of every
// extension of its filter that changed since that time minus replaySkew
// (covering the instances' clocks and delivery lag), then live events.
// Views in that window the client already has come again with the same
// version: a client drops a view whose version is not newer than the one
// it holds for that AOR. Nothing older than the window is resent.
//
// The stamps are kept in a ring of the last replayEntries changes. When
// it does not reach back far enough (the instance started later, or more
// changes came since), the stream sends the current view of every
// extension of the filter instead, so nothing is missed either way.
const (
	replayEntries = 8192
	replaySkew    = 2 * time.Second
)

// stamped is a presence view with the time this instance received it.
type stamped struct {
	at   time.Time
	view presence.View
}

// eventID is the SSE id of a change stamped at t.
func eventID(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// parseEventID reads an id of eventID; ok is false for anything else
// (ids from before, or garbage): the stream then starts without replay.
func parseEventID(id string) (time.Time, bool) {
	id, _, _ = strings.Cut(strings.TrimSpace(id), ".") // room for a suffix later
	ms, err := strconv.ParseInt(id, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

// replayLog is the ring of the latest changes this instance received.
type replayLog struct {
	start time.Time // changes before it were never seen here

	mu   sync.Mutex // guards ring, next and full
	ring []stamped
	next int
	full bool
}

func newReplayLog(start time.Time) *replayLog {
	return &replayLog{start: start, ring: make([]stamped, replayEntries)}
}

func (l *replayLog) add(e stamped) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = e
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
}

// since returns the latest view of each AOR matching f that changed at or
// after from, oldest first, and whether the ring reaches back to from.
func (l *replayLog) since(from time.Time, f filter) ([]stamped, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	covered := !from.Before(l.start)
	n := l.next
	if l.full {
		n = len(l.ring)
		oldest := l.ring[l.next%len(l.ring)]
		covered = covered && oldest.at.Before(from)
	}
	seen := map[presence.AOR]bool{}
	var out []stamped
	for i := 1; i <= n; i++ { // newest first
		e := l.ring[(l.next-i+len(l.ring))%len(l.ring)]
		if e.at.Before(from) {
			break
		}
		if seen[e.view.AOR] || !f.match(e.view) {
			continue
		}
		seen[e.view.AOR] = true
		out = append(out, e)
	}
	slices.Reverse(out)
	return out, covered
}

// replayMissed writes what a client resuming at id last missed (see the
// top of this file) and records the versions it sent in sent.
func (s *Server) replayMissed(ctx context.Context, w io.Writer, p accounts.Principal, f filter, last time.Time, sent map[presence.AOR]uint64) {
	now := s.now()
	entries, covered := s.replay.since(last.Add(-replaySkew), f)
	if !covered {
		entries = s.snapshot(ctx, f, entries, now)
	}
	for _, e := range entries {
		if v, ok := sent[e.view.AOR]; ok && e.view.Version <= v {
			continue
		}
		sent[e.view.AOR] = e.view.Version
		writePresenceEvent(w, s.viewFor(ctx, p, e.view), e.at)
	}
}

// snapshot adds to entries the current view of every extension of f
// (its AORs, else the provisioned users of its domain) not among them,
// stamped now.
func (s *Server) snapshot(ctx context.Context, f filter, entries []stamped, now time.Time) []stamped {
	have := map[presence.AOR]bool{}
	for _, e := range entries {
		have[e.view.AOR] = true
	}
	var aors []presence.AOR
	for a := range f.aors {
		aors = append(aors, a)
	}
	if len(aors) == 0 && s.deps.Directory != nil {
		users, err := s.deps.Directory.ListUsers(ctx, accounts.Principal{Admin: true, Domain: f.domain, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin}})
		if err != nil {
			s.log.Warn().Err(err).Msg("list users for a stream snapshot")
		}
		for _, u := range users {
			aors = append(aors, presence.NewAOR(u.Extension, u.Domain))
		}
	}
	for _, a := range aors {
		if have[a] {
			continue
		}
		v, err := s.deps.Presence.Get(ctx, a)
		if err != nil {
			s.log.Warn().Err(err).Str("aor", a.String()).Msg("presence for a stream snapshot")
			continue
		}
		if v.Version > 0 && f.match(v) {
			entries = append(entries, stamped{at: now, view: v})
		}
	}
	return entries
}

// writePresenceEvent writes view v as a presence event stamped at.
func writePresenceEvent(w io.Writer, v presence.View, at time.Time) {
	b, _ := json.Marshal(toJSON(v))
	fmt.Fprintf(w, "id: %s\nevent: presence\ndata: %s\n\n", eventID(at), b)
}
