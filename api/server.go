// Package api is Switchboard's HTTP edge: the REST API for presence, the
// directory, API keys (accounts) and caller-ID lookup (callerid), the live
// change stream, desk-phone phonebooks, health and metrics. Like the sip
// package it translates domain errors into its protocol's status codes; it
// never talks to Redis or NATS itself.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/calls"
	"github.com/switchboardhq/switchboard/directory"
)

// keyResolver turns a bearer API key into the principal it was minted for;
// an unknown or revoked key is directory.ErrNotFound.
type keyResolver interface {
	Resolve(ctx context.Context, key string) (accounts.Principal, error)
}

// Server is the HTTP API.
type Server struct {
	deps Deps
	log  zerolog.Logger
	mux  *http.ServeMux
	hub  *hub
	// callers is the caller-ID lookup, set once the directory is indexed.
	callers atomic.Pointer[callerLookupBox]
	// history is the call history and block lists, set by SetCalls.
	history atomic.Pointer[calls.Service]

	draining  atomic.Bool
	quit      chan struct{} // closed by Drain: open streams end
	drainOnce sync.Once

	streamsMu sync.Mutex                // guards streams
	streams   map[[sha256.Size]byte]int // open event streams per API key (by hash)

	c2c clickToCall // click-to-call (click2call.go)

	hashes  chan struct{}   // password hashes in progress (hashslots.go)
	signins *signinThrottle // sign-in attempts per account and address (session.go)
	replay  *replayLog      // recent presence changes, to resume streams (replay.go)
	now     func() time.Time
}

// Deps are the API's collaborators. Presence and Keys are required;
// Directory and Health are optional.
type Deps struct {
	Presence presenceService
	Keys     keyResolver
	// Directory serves the contacts API when set.
	Directory *directory.Service
	// Ready reports readiness problems (Redis, NATS, draining); nil is ready.
	Ready func(ctx context.Context) map[string]error
	// Metrics serves /metrics when set.
	Metrics http.Handler
	// Subscriptions counts a user's SIP subscriptions for the report before
	// deleting the user; optional.
	Subscriptions subscriptionCounter
	// NATSURL is the NATS server events go through, without credentials,
	// shown on /readyz: where to find an embedded server's random port.
	NATSURL string
	// Domains are the served SIP domains; keys are minted only in them.
	// Empty accepts any domain (tests).
	Domains []string
	// StreamsPerKey caps the event streams open at once with one API key
	// on this instance; 0 means DefaultStreamsPerKey.
	StreamsPerKey int
	// StreamRecheck is how often an open stream asks the key store whether
	// its key still exists; 0 means DefaultStreamRecheck.
	StreamRecheck time.Duration
	// Timeouts bound slow clients; zero fields take the defaults.
	Timeouts Timeouts
	// Calendar serves users' calendar feeds and availability when set.
	Calendar calendarService
	// WatchPolicy, when set, restricts who sees a colleague's
	// availability, as it does their presence over SIP.
	WatchPolicy watchPolicy
	// App, when set, is the web app, served for every GET no API route
	// claims.
	App http.Handler
	// SessionTTL is the absolute lifetime of a web app session; 0 means
	// DefaultSessionTTL.
	SessionTTL time.Duration
}

// Defaults of Deps and Timeouts.
const (
	// DefaultStreamsPerKey is enough for a few browser tabs and wallboards
	// of one user while stopping a script from opening thousands.
	DefaultStreamsPerKey = 8
	// DefaultStreamRecheck: a recheck skips the key cache, so a key
	// revoked on any instance ends its streams everywhere within this
	// period, inside the 10 s the API documents.
	DefaultStreamRecheck = 5 * time.Second
	// DefaultReadHeader bounds the request line and headers (slowloris).
	DefaultReadHeader = 5 * time.Second
	// DefaultIdle bounds a keep-alive connection between requests.
	DefaultIdle = 60 * time.Second
	// DefaultBodyGrace and DefaultBodyMinRate (bytes/s): a 64 MiB import
	// may take 68 minutes, a 1 byte/s upload is cut after about 10 s.
	DefaultBodyGrace   = 10 * time.Second
	DefaultBodyMinRate = 16 << 10
)

// Timeouts bound how long a client may hold a connection without making
// progress.
type Timeouts struct {
	// ReadHeader bounds reading the request line and headers.
	ReadHeader time.Duration
	// Idle bounds a keep-alive connection between requests.
	Idle time.Duration
	// BodyGrace and BodyMinRate (bytes per second) bound reading a
	// request body: it must arrive within BodyGrace plus its size at
	// BodyMinRate. A 1 byte/s upload is cut after about BodyGrace; a 32 MB
	// CSV import at 1 Mbit/s is not. Responses have no write timeout:
	// event streams and exports are long on purpose.
	BodyGrace   time.Duration
	BodyMinRate int
}

func (t Timeouts) withDefaults() Timeouts {
	if t.ReadHeader <= 0 {
		t.ReadHeader = DefaultReadHeader
	}
	if t.Idle <= 0 {
		t.Idle = DefaultIdle
	}
	if t.BodyGrace <= 0 {
		t.BodyGrace = DefaultBodyGrace
	}
	if t.BodyMinRate <= 0 {
		t.BodyMinRate = DefaultBodyMinRate
	}
	return t
}

// New returns the API server. Call Watch with presence changes to feed the
// live stream.
func New(deps Deps, log zerolog.Logger) *Server {
	if deps.StreamsPerKey <= 0 {
		deps.StreamsPerKey = DefaultStreamsPerKey
	}
	if deps.StreamRecheck <= 0 {
		deps.StreamRecheck = DefaultStreamRecheck
	}
	if deps.SessionTTL <= 0 {
		deps.SessionTTL = DefaultSessionTTL
	}
	deps.Timeouts = deps.Timeouts.withDefaults()
	s := &Server{
		deps: deps, log: log.With().Str("component", "api").Logger(), mux: http.NewServeMux(), hub: newHub(),
		quit: make(chan struct{}), streams: map[[sha256.Size]byte]int{}, hashes: make(chan struct{}, hashSlots),
		signins: newSigninThrottle(), replay: newReplayLog(time.Now()), now: time.Now,
	}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	withBodyDeadline(s.deps.Timeouts, s.route(r)).ServeHTTP(w, r)
}

// withBodyDeadline bounds the time h's request bodies take to arrive (see
// Timeouts.BodyGrace), whether h reads them or net/http discards them.
func withBodyDeadline(t Timeouts, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		b := &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), start: time.Now(), grace: t.BodyGrace, rate: float64(t.BodyMinRate)}
		// Until h reads, the whole declared body may take its time at the
		// minimum rate: net/http discards an unread body through the
		// connection, not through b, before it answers.
		_ = b.rc.SetReadDeadline(b.deadline(max(r.ContentLength, 0)))
		r.Body = b
		h.ServeHTTP(w, r)
		if !b.done {
			// What is left is discarded after h returns: no longer than
			// the bytes read so far allow.
			_ = b.rc.SetReadDeadline(b.deadline(b.n))
		}
	})
}

// HTTPServer returns an http.Server for h (s, or a mux around it) with
// the header and idle timeouts of Deps.Timeouts. Its Shutdown drains s
// first, so open event streams end instead of holding Shutdown up.
func (s *Server) HTTPServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.deps.Timeouts.ReadHeader,
		IdleTimeout:       s.deps.Timeouts.Idle,
		MaxHeaderBytes:    64 << 10,
	}
	srv.RegisterOnShutdown(s.Drain)
	return srv
}

// Drain marks the server draining: /readyz answers 503 "draining", open
// event streams end (clients reconnect to another instance) and new ones
// are refused. Other requests are still served until the listener closes.
// Drain is idempotent.
func (s *Server) Drain() {
	s.drainOnce.Do(func() {
		s.draining.Store(true)
		close(s.quit)
	})
}

// deadlineBody bounds the time a request body takes to arrive: grace plus
// the bytes read so far at rate. It moves the connection's read deadline
// before every read and clears it at the end of the body only: net/http's
// background read after the body would otherwise time out and cancel the
// request's context while the handler still works.
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  float64 // bytes per second
	n     int64
	done  bool
}

// deadline is when n bytes must have arrived.
func (b *deadlineBody) deadline(n int64) time.Time {
	return b.start.Add(b.grace + time.Duration(float64(n)/b.rate*float64(time.Second)))
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if !b.done {
		_ = b.rc.SetReadDeadline(b.deadline(b.n)) // unsupported only by test recorders
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	// After any other error (a timeout) the deadline stays past, so that
	// net/http's discarding of the rest fails at once and it closes the
	// connection instead of waiting on the client.
	return n, err
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.clickToCallRoutes()
	if s.deps.Metrics != nil {
		s.mux.Handle("GET /metrics", s.deps.Metrics)
	}
	s.presenceRoutes()
	s.directoryRoutes()
	s.callerIDRoutes()
	s.keyRoutes()
	s.sessionRoutes()
	s.calendarRoutes()
	s.callRoutes()
	if s.deps.App != nil {
		s.mux.Handle("GET /", s.deps.App)
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var problems map[string]error
	if s.deps.Ready != nil {
		problems = s.deps.Ready(r.Context())
	}
	checks := map[string]string{}
	code := http.StatusOK
	for name, err := range problems {
		if err != nil {
			checks[name] = err.Error()
			code = http.StatusServiceUnavailable
		} else {
			checks[name] = "ok"
		}
	}
	status := "ready"
	if code != http.StatusOK {
		status = "degraded"
	}
	if s.draining.Load() {
		checks["http"] = "draining"
		code, status = http.StatusServiceUnavailable, "draining"
	}
	body := map[string]any{"status": status, "checks": checks}
	if s.deps.NATSURL != "" {
		body["nats_url"] = s.deps.NATSURL
	}
	writeJSON(w, code, body)
}

// bearerKey returns the API key a request carries, or "".
func bearerKey(r *http.Request) string {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		key = r.URL.Query().Get("key") // phones and PBX dialplans cannot set headers
	}
	return strings.TrimSpace(key)
}

// authenticate returns the caller's principal or answers 401 (403 for a
// missing CSRF token) and false. The caller is a bearer API key or, when
// there is none, the web app's session cookie (session.go).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (accounts.Principal, bool) {
	key, fromCookie := credential(r)
	if key == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "missing API key", "")
		return accounts.Principal{}, false
	}
	p, err := s.deps.Keys.Resolve(r.Context(), key)
	if err != nil && !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrForbidden) {
		s.log.Warn().Err(err).Msg("resolve api key")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "cannot check the API key now", "")
		return accounts.Principal{}, false
	}
	if err != nil && fromCookie {
		s.setSessionCookie(w, r, "", time.Time{})
		writeError(w, http.StatusUnauthorized, "unauthenticated", "the session has ended; sign in again", "")
		return accounts.Principal{}, false
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "invalid API key", "")
		return accounts.Principal{}, false
	}
	if fromCookie && !safeMethod(r.Method) && !validCSRF(r, key) {
		writeError(w, http.StatusForbidden, "csrf", "missing or wrong "+csrfHeader+" header (the csrf_token of GET /v1/session)", "")
		return accounts.Principal{}, false
	}
	if fromCookie {
		var ok bool
		if p, ok = s.sessionUser(r.Context(), p); !ok {
			s.setSessionCookie(w, r, "", time.Time{})
			writeError(w, http.StatusUnauthorized, "unauthenticated", "the session's user no longer exists; sign in again", "")
			return accounts.Principal{}, false
		}
	}
	return p, true
}

// apiError is the body of every error: {"error":{"code","message","field"}}.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	var e apiError
	e.Error.Code, e.Error.Message, e.Error.Field = code, msg, field
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
