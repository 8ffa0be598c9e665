// Package auth implements server-side SIP digest authentication
// (RFC 3261 §22, RFC 8760 for SHA-256, RFC 2617/RFC 7616 semantics) on top
// of github.com/icholy/digest, the digest library sipgo itself uses.
//
// Nonces are stateless: they carry their issue time and an HMAC over the
// time, a salt, the client's source IP and the realm, so a nonce is only
// valid for the address it was issued to and for NonceTTL. The HMAC key is
// one secret (Config.Secret, random per process when unset) or, behind a
// dispatcher, a SharedSecret every instance reads from a shared store. The
// only other state is a bounded table of the highest nonce-count (nc)
// accepted per nonce, used to refuse replays, and the failed-attempt
// buckets per account and per source that throttle password guessing.
//
// Passwords and HA1 hashes never appear in results, errors or logs.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/switchboardhq/switchboard/sip/limit"
)

// Defaults applied by New for zero Config fields.
const (
	// DefaultNonceTTL is how long a nonce stays fresh.
	DefaultNonceTTL = 5 * time.Minute
	// DefaultMaxNonces caps the nonce-count replay table.
	DefaultMaxNonces = 65536
	// DefaultAccountFailures is how many failed attempts one account may
	// see in a burst before further attempts are refused with 503.
	DefaultAccountFailures = 10
	// DefaultSourceFailures is the same for one source address, across
	// accounts (one office behind NAT shares it).
	DefaultSourceFailures = 30
	// DefaultFailureRefill is how often one failed attempt is forgiven.
	DefaultFailureRefill = 10 * time.Second
	// maxThrottled bounds each failure table; the least recently failing
	// account or source is forgotten first.
	maxThrottled = 100000
)

// DefaultAlgorithms are offered when Config.Algorithms is empty. RFC 8760
// §2.4: a server may send one challenge per algorithm, most preferred
// first; MD5 stays for the many phones that only know RFC 3261 MD5.
var DefaultAlgorithms = []string{SHA256, MD5}

// maxClockSkew tolerates nonces minted slightly in the future by another
// replica sharing Secret.
const maxClockSkew = 30 * time.Second

// Reasons a request was not authenticated, reported in Result.Reason for
// logs and metrics. They are for operators only: the client must only ever
// see the status code, so that, for instance, ErrUnknownUser does not
// reveal which extensions exist.
var (
	// ErrNoCredentials means no digest credentials for our realm were sent.
	ErrNoCredentials = errors.New("no digest credentials for realm")
	// ErrMalformed means the credentials could not be parsed or lack
	// required parameters.
	ErrMalformed = errors.New("malformed digest credentials")
	// ErrUnsupported means the credentials use an algorithm or qop that
	// was not offered.
	ErrUnsupported = errors.New("unsupported digest algorithm or qop")
	// ErrUserMismatch means the digest username differs from the AOR user.
	ErrUserMismatch = errors.New("digest username does not match aor user")
	// ErrUnknownUser means no HA1 is stored for the user.
	ErrUnknownUser = errors.New("unknown digest user")
	// ErrBadResponse means the digest response was wrong (wrong password).
	ErrBadResponse = errors.New("wrong digest response")
	// ErrNonceInvalid means the nonce was forged, corrupted or issued to
	// another source address or realm.
	ErrNonceInvalid = errors.New("invalid nonce")
	// ErrNonceStale means the nonce expired but the response was correct.
	ErrNonceStale = errors.New("stale nonce")
	// ErrReplay means the nonce-count did not increase (or a qop-less
	// nonce was reused): a replayed request.
	ErrReplay = errors.New("replayed nonce count")
	// ErrURIMismatch means the digest uri does not name the Request-URI,
	// so the response may have been computed for another request
	// (RFC 7616 §3.4.6). Unlike the others, the client may be told.
	ErrURIMismatch = errors.New("digest uri does not match the request-uri")
	// ErrThrottled means too many attempts failed lately for the account
	// or from the source; the request was refused unchecked.
	ErrThrottled = errors.New("too many failed attempts")
)

// SIP status codes reported in Result.Code.
const (
	codeBadRequest          = 400 // RFC 3261 §21.4.1
	codeUnavailable         = 503 // RFC 3261 §21.5.4
	codeUnauthorized        = 401 // RFC 3261 §21.4.2
	codeForbidden           = 403 // RFC 3261 §21.4.4
	codeProxyAuthRequired   = 407 // RFC 3261 §21.4.8
	headerAuthorization     = "Authorization"
	headerProxyAuthz        = "Proxy-Authorization"
	headerWWWAuthenticate   = "WWW-Authenticate"
	headerProxyAuthenticate = "Proxy-Authenticate"
)

// Config configures an Authenticator. Zero fields get defaults in New.
type Config struct {
	// Realm is the digest realm used when Check is given none. When
	// both are empty, the host of the Request-URI is used, as RFC 3261
	// §22.1 suggests the realm be the domain.
	Realm string
	// NonceTTL is how long a nonce is fresh; afterwards a correct
	// response is answered with stale=true. Default DefaultNonceTTL.
	NonceTTL time.Duration
	// Secret keys the nonce HMAC. Empty means random per process, so
	// nonces do not survive a restart; set it (from a secret store, never
	// logged) to share nonces between replicas. Ignored with Shared.
	Secret []byte
	// Shared, when set, keys the nonce HMAC with secrets shared through a
	// store and rotated (see SharedSecret); its period must be at least
	// NonceTTL.
	Shared *SharedSecret
	// AccountFailures and SourceFailures are how many failed attempts
	// (wrong password, unknown user, username not the AOR's) an account
	// (user@realm) and a source address may see in a burst; then every
	// attempt with credentials is answered 503 unchecked until one is
	// forgiven, one per FailureRefill. Defaults DefaultAccountFailures,
	// DefaultSourceFailures, DefaultFailureRefill.
	AccountFailures, SourceFailures int
	FailureRefill                   time.Duration
	// Algorithms are offered in this order, one challenge each. Default
	// DefaultAlgorithms. Supported: MD5, SHA-256, SHA-512-256.
	Algorithms []string
	// TrustedCIDRs are sources (the PBX) that skip authentication.
	TrustedCIDRs []netip.Prefix
	// RequireQop refuses credentials without qop=auth. The default
	// (false) accepts RFC 2069-style responses from old phones; their
	// nonces are then single-use (no nc to track), but a captured request
	// is not bound to a cnonce, which is weaker than qop=auth.
	RequireQop bool
	// Proxy selects the proxy flow: Proxy-Authorization is checked and
	// challenges are Proxy-Authenticate headers for a 407
	// (RFC 3261 §22.3) instead of WWW-Authenticate for a 401.
	Proxy bool
	// MaxNonces caps the nonce-count replay table. Default
	// DefaultMaxNonces.
	MaxNonces int
}

// Validate reports every invalid field, joined.
func (c Config) Validate() error {
	var errs []error
	if c.NonceTTL < 0 {
		errs = append(errs, fmt.Errorf("nonce ttl %v is negative", c.NonceTTL))
	}
	if c.MaxNonces < 0 {
		errs = append(errs, fmt.Errorf("max nonces %d is negative", c.MaxNonces))
	}
	if c.AccountFailures < 0 || c.SourceFailures < 0 || c.FailureRefill < 0 {
		errs = append(errs, errors.New("failure limits must not be negative"))
	}
	if c.Shared == nil && len(c.Secret) > 0 && len(c.Secret) < minSecretLen {
		errs = append(errs, ErrShortSecret)
	}
	ttl := c.NonceTTL
	if ttl == 0 {
		ttl = DefaultNonceTTL
	}
	if c.Shared != nil && c.Shared.period < ttl {
		errs = append(errs, fmt.Errorf("shared secret rotation %v is shorter than the nonce lifetime", c.Shared.period))
	}
	for _, alg := range c.Algorithms {
		if _, ok := canonicalAlgorithm(alg); !ok {
			errs = append(errs, fmt.Errorf("digest algorithm %q is not supported", alg))
		}
	}
	for _, p := range c.TrustedCIDRs {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("trusted cidr %v is invalid", p))
		}
	}
	return errors.Join(errs...)
}

// Result is the outcome of Check.
type Result struct {
	// OK is true when the request is authenticated (or Trusted).
	OK bool
	// Trusted is true when the source is in Config.TrustedCIDRs and no
	// credentials were checked.
	Trusted bool
	// Challenges are the WWW-Authenticate (or Proxy-Authenticate) headers
	// to add to the Code response; empty when OK or Code is 403.
	Challenges []sipmsg.Header
	// Stale is true when the challenges carry stale=true: the client
	// knows the password and should retry with the new nonce without
	// prompting (RFC 7616 §3.3).
	Stale bool
	// Code is the status to answer when !OK: 401, 407, 403, 400 (digest
	// uri not the Request-URI) or 503 (throttled, see RetryAfter).
	Code int
	// Reason is why the request was not authenticated, one of the Err*
	// sentinels. For logs and metrics only; never send it to the client,
	// except ErrURIMismatch, which tells nothing about users.
	Reason error
	// Account is the user@realm the request tried to authenticate as,
	// once credentials for the realm were present; for logs.
	Account string
	// RetryAfter is how long a throttled client should wait (Code 503).
	RetryAfter time.Duration
	// Throttling is set on the failure that used up the last attempt
	// allowed to the account or the source: the next ones get 503. It
	// happens once per FailureRefill at most while an attack goes on, so
	// it is what to log at warn.
	Throttling bool
}

// Authenticator checks SIP digest credentials. It is safe for concurrent
// use by the handlers sipgo runs one goroutine per request.
type Authenticator struct {
	cfg      Config
	algs     []string
	creds    Credentials
	nonces   *nonceFactory
	nc       *ncTable
	accounts *limit.Buckets[string]     // failed attempts per user@realm
	sources  *limit.Buckets[netip.Addr] // failed attempts per source
	failures atomic.Uint64
	now      func() time.Time // replaced in tests
}

// New returns an Authenticator for cfg, applying defaults to zero fields.
// Unsupported algorithms are ignored; call Config.Validate to reject them.
func New(cfg Config, creds Credentials) *Authenticator {
	if cfg.NonceTTL <= 0 {
		cfg.NonceTTL = DefaultNonceTTL
	}
	if cfg.MaxNonces <= 0 {
		cfg.MaxNonces = DefaultMaxNonces
	}
	if cfg.AccountFailures <= 0 {
		cfg.AccountFailures = DefaultAccountFailures
	}
	if cfg.SourceFailures <= 0 {
		cfg.SourceFailures = DefaultSourceFailures
	}
	if cfg.FailureRefill <= 0 {
		cfg.FailureRefill = DefaultFailureRefill
	}
	var keys keyring
	switch {
	case cfg.Shared != nil:
		keys = cfg.Shared
	case len(cfg.Secret) > 0:
		keys = staticKey{newMACKey(cfg.Secret)}
	default:
		keys = staticKey{randomKey()}
	}
	src := cfg.Algorithms
	if len(src) == 0 {
		src = DefaultAlgorithms
	}
	var algs []string
	for _, alg := range src {
		if canon, ok := canonicalAlgorithm(alg); ok && !slices.Contains(algs, canon) {
			algs = append(algs, canon)
		}
	}
	if len(algs) == 0 {
		algs = append(algs, DefaultAlgorithms...)
	}
	a := &Authenticator{
		cfg:      cfg,
		algs:     algs,
		creds:    creds,
		nonces:   newNonceFactory(keys),
		nc:       newNCTable(cfg.MaxNonces),
		accounts: limit.NewBuckets[string](1/cfg.FailureRefill.Seconds(), cfg.AccountFailures, maxThrottled),
		sources:  limit.NewBuckets[netip.Addr](1/cfg.FailureRefill.Seconds(), cfg.SourceFailures, maxThrottled),
		now:      time.Now,
	}
	a.cfg.Secret = nil // only the nonce factory keeps the key
	return a
}

// Failures returns how many requests carried a wrong digest response since
// New. RFC 3261 §22.1 lets a server re-challenge after a failure rather than
// refuse; this counter is what lets operators notice password guessing.
func (a *Authenticator) Failures() uint64 { return a.failures.Load() }

// Check authenticates req, received from source, as user of realm: the
// AOR the request acts for (To for REGISTER, From for SUBSCRIBE and
// PUBLISH), whose domain is the realm. An empty realm means Config.Realm,
// then the Request-URI host. Only credentials for that realm and that
// user can succeed, so an OK result means the client proved it is
// user@realm; that the request does not act for anyone else is the
// caller's part (RFC 3261 §10.3 step 4).
//
// The rules:
//   - source in TrustedCIDRs: OK and Trusted, no challenge.
//   - no credentials for the realm: 401/407 with one challenge per
//     algorithm, qop="auth".
//   - too many failures lately for user@realm or for source: 503 with
//     RetryAfter, the credentials unchecked, so guessing gains nothing.
//   - username differs from user: 403, no challenge (RFC 3261 §22.4 lets
//     the server refuse; retrying cannot help). Counts as a failure.
//   - digest uri not the Request-URI: 400 (RFC 7616 §3.4.6).
//   - unknown user, wrong response, forged nonce or nonce issued to another
//     source: re-challenge, the same answer for all so that extension
//     existence is not revealed. Like Kamailio, a wrong password gets a new
//     401 rather than 403; Failures counts it. Unknown users and wrong
//     responses count as failures.
//   - expired nonce with a correct response, or a replayed nc: re-challenge
//     with stale=true.
//
// err is non-nil only when the Credentials lookup failed; the caller should
// then answer 500 and Result is zero.
func (a *Authenticator) Check(ctx context.Context, req *sipmsg.Request, source netip.Addr, user, realm string) (Result, error) {
	source = source.Unmap()
	for _, p := range a.cfg.TrustedCIDRs {
		if p.Contains(source) {
			return Result{OK: true, Trusted: true}, nil
		}
	}
	if realm == "" {
		realm = a.cfg.Realm
	}
	if realm == "" {
		realm = req.Recipient.Host
	}
	now := a.now()

	creds, reason := a.credentials(req, realm)
	if reason != nil {
		return a.challenge(now, source, realm, false, reason), nil
	}
	account := user + "@" + realm
	if wait := max(a.accounts.Wait(account, now), a.sources.Wait(source, now)); wait > 0 {
		return Result{Code: codeUnavailable, Reason: ErrThrottled, Account: account, RetryAfter: wait}, nil
	}
	if creds.Username != user {
		res := Result{Code: codeForbidden, Reason: ErrUserMismatch, Account: account}
		return a.failed(res, account, source, now), nil
	}
	if !sameURI(creds.URI, &req.Recipient) {
		return Result{Code: codeBadRequest, Reason: ErrURIMismatch, Account: account}, nil
	}
	res, err := a.verify(ctx, req, creds, source, user, realm, now)
	res.Account = account
	if errors.Is(res.Reason, ErrBadResponse) || errors.Is(res.Reason, ErrUnknownUser) {
		res = a.failed(res, account, source, now)
	}
	return res, err
}

// verify checks creds, already known to be user's for realm.
func (a *Authenticator) verify(ctx context.Context, req *sipmsg.Request, creds *digest.Credentials, source netip.Addr, user, realm string, now time.Time) (Result, error) {
	alg, ok := canonicalAlgorithm(creds.Algorithm)
	if !ok || !slices.Contains(a.algs, alg) || creds.Userhash {
		return a.challenge(now, source, realm, false, ErrUnsupported), nil
	}
	var nc uint32
	switch {
	case creds.QOP == "auth":
		// RFC 7616 §3.4: with qop, cnonce and nc are mandatory.
		if creds.Cnonce == "" || creds.Nc <= 0 {
			return a.challenge(now, source, realm, false, ErrMalformed), nil
		}
		nc = uint32(creds.Nc)
	case creds.QOP == "" && !a.cfg.RequireQop:
		// RFC 2069 compatibility: no nc, so the nonce is single-use.
		nc = 1
	default:
		return a.challenge(now, source, realm, false, ErrUnsupported), nil
	}

	issued, ok := a.nonces.verify(creds.Nonce, source, realm)
	if !ok || issued.After(now.Add(maxClockSkew)) {
		return a.challenge(now, source, realm, false, ErrNonceInvalid), nil
	}

	ha1, known, err := a.creds.HA1(ctx, user, realm, alg)
	if err != nil {
		return Result{}, fmt.Errorf("look up credentials for %q: %w", user, err)
	}
	if !known {
		// Spend the same hashing work as a real check so the response
		// time does not tell unknown users from wrong passwords.
		_, _ = a.response(req, creds, alg, dummyHA1)
		return a.challenge(now, source, realm, false, ErrUnknownUser), nil
	}
	want, err := a.response(req, creds, alg, ha1)
	if err != nil {
		return a.challenge(now, source, realm, false, ErrUnsupported), nil
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(creds.Response))) != 1 {
		a.failures.Add(1)
		return a.challenge(now, source, realm, false, ErrBadResponse), nil
	}

	expires := issued.Add(a.cfg.NonceTTL)
	if !now.Before(expires) {
		// RFC 7616 §3.3: stale=true tells the client its credentials
		// were right and only the nonce is old, so long-lived
		// subscriptions refresh without failing.
		return a.challenge(now, source, realm, true, ErrNonceStale), nil
	}
	if !a.nc.advance(creds.Nonce, nc, issued, expires, now) {
		// The digest is right but the count is not new: a replay, or a
		// client reusing a single-use nonce. stale=true lets an honest
		// client retry at once; an attacker gains nothing from it.
		return a.challenge(now, source, realm, true, ErrReplay), nil
	}
	return Result{OK: true}, nil
}

// failed spends one failed attempt of account and of source and marks res
// Throttling when that used up the last one of either.
func (a *Authenticator) failed(res Result, account string, source netip.Addr, now time.Time) Result {
	a.accounts.Take(account, now)
	a.sources.Take(source, now)
	res.Throttling = a.accounts.Wait(account, now) > 0 || a.sources.Wait(source, now) > 0
	return res
}

// sameURI reports whether the digest uri names the Request-URI. RFC 7616
// §3.4.6 asks that they be "the same resource"; some phones print the URI
// they computed the response over with other parameters or case, so they
// are compared as RFC 3261 §19.1.4 compares URIs, minus the parameters:
// scheme and host ignoring case, user and port exactly.
func sameURI(digestURI string, ruri *sipmsg.Uri) bool {
	if digestURI == ruri.String() {
		return true
	}
	var u sipmsg.Uri
	if err := sipmsg.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, ruri.Scheme) && u.User == ruri.User &&
		strings.EqualFold(u.Host, ruri.Host) && u.Port == ruri.Port
}

// dummyHA1 stands in for an unknown user's HA1.
const dummyHA1 = "00000000000000000000000000000000"

// credentials returns the first parsable digest credentials for realm.
// RFC 3261 §22.4: a request may carry credentials for several realms and
// the server must pick the ones for its own.
func (a *Authenticator) credentials(req *sipmsg.Request, realm string) (*digest.Credentials, error) {
	name := headerAuthorization
	if a.cfg.Proxy {
		name = headerProxyAuthz
	}
	reason := ErrNoCredentials
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), name) || !digest.IsDigest(h.Value()) {
			continue
		}
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			reason = ErrMalformed
			continue
		}
		if c.Realm == realm {
			return c, nil
		}
	}
	return nil, reason
}

// response computes the expected digest response exactly as a client
// does (RFC 3261 §22.4, RFC 2617 §3.2.2.1), from the stored HA1.
func (a *Authenticator) response(req *sipmsg.Request, c *digest.Credentials, alg, ha1 string) (string, error) {
	chal := digest.Challenge{Realm: c.Realm, Nonce: c.Nonce, Algorithm: alg}
	if c.QOP != "" {
		chal.QOP = []string{c.QOP}
	}
	d, err := digest.Digest(&chal, digest.Options{
		Method: req.Method.String(),
		URI:    c.URI,
		A1:     ha1,
		Cnonce: c.Cnonce,
		Count:  c.Nc,
	})
	if err != nil {
		return "", fmt.Errorf("compute digest response: %w", err)
	}
	return d.Response, nil
}

// challenge builds a non-OK Result with a fresh nonce and one challenge
// per configured algorithm, most preferred first (RFC 8760 §2.4).
func (a *Authenticator) challenge(now time.Time, source netip.Addr, realm string, stale bool, reason error) Result {
	code, name := codeUnauthorized, headerWWWAuthenticate
	if a.cfg.Proxy {
		code, name = codeProxyAuthRequired, headerProxyAuthenticate
	}
	nonce := a.nonces.issue(now, source, realm)
	hdrs := make([]sipmsg.Header, 0, len(a.algs))
	for _, alg := range a.algs {
		c := digest.Challenge{
			Realm:     realm,
			Nonce:     nonce,
			Algorithm: alg,
			QOP:       []string{"auth"},
			Stale:     stale,
		}
		hdrs = append(hdrs, sipmsg.NewHeader(name, c.String()))
	}
	return Result{Challenges: hdrs, Stale: stale, Code: code, Reason: reason}
}
