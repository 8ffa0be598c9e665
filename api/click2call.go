package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory/phone"
	"github.com/switchboardhq/switchboard/presence"
)

// Click-to-call: POST /v1/calls rings the user's own phone and connects
// it to a number (the SIP edge does the calling). Its progress is served
// at GET /v1/calls/{id}/progress and as "click_to_call" events on the
// user's own event streams. Click-to-call ids start with "c2c_", so they
// never name a record of the call history, which serves GET
// /v1/calls/{id}; the history records the call itself once the phone
// places it.

// ClickToCallRequest is a click-to-call the API asks the dialer for.
type ClickToCallRequest struct {
	ID   string
	From presence.AOR
	// Number is the normalized number: E.164, or an extension.
	Number string
}

// ClickToCallProgress is one step of a click-to-call, reported by the
// dialer or by another instance.
type ClickToCallProgress struct {
	ID     string
	From   presence.AOR
	Number string
	// State is ringing, connecting, connected or failed.
	State string
	// Reason says why a call failed (no_answer, busy, refer_refused, …).
	Reason string
	// SIPStatus is the SIP status behind a failure; 0 when none.
	SIPStatus int
	// Seq orders one call's steps from 1.
	Seq int
	At  time.Time
}

// Dialer places click-to-calls; the SIP edge, through an adapter in cmd.
// Dial returns at once; progress comes back through
// Server.ClickToCallProgress.
type Dialer interface {
	Dial(req ClickToCallRequest) error
}

// ClickToCallConfig configures POST /v1/calls.
type ClickToCallConfig struct {
	// Dialer places the calls; nil answers 503.
	Dialer Dialer
	// DefaultRegion and DomainRegions are the regions numbers are read in,
	// as for caller ID ("FR"; per domain).
	DefaultRegion string
	DomainRegions map[string]string
	// PerMinute and Burst limit each user's calls; defaults 10 and 5.
	PerMinute float64
	Burst     int
}

// Click-to-call limits.
const (
	// clickToCallKept is how many calls' last progress are kept (the
	// oldest go first); clickToCallTTL how long one stays readable.
	clickToCallKept = 10000
	clickToCallTTL  = time.Hour
	// clickToCallUsers bounds the per-user rate limiters kept.
	clickToCallUsers = 10000
	// clickToCallBuffer is how many progress events a stream may lag.
	clickToCallBuffer = 32
)

// clickToCall is the API's click-to-call state: the configuration, the
// latest progress of recent calls, the per-user limiters and the open
// streams' subscriptions.
type clickToCall struct {
	mu       sync.Mutex // guards every field below
	cfg      ClickToCallConfig
	norms    map[string]*phone.Normalizer                // by region
	progress *simplelru.LRU[string, ClickToCallProgress] // by call id
	limiters *simplelru.LRU[string, *rate.Limiter]       // by user
	streams  map[string]map[chan ClickToCallProgress]struct{}
}

// SetClickToCall enables POST /v1/calls with cfg; call it before serving.
func (s *Server) SetClickToCall(cfg ClickToCallConfig) error {
	if cfg.PerMinute <= 0 {
		cfg.PerMinute = 10
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 5
	}
	if cfg.DefaultRegion == "" {
		cfg.DefaultRegion = "US"
	}
	norms := map[string]*phone.Normalizer{}
	for _, r := range append([]string{cfg.DefaultRegion}, mapValues(cfg.DomainRegions)...) {
		n, err := phone.NewNormalizer(phone.Config{DefaultRegion: r})
		if err != nil {
			return fmt.Errorf("click-to-call region %q: %w", r, err)
		}
		norms[r] = n
	}
	s.c2c.mu.Lock()
	defer s.c2c.mu.Unlock()
	s.c2c.cfg, s.c2c.norms = cfg, norms
	return nil
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (s *Server) clickToCallRoutes() {
	s.mux.HandleFunc("POST /v1/calls", s.startClickToCall)
	s.mux.HandleFunc("GET /v1/calls/{id}/progress", s.getClickToCall)
}

type clickToCallBody struct {
	To string `json:"to"`
	// From, when given, must be the key's own user: a user calls only
	// from their own extension.
	From string `json:"from"`
}

// clickToCallJSON is a click-to-call's progress as the API shows it.
type clickToCallJSON struct {
	ID        string    `json:"id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	SIPStatus int       `json:"sip_status,omitempty"`
	Seq       int       `json:"seq"`
	At        time.Time `json:"at"`
}

func clickToCallOut(p ClickToCallProgress) clickToCallJSON {
	return clickToCallJSON{ID: p.ID, From: p.From.String(), To: p.Number, State: p.State, Reason: p.Reason, SIPStatus: p.SIPStatus, Seq: p.Seq, At: p.At}
}

func (s *Server) startClickToCall(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if p.User == "" {
		writeError(w, http.StatusForbidden, "forbidden", "click-to-call needs a user's key: it rings that user's own phone", "")
		return
	}
	from, err := presence.ParseAOR(p.User)
	if err != nil {
		writeError(w, http.StatusForbidden, "forbidden", "this key's user is not an extension", "")
		return
	}
	var body clickToCallBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "body: "+err.Error(), "")
		return
	}
	if body.From != "" && !strings.EqualFold(body.From, from.String()) && !strings.EqualFold(body.From, from.User) {
		writeError(w, http.StatusForbidden, "forbidden", "a user calls only from their own extension", "from")
		return
	}
	s.c2c.mu.Lock()
	cfg, norm := s.c2c.cfg, s.c2c.normalizerFor(from.Domain)
	s.c2c.mu.Unlock()
	if cfg.Dialer == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "click-to-call is not enabled", "")
		return
	}
	number, ok := dialString(norm, body.To)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid", "to: not a phone number or extension", "to")
		return
	}
	if wait, ok := s.c2c.allow(p.User, cfg); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many calls; try again later", "")
		return
	}
	id := "c2c_" + randomHex(12)
	first := ClickToCallProgress{ID: id, From: from, Number: number, State: "ringing", At: time.Now().UTC()}
	s.c2c.record(first)
	if err := cfg.Dialer.Dial(ClickToCallRequest{ID: id, From: from, Number: number}); err != nil {
		s.log.Warn().Err(err).Str("aor", from.String()).Msg("start click-to-call")
		s.c2c.forget(id)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "cannot place calls now", "")
		return
	}
	w.Header().Set("Location", "/v1/calls/"+id+"/progress")
	writeJSON(w, http.StatusAccepted, clickToCallOut(first))
}

func (s *Server) getClickToCall(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	s.c2c.mu.Lock()
	prog, found := s.c2c.lookup(id)
	s.c2c.mu.Unlock()
	// Another user's call is as unknown as a missing one.
	if !found || !(strings.EqualFold(p.User, prog.From.String()) || (p.Has(accounts.ScopeUsersAdmin) && p.InTenant(prog.From.Domain))) {
		writeError(w, http.StatusNotFound, "not_found", "no such click-to-call: "+id, "id")
		return
	}
	writeJSON(w, http.StatusOK, clickToCallOut(prog))
}

// ClickToCallProgress takes a step of a click-to-call, from this
// instance's dialer or from another instance: GET serves it and the
// calling user's open streams receive it. Steps older than the one held
// are ignored. It never blocks.
func (s *Server) ClickToCallProgress(p ClickToCallProgress) {
	c := &s.c2c
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lookup(p.ID); ok && old.Seq >= p.Seq && old.Seq > 0 {
		return
	}
	c.recordLocked(p)
	for ch := range c.streams[strings.ToLower(p.From.String())] {
		select {
		case ch <- p:
		default: // a stream this far behind reads GET when it catches up
		}
	}
}

// joinClickToCall subscribes a stream to user's click-to-calls; a nil
// channel (never ready) for a key without a user.
func (s *Server) joinClickToCall(user string) (<-chan ClickToCallProgress, func()) {
	if user == "" {
		return nil, func() {}
	}
	user = strings.ToLower(user)
	ch := make(chan ClickToCallProgress, clickToCallBuffer)
	c := &s.c2c
	c.mu.Lock()
	if c.streams == nil {
		c.streams = map[string]map[chan ClickToCallProgress]struct{}{}
	}
	if c.streams[user] == nil {
		c.streams[user] = map[chan ClickToCallProgress]struct{}{}
	}
	c.streams[user][ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.streams[user], ch)
		if len(c.streams[user]) == 0 {
			delete(c.streams, user)
		}
	}
}

// writeClickToCallEvent writes one progress step on an event stream. It
// carries no id: the stream's ids are presence versions.
func writeClickToCallEvent(w http.ResponseWriter, p ClickToCallProgress) {
	b, _ := json.Marshal(clickToCallOut(p))
	fmt.Fprintf(w, "event: click_to_call\ndata: %s\n\n", b)
}

// normalizerFor returns the normalizer of domain's region; c.mu held.
func (c *clickToCall) normalizerFor(domain string) *phone.Normalizer {
	if r, ok := c.cfg.DomainRegions[strings.ToLower(domain)]; ok {
		return c.norms[r]
	}
	return c.norms[c.cfg.DefaultRegion]
}

// dialString is what the phone is asked to call: the E.164 form, or the
// digits of an extension or of a number only dialable locally.
func dialString(norm *phone.Normalizer, raw string) (string, bool) {
	if norm == nil || len(raw) > 64 || strings.TrimSpace(raw) == "" {
		return "", false
	}
	n, err := norm.Parse(raw)
	if err != nil {
		return "", false
	}
	if n.E164 != "" {
		return n.E164, true
	}
	if n.Digits == "" {
		return "", false
	}
	return n.Digits, true
}

// allow takes one call from user's bucket.
func (c *clickToCall) allow(user string, cfg ClickToCallConfig) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limiters == nil {
		c.limiters, _ = simplelru.NewLRU[string, *rate.Limiter](clickToCallUsers, nil)
	}
	key := strings.ToLower(user)
	lim, ok := c.limiters.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(cfg.PerMinute/60), cfg.Burst)
		c.limiters.Add(key, lim)
	}
	now := time.Now()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (c *clickToCall) record(p ClickToCallProgress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recordLocked(p)
}

func (c *clickToCall) recordLocked(p ClickToCallProgress) {
	if c.progress == nil {
		c.progress, _ = simplelru.NewLRU[string, ClickToCallProgress](clickToCallKept, nil)
	}
	c.progress.Add(p.ID, p)
}

func (c *clickToCall) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.progress != nil {
		c.progress.Remove(id)
	}
}

// lookup returns a call's latest step while it is fresh; c.mu held.
func (c *clickToCall) lookup(id string) (ClickToCallProgress, bool) {
	if c.progress == nil {
		return ClickToCallProgress{}, false
	}
	p, ok := c.progress.Peek(id)
	if !ok || time.Since(p.At) > clickToCallTTL {
		return ClickToCallProgress{}, false
	}
	return p, true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
