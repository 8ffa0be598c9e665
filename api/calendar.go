package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/calendar"
	"github.com/switchboardhq/switchboard/presence"
)

// calendarService is what the API needs of the calendar feeds.
type calendarService interface {
	Put(ctx context.Context, aor presence.AOR, url *string, share *bool) (calendar.Feed, error)
	Get(ctx context.Context, aor presence.AOR) (calendar.Feed, error)
	Delete(ctx context.Context, aor presence.AOR) error
	Busy(ctx context.Context, aor presence.AOR, from, to time.Time) (calendar.Feed, []presence.Busy, error)
}

// watchPolicy is the presence policy (--presence-policy): whether watcher
// may see target's state, availability included.
type watchPolicy interface {
	MayWatch(ctx context.Context, watcher, target presence.AOR) (bool, error)
}

func (s *Server) calendarRoutes() {
	if s.deps.Calendar == nil {
		return
	}
	s.mux.HandleFunc("GET /v1/users/{aor}/calendar", s.getCalendar)
	s.mux.HandleFunc("PUT /v1/users/{aor}/calendar", s.putCalendar)
	s.mux.HandleFunc("DELETE /v1/users/{aor}/calendar", s.deleteCalendar)
	s.mux.HandleFunc("GET /v1/users/{aor}/availability", s.getAvailability)
}

// calendarJSON is a user's calendar settings. URL is the secret address,
// shown to the user only; an administrator sees its host.
type calendarJSON struct {
	AOR     string           `json:"aor"`
	URL     string           `json:"url,omitempty"`
	URLHint string           `json:"url_hint"`
	Share   bool             `json:"share"`
	Created time.Time        `json:"created"`
	Updated time.Time        `json:"updated"`
	Poll    calendarPollJSON `json:"poll"`
}

type calendarPollJSON struct {
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	Error       string     `json:"error,omitempty"`
	Failures    int        `json:"failures"`
	NextPoll    time.Time  `json:"next_poll"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toCalendarJSON(f calendar.Feed, owner bool) calendarJSON {
	out := calendarJSON{
		AOR: f.AOR.String(), URLHint: calendar.Redact(f.URL), Share: f.Share, Created: f.Created, Updated: f.Updated,
		Poll: calendarPollJSON{
			LastAttempt: timePtr(f.Poll.Attempted), LastSuccess: timePtr(f.Poll.Succeeded),
			Error: f.Poll.Error, Failures: f.Poll.Failures, NextPoll: f.Poll.Next,
		},
	}
	if owner {
		out.URL = f.URL
	}
	return out
}

// calendarTarget reads {aor} and checks p manages its calendar: the user
// themself, or an administrator of its tenant. It answers and returns
// false otherwise.
func (s *Server) calendarTarget(w http.ResponseWriter, r *http.Request, p accounts.Principal) (presence.AOR, bool, bool) {
	aor, ok := s.parseAOR(w, r.PathValue("aor"))
	if !ok {
		return presence.AOR{}, false, false
	}
	owner := strings.EqualFold(p.User, aor.String())
	if !owner && !(p.Has(accounts.ScopeUsersAdmin) && p.InTenant(aor.Domain)) {
		writeError(w, http.StatusForbidden, "forbidden", "only the user or an administrator manages a calendar", "")
		return presence.AOR{}, false, false
	}
	return aor, owner, true
}

// calendarError answers err from the calendar service.
func (s *Server) calendarError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, calendar.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no calendar", "")
	case errors.Is(err, calendar.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", message(err, calendar.ErrInvalid), "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
	default:
		s.log.Warn().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("calendar request failed")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "calendar store unavailable", "")
	}
}

func (s *Server) getCalendar(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	aor, owner, ok := s.calendarTarget(w, r, p)
	if !ok {
		return
	}
	f, err := s.deps.Calendar.Get(r.Context(), aor)
	if err != nil {
		s.calendarError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCalendarJSON(f, owner))
}

type calendarRequest struct {
	URL   *string `json:"url"`
	Share *bool   `json:"share"`
}

func (s *Server) putCalendar(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	aor, owner, ok := s.calendarTarget(w, r, p)
	if !ok {
		return
	}
	var req calendarRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	f, err := s.deps.Calendar.Put(r.Context(), aor, req.URL, req.Share)
	if err != nil {
		s.calendarError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCalendarJSON(f, owner))
}

func (s *Server) deleteCalendar(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	aor, _, ok := s.calendarTarget(w, r, p)
	if !ok {
		return
	}
	if err := s.deps.Calendar.Delete(r.Context(), aor); err != nil {
		s.calendarError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// availabilityJSON is a user's busy time: blocks only, never what they are.
type availabilityJSON struct {
	AOR     string     `json:"aor"`
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	Busy    []busyJSON `json:"busy"`
	Updated *time.Time `json:"updated,omitempty"`
}

type busyJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// defaultAvailability is the span answered when the query names no end.
const defaultAvailability = 7 * 24 * time.Hour

func queryTime(w http.ResponseWriter, r *http.Request, name string, def time.Time) (time.Time, bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, true
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", name+" must be an RFC 3339 time such as 2026-12-07T09:00:00Z", name)
		return time.Time{}, false
	}
	return t, true
}

// getAvailability answers the user themself and administrators of its
// tenant always, and colleagues of its domain whom the presence policy
// lets watch it while the user shares: a calendar not shared is not
// found for them, as one that does not exist.
func (s *Server) getAvailability(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	aor, ok := s.parseAOR(w, r.PathValue("aor"))
	if !ok {
		return
	}
	privileged := strings.EqualFold(p.User, aor.String()) || (p.Has(accounts.ScopeUsersAdmin) && p.InTenant(aor.Domain))
	if !privileged && !s.mayWatchCalendar(w, r, p, aor) {
		return
	}
	from, ok := queryTime(w, r, "from", time.Now().UTC().Truncate(time.Minute))
	if !ok {
		return
	}
	to, ok := queryTime(w, r, "to", from.Add(defaultAvailability))
	if !ok {
		return
	}
	f, busy, err := s.deps.Calendar.Busy(r.Context(), aor, from, to)
	if err == nil && !f.Share && !privileged {
		err = calendar.ErrNotFound
	}
	if err != nil {
		s.calendarError(w, r, err)
		return
	}
	out := availabilityJSON{AOR: aor.String(), From: from, To: to, Busy: make([]busyJSON, len(busy)), Updated: timePtr(f.Poll.Succeeded)}
	for i, b := range busy {
		out.Busy[i] = busyJSON{Start: b.Start, End: b.End}
	}
	writeJSON(w, http.StatusOK, out)
}

// mayWatchCalendar checks a colleague: a user of aor's domain whom the
// presence policy allows. It answers 403 and returns false otherwise.
func (s *Server) mayWatchCalendar(w http.ResponseWriter, r *http.Request, p accounts.Principal, aor presence.AOR) bool {
	watcher, err := presence.ParseAOR(p.User)
	if err != nil || watcher.Domain != aor.Domain {
		writeError(w, http.StatusForbidden, "forbidden", "not allowed to see this extension", "")
		return false
	}
	if s.deps.WatchPolicy == nil {
		return true
	}
	allowed, err := s.deps.WatchPolicy.MayWatch(r.Context(), watcher, aor)
	if err != nil {
		s.log.Warn().Err(err).Str("aor", aor.String()).Msg("presence policy failed")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "cannot check the presence policy now", "")
		return false
	}
	if !allowed {
		writeError(w, http.StatusForbidden, "forbidden", "not allowed to see this extension", "")
	}
	return allowed
}
