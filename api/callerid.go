package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// callerLookup resolves incoming numbers for caller ID; *callerid.Lookup
// implements it. Resolve reads the callee's personal contacts and marks,
// ResolveShared only what every user of the callee's domain may see.
type callerLookup interface {
	Resolve(ctx context.Context, number, callee string) (callerid.Result, bool)
	ResolveShared(ctx context.Context, number, callee string) (callerid.Result, bool)
}

var _ callerLookup = (*callerid.Lookup)(nil)

// callerID serves the caller-ID routes of one Server.
type callerID struct {
	s *Server
}

// callerLookupBox lets an interface value live in an atomic.Pointer.
type callerLookupBox struct{ callerLookup }

// presenceTimeout bounds the optional presence read of a lookup: caller
// ID must answer within the PBX's budget even when the presence store is
// slow, so presence is dropped rather than waited for.
const presenceTimeout = 100 * time.Millisecond

// callerIDRoutes registers the caller-ID lookup and the phone directories.
// The lookup answers 503 until SetCallerID is called.
func (s *Server) callerIDRoutes() {
	h := &callerID{s: s}
	s.mux.HandleFunc("GET /v1/lookup", h.lookup)
	s.mux.HandleFunc("GET /v1/phonebook/{format}", h.phonebook)
	s.mux.HandleFunc("GET /v1/phonebook/{format}/search", h.phonebookSearch)
}

// SetCallerID installs the caller-ID lookup (a *callerid.Lookup). Call it
// before serving; until then /v1/lookup answers 503.
func (s *Server) SetCallerID(l callerLookup) {
	if l == nil {
		s.callers.Store(nil)
		return
	}
	s.callers.Store(&callerLookupBox{l})
}

// lookupJSON is the JSON answer of GET /v1/lookup.
type lookupJSON struct {
	Name       string              `json:"name"`
	Display    string              `json:"display"`
	NumberE164 string              `json:"number_e164,omitempty"`
	ContactID  string              `json:"contact_id,omitempty"`
	Kind       directory.Kind      `json:"kind"`
	Marks      lookupMarksJSON     `json:"marks"`
	Blocked    bool                `json:"blocked"`
	Rank       string              `json:"rank"`
	Ambiguous  bool                `json:"ambiguous"`
	Candidates []string            `json:"candidates,omitempty"`
	Presence   *lookupPresenceJSON `json:"presence,omitempty"`
}

type lookupMarksJSON struct {
	VIP      bool `json:"vip"`
	Favorite bool `json:"favorite"`
	Blocked  bool `json:"blocked"`
}

type lookupPresenceJSON struct {
	Line   string `json:"line"`
	Status string `json:"status"`
}

// lookup answers GET /v1/lookup?number=…&callee=…&format=json|text.
//
// It is built for a PBX asking during call setup: Asterisk's CURL()
// dialplan function, a FreePBX caller-ID lookup source, FreeSWITCH's curl
// application. The PBX must give the request a short timeout (500 ms is
// plenty: an answer takes well under a millisecond here) and fail open,
// ringing with the bare number when the request fails or times out, so
// that a directory outage never blocks calls. Example:
//
//	same => n,Set(CURLOPT(conntimeout)=1)
//	same => n,Set(CURLOPT(httptimeout)=1)
//	same => n,Set(CALLERID(name)=${CURL(https://sb:8080/v1/lookup?format=text&key=K&number=${URIENCODE(${CALLERID(num)})}&callee=${EXTEN})})
//
// format=text returns only the display name as text/plain, and a miss
// (or an ambiguous match without a shared name) as 404 with an empty
// body, so the dialplan variable is simply empty. format=json (default)
// returns the whole match, including blocked so the PBX can reject
// before ringing; a miss is a JSON 404.
//
// The key needs scope lookup. Who may look up whom:
//   - a user's key asks only as that user (the callee defaults to it) and
//     gets the user's personal contacts and marks;
//   - a pbx key (bound to a domain) asks for any callee of its domain and
//     gets that callee's personal contacts and marks: the one non-owner
//     path to them, for the dialplan;
//   - both of these also get blocked: true for a number on the callee's
//     block list (POST /v1/blocklist), with or without a contact;
//   - any other key (a tenant admin's, bound to a domain, or an operator's,
//     for every domain) gets company and team names only, never personal
//     contacts or marks.
//
// A bare extension callee is in the key's domain (the default domain for
// an operator key); a callee of another domain is refused with 403.
func (h *callerID) lookup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	text := q.Get("format") == "text"
	if f := q.Get("format"); f != "" && f != "text" && f != "json" {
		writeError(w, http.StatusBadRequest, "invalid", "format must be json or text", "format")
		return
	}
	p, ok := h.s.authenticate(w, r)
	if !ok {
		return
	}
	if !p.Has(accounts.ScopeLookup) {
		writeError(w, http.StatusForbidden, "forbidden", "caller-id lookup needs scope lookup", "")
		return
	}
	box := h.s.callers.Load()
	if box == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "caller-id lookup is not ready", "")
		return
	}
	number, callee := q.Get("number"), q.Get("callee")
	if strings.TrimSpace(number) == "" || len(number) > 256 {
		writeError(w, http.StatusBadRequest, "invalid", "number is required (at most 256 characters)", "number")
		return
	}
	resolve, personal := box.ResolveShared, false
	switch {
	case p.User != "":
		if callee != "" && !sameCallee(callee, p.User) {
			writeError(w, http.StatusForbidden, "forbidden", "a user's key looks up only for that user", "callee")
			return
		}
		callee, resolve, personal = p.User, box.Resolve, true // a bare "ext" must not pick up another default domain
	case !p.Operator() && callee == "":
		callee = "@" + p.Tenant() // no extension: company contacts of the tenant
	case !p.Operator():
		ext, domain := callerid.SplitCallee(callee, p.Tenant())
		if ext == "" || domain != p.Tenant() {
			writeError(w, http.StatusForbidden, "forbidden", "this key looks up only for callees of "+p.Tenant(), "callee")
			return
		}
		callee = ext + "@" + domain
		if p.PBXFor(domain) {
			resolve, personal = box.Resolve, true
		}
	}
	res, found := resolve(r.Context(), number, callee)
	// The callee's block list holds numbers of no contact; only readers of
	// the callee's personal data (the callee, the domain's PBX) see it.
	if personal && h.s.onBlockList(r.Context(), callee, number) {
		if !found {
			res, found = callerid.Result{}, true
		}
		res.Blocked = true
	}
	if text {
		if res.Blocked {
			w.Header().Set("X-Switchboard-Blocked", "1")
		}
		if !found || res.Display == "" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(res.Display))
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "no contact has this number", "number")
		return
	}
	out := lookupJSON{
		Name: res.Name, Display: res.Display, NumberE164: res.E164, ContactID: res.ContactID, Kind: res.Kind,
		Marks:   lookupMarksJSON{VIP: res.Marks.VIP, Favorite: res.Marks.Favorite, Blocked: res.Marks.Blocked},
		Blocked: res.Blocked, Rank: res.Rank.String(), Ambiguous: res.Ambiguous, Candidates: res.Candidates,
	}
	if res.AOR != "" && h.s.deps.Presence != nil {
		out.Presence = h.presenceOf(r.Context(), res.AOR)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// presenceOf reads a team contact's presence within presenceTimeout, or
// returns nil.
func (h *callerID) presenceOf(ctx context.Context, aor string) *lookupPresenceJSON {
	a, err := presence.ParseAOR(aor)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, presenceTimeout)
	defer cancel()
	v, err := h.s.deps.Presence.Get(ctx, a)
	if err != nil {
		h.s.log.Debug().Err(err).Str("aor", aor).Msg("presence for caller id")
		return nil
	}
	return &lookupPresenceJSON{Line: string(v.Line), Status: string(v.Status)}
}

// sameCallee reports whether callee (ext, ext@domain or a sip: URI) names
// user (ext@domain).
func sameCallee(callee, user string) bool {
	callee = strings.TrimSpace(callee)
	for _, scheme := range [...]string{"sip:", "sips:"} {
		if len(callee) >= len(scheme) && strings.EqualFold(callee[:len(scheme)], scheme) {
			callee = callee[len(scheme):]
		}
	}
	if i := strings.IndexAny(callee, ";>"); i >= 0 {
		callee = callee[:i]
	}
	ext, domain, _ := strings.Cut(user, "@")
	if c, d, ok := strings.Cut(callee, "@"); ok {
		if i := strings.IndexByte(d, ':'); i >= 0 {
			d = d[:i]
		}
		return c == ext && strings.EqualFold(d, domain)
	}
	return callee == ext
}
