package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/calls"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// presenceService is what the API needs of the presence core.
type presenceService interface {
	Get(ctx context.Context, aor presence.AOR) (presence.View, error)
	SetStatus(ctx context.Context, aor presence.AOR, st presence.UserStatus) (presence.View, error)
}

// presenceJSON is an extension's presence as the API shows it.
type presenceJSON struct {
	AOR         string     `json:"aor"`
	Extension   string     `json:"extension"`
	Domain      string     `json:"domain"`
	Registered  bool       `json:"registered"`
	Line        string     `json:"line"`
	Status      string     `json:"status"`
	StatusLabel string     `json:"status_label"`
	Note        string     `json:"note,omitempty"`
	Until       *time.Time `json:"until,omitempty"`
	Since       time.Time  `json:"since,omitzero"`
	Version     uint64     `json:"version"`
	Calls       []callJSON `json:"calls"`
}

type callJSON struct {
	ID        string         `json:"id"`
	State     string         `json:"state"`
	Direction string         `json:"direction,omitempty"`
	Held      bool           `json:"held,omitempty"`
	Remote    presence.Party `json:"remote"`
	Started   time.Time      `json:"started,omitzero"`
}

func toJSON(v presence.View) presenceJSON {
	out := presenceJSON{
		AOR: v.AOR.String(), Extension: v.AOR.User, Domain: v.AOR.Domain, Registered: v.Registered,
		Line: string(v.Line), Status: string(v.Status), StatusLabel: v.Status.Label(), Note: v.Note,
		Since: v.Since, Version: v.Version, Calls: make([]callJSON, 0, len(v.Dialogs)),
	}
	if !v.Until.IsZero() {
		u := v.Until
		out.Until = &u
	}
	for _, d := range v.Dialogs {
		out.Calls = append(out.Calls, callJSON{ID: d.Key(), State: string(d.State), Direction: string(d.Direction), Held: d.Held, Remote: d.Remote, Started: d.Started})
	}
	return out
}

func (s *Server) presenceRoutes() {
	s.mux.HandleFunc("GET /v1/presence", s.listPresence)
	s.mux.HandleFunc("GET /v1/presence/stream", s.streamPresence)
	s.mux.HandleFunc("GET /v1/presence/{aor}", s.getPresence)
	s.mux.HandleFunc("PUT /v1/presence/{aor}/status", s.setStatus)
}

// mayWatch reports whether p may see aor's presence: a user the
// extensions of its own domain, a users:admin key those of its tenant
// (every domain for an operator key).
func mayWatch(p accounts.Principal, aor presence.AOR) bool {
	if p.Has(accounts.ScopeUsersAdmin) && p.InTenant(aor.Domain) {
		return true
	}
	_, domain, ok := strings.Cut(p.User, "@")
	return ok && strings.EqualFold(domain, aor.Domain)
}

// viewFor is v as p sees it. The shared view names remote parties only
// from what every watcher may see (company and team contacts, per the
// domain's caller display policy); the owner of the extension also sees
// the names of its own personal contacts, resolved here and never stored.
func (s *Server) viewFor(ctx context.Context, p accounts.Principal, v presence.View) presence.View {
	box := s.callers.Load()
	if box == nil || p.User == "" || !strings.EqualFold(p.User, v.AOR.String()) || len(v.Dialogs) == 0 {
		return v
	}
	dialogs := slices.Clone(v.Dialogs)
	for i := range dialogs {
		r := &dialogs[i].Remote
		if r.URI == "" {
			continue
		}
		if res, ok := box.Resolve(ctx, r.URI, p.User); ok && res.Display != "" {
			r.Display, r.ContactID = res.Display, res.ContactID
		}
	}
	v.Dialogs = dialogs
	return v
}

func (s *Server) parseAOR(w http.ResponseWriter, raw string) (presence.AOR, bool) {
	aor, err := presence.ParseAOR(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "want an extension as ext@domain", "aor")
		return presence.AOR{}, false
	}
	return aor, true
}

func (s *Server) getPresence(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	aor, ok := s.parseAOR(w, r.PathValue("aor"))
	if !ok {
		return
	}
	if !mayWatch(p, aor) {
		writeError(w, http.StatusForbidden, "forbidden", "not allowed to see this extension", "")
		return
	}
	v, err := s.deps.Presence.Get(r.Context(), aor)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	if !s.exists(r.Context(), aor, v) {
		writeError(w, http.StatusNotFound, "not_found", "no such extension: "+aor.String(), "aor")
		return
	}
	writeJSON(w, http.StatusOK, toJSON(s.viewFor(r.Context(), p, v)))
}

// lookupUsers is the principal existence checks read users as: the
// caller's own rights were checked before.
var lookupUsers = accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin}}

// exists reports whether aor is an extension to answer for: a user
// provisioned in the directory, or one presence holds state of (a
// REGISTER, PUBLISH or status; a PBX may push extensions nobody
// provisioned). A view never stored has version 0. Without a directory
// every extension may exist.
func (s *Server) exists(ctx context.Context, aor presence.AOR, v presence.View) bool {
	if v.Version > 0 || s.deps.Directory == nil {
		return true
	}
	_, err := s.deps.Directory.GetUser(ctx, lookupUsers, aor.String())
	return err == nil
}

func (s *Server) listPresence(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	raw := r.URL.Query()["aor"]
	if len(raw) == 0 || len(raw) > 500 {
		writeError(w, http.StatusBadRequest, "invalid", "give 1 to 500 aor parameters", "aor")
		return
	}
	out := make([]presenceJSON, 0, len(raw))
	for _, a := range raw {
		aor, ok := s.parseAOR(w, a)
		if !ok {
			return
		}
		if !mayWatch(p, aor) {
			writeError(w, http.StatusForbidden, "forbidden", "not allowed to see "+aor.String(), "aor")
			return
		}
		v, err := s.deps.Presence.Get(r.Context(), aor)
		if err != nil {
			s.unavailable(w, err)
			return
		}
		if !s.exists(r.Context(), aor, v) {
			writeError(w, http.StatusNotFound, "not_found", "no such extension: "+aor.String(), "aor")
			return
		}
		out = append(out, toJSON(s.viewFor(r.Context(), p, v)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

type statusRequest struct {
	Status presence.Status `json:"status"`
	Note   string          `json:"note"`
	Until  *time.Time      `json:"until"`
}

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	aor, ok := s.parseAOR(w, r.PathValue("aor"))
	if !ok {
		return
	}
	if !strings.EqualFold(p.User, aor.String()) && !(p.Has(accounts.ScopeUsersAdmin) && p.InTenant(aor.Domain)) {
		writeError(w, http.StatusForbidden, "forbidden", "only the user or an administrator sets a status", "")
		return
	}
	var req statusRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "body: "+err.Error(), "")
		return
	}
	if !req.Status.Valid() {
		writeError(w, http.StatusBadRequest, "invalid", "status must be one of available, away, dnd, lunch, business_trip, unavailable, meeting", "status")
		return
	}
	if len(req.Note) > 200 {
		writeError(w, http.StatusBadRequest, "invalid", "note is longer than 200 characters", "note")
		return
	}
	st := presence.UserStatus{Status: req.Status, Note: req.Note}
	if req.Until != nil {
		if !req.Until.After(time.Now()) {
			writeError(w, http.StatusBadRequest, "invalid", "until must be in the future", "until")
			return
		}
		st.Until = *req.Until
	}
	v, err := s.deps.Presence.SetStatus(r.Context(), aor, st)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(s.viewFor(r.Context(), p, v)))
}

func (s *Server) unavailable(w http.ResponseWriter, err error) {
	s.log.Warn().Err(err).Msg("presence request failed")
	writeError(w, http.StatusServiceUnavailable, "unavailable", "presence store unavailable", "")
}

// Watch feeds a presence change to the live stream, stamped with the
// time it arrived (the event id, replay.go). It never blocks.
func (s *Server) Watch(c presence.Change) {
	e := stamped{at: s.now(), view: c.View}
	s.replay.add(e)
	s.hub.publish(e)
}

// keyRechecker is a keyResolver that can skip its cache; open streams use
// it to notice a revocation made on another instance sooner.
type keyRechecker interface {
	Recheck(ctx context.Context, key string) (accounts.Principal, error)
}

// streamPresence is the live change stream as Server-Sent Events, filtered
// by domain and optionally by extension (?aor=...). A stream ends when its
// key is revoked (checked every Deps.StreamRecheck), when the server
// drains, or when the client falls behind.
func (s *Server) streamPresence(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := filter{domain: strings.ToLower(q.Get("domain")), aors: map[presence.AOR]bool{}}
	if f.domain == "" {
		f.domain = p.Domain
	}
	if f.domain == "" {
		if _, d, ok := strings.Cut(p.User, "@"); ok {
			f.domain = strings.ToLower(d)
		}
	}
	if f.domain == "" {
		writeError(w, http.StatusBadRequest, "invalid", "give a domain", "domain")
		return
	}
	if !mayWatch(p, presence.AOR{Domain: f.domain}) {
		writeError(w, http.StatusForbidden, "forbidden", "not allowed to watch this domain", "domain")
		return
	}
	f.user = p.User
	for _, a := range q["aor"] {
		aor, ok := s.parseAOR(w, a)
		if !ok {
			return
		}
		f.aors[aor] = true
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming unsupported", "")
		return
	}
	if s.draining.Load() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "draining", "this instance is shutting down; reconnect", "")
		return
	}
	key, _ := credential(r)
	release, ok := s.acquireStream(key)
	if !ok {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, "too_many_streams",
			fmt.Sprintf("this API key already has %d open event streams on this instance, the most allowed; close one first", s.deps.StreamsPerKey), "")
		return
	}
	defer release()
	recheck := s.deps.Keys.Resolve
	if rc, ok := s.deps.Keys.(keyRechecker); ok {
		recheck = rc.Recheck
	}
	c2cEvents, leaveC2C := s.joinClickToCall(p.User)
	defer leaveC2C()
	c := s.hub.join(f)
	defer s.hub.leave(c)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": switchboard presence stream\n\n")
	// sent holds the versions replayed, so that a change both replayed
	// and queued live goes out once.
	sent := map[presence.AOR]uint64{}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = q.Get("last_event_id")
	}
	if last, ok := parseEventID(lastID); ok {
		s.replayMissed(r.Context(), w, p, f, last, sent)
	}
	flusher.Flush()
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	check := time.NewTicker(s.deps.StreamRecheck)
	defer check.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return // draining: the client reconnects to another instance
		case <-c.gone:
			return // too slow: the client reconnects and reads current state
		case ev := <-c2cEvents:
			writeClickToCallEvent(w, ev)
		case <-check.C:
			if !s.keyStillValid(r.Context(), recheck, key) {
				fmt.Fprint(w, "event: revoked\ndata: {}\n\n")
				flusher.Flush()
				return
			}
			continue
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case e := <-c.ch:
			if v, ok := sent[e.view.AOR]; ok && e.view.Version <= v {
				continue
			}
			writePresenceEvent(w, s.viewFor(r.Context(), p, e.view), e.at)
		case ev := <-c.calls:
			s.writeCallEvent(r.Context(), w, p, ev)
		}
		flusher.Flush()
	}
}

// keyStillValid reports whether key still resolves. A store that cannot
// answer keeps the stream open: an outage must not disconnect every
// client at once.
func (s *Server) keyStillValid(ctx context.Context, recheck func(context.Context, string) (accounts.Principal, error), key string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := recheck(ctx, key)
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		s.log.Debug().Err(err).Msg("recheck stream key; keeping the stream")
		return true
	}
	return err == nil
}

// acquireStream counts an event stream of key, refusing beyond
// Deps.StreamsPerKey. Keys are counted by hash: the map holds no secret.
func (s *Server) acquireStream(key string) (release func(), ok bool) {
	h := sha256.Sum256([]byte(key))
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if s.streams[h] >= s.deps.StreamsPerKey {
		return nil, false
	}
	s.streams[h]++
	return func() {
		s.streamsMu.Lock()
		defer s.streamsMu.Unlock()
		if s.streams[h]--; s.streams[h] <= 0 {
			delete(s.streams, h)
		}
	}, true
}

type filter struct {
	domain string
	aors   map[presence.AOR]bool
	user   string // the stream's own user, whose call events it carries
}

func (f filter) match(v presence.View) bool {
	return v.AOR.Domain == f.domain && (len(f.aors) == 0 || f.aors[v.AOR])
}

type client struct {
	f     filter
	ch    chan stamped
	calls chan calls.Event
	gone  chan struct{}
}

// hub fans presence changes out to stream clients. A client that falls
// behind by clientBuffer events is dropped rather than let memory grow.
type hub struct {
	mu      sync.Mutex // guards clients
	clients map[*client]struct{}
}

const clientBuffer = 256

func newHub() *hub { return &hub{clients: make(map[*client]struct{})} }

func (h *hub) join(f filter) *client {
	c := &client{f: f, ch: make(chan stamped, clientBuffer), calls: make(chan calls.Event, clientBuffer), gone: make(chan struct{})}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	return c
}

func (h *hub) leave(c *client) {
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.gone)
	}
	h.mu.Unlock()
}

func (h *hub) publish(e stamped) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if !c.f.match(e.view) {
			continue
		}
		select {
		case c.ch <- e:
		default:
			delete(h.clients, c)
			close(c.gone)
		}
	}
}
