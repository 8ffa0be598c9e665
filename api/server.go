// Package api is Switchboard's HTTP edge: the REST API for presence and the
// directory, the live change stream, health and metrics. Like the sip
// package it translates domain errors into its protocol's status codes; it
// never talks to Redis or NATS itself.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/directory"
)

// keyResolver turns a bearer API key into the principal it was minted for;
// an unknown or revoked key is directory.ErrNotFound.
type keyResolver interface {
	Resolve(ctx context.Context, key string) (directory.Principal, error)
}

// Server is the HTTP API.
type Server struct {
	deps Deps
	log  zerolog.Logger
	mux  *http.ServeMux
	hub  *hub
	// callers is the caller-ID lookup, set once the directory is indexed.
	callers atomic.Pointer[callerLookupBox]
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
}

// New returns the API server. Call Watch with presence changes to feed the
// live stream.
func New(deps Deps, log zerolog.Logger) *Server {
	s := &Server{deps: deps, log: log.With().Str("component", "api").Logger(), mux: http.NewServeMux(), hub: newHub()}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if s.deps.Metrics != nil {
		s.mux.Handle("GET /metrics", s.deps.Metrics)
	}
	s.presenceRoutes()
	s.directoryRoutes()
	s.callerIDRoutes()
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
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

// authenticate returns the caller's principal or answers 401 and false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (directory.Principal, bool) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		key = r.URL.Query().Get("key") // phones and PBX dialplans cannot set headers
	}
	if key == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "missing API key", "")
		return directory.Principal{}, false
	}
	p, err := s.deps.Keys.Resolve(r.Context(), strings.TrimSpace(key))
	if err != nil && !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrForbidden) {
		s.log.Warn().Err(err).Msg("resolve api key")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "cannot check the API key now", "")
		return directory.Principal{}, false
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "invalid API key", "")
		return directory.Principal{}, false
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
