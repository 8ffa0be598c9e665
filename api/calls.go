package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/calls"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/directory/phone"
)

// callRoutes registers the call history and block-list routes. They
// answer 503 until SetCalls is called.
func (s *Server) callRoutes() {
	s.mux.HandleFunc("GET /v1/calls", s.listCalls)
	s.mux.HandleFunc("GET /v1/calls/unread", s.unreadCalls)
	s.mux.HandleFunc("POST /v1/calls/read", s.readCalls)
	s.mux.HandleFunc("GET /v1/calls/{id}", s.getCall)
	s.mux.HandleFunc("DELETE /v1/calls/{id}", s.deleteCall)
	s.mux.HandleFunc("POST /v1/calls/{id}/contact", s.contactFromCall)
	s.mux.HandleFunc("POST /v1/calls/{id}/block", s.blockFromCall)
	s.mux.HandleFunc("GET /v1/blocklist", s.listBlocked)
	s.mux.HandleFunc("POST /v1/blocklist", s.addBlocked)
	s.mux.HandleFunc("POST /v1/blocklist/last-caller", s.blockLastCaller)
	s.mux.HandleFunc("DELETE /v1/blocklist/{number}", s.removeBlocked)
}

// SetCalls installs the call history; call it before serving.
func (s *Server) SetCalls(c *calls.Service) { s.history.Store(c) }

// callUser authenticates a request about the caller's own calls: only a
// user's key has calls. It answers and returns false otherwise.
func (s *Server) callUser(w http.ResponseWriter, r *http.Request) (accounts.Principal, *calls.Service, bool) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return p, nil, false
	}
	h := s.history.Load()
	if h == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "call history is not enabled", "")
		return p, nil, false
	}
	if p.User == "" {
		writeError(w, http.StatusForbidden, "forbidden", "call history belongs to a user: use the user's key", "")
		return p, nil, false
	}
	return p, h, true
}

// callError answers err from the call history with its status code.
func (s *Server) callError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, calls.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", message(err, calls.ErrNotFound), "")
	case errors.Is(err, calls.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", message(err, calls.ErrInvalid), "")
	case errors.Is(err, calls.ErrFull):
		writeError(w, http.StatusConflict, "quota_exceeded", message(err, calls.ErrFull), "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
	default:
		s.log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("call history request failed")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "call history store unavailable", "")
	}
}

type callPageJSON struct {
	Items        []calls.Call `json:"items"`
	NextCursor   string       `json:"next_cursor,omitempty"`
	MissedUnread int          `json:"missed_unread"`
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var query calls.Query
	query.Cursor = q.Get("cursor")
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeError(w, http.StatusBadRequest, "invalid", "limit must be 1 to 200", "limit")
			return
		}
		query.Limit = n
	}
	switch q.Get("missed") {
	case "", "false":
	case "true":
		query.Missed = true
	default:
		writeError(w, http.StatusBadRequest, "invalid", "missed must be true or false", "missed")
		return
	}
	page, err := h.List(r.Context(), p.User, query)
	if err != nil {
		s.callError(w, r, err)
		return
	}
	n, _, err := h.Missed(r.Context(), p.User)
	if err != nil {
		s.callError(w, r, err)
		return
	}
	out := callPageJSON{Items: page.Calls, NextCursor: page.Next, MissedUnread: n}
	if out.Items == nil {
		out.Items = []calls.Call{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getCall(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	c, err := h.Get(r.Context(), p.User, r.PathValue("id"))
	if err != nil {
		s.callError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) deleteCall(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	if err := h.Delete(r.Context(), p.User, r.PathValue("id")); err != nil {
		s.callError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) unreadCalls(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	n, at, err := h.Missed(r.Context(), p.User)
	if err != nil {
		s.callError(w, r, err)
		return
	}
	out := struct {
		Missed int        `json:"missed"`
		ReadAt *time.Time `json:"read_at,omitempty"`
	}{Missed: n}
	if !at.IsZero() {
		out.ReadAt = &at
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) readCalls(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	if err := h.MarkRead(r.Context(), p.User); err != nil {
		s.callError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fromCallRequest is the body of POST /v1/calls/{id}/contact: with
// contact_id the call's number is added to that contact of the user's,
// else a personal contact is created from the call, the fields given
// overriding what the call says.
type fromCallRequest struct {
	ContactID string              `json:"contact_id"`
	PhoneType directory.PhoneType `json:"phone_type"`
	FirstName string              `json:"first_name"`
	LastName  string              `json:"last_name"`
	Company   string              `json:"company"`
}

func (s *Server) contactFromCall(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	var req fromCallRequest
	if r.ContentLength != 0 && !s.decodeJSON(w, r, &req) {
		return
	}
	c, err := h.Get(r.Context(), p.User, r.PathValue("id"))
	if err != nil {
		s.callError(w, r, err)
		return
	}
	if c.Number == "" {
		writeError(w, http.StatusConflict, "conflict", "the call has no number", "")
		return
	}
	if req.PhoneType == "" {
		req.PhoneType = directory.PhoneWork
	}
	dir := s.deps.Directory
	if req.ContactID == "" {
		nc := directory.Contact{
			Kind: directory.KindPersonal, FirstName: req.FirstName, LastName: req.LastName, Company: req.Company,
			Phones: []directory.Phone{{Type: req.PhoneType, Number: c.Number}},
		}
		if strings.TrimSpace(nc.FirstName+nc.LastName+nc.Company) == "" {
			nc.FirstName = c.Name // prefilled from the call; the user edits it later
			if nc.FirstName == "" {
				nc.FirstName = c.Number
			}
		}
		created, err := dir.Create(r.Context(), p, nc)
		if err != nil {
			s.directoryError(w, r, err)
			return
		}
		w.Header().Set("ETag", etag(created.Version))
		w.Header().Set("Location", "/v1/contacts/"+created.ID)
		writeJSON(w, http.StatusCreated, s.entry(directory.Entry{Contact: created}))
		return
	}
	e, err := dir.Get(r.Context(), p, req.ContactID)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	if e.Contact.Kind != directory.KindPersonal || !strings.EqualFold(e.Contact.Owner, p.User) {
		writeError(w, http.StatusForbidden, "forbidden", "a call's number goes only into one of your own contacts", "contact_id")
		return
	}
	cur := e.Contact
	if !slices.ContainsFunc(cur.Phones, func(ph directory.Phone) bool { return directory.Digits(ph.Number) == directory.Digits(c.Number) }) {
		cur.Phones = append(cur.Phones, directory.Phone{Type: req.PhoneType, Number: c.Number})
	}
	updated, err := dir.Update(r.Context(), p, cur, cur.Version)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(updated.Version))
	writeJSON(w, http.StatusOK, s.entry(directory.Entry{Contact: updated, Marks: e.Marks}))
}

// blockJSON says how a number was blocked: the matching contact got the
// Blocked mark, or the number went on the block list.
type blockJSON struct {
	Blocked   string    `json:"blocked"` // "contact" or "number"
	ContactID string    `json:"contact_id,omitempty"`
	Number    string    `json:"number,omitempty"`
	Added     time.Time `json:"added,omitzero"`
}

// block blocks number for user: a contact the caller-ID lookup matches
// for user (exactly or by national number, not ambiguously) gets the
// Blocked mark; any other number goes on the user's block list. p acts
// for user's marks.
func (s *Server) block(ctx context.Context, h *calls.Service, p accounts.Principal, user, number string) (blockJSON, error) {
	if box := s.callers.Load(); box != nil && s.deps.Directory != nil {
		res, found := box.Resolve(ctx, number, user)
		if found && !res.Ambiguous && res.ContactID != "" && res.Rank >= phone.RankNationalNumber {
			err := s.deps.Directory.Mark(ctx, p, res.ContactID, directory.GroupBlocked, true)
			switch {
			case err == nil:
				return blockJSON{Blocked: "contact", ContactID: res.ContactID}, nil
			case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrForbidden):
				// A contact this key may not mark (a company contact
				// without company:read): the number is blocked instead.
			default:
				return blockJSON{}, err
			}
		}
	}
	b, err := h.Block(ctx, user, number)
	if err != nil {
		return blockJSON{}, err
	}
	return blockJSON{Blocked: "number", Number: b.Number, Added: b.Added}, nil
}

func (s *Server) blockError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *directory.FieldError
	if errors.As(err, &fe) || errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrForbidden) ||
		errors.Is(err, directory.ErrConflict) {
		s.directoryError(w, r, err)
		return
	}
	s.callError(w, r, err)
}

func (s *Server) blockFromCall(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	c, err := h.Get(r.Context(), p.User, r.PathValue("id"))
	if err != nil {
		s.callError(w, r, err)
		return
	}
	if c.Number == "" {
		writeError(w, http.StatusConflict, "conflict", "the call has no number", "")
		return
	}
	out, err := s.block(r.Context(), h, p, p.User, c.Number)
	if err != nil {
		s.blockError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listBlocked(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	list, err := h.BlockList(r.Context(), p.User)
	if err != nil {
		s.callError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (s *Server) addBlocked(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	var req struct {
		Number string `json:"number"`
	}
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Number) == "" || len(req.Number) > 64 {
		writeError(w, http.StatusBadRequest, "invalid", "number is required (at most 64 characters)", "number")
		return
	}
	b, err := h.Block(r.Context(), p.User, req.Number)
	if err != nil {
		s.callError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, b)
}

func (s *Server) removeBlocked(w http.ResponseWriter, r *http.Request) {
	p, h, ok := s.callUser(w, r)
	if !ok {
		return
	}
	if err := h.Unblock(r.Context(), p.User, r.PathValue("number")); err != nil {
		s.callError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// blockLastCaller serves a PBX star code ("*60: block my last caller"):
// POST /v1/blocklist/last-caller?callee=201 with the domain's pbx key, or
// with the user's own key. The callee's most recent incoming caller is
// blocked as by POST /v1/calls/{id}/block.
func (s *Server) blockLastCaller(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	h := s.history.Load()
	if h == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "call history is not enabled", "")
		return
	}
	callee := r.URL.Query().Get("callee")
	actor := p
	switch {
	case p.User != "":
		if callee != "" && !sameCallee(callee, p.User) {
			writeError(w, http.StatusForbidden, "forbidden", "a user's key blocks only for that user", "callee")
			return
		}
		callee = p.User
	case p.PBX && !p.Operator() && p.Has(accounts.ScopeLookup):
		ext, domain := callerid.SplitCallee(callee, p.Tenant())
		if ext == "" || !p.PBXFor(domain) {
			writeError(w, http.StatusForbidden, "forbidden", "this key blocks only for callees of "+p.Tenant(), "callee")
			return
		}
		callee = ext + "@" + domain
		// The PBX acts for the callee, as it does in /v1/lookup: on the
		// callee's own marks and block list, nothing else.
		actor = accounts.Principal{User: callee, Domain: domain, Scopes: []accounts.Scope{accounts.ScopePersonal}}
	default:
		writeError(w, http.StatusForbidden, "forbidden", "use the domain's pbx key or the user's key", "")
		return
	}
	last, err := h.LastIncoming(r.Context(), callee)
	if err != nil {
		s.callError(w, r, err)
		return
	}
	out, err := s.block(r.Context(), h, actor, callee, last.Number)
	if err != nil {
		s.blockError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// blockedTimeout bounds the block-list read of a lookup, which fails open:
// a slow store must not hold up call setup.
const blockedTimeout = 100 * time.Millisecond

// onBlockList reports whether number is on callee's block list, within
// blockedTimeout; any failure reads as not blocked.
func (s *Server) onBlockList(ctx context.Context, callee, number string) bool {
	h := s.history.Load()
	if h == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, blockedTimeout)
	defer cancel()
	blocked, err := h.IsBlocked(ctx, callee, number)
	if err != nil {
		s.log.Debug().Err(err).Str("callee", callee).Msg("block list for caller id")
		return false
	}
	return blocked
}

// DeliverCall hands a call start or end to the event streams of the
// call's user on this instance. Events from other instances carry no
// name: it is resolved here, for the owner.
func (s *Server) DeliverCall(ev calls.Event) { s.hub.publishCall(ev) }

// callEventJSON is the data of an SSE "call" event.
type callEventJSON struct {
	Type calls.EventType `json:"type"`
	Call calls.Call      `json:"call"`
}

func (s *Server) writeCallEvent(ctx context.Context, w http.ResponseWriter, p accounts.Principal, ev calls.Event) {
	c := ev.Call
	if c.Name == "" && c.URI != "" {
		if box := s.callers.Load(); box != nil {
			if res, ok := box.Resolve(ctx, c.URI, p.User); ok && res.Display != "" {
				c.Name, c.ContactID = res.Display, res.ContactID
			}
		}
		if c.Name == "" {
			c.Name = ev.Shared.Display
		}
	}
	b, _ := json.Marshal(callEventJSON{Type: ev.Type, Call: c})
	fmt.Fprintf(w, "event: call\ndata: %s\n\n", b)
}

// publishCall sends ev to the streams of its user, dropping a client that
// fell behind as publish does.
func (h *hub) publishCall(ev calls.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if c.f.user == "" || !strings.EqualFold(c.f.user, ev.Call.User) {
			continue
		}
		select {
		case c.calls <- ev:
		default:
			delete(h.clients, c)
			close(c.gone)
		}
	}
}
