package watcher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/presence"
)

// subState is where one subscription stands.
type subState int

const (
	// stateIdle: no subscription exists at the PBX as far as we know.
	stateIdle subState = iota
	// stateSubscribing: an initial SUBSCRIBE is in flight.
	stateSubscribing
	// stateActive: a 2xx or a NOTIFY established the dialog.
	stateActive
)

// pubMargin is added to a subscription's remaining lifetime to form the
// lifetime of the publication it feeds, so the publication outlives the
// refresh that keeps it: one Timer F for the refresh transaction.
const pubMargin = 32 * time.Second

// unsubscribeTimeout bounds the SUBSCRIBE with Expires 0 sent on the way out.
const unsubscribeTimeout = 2 * time.Second

// sub is one (extension, event) subscription. Its run goroutine owns every
// field not marked as guarded; HandleNotify reaches it only through w.mu
// and the notes channel.
type sub struct {
	w     *Watcher
	ext   string
	event string
	aor   presence.AOR
	log   zerolog.Logger
	notes chan notification

	// Guarded by w.mu.
	state     subState
	callID    string
	fromTag   string
	toTag     string
	target    sipmsg.Uri // the notifier's Contact: our remote target
	hasTarget bool

	cseq      uint32
	routes    []sipmsg.Uri
	ask       time.Duration // Expires to ask for
	expiresAt time.Time     // when the subscription lapses
	refreshAt time.Time
	since     time.Time // when the current subscription was established
	attempt   int       // failed attempts in a row
	pub       publication
	regs      regState
}

// notesQueue bounds the NOTIFYs waiting for one subscription's goroutine.
const notesQueue = 32

func newSub(w *Watcher, ext, event string) *sub {
	aor := presence.NewAOR(ext, w.cfg.Domain)
	log := w.log.With().Str("aor", aor.String()).Str("event", event).Logger()
	return &sub{
		w: w, ext: ext, event: event, aor: aor, log: log,
		notes: make(chan notification, notesQueue),
		ask:   w.cfg.Expires,
		pub:   publication{sink: w.sink, aor: aor, event: presence.Event(event), log: log},
	}
}

// leaseKey names the lease that decides which instance watches this pair.
func (s *sub) leaseKey() string { return "watcher:" + s.aor.String() + ":" + s.event }

// run keeps the subscription until ctx ends.
func (s *sub) run(ctx context.Context) {
	defer s.cleanup(ctx)
	for ctx.Err() == nil {
		if s.w.cfg.Lease != nil && !s.acquire(ctx) {
			continue
		}
		delay := s.session(ctx)
		sleep(ctx, delay)
	}
}

// cleanup withdraws what the subscription published and gives up its
// lease; ctx has ended, so it works on a short detached context.
func (s *sub) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unsubscribeTimeout)
	defer cancel()
	s.withdraw(ctx)
	if l := s.w.cfg.Lease; l != nil {
		if err := l.Release(ctx, s.leaseKey()); err != nil {
			s.log.Warn().Err(err).Msg("release lease")
		}
	}
}

// acquire waits until this instance holds the lease; false when ctx ended.
func (s *sub) acquire(ctx context.Context) bool {
	every := s.w.cfg.LeaseTTL / 3
	for {
		ok, err := s.w.cfg.Lease.Acquire(ctx, s.leaseKey(), s.w.cfg.LeaseTTL)
		if err != nil {
			s.log.Warn().Err(err).Msg("acquire lease")
		}
		if ok {
			return true
		}
		if !sleep(ctx, every) {
			return false
		}
	}
}

// session creates one subscription and keeps it until it ends; it returns
// how long to wait before the next one.
func (s *sub) session(ctx context.Context) time.Duration {
	s.begin()
	res, err := s.send(ctx, s.ask)
	if ctx.Err() != nil {
		s.retire()
		return 0
	}
	if err != nil {
		s.retire()
		s.withdraw(ctx)
		d := s.backoff()
		s.log.Warn().Err(err).Dur("retry_in", d).Msg("subscribe failed")
		return d
	}
	if res.StatusCode == sipmsg.StatusIntervalToBrief {
		s.retire()
		return s.tooBrief(res)
	}
	if !res.IsSuccess() {
		s.retire()
		s.withdraw(ctx)
		d := s.rejected(res)
		s.log.Warn().Int("status", res.StatusCode).Dur("retry_in", d).Msg("subscribe rejected")
		return d
	}
	s.established(res)
	s.log.Debug().Time("expires", s.expiresAt).Msg("subscribed")
	return s.maintain(ctx)
}

// maintain refreshes the subscription, applies its NOTIFYs and watches the
// lease, until the subscription or ctx ends.
func (s *sub) maintain(ctx context.Context) time.Duration {
	refresh := time.NewTimer(time.Until(s.refreshAt))
	defer refresh.Stop()
	var leaseTick <-chan time.Time
	if s.w.cfg.Lease != nil {
		t := time.NewTicker(s.w.cfg.LeaseTTL / 3)
		defer t.Stop()
		leaseTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			s.unsubscribe(ctx)
			s.retire()
			return 0
		case n := <-s.notes:
			if n.callID != s.currentCallID() {
				continue // queued before a re-subscription
			}
			s.apply(ctx, n)
			if n.state.value == subTerminated {
				s.retire()
				s.withdraw(ctx)
				d := s.terminated(n.state)
				s.log.Info().Str("reason", n.state.reason).Dur("retry_in", d).Msg("subscription terminated by pbx")
				return d
			}
			if n.state.expires > 0 {
				s.shorten(time.Now(), n.state.expires)
				refresh.Reset(time.Until(s.refreshAt))
			}
		case <-refresh.C:
			d, done := s.refresh(ctx)
			if done {
				return d
			}
			refresh.Reset(time.Until(s.refreshAt))
		case <-leaseTick:
			ok, err := s.w.cfg.Lease.Renew(ctx, s.leaseKey(), s.w.cfg.LeaseTTL)
			if err != nil {
				// A store hiccup is not a lost lease: keep going until
				// Renew says so or the lease expires for others to take.
				s.log.Warn().Err(err).Msg("renew lease")
				continue
			}
			if !ok {
				s.log.Info().Msg("lease lost: unsubscribing")
				s.unsubscribe(ctx)
				s.retire()
				s.withdraw(ctx)
				return 0
			}
		}
	}
}

// refresh sends the in-dialog SUBSCRIBE that extends the subscription
// (RFC 6665 §4.1.2.2). done reports that the subscription is over and d is
// the delay before the next one.
func (s *sub) refresh(ctx context.Context) (d time.Duration, done bool) {
	res, err := s.send(ctx, s.ask)
	switch {
	case ctx.Err() != nil:
		return 0, false // maintain sees ctx.Done next
	case err != nil:
		s.retire()
		s.withdraw(ctx)
		d = s.backoff()
		s.log.Warn().Err(err).Dur("retry_in", d).Msg("refresh failed")
		return d, true
	case res.StatusCode == sipmsg.StatusCallTransactionDoesNotExists:
		// RFC 6665 §4.1.2.2: 481 means the subscription is gone, typically
		// because the PBX restarted. Subscribe afresh at once; keep the
		// lamps until the new subscription's first NOTIFY replaces them.
		s.retire()
		s.pub.retain(ctx)
		s.log.Info().Msg("refresh got 481: re-subscribing")
		return 0, true
	case res.StatusCode == sipmsg.StatusIntervalToBrief:
		s.tooBrief(res)
		s.refreshAt = time.Now()
		return 0, false
	case !res.IsSuccess():
		s.retire()
		s.withdraw(ctx)
		d = s.rejected(res)
		s.log.Warn().Int("status", res.StatusCode).Dur("retry_in", d).Msg("refresh rejected")
		return d, true
	}
	s.granted(res)
	s.pub.refresh(ctx, s.lifetime())
	return 0, false
}

// begin starts a new subscription dialog: new Call-ID and From tag
// (RFC 6665 §4.1.2.1), registered so HandleNotify can match early NOTIFYs.
func (s *sub) begin() {
	s.cseq = 0
	s.routes = nil
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.retireLocked(s.callID, time.Now())
	s.state = stateSubscribing
	s.callID = newCallID()
	s.fromTag = sipmsg.GenerateTagN(16)
	s.toTag = ""
	s.hasTarget = false
	w.calls[s.callID] = s
}

// retire ends the current dialog: NOTIFYs for it now get 481, which makes
// a notifier that still holds it drop it (RFC 6665 §4.2.2), so a lost
// subscription never lives on beside its replacement.
func (s *sub) retire() {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.retireLocked(s.callID, time.Now())
	s.state = stateIdle
}

func (s *sub) currentCallID() string {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.callID
}

// established records the dialog the 2xx created (RFC 3261 §12.1.2).
func (s *sub) established(res *sipmsg.Response) {
	s.attempt = 0
	s.since = time.Now()
	// The route set is the Record-Route of the 2xx, in reverse order.
	var routes []sipmsg.Uri
	for _, h := range res.GetHeaders("Record-Route") {
		if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
			routes = append(routes, *rr.Address.Clone())
		}
	}
	slices.Reverse(routes)
	s.routes = routes
	w := s.w
	w.mu.Lock()
	// A NOTIFY may have created the dialog first (RFC 6665 §4.1.2.4);
	// without forking its tag and the 2xx's are the same.
	if s.toTag == "" && res.To() != nil {
		s.toTag, _ = res.To().Params.Get("tag")
	}
	if c := res.Contact(); c != nil {
		s.target, s.hasTarget = *c.Address.Clone(), true
	}
	s.state = stateActive
	w.mu.Unlock()
	s.granted(res)
}

// granted reads the lifetime the notifier granted: RFC 6665 §4.2.1.1 makes
// Expires mandatory in the 2xx and allows it to be shorter than asked.
func (s *sub) granted(res *sipmsg.Response) {
	d := s.ask
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
			d = time.Duration(n) * time.Second
		}
	}
	now := time.Now()
	s.expiresAt = now.Add(d)
	// Refresh at 80% of the lifetime, well before it lapses (RFC 6665 §4.1.2.2).
	s.refreshAt = now.Add(d * 4 / 5)
}

// shorten applies the expires of a NOTIFY's Subscription-State
// (RFC 6665 §4.1.3) when it ends the subscription earlier than we thought.
func (s *sub) shorten(now time.Time, d time.Duration) {
	at := now.Add(d)
	if !at.Before(s.expiresAt) {
		return
	}
	s.expiresAt = at
	if r := now.Add(d * 4 / 5); r.Before(s.refreshAt) {
		s.refreshAt = r
	}
}

// lifetime is what the publication fed by this subscription should last.
func (s *sub) lifetime() time.Duration {
	d := time.Until(s.expiresAt)
	if d < 0 {
		d = 0
	}
	return d + pubMargin
}

// tooBrief takes the Min-Expires of a 423 (RFC 6665 §4.1.2.1) as the new
// lifetime to ask for, and returns the delay before asking again.
func (s *sub) tooBrief(res *sipmsg.Response) time.Duration {
	if h := res.GetHeader("Min-Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
			if d := time.Duration(n) * time.Second; d > s.ask {
				s.ask = d
				return 0
			}
		}
	}
	return s.backoff()
}

// rejected is the delay after a final non-2xx answer to a SUBSCRIBE.
func (s *sub) rejected(res *sipmsg.Response) time.Duration {
	if d, ok := retryAfter(res); ok {
		s.attempt++
		return d
	}
	switch res.StatusCode {
	case sipmsg.StatusForbidden, sipmsg.StatusNotFound, statusBadEvent,
		sipmsg.StatusUnauthorized, sipmsg.StatusProxyAuthRequired:
		// Asking again soon will get the same answer.
		return s.longBackoff()
	}
	return s.backoff()
}

// terminated is the delay before re-subscribing after a NOTIFY with
// Subscription-State terminated, following the reasons of RFC 6665 §4.1.3.
func (s *sub) terminated(st subscriptionState) time.Duration {
	if st.retryAfter > 0 {
		return st.retryAfter
	}
	switch st.reason {
	case "deactivated", "timeout":
		// Re-subscribe at once, unless the PBX keeps ending subscriptions
		// as soon as they start: then back off rather than spin.
		if time.Since(s.since) >= s.w.cfg.MinBackoff {
			s.attempt = 0
			return 0
		}
		return s.backoff()
	case "rejected", "noresource", "invariant":
		// "should not attempt to re-subscribe": retry only rarely, in
		// case the PBX's configuration changes.
		return s.longBackoff()
	}
	return s.backoff()
}

// backoff returns the next exponential delay, with jitter so that many
// subscriptions failing together do not retry together.
func (s *sub) backoff() time.Duration {
	d := s.w.cfg.MinBackoff
	for i := 0; i < s.attempt && d < s.w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	s.attempt++
	return jitter(min(d, s.w.cfg.MaxBackoff))
}

func (s *sub) longBackoff() time.Duration {
	s.attempt++
	return jitter(s.w.cfg.MaxBackoff)
}

// jitter spreads d over [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header (RFC 3261 §20.33).
func retryAfter(res *sipmsg.Response) (time.Duration, bool) {
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0, false
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	v, _, _ = strings.Cut(v, "(")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// unsubscribe asks the PBX to end the subscription now (RFC 6665
// §4.1.2.3); it is best effort, since the subscription lapses anyway.
func (s *sub) unsubscribe(ctx context.Context) {
	s.w.mu.Lock()
	established := s.state == stateActive
	s.w.mu.Unlock()
	if !established {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unsubscribeTimeout)
	defer cancel()
	if _, err := s.send(ctx, 0); err != nil {
		s.log.Debug().Err(err).Msg("unsubscribe")
	}
}

// withdraw removes everything this subscription contributed to the core.
func (s *sub) withdraw(ctx context.Context) {
	s.pub.withdraw(ctx)
	s.withdrawRegs(ctx)
}

// send sends a SUBSCRIBE asking for lifetime d: initial when the dialog
// has no remote tag yet, in-dialog otherwise. It answers one digest
// challenge with the configured credentials.
func (s *sub) send(ctx context.Context, d time.Duration) (*sipmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.w.cfg.RequestTimeout)
	defer cancel()
	req := s.request(d)
	res, err := s.w.client.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s to %s: %w", s.aor, s.event, err)
	}
	if (res.StatusCode == sipmsg.StatusUnauthorized || res.StatusCode == sipmsg.StatusProxyAuthRequired) && s.w.cfg.Username != "" {
		res, err = s.w.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: s.w.cfg.Username, Password: s.w.cfg.Password})
		// DoDigestAuth sent the request again with the next CSeq.
		if cs := req.CSeq(); cs != nil {
			s.cseq = cs.SeqNo
		}
		if err != nil {
			return nil, fmt.Errorf("subscribe %s to %s with credentials: %w", s.aor, s.event, err)
		}
	}
	return res, nil
}

// request builds a SUBSCRIBE for the current dialog (RFC 6665 §4.1.2).
func (s *sub) request(d time.Duration) *sipmsg.Request {
	cfg := s.w.cfg
	s.w.mu.Lock()
	callID, fromTag, toTag, target, hasTarget := s.callID, s.fromTag, s.toTag, s.target, s.hasTarget
	s.w.mu.Unlock()

	aorURI := sipmsg.Uri{Scheme: "sip", User: s.ext, Host: cfg.Domain}
	ruri := aorURI
	inDialog := toTag != "" && hasTarget
	if inDialog {
		// RFC 3261 §12.2.1.1: in-dialog requests go to the remote target.
		ruri = *target.Clone()
	}
	req := sipmsg.NewRequest(sipmsg.SUBSCRIBE, ruri)
	for _, r := range s.routes {
		req.AppendHeader(&sipmsg.RouteHeader{Address: *r.Clone()})
	}
	if !inDialog {
		// The extension's domain may not resolve to the PBX; the PBX is our
		// outbound proxy for dialog-creating requests.
		req.SetDestination(cfg.PBX)
	}
	req.SetTransport(strings.ToUpper(cfg.Transport))

	from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: cfg.FromUser, Host: cfg.Domain}}
	from.Params.Add("tag", fromTag)
	to := &sipmsg.ToHeader{Address: aorURI}
	if toTag != "" {
		to.Params.Add("tag", toTag)
	}
	cid := sipmsg.CallIDHeader(callID)
	s.cseq++
	cseq := &sipmsg.CSeqHeader{SeqNo: s.cseq, MethodName: sipmsg.SUBSCRIBE}
	contact := &sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: cfg.FromUser, Host: cfg.ContactHost, Port: cfg.ContactPort}}
	if strings.EqualFold(cfg.Transport, "tcp") {
		contact.Address.UriParams = sipmsg.HeaderParams{}
		contact.Address.UriParams.Add("transport", "tcp")
	}
	exp := sipmsg.ExpiresHeader(uint32(d / time.Second))
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(cseq)
	req.AppendHeader(contact)
	req.AppendHeader(sipmsg.NewHeader("Event", s.event))
	req.AppendHeader(sipmsg.NewHeader("Accept", acceptFor(s.event)))
	req.AppendHeader(&exp)
	return req
}

// acceptFor is the body format of an event package.
func acceptFor(event string) string {
	switch event {
	case EventPresence:
		return contentPIDF
	case EventReg:
		return contentReginfo
	}
	return contentDialogInfo
}

// newCallID returns a fresh Call-ID.
func newCallID() string {
	return sipmsg.GenerateTagN(24) + "@switchboard"
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// publication is the publication one subscription feeds into the sink,
// kept by entity-tag like an RFC 3903 publisher.
type publication struct {
	sink  Sink
	aor   presence.AOR
	event presence.Event
	log   zerolog.Logger
	etag  string
	// stale is the publication of an earlier subscription, removed once
	// the new one has published (so a PBX restart does not blink lamps).
	stale string
}

// publish sends body with lifetime d: a modify of the current publication,
// or an initial one when there is none or the core has forgotten it.
func (p *publication) publish(ctx context.Context, body *presence.PublishBody, d time.Duration) error {
	if p.etag != "" {
		res, err := p.sink.Publish(ctx, p.aor, presence.Publish{Event: p.event, IfMatch: p.etag, Expires: d, Body: body})
		if err == nil {
			p.etag = res.ETag
			return nil
		}
		if !errors.Is(err, presence.ErrUnknownETag) {
			return fmt.Errorf("publish %s state of %s: %w", p.event, p.aor, err)
		}
		// RFC 3903 §6: an unknown entity-tag means the publication expired;
		// the publisher starts over with an initial publication.
		p.etag = ""
	}
	res, err := p.sink.Publish(ctx, p.aor, presence.Publish{Event: p.event, Expires: d, Body: body})
	if err != nil {
		return fmt.Errorf("publish initial %s state of %s: %w", p.event, p.aor, err)
	}
	p.etag = res.ETag
	if p.stale != "" {
		p.remove(ctx, p.stale)
		p.stale = ""
	}
	return nil
}

// refresh extends the current publication without changing it.
func (p *publication) refresh(ctx context.Context, d time.Duration) {
	if p.etag == "" {
		return
	}
	res, err := p.sink.Publish(ctx, p.aor, presence.Publish{Event: p.event, IfMatch: p.etag, Expires: d})
	if err != nil {
		// The next NOTIFY (RFC 6665 §4.2.2 sends one after every refresh)
		// publishes afresh.
		p.log.Debug().Err(err).Msg("refresh publication")
		p.etag = ""
		return
	}
	p.etag = res.ETag
}

// retain keeps the current publication until a new subscription replaces it.
func (p *publication) retain(ctx context.Context) {
	if p.etag == "" {
		return
	}
	if p.stale != "" {
		p.remove(ctx, p.stale)
	}
	p.stale, p.etag = p.etag, ""
}

// withdraw removes the publication (RFC 3903 §4.5: Expires 0).
func (p *publication) withdraw(ctx context.Context) {
	for _, etag := range []string{p.etag, p.stale} {
		if etag != "" {
			p.remove(ctx, etag)
		}
	}
	p.etag, p.stale = "", ""
}

func (p *publication) remove(ctx context.Context, etag string) {
	_, err := p.sink.Publish(ctx, p.aor, presence.Publish{Event: p.event, IfMatch: etag})
	if err != nil && !errors.Is(err, presence.ErrUnknownETag) {
		p.log.Warn().Err(err).Msg("withdraw publication")
	}
}
