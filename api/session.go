package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
)

// Web app sessions. Signing in mints a session: a short-lived key of the
// key store (accounts.Keys.MintSession) acting as the user, so resolving
// it, its cache, and revocation on every instance work as for API keys.
// The key travels in the HttpOnly cookie sb_session instead of a bearer
// header. A request authenticated by the cookie with an unsafe method
// must carry X-CSRF-Token, an HMAC of the session key the server derives
// again on any instance: a cross-site page can make the browser send the
// cookie, but cannot read the token.
const (
	sessionCookie = "sb_session"
	csrfHeader    = "X-CSRF-Token"
	// DefaultSessionTTL is a session's absolute lifetime: using it does
	// not extend it, so a stolen cookie is good for a working day at most.
	DefaultSessionTTL = 12 * time.Hour
)

// csrfLabel keys the CSRF token derivation; changing it invalidates every
// token.
var csrfLabel = []byte("switchboard web csrf v1")

// csrfToken derives the CSRF token of session key.
func csrfToken(key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(csrfLabel)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sessionKeys is what signing in and out needs of accounts.Keys.
type sessionKeys interface {
	MintSession(ctx context.Context, p accounts.Principal, ttl time.Duration) (string, accounts.KeyInfo, error)
	Get(ctx context.Context, id string) (accounts.KeyInfo, error)
	Revoke(ctx context.Context, id string) error
}

var _ sessionKeys = (*accounts.Keys)(nil)

// credential returns the key a request is authenticated by: a bearer key
// (or ?key=), else the session cookie (fromCookie).
func credential(r *http.Request) (key string, fromCookie bool) {
	if key := bearerKey(r); key != "" {
		return key, false
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// safeMethod reports whether m changes nothing (RFC 9110 §9.2.1): no CSRF
// token is needed.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// validCSRF reports whether r carries the CSRF token of session key.
func validCSRF(r *http.Request, key string) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(key))) == 1
}

// sessionRoutes registers sign-in and sign-out when the key store can
// hold sessions and there is a directory to check passwords in.
func (s *Server) sessionRoutes() {
	sk, ok := s.deps.Keys.(sessionKeys)
	if !ok || s.deps.Directory == nil {
		return
	}
	h := sessionHandlers{s: s, keys: sk}
	s.mux.HandleFunc("POST /v1/session", h.signIn)
	s.mux.HandleFunc("GET /v1/session", h.get)
	s.mux.HandleFunc("DELETE /v1/session", h.signOut)
}

type sessionHandlers struct {
	s    *Server
	keys sessionKeys
}

// signInRequest is the body of POST /v1/session.
type signInRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// sessionJSON describes the signed-in user and their session.
type sessionJSON struct {
	User        string           `json:"user"`
	Extension   string           `json:"extension"`
	Domain      string           `json:"domain"`
	DisplayName string           `json:"display_name"`
	Admin       bool             `json:"admin"`
	Scopes      []accounts.Scope `json:"scopes"`
	CSRFToken   string           `json:"csrf_token"`
	ExpiresAt   time.Time        `json:"expires_at"`
}

// sessionPrincipal is what a session of u acts as: u's own data and the
// company directory, and for a user who administers the domain
// (User.Admin) its users, shared groups and company contacts too.
func sessionPrincipal(u accounts.User) accounts.Principal {
	scopes := []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}
	if u.Admin {
		scopes = []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyWrite, accounts.ScopeUsersAdmin}
	}
	return accounts.Principal{User: u.AOR(), Scopes: scopes}
}

func toSessionJSON(u accounts.User, p accounts.Principal, expires time.Time, key string) sessionJSON {
	scopes := slices.Clone(p.Scopes)
	slices.Sort(scopes)
	return sessionJSON{
		User: u.AOR(), Extension: u.Extension, Domain: u.Domain,
		DisplayName: strings.TrimSpace(u.FirstName + " " + u.LastName),
		Admin:       p.Has(accounts.ScopeUsersAdmin), Scopes: scopes,
		CSRFToken: csrfToken(key), ExpiresAt: expires,
	}
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, key string, expires time.Time) {
	c := &http.Cookie{
		Name: sessionCookie, Value: key, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	}
	if key == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = max(int(time.Until(expires).Seconds()), 1)
	}
	http.SetCookie(w, c)
}

func (h sessionHandlers) signIn(w http.ResponseWriter, r *http.Request) {
	// A JSON content type cannot be sent cross-site without a CORS
	// preflight, which this server never grants: no login CSRF by form.
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); !strings.EqualFold(strings.TrimSpace(ct), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the credentials as application/json", "")
		return
	}
	var req signInRequest
	if !h.s.decodeJSON(w, r, &req) {
		return
	}
	user := strings.ToLower(strings.TrimSpace(req.User))
	if len(user) > 300 || len(req.Password) > accounts.MaxWebPassword {
		writeError(w, http.StatusUnauthorized, "unauthorized", "wrong user or password", "")
		return
	}
	ip := clientIP(r)
	attempt, retry := h.s.signins.reserve(user, ip, h.s.now())
	if retry > 0 {
		h.s.log.Warn().Str("user", user).Str("ip", ip).Msg("sign-in throttled")
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "throttled", "too many sign-in attempts; wait and retry", "")
		return
	}
	if !h.s.acquireHashSlot(w, r) {
		attempt.cancel(h.s.now())
		return
	}
	u, err := h.s.deps.Directory.Authenticate(r.Context(), user, req.Password)
	h.s.releaseHashSlot()
	if err != nil {
		if !errors.Is(err, directory.ErrNotFound) {
			h.s.directoryError(w, r, err)
			return
		}
		// Never the password; the attempt counts against the account
		// and the address.
		h.s.log.Warn().Str("user", user).Str("ip", ip).Msg("sign-in failed")
		writeError(w, http.StatusUnauthorized, "unauthorized", "wrong user or password", "")
		return
	}
	attempt.cancel(h.s.now()) // a success does not count
	key, info, err := h.keys.MintSession(r.Context(), sessionPrincipal(u), h.s.deps.SessionTTL)
	if err != nil {
		h.s.keyError(w, r, err)
		return
	}
	h.s.log.Info().Str("user", u.AOR()).Str("ip", ip).Str("session", info.ID).Msg("signed in")
	h.s.setSessionCookie(w, r, key, info.Expires)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, toSessionJSON(u, info.Principal(), info.Expires, key))
}

func (h sessionHandlers) get(w http.ResponseWriter, r *http.Request) {
	key, fromCookie := credential(r)
	if !fromCookie {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "not signed in", "")
		return
	}
	p, ok := h.s.authenticate(w, r)
	if !ok {
		return
	}
	info, err := h.keys.Get(r.Context(), accounts.KeyID(key))
	if err != nil {
		h.s.keyError(w, r, err)
		return
	}
	u, err := h.s.deps.Directory.GetUser(r.Context(), lookupUsers, p.User)
	if err != nil {
		h.s.directoryError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, toSessionJSON(u, p, info.Expires, key))
}

func (h sessionHandlers) signOut(w http.ResponseWriter, r *http.Request) {
	key, fromCookie := credential(r)
	if !fromCookie {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "not signed in", "")
		return
	}
	if _, err := h.s.deps.Keys.Resolve(r.Context(), key); errors.Is(err, accounts.ErrNotFound) {
		// Already over (expired or revoked): just forget the cookie.
		h.s.setSessionCookie(w, r, "", time.Time{})
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, ok := h.s.authenticate(w, r); !ok { // checks the CSRF token
		return
	}
	if err := h.keys.Revoke(r.Context(), accounts.KeyID(key)); err != nil && !errors.Is(err, accounts.ErrNotFound) {
		h.s.keyError(w, r, err)
		return
	}
	h.s.log.Info().Str("session", accounts.KeyID(key)).Msg("signed out")
	h.s.setSessionCookie(w, r, "", time.Time{})
	w.WriteHeader(http.StatusNoContent)
}

// clientIP is the address a request came from: the connection's peer
// (a proxy in front of Switchboard counts as one source).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Sign-in throttling: token buckets per account and per source address,
// in LRU caches so a flood of names or addresses cannot grow memory
// without bound (an evicted bucket starts full again). Only failures use
// tokens: a success gives its token back. The buckets are per instance.
const (
	signinAccountEvery = 20 * time.Second // one more try per account every 20 s...
	signinAccountBurst = 5                // ...after 5 at once
	signinIPEvery      = 2 * time.Second  // one more per address every 2 s...
	signinIPBurst      = 20               // ...after 20 at once (an office behind NAT)
	signinBuckets      = 10000            // buckets kept per kind
)

type signinThrottle struct {
	accounts *lru.Cache[string, *rate.Limiter]
	ips      *lru.Cache[string, *rate.Limiter]
}

func newSigninThrottle() *signinThrottle {
	a, _ := lru.New[string, *rate.Limiter](signinBuckets)
	i, _ := lru.New[string, *rate.Limiter](signinBuckets)
	return &signinThrottle{accounts: a, ips: i}
}

func bucket(c *lru.Cache[string, *rate.Limiter], key string, every time.Duration, burst int) *rate.Limiter {
	l := rate.NewLimiter(rate.Every(every), burst)
	if prev, ok, _ := c.PeekOrAdd(key, l); ok {
		return prev
	}
	return l
}

// signinAttempt holds the tokens one attempt took.
type signinAttempt struct{ res []*rate.Reservation }

// cancel gives the attempt's tokens back.
func (a signinAttempt) cancel(now time.Time) {
	for _, r := range a.res {
		r.CancelAt(now)
	}
}

// reserve takes a token for an attempt on user from ip, or returns how
// long to wait when either bucket is empty.
func (t *signinThrottle) reserve(user, ip string, now time.Time) (signinAttempt, time.Duration) {
	a := signinAttempt{res: []*rate.Reservation{
		bucket(t.accounts, user, signinAccountEvery, signinAccountBurst).ReserveN(now, 1),
		bucket(t.ips, ip, signinIPEvery, signinIPBurst).ReserveN(now, 1),
	}}
	var wait time.Duration
	for _, r := range a.res {
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > 0 {
		a.cancel(now)
	}
	return a, wait
}

// sessionUser checks a cookie's principal against its user as the
// directory has them now: a deleted user's session ends, and one whose
// admin flag was taken away loses the scopes that came with it (scopes
// only ever shrink here: the cookie may hold another kind of key).
func (s *Server) sessionUser(ctx context.Context, p accounts.Principal) (accounts.Principal, bool) {
	if s.deps.Directory == nil || p.User == "" {
		return p, true
	}
	u, err := s.deps.Directory.GetUser(ctx, lookupUsers, p.User)
	if err != nil {
		return p, false
	}
	now := sessionPrincipal(u)
	var scopes []accounts.Scope
	for _, sc := range p.Scopes {
		switch {
		case now.Has(sc):
			scopes = append(scopes, sc)
		case sc == accounts.ScopeCompanyWrite && now.Has(accounts.ScopeCompanyRead):
			scopes = append(scopes, accounts.ScopeCompanyRead)
		}
	}
	p.Scopes = scopes
	return p, true
}

// requestKey is the key r is authenticated by, bearer or cookie.
func requestKey(r *http.Request) string {
	key, _ := credential(r)
	return key
}
