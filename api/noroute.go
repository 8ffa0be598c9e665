package api

import (
	"net/http"
	"strings"
)

// Requests no API route takes still answer the JSON error body: an
// unknown path is 404, a known path with another method 405 with Allow.
// The web app (Deps.App at "GET /") gets every other GET, but never a
// /v1 path: a typo in an API call must not come back as the app's HTML.

// probeMethods are the methods a 405's Allow header may list.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// apiPath reports whether path belongs to the API, not to the web app.
func apiPath(path string) bool { return path == "/v1" || strings.HasPrefix(path, "/v1/") }

// route returns the handler for r: the mux's, or an answer in JSON when
// no route takes r.
func (s *Server) route(r *http.Request) http.Handler {
	_, pattern := s.mux.Handler(r)
	switch {
	case (pattern == "" || pattern == "GET /") && apiPath(r.URL.Path):
		return http.HandlerFunc(s.noAPIRoute)
	case pattern == "":
		// net/http answers (404, 405 with Allow, or a redirect to the
		// clean path); its plain-text errors become JSON.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mux.ServeHTTP(&jsonErrorWriter{ResponseWriter: w}, r)
		})
	}
	return s.mux
}

// noAPIRoute answers an API path the web app would otherwise take: 405
// when the path has routes for other methods, else 404.
func (s *Server) noAPIRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" && p != "GET /" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+strings.Join(allow, ", "), "")
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no such API path: "+r.URL.Path, "")
}

// jsonErrorWriter turns net/http's plain-text 404 and 405 answers into
// the API's JSON error body, keeping their headers (Allow).
type jsonErrorWriter struct {
	http.ResponseWriter
	replaced bool
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		w.replaced = true
		writeError(w.ResponseWriter, code, "not_found", "no such path", "")
	case http.StatusMethodNotAllowed:
		w.replaced = true
		msg := "method not allowed"
		if allow := w.Header().Get("Allow"); allow != "" {
			msg += "; use " + allow
		}
		writeError(w.ResponseWriter, code, "method_not_allowed", msg, "")
	default:
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil // net/http's text, replaced by the JSON body
	}
	return w.ResponseWriter.Write(b)
}
