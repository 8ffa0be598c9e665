package sip

// Who may do what: the trust rules of the SIP edge.
//
// Authentication (RFC 3261 §22, digest):
//   - Deps.Auth nil means no authentication at all. It is the embedded
//     default for a first run on a closed LAN and nothing more; production
//     sets it.
//   - With Deps.Auth set, REGISTER, SUBSCRIBE and PUBLISH are challenged
//     (401/407 with the challenge headers). The identity checked is the
//     AOR the request acts for: To for REGISTER (RFC 3261 §10.3 step 3),
//     From for SUBSCRIBE and PUBLISH. The digest realm is that AOR's
//     domain and the digest username must be its user, so a success means
//     the client is that very user of that very tenant: 201@a.example's
//     password never acts for 201@b.example, nor for 202@a.example (403).
//     A REGISTER whose To is not in the Request-URI's domain is refused
//     with 403 before any challenge (§10.3 steps 4-5: nobody may bind
//     another domain's AOR through this one). An AOR outside the served
//     domains is 403: no realm here holds its credentials.
//   - The digest uri must name the Request-URI, else 400 (RFC 7616
//     §3.4.6): a response computed for another request is not reused.
//   - Failed attempts are counted per account and per source; past the
//     limit, attempts with credentials get 503 + Retry-After unchecked,
//     and the start of each throttle is logged at warn with account and
//     source. A credentials store failure is answered 500.
//   - Config.TrustedCIDRs lists the PBX's addresses. A request from one
//     skips the challenge for REGISTER and PUBLISH only: the PBX forwards
//     registrations and publishes dialog state for its extensions.
//     Nothing else skips it: a SUBSCRIBE from a trusted address is still a
//     watcher and is authenticated. So leave auth.Config.TrustedCIDRs empty
//     and put the PBX here: the Authenticator would otherwise wave through
//     SUBSCRIBE too.
//
// Who may PUBLISH whose state:
//   - a trusted source, for a PUBLISH it originated itself (every Via
//     names a trusted address: e.g. Kamailio's pua_dialoginfo or
//     Asterisk's outbound-publish): any extension's, any event (the PBX
//     is the one who knows the dialog state of every line);
//   - a trusted source relaying a phone's PUBLISH (a Via of another
//     address):
//     only Event presence, and only with a P-Asserted-Identity (RFC 3325)
//     naming the entity published, which the PBX asserts after its own
//     digest check of the phone; anything else is 403. Without this, any
//     phone could light any lamp by sending through the PBX;
//   - an authenticated softphone: its own only, From user and domain equal
//     to the Request-URI's (RFC 3903 §6 step 3 leaves the policy to us);
//     anything else is 403;
//   - with Deps.Auth nil but TrustedCIDRs set: trusted sources only, 403
//     for everyone else;
//   - with neither: anyone (first-run default).
//
// Who may SUBSCRIBE to whom (RFC 6665 §4.2.1.3, RFC 3856 §5, with an
// RFC 3857-style policy kept simple):
//   - the watcher's domain (From host, mapped by domainOf) must be the
//     target's, else 403;
//   - then Deps.Policy, when set, decides: Allow, Deny (403) or Pending
//     (202, then NOTIFYs with Subscription-State: pending and no state
//     until the policy allows; a later Deny ends the subscription with
//     terminated;reason=rejected).
//
// Limits (RFC 3261 §21.5.4, §20.33): every request first passes a
// per-source token bucket and a global in-flight gate; over either it is
// answered 503 with Retry-After at once, never queued. Trusted sources are
// exempt.

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/auth"
	"github.com/switchboardhq/switchboard/sip/limit"
)

// Authenticator checks digest credentials of user in realm (the AOR's
// domain); *auth.Authenticator is one.
type Authenticator interface {
	Check(ctx context.Context, req *sipmsg.Request, source netip.Addr, user, realm string) (auth.Result, error)
}

var _ Authenticator = (*auth.Authenticator)(nil)

// Decision is a presence authorization policy's answer.
type Decision int

const (
	// Deny refuses the subscription (403) or ends it (reason=rejected).
	Deny Decision = iota
	// Allow lets the watcher see the target's state.
	Allow
	// Pending accepts the subscription without showing any state until
	// the policy decides (RFC 6665 §4.2.1.2, a subscription "pending").
	Pending
)

// String returns the decision's name, for logs.
func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Pending:
		return "pending"
	}
	return "deny"
}

// Policy decides whether watcher may see target's state. It is asked after
// the same-domain rule passed, at each SUBSCRIBE and by Reauthorize.
type Policy interface {
	Allowed(ctx context.Context, watcher, target presence.AOR) (Decision, error)
}

var _ Policy = (*AllowList)(nil)

// AllowList is a simple Policy: per target extension, the watchers allowed
// to see it. A target without an entry is open to its whole domain (the
// domain rule alone); a target with one is visible only to the watchers
// listed. It is safe for concurrent use.
type AllowList struct {
	mu      sync.RWMutex // guards targets and groups
	targets map[presence.AOR][]string
	groups  map[string][]presence.AOR
}

// NewAllowList returns an empty AllowList: every target open to its domain.
func NewAllowList() *AllowList {
	return &AllowList{targets: make(map[presence.AOR][]string), groups: make(map[string][]presence.AOR)}
}

// Allow restricts target to the watchers given, replacing earlier entries.
// A watcher is "user@domain", "group:<name>" (see SetGroup) or
// "*@domain" for a whole domain. No watchers makes target visible to
// nobody; use Remove to reopen it.
func (l *AllowList) Allow(target presence.AOR, watchers ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.targets[target] = append([]string{}, watchers...)
}

// Remove drops target's entry: it is open to its domain again.
func (l *AllowList) Remove(target presence.AOR) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.targets, target)
}

// SetGroup defines the members of a group named in Allow as "group:name".
func (l *AllowList) SetGroup(name string, members ...presence.AOR) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.groups[name] = append([]presence.AOR{}, members...)
}

// Allowed implements Policy. It never answers Pending.
func (l *AllowList) Allowed(_ context.Context, watcher, target presence.AOR) (Decision, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	entries, ok := l.targets[target]
	if !ok {
		return Allow, nil
	}
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e, "group:"):
			if slices.Contains(l.groups[strings.TrimPrefix(e, "group:")], watcher) {
				return Allow, nil
			}
		case strings.HasPrefix(e, "*@"):
			if strings.EqualFold(e[2:], watcher.Domain) {
				return Allow, nil
			}
		default:
			if a, err := presence.ParseAOR(e); err == nil && a == watcher {
				return Allow, nil
			}
		}
	}
	return Deny, nil
}

// sourceAddr is the IP a request came from; invalid if unknown.
func sourceAddr(req *sipmsg.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// trusted reports whether src is one of the PBX's addresses.
func (s *Server) trusted(src netip.Addr) bool {
	if !src.IsValid() {
		return false
	}
	for _, p := range s.cfg.TrustedCIDRs {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// authenticate answers the request itself and returns false unless it may
// go on as the AOR claimed (the To or From URI). forwardable marks the
// methods a trusted PBX forwards (REGISTER, PUBLISH), which skip the
// challenge from trusted sources.
func (s *Server) authenticate(req *sipmsg.Request, tx sipmsg.ServerTransaction, claimed sipmsg.Uri, forwardable bool) bool {
	if s.auth == nil {
		return true
	}
	src := sourceAddr(req)
	if forwardable && s.trusted(src) {
		return true
	}
	method := req.Method.String()
	aor, ok := s.aorOf(claimed)
	if !ok {
		s.refuse(req, tx, "aor outside the served domains", sipmsg.StatusForbidden, "Forbidden (not a user of a served domain)")
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := s.auth.Check(ctx, req, src, aor.User, aor.Domain)
	if err != nil {
		s.log.Warn().Err(err).Str("method", method).Msg("check credentials")
		s.replyCode(req, tx, sipmsg.StatusInternalServerError, "Server Internal Error")
		return false
	}
	if res.Throttling {
		s.log.Warn().Str("account", res.Account).Str("source", req.Source()).Str("method", method).
			Msg("failed sip authentication attempts throttled: further attempts get 503 for a while")
	}
	switch {
	case res.OK:
		return true
	case res.Code == sipmsg.StatusServiceUnavailable:
		s.stats.authRefused.Add(1)
		s.log.Debug().Str("account", res.Account).Str("source", req.Source()).Str("method", method).Msg("authentication throttled")
		s.replyCode(req, tx, sipmsg.StatusServiceUnavailable, "Too Many Failed Attempts",
			sipmsg.NewHeader("Retry-After", strconv.Itoa(limit.RetryAfterSeconds(res.RetryAfter))))
		return false
	case res.Code == sipmsg.StatusBadRequest:
		s.refuse(req, tx, "digest uri is not the request-uri", sipmsg.StatusBadRequest, "Bad Request (digest uri does not match the Request-URI)")
		return false
	case res.Code == sipmsg.StatusForbidden:
		s.stats.authRefused.Add(1)
		s.log.Info().AnErr("reason", res.Reason).Str("method", method).Str("source", req.Source()).Str("aor", aor.String()).Msg("authentication refused")
		s.replyCode(req, tx, sipmsg.StatusForbidden, "Forbidden")
		return false
	}
	s.stats.authChallenged.Add(1)
	s.log.Debug().AnErr("reason", res.Reason).Str("method", method).Str("source", req.Source()).Str("aor", aor.String()).Msg("challenge")
	code, reason := sipmsg.StatusUnauthorized, "Unauthorized"
	if res.Code == sipmsg.StatusProxyAuthRequired {
		code, reason = sipmsg.StatusProxyAuthRequired, "Proxy Authentication Required"
	}
	s.replyCode(req, tx, code, reason, res.Challenges...)
	return false
}

// refuse answers an authentication or authorization refusal, logged at
// info with why.
func (s *Server) refuse(req *sipmsg.Request, tx sipmsg.ServerTransaction, why string, code int, reason string) {
	s.stats.authRefused.Add(1)
	s.log.Info().Str("reason", why).Str("method", req.Method.String()).Str("source", req.Source()).Msg("authentication refused")
	s.replyCode(req, tx, code, reason)
}

// registersOwnDomain applies RFC 3261 §10.3 steps 4-5 before the
// challenge: with authentication on, a REGISTER sent to one domain may
// only bind an AOR of that domain, so one tenant's credentials never
// reach another tenant's bindings. The trusted PBX is exempt, as it is
// from the challenge. It answers 403 itself and reports false.
func (s *Server) registersOwnDomain(req *sipmsg.Request, tx sipmsg.ServerTransaction, domain string) bool {
	if s.auth == nil || s.trusted(sourceAddr(req)) {
		return true
	}
	if to, ok := s.aorOf(req.To().Address); ok && to.Domain == domain {
		return true
	}
	s.refuse(req, tx, "to is not in the request-uri's domain", sipmsg.StatusForbidden, "Forbidden (To is not in the Request-URI's domain)")
	return false
}

// mayPublish applies the PUBLISH rules above to an authenticated request
// for target and answers 403 itself when they refuse.
func (s *Server) mayPublish(req *sipmsg.Request, tx sipmsg.ServerTransaction, target presence.AOR) bool {
	if len(s.cfg.TrustedCIDRs) == 0 && s.auth == nil {
		return true
	}
	if s.trusted(sourceAddr(req)) {
		return s.pbxMayPublish(req, tx, target)
	}
	if s.auth != nil {
		// Authenticated as the From user: only its own state.
		if from, ok := s.aorOf(req.From().Address); ok && from == target {
			return true
		}
		s.stats.authRefused.Add(1)
		s.replyCode(req, tx, sipmsg.StatusForbidden, "Forbidden (publish only your own state)")
		return false
	}
	s.stats.authRefused.Add(1)
	s.replyCode(req, tx, sipmsg.StatusForbidden, "Forbidden (publish only from the PBX)")
	return false
}

// pbxMayPublish applies the rules for a PUBLISH from a trusted source: its
// own publications pass; a relayed one passes only for presence, asserted
// by the PBX as the entity's own (P-Asserted-Identity).
func (s *Server) pbxMayPublish(req *sipmsg.Request, tx sipmsg.ServerTransaction, target presence.AOR) bool {
	// RFC 3261 §16.6 step 8: a proxy adds its Via above the sender's, so a
	// PUBLISH the PBX relays from a phone carries the phone's Via below,
	// with the phone's address as received= (§18.2.1) when it lied. One
	// the PBX sent itself (perhaps through itself, as Kamailio's pua does
	// to reach its dispatcher) names only trusted addresses.
	if s.viasTrusted(req) {
		return true
	}
	pkg := ""
	if eh := req.GetHeader("Event"); eh != nil {
		pkg, _ = parseEvent(eh.Value())
	}
	if ev, _, ok := eventOf(pkg); !ok || ev != presence.EventPresence {
		s.refuse(req, tx, "relayed publish of a pbx-only event", sipmsg.StatusForbidden, "Forbidden (call state only from the PBX itself)")
		return false
	}
	if asserted, ok := s.assertedIdentity(req); ok && asserted == target {
		return true
	}
	s.refuse(req, tx, "relayed publish without the entity's asserted identity", sipmsg.StatusForbidden, "Forbidden (P-Asserted-Identity must name the entity)")
	return false
}

// viasTrusted reports whether every Via of req names a trusted address:
// its received parameter when present, else its sent-by host.
func (s *Server) viasTrusted(req *sipmsg.Request) bool {
	for _, h := range req.GetHeaders("Via") {
		via, ok := h.(*sipmsg.ViaHeader)
		if !ok {
			return false
		}
		host := via.Host
		if r, ok := via.Params.Get("received"); ok {
			host = r
		}
		addr, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil || !s.trusted(addr.Unmap()) {
			return false
		}
	}
	return true
}

// assertedIdentity is the AOR of the first SIP URI in P-Asserted-Identity.
func (s *Server) assertedIdentity(req *sipmsg.Request) (presence.AOR, bool) {
	for _, h := range req.GetHeaders("P-Asserted-Identity") {
		for _, v := range strings.Split(h.Value(), ",") {
			var uri sipmsg.Uri
			if _, err := sipmsg.ParseAddressValue(strings.TrimSpace(v), &uri, nil); err != nil {
				continue
			}
			if strings.EqualFold(uri.Scheme, "sip") || strings.EqualFold(uri.Scheme, "sips") {
				return s.aorOf(uri)
			}
		}
	}
	return presence.AOR{}, false
}

// errPolicy marks a presence policy that could not decide.
var errPolicy = errors.New("presence policy failed")

// authorize decides whether watcher (a From URI) may see target: the
// same-domain rule, then the Policy.
func (s *Server) authorize(ctx context.Context, watcher sipmsg.Uri, target presence.AOR) (Decision, error) {
	d, ok := s.domainOf(watcher.Host)
	if !ok || d != target.Domain {
		// RFC 6665 §4.2.1.3: the notifier decides who may subscribe;
		// watchers from other domains never see our extensions.
		return Deny, nil
	}
	if s.policy == nil {
		return Allow, nil
	}
	dec, err := s.policy.Allowed(ctx, presence.NewAOR(watcher.User, d), target)
	if err != nil {
		return Deny, errors.Join(errPolicy, err)
	}
	return dec, nil
}

// Reauthorize asks the policy again about every subscription, e.g. after
// permissions changed: pending ones it now allows become active and get
// the state; ones it denies end with terminated;reason=rejected.
func (s *Server) Reauthorize(ctx context.Context) {
	s.reauthorize(ctx, false)
}

// reauthorize re-decides every subscription, or only the pending ones.
func (s *Server) reauthorize(ctx context.Context, pendingOnly bool) {
	if s.policy == nil {
		return
	}
	for _, sub := range s.subs.all() {
		sub.mu.Lock()
		pending, ended := sub.pending, sub.ended
		sub.mu.Unlock()
		if ended || (pendingOnly && !pending) || sub.list != nil {
			continue // a list's members were authorized one by one
		}
		dec, err := s.authorize(ctx, sub.remote, sub.aor)
		if err != nil {
			s.log.Warn().Err(err).Str("aor", sub.aor.String()).Msg("reauthorize subscription")
			continue
		}
		s.apply(ctx, sub, dec)
	}
}

// apply moves sub to the state dec asks for.
func (s *Server) apply(ctx context.Context, sub *subscription, dec Decision) {
	switch dec {
	case Deny:
		s.goSender(sub, func() {
			nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.NotifyTimeout)
			defer cancel()
			// RFC 6665 §4.2.2: "rejected" once authorization is withdrawn.
			s.terminate(nctx, sub, "rejected")
		})
	case Allow:
		sub.mu.Lock()
		was := sub.pending
		sub.pending = false
		sub.mu.Unlock()
		if !was {
			return
		}
		view, err := s.core.Get(ctx, sub.aor)
		if err != nil {
			s.log.Warn().Err(err).Str("aor", sub.aor.String()).Msg("read presence for authorized subscription")
			return
		}
		// Now active: the first NOTIFY with state (RFC 6665 §4.2.1.2).
		s.kick(sub, view)
	}
}
