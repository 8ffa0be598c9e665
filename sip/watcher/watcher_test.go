package watcher

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

func TestMain(m *testing.M) {
	sipmsg.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

const testDomain = "example.com"

// pbxSub is one subscription as the fake PBX keeps it.
type pbxSub struct {
	callID, tag, watcherTag, ext, event string
	contact                             sipmsg.Uri
	expires                             time.Time
	live                                bool
	cseq                                uint32
	version                             uint64
}

// fakePBX is a notifier on a real sipgo server on loopback UDP, playing the
// PBX side of RFC 6665.
type fakePBX struct {
	t      *testing.T
	client *sipgo.Client
	addr   string

	mu          sync.Mutex // guards everything below
	subs        map[string]*pbxSub
	order       []*pbxSub
	received    []time.Time // every SUBSCRIBE transaction
	initials    int
	refreshes   int
	unsubs      int
	authorized  int
	drop        bool
	challenge   bool
	earlyNotify bool
	dialogs     map[string]string // ext -> <dialog> elements of its full state
}

func newFakePBX(t *testing.T) *fakePBX {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("fakepbx"))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(ua)
	require.NoError(t, err)
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	require.NoError(t, err)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &fakePBX{t: t, client: client, addr: conn.LocalAddr().String(),
		subs: make(map[string]*pbxSub), dialogs: make(map[string]string)}
	srv.OnSubscribe(p.onSubscribe)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		_ = ua.Close()
		_ = conn.Close()
		<-done
	})
	return p
}

func (p *fakePBX) set(fn func(p *fakePBX)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

func (p *fakePBX) onSubscribe(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	p.mu.Lock()
	p.received = append(p.received, time.Now())
	drop, challenge, early := p.drop, p.challenge, p.earlyNotify
	p.mu.Unlock()
	if drop {
		return
	}
	if challenge && !p.authenticate(req, tx) {
		return
	}
	exp := 3600
	if h := req.GetHeader("Expires"); h != nil {
		exp, _ = strconv.Atoi(h.Value())
	}
	callID := req.CallID().Value()
	toTag, _ := req.To().Params.Get("tag")
	ok := func(s *pbxSub) *sipmsg.Response {
		res := sipmsg.NewResponseFromRequest(req, sipmsg.StatusOK, "OK", nil)
		// NewResponseFromRequest invents a To tag; the dialog's is s.tag.
		to := res.To()
		to.Params = to.Params.Clone()
		to.Params.Remove("tag")
		to.Params.Add("tag", s.tag)
		e := sipmsg.ExpiresHeader(uint32(exp))
		res.AppendHeader(&e)
		res.AppendHeader(&sipmsg.ContactHeader{Address: p.contactURI()})
		return res
	}

	p.mu.Lock()
	if toTag != "" {
		s := p.subs[callID]
		if s == nil || !s.live || s.tag != toTag {
			if os.Getenv("WATCHER_DEBUG") != "" {
				p.t.Logf("pbx 481: sub %+v to-tag %q", s, toTag)
			}
			p.mu.Unlock()
			_ = tx.Respond(sipmsg.NewResponseFromRequest(req, sipmsg.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist", nil))
			return
		}
		state := "active;expires=" + strconv.Itoa(exp)
		if exp == 0 {
			s.live = false
			p.unsubs++
			state = "terminated;reason=timeout"
		} else {
			s.expires = time.Now().Add(time.Duration(exp) * time.Second)
			p.refreshes++
		}
		p.mu.Unlock()
		_ = tx.Respond(ok(s))
		p.notify(s, state, "full", p.fullState(s.ext))
		return
	}
	from, _ := req.From().Params.Get("tag")
	s := &pbxSub{callID: callID, tag: sipmsg.GenerateTagN(8), watcherTag: from, ext: req.Recipient.User,
		event: eventPackage(req), contact: *req.Contact().Address.Clone(),
		expires: time.Now().Add(time.Duration(exp) * time.Second), live: true}
	p.subs[callID] = s
	p.order = append(p.order, s)
	p.initials++
	p.mu.Unlock()
	state := "active;expires=" + strconv.Itoa(exp)
	if early {
		// RFC 6665 §4.1.2.4: the NOTIFY may overtake the 2xx.
		p.notify(s, state, "full", p.fullState(s.ext))
	}
	_ = tx.Respond(ok(s))
	if !early {
		p.notify(s, state, "full", p.fullState(s.ext))
	}
}

// authenticate challenges or checks digest credentials; false when it answered.
func (p *fakePBX) authenticate(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	h := req.GetHeader("Authorization")
	if h == nil {
		res := sipmsg.NewResponseFromRequest(req, sipmsg.StatusUnauthorized, "Unauthorized", nil)
		res.AppendHeader(sipmsg.NewHeader("WWW-Authenticate", `Digest realm="pbx", nonce="n0nce", algorithm=MD5`))
		_ = tx.Respond(res)
		return false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err == nil {
		var want *digest.Credentials
		want, err = digest.Digest(&digest.Challenge{Realm: "pbx", Nonce: "n0nce", Algorithm: "MD5"},
			digest.Options{Method: "SUBSCRIBE", URI: cred.URI, Username: "watch", Password: "s3cret"})
		if err == nil && want.Response != cred.Response {
			err = fmt.Errorf("digest mismatch")
		}
	}
	if err != nil {
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, sipmsg.StatusForbidden, "Forbidden", nil))
		return false
	}
	p.mu.Lock()
	p.authorized++
	p.mu.Unlock()
	return true
}

func (p *fakePBX) contactURI() sipmsg.Uri {
	host, port, _ := sipmsg.ParseAddr(p.addr)
	return sipmsg.Uri{Scheme: "sip", User: "pbx", Host: host, Port: port}
}

func (p *fakePBX) fullState(ext string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dialogs[ext]
}

// notify sends a dialog-info NOTIFY on s and returns the status code the
// watcher answered.
func (p *fakePBX) notify(s *pbxSub, subState, docState, dialogs string) int {
	p.mu.Lock()
	s.cseq++
	cseq, version := s.cseq, s.version
	s.version++
	if strings.HasPrefix(subState, "terminated") {
		s.live = false
	}
	p.mu.Unlock()
	body := fmt.Sprintf(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="%s" entity="sip:%s@%s">%s</dialog-info>`,
		version, docState, s.ext, testDomain, dialogs)
	req := sipmsg.NewRequest(sipmsg.NOTIFY, s.contact)
	from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: s.ext, Host: testDomain}}
	from.Params.Add("tag", s.tag)
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: "switchboard", Host: testDomain}}
	to.Params.Add("tag", s.watcherTag)
	cid := sipmsg.CallIDHeader(s.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cseq, MethodName: sipmsg.NOTIFY})
	req.AppendHeader(&sipmsg.ContactHeader{Address: p.contactURI()})
	req.AppendHeader(sipmsg.NewHeader("Event", s.event))
	req.AppendHeader(sipmsg.NewHeader("Subscription-State", subState))
	req.AppendHeader(sipmsg.NewHeader("Content-Type", contentDialogInfo))
	req.SetBody([]byte(body))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := p.client.Do(ctx, req)
	if err != nil || res == nil {
		// sipgo's Do returns (nil, nil) when its user agent closes under
		// it, as the test's cleanup does.
		return 0
	}
	return res.StatusCode
}

// live counts the subscriptions the PBX holds for ext ("" for all).
func (p *fakePBX) live(ext string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.subs {
		if s.live && s.expires.After(time.Now()) && (ext == "" || s.ext == ext) {
			n++
		}
	}
	return n
}

// latest is the newest live subscription of ext.
func (p *fakePBX) latest(ext string) *pbxSub {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.order) - 1; i >= 0; i-- {
		if s := p.order[i]; s.ext == ext && s.live {
			return s
		}
	}
	return nil
}

func (p *fakePBX) count(fn func(p *fakePBX) int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fn(p)
}

// restart forgets every subscription, as a PBX restart does.
func (p *fakePBX) restart() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subs = make(map[string]*pbxSub)
}

func ringing(id string) string {
	return `<dialog id="` + id + `" call-id="c-` + id + `" direction="recipient"><state>early</state>` +
		`<remote><identity display="Alice">sip:100@example.com</identity></remote></dialog>`
}

func confirmed(id string) string {
	return `<dialog id="` + id + `" direction="recipient"><state>confirmed</state></dialog>`
}

// recordingSink records every publication and applies it to a real core.
type recordingSink struct {
	svc   *presence.Service
	store *presence.MemStore

	mu    sync.Mutex // guards calls
	calls []presence.Publish
}

func (r *recordingSink) Publish(ctx context.Context, aor presence.AOR, p presence.Publish) (presence.PublishResult, error) {
	r.mu.Lock()
	r.calls = append(r.calls, p)
	r.mu.Unlock()
	return r.svc.Publish(ctx, aor, p)
}

func (r *recordingSink) Register(ctx context.Context, aor presence.AOR, reg presence.Registration) ([]presence.Binding, error) {
	return r.svc.Register(ctx, aor, reg)
}

// all returns a copy of the publications recorded so far.
func (r *recordingSink) all() []presence.Publish {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]presence.Publish(nil), r.calls...)
}

func (r *recordingSink) last() presence.Publish {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return presence.Publish{}
	}
	return r.calls[len(r.calls)-1]
}

func (r *recordingSink) line(t *testing.T, ext string) presence.LineState {
	v, err := r.svc.Get(context.Background(), presence.NewAOR(ext, testDomain))
	require.NoError(t, err)
	return v.Line
}

func (r *recordingSink) publications(ext string) int {
	rec, err := r.store.Get(context.Background(), presence.NewAOR(ext, testDomain))
	if err != nil {
		return 0
	}
	return len(rec.Publications)
}

// harness is a watcher on its own sipgo UA, listening on loopback UDP.
type harness struct {
	w    *Watcher
	sink *recordingSink
	stop func()
}

func startWatcher(t *testing.T, pbx *fakePBX, mutate func(*Config)) *harness {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("switchboard"))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(ua)
	require.NoError(t, err)
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	require.NoError(t, err)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)

	cfg := Config{
		PBX: pbx.addr, Domain: testDomain, Extensions: []string{"201"},
		Expires: 60 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		RequestTimeout: 300 * time.Millisecond,
		ContactHost:    "127.0.0.1", ContactPort: conn.LocalAddr().(*net.UDPAddr).Port,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	store := presence.NewMemStore()
	sink := &recordingSink{svc: presence.New(presence.Config{}, store, zerolog.Nop()), store: store}
	w := New(cfg, client, sink, testLogger(t))
	srv.OnNotify(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if !w.HandleNotify(req, tx) {
			// Stray: answered differently from the watcher's 481 so tests
			// can tell the two apart.
			_ = tx.Respond(sipmsg.NewResponseFromRequest(req, sipmsg.StatusNotFound, "Stray", nil))
		}
	})
	serveDone := make(chan struct{})
	go func() { defer close(serveDone); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		_ = ua.Close()
		_ = conn.Close()
		<-serveDone
	})

	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-runDone:
			assert.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	t.Cleanup(stop)
	return &harness{w: w, sink: sink, stop: stop}
}

const (
	wait = 3 * time.Second
	tick = 10 * time.Millisecond
)

func TestDialogLifecycle(t *testing.T) {
	pbx := newFakePBX(t)
	h := startWatcher(t, pbx, func(c *Config) { c.MaxBackoff = 5 * time.Second })

	require.Eventually(t, func() bool { return pbx.latest("201") != nil }, wait, tick)
	s := pbx.latest("201")
	assert.Equal(t, "dialog", s.event)

	// An incoming call rings: a full document with an early dialog.
	require.Equal(t, 200, pbx.notify(s, "active;expires=60", "full", ringing("d1")))
	require.Eventually(t, func() bool { return h.sink.line(t, "201") == presence.LineRinging }, wait, tick)
	first := h.sink.last()
	require.NotEmpty(t, first.IfMatch, "a publication exists since the idle NOTIFY after the 2xx")
	assert.False(t, first.Body.Partial)
	assert.Greater(t, first.Expires, 60*time.Second, "lifetime is the subscription's plus a margin")

	// Answered: a partial document merges.
	require.Equal(t, 200, pbx.notify(s, "active;expires=60", "partial", confirmed("d1")))
	require.Eventually(t, func() bool { return h.sink.line(t, "201") == presence.LineInCall }, wait, tick)
	last := h.sink.last()
	assert.True(t, last.Body.Partial)
	assert.NotEmpty(t, last.IfMatch)
	assert.Equal(t, 1, h.sink.publications("201"))

	// The PBX ends the subscription for good: the lamp must not stay lit.
	before := pbx.count(func(p *fakePBX) int { return p.initials })
	require.Equal(t, 200, pbx.notify(s, "terminated;reason=noresource", "full", ""))
	require.Eventually(t, func() bool { return h.sink.publications("201") == 0 }, wait, tick)
	assert.Equal(t, time.Duration(0), h.sink.last().Expires, "withdrawn with Expires 0")
	assert.Equal(t, presence.LineOffline, h.sink.line(t, "201"))
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, before, pbx.count(func(p *fakePBX) int { return p.initials }), "noresource backs off long")

	// A late NOTIFY for the ended subscription gets 481.
	assert.Equal(t, 481, pbx.notify(s, "active;expires=60", "full", ringing("d2")))
}

func TestNotifyBeforeResponse(t *testing.T) {
	pbx := newFakePBX(t)
	pbx.set(func(p *fakePBX) {
		p.earlyNotify = true
		p.dialogs["201"] = ringing("d1")
	})
	h := startWatcher(t, pbx, nil)

	require.Eventually(t, func() bool { return h.sink.line(t, "201") == presence.LineRinging }, wait, tick)
	assert.Equal(t, 1, pbx.live("201"))
	s := pbx.latest("201")
	// The dialog learned from the NOTIFY is the one the 2xx confirmed.
	require.Equal(t, 200, pbx.notify(s, "active;expires=60", "full", ""))
	require.Eventually(t, func() bool { return h.sink.line(t, "201") == presence.LineOffline }, wait, tick)
}

func TestRefreshAfterRestart(t *testing.T) {
	pbx := newFakePBX(t)
	pbx.set(func(p *fakePBX) { p.dialogs["201"] = ringing("d1") })
	// Refresh at 80% of 2s.
	h := startWatcher(t, pbx, func(c *Config) { c.Expires = 2 * time.Second })

	require.Eventually(t, func() bool { return h.sink.line(t, "201") == presence.LineRinging }, wait, tick)
	require.Eventually(t, func() bool { return pbx.count(func(p *fakePBX) int { return p.refreshes }) >= 1 }, wait, tick)
	assert.Equal(t, 1, pbx.count(func(p *fakePBX) int { return p.initials }), "a refresh is not a new subscription")

	pbx.restart()
	require.Eventually(t, func() bool { return pbx.count(func(p *fakePBX) int { return p.initials }) == 2 }, wait, tick)
	require.Eventually(t, func() bool { return pbx.live("201") == 1 }, wait, tick)
	// The new subscription's first NOTIFY replaced the old publication.
	require.Eventually(t, func() bool { return h.sink.publications("201") == 1 }, wait, tick, "publications: %d, calls %+v", h.sink.publications("201"), h.sink.all())
	assert.Equal(t, presence.LineRinging, h.sink.line(t, "201"))

	// Through the next refresh, still exactly one subscription.
	require.Eventually(t, func() bool { return pbx.count(func(p *fakePBX) int { return p.refreshes }) >= 2 }, wait, tick)
	assert.Equal(t, 1, pbx.live("201"))
	assert.Equal(t, 2, pbx.count(func(p *fakePBX) int { return p.initials }))
}

func TestRetriesWithBackoff(t *testing.T) {
	pbx := newFakePBX(t)
	pbx.set(func(p *fakePBX) { p.drop = true })
	startWatcher(t, pbx, func(c *Config) {
		c.RequestTimeout = 100 * time.Millisecond
		c.MinBackoff = 50 * time.Millisecond
		c.MaxBackoff = 400 * time.Millisecond
	})

	require.Eventually(t, func() bool { return pbx.count(func(p *fakePBX) int { return len(p.received) }) >= 5 }, 5*time.Second, tick)
	pbx.set(func(p *fakePBX) { p.drop = false })
	var gaps []time.Duration
	pbx.set(func(p *fakePBX) {
		for i := 1; i < len(p.received); i++ {
			gaps = append(gaps, p.received[i].Sub(p.received[i-1]))
		}
	})
	// Each gap is the 100ms timeout plus a jittered backoff in
	// [d/2, d]; d doubles from 50ms, so the fourth is longer than the first.
	assert.Greater(t, gaps[3], gaps[0], "gaps %v", gaps)
	assert.GreaterOrEqual(t, gaps[0], 100*time.Millisecond)

	require.Eventually(t, func() bool { return pbx.live("201") == 1 }, wait, tick)
}

func TestDeactivatedResubscribes(t *testing.T) {
	pbx := newFakePBX(t)
	pbx.set(func(p *fakePBX) { p.dialogs["201"] = confirmed("d1") })
	h := startWatcher(t, pbx, nil)

	require.Eventually(t, func() bool { return h.sink.line(t, "201") == presence.LineInCall }, wait, tick)
	old := pbx.latest("201")
	require.Equal(t, 200, pbx.notify(old, "terminated;reason=deactivated", "full", ""))
	require.Eventually(t, func() bool {
		s := pbx.latest("201")
		return s != nil && s.callID != old.callID
	}, wait, tick)
	assert.Equal(t, 1, pbx.live("201"))
	require.Eventually(t, func() bool { return h.sink.line(t, "201") == presence.LineInCall }, wait, tick)
	assert.Equal(t, 1, h.sink.publications("201"))

	// The old dialog is gone for good; unknown Call-IDs are not ours.
	assert.Equal(t, 481, pbx.notify(old, "active;expires=60", "full", ""))
	stray := *old
	stray.callID = "not-ours"
	assert.Equal(t, 404, pbx.notify(&stray, "active;expires=60", "full", ""))
}

func TestDigestAuth(t *testing.T) {
	pbx := newFakePBX(t)
	pbx.set(func(p *fakePBX) { p.challenge = true })
	startWatcher(t, pbx, func(c *Config) {
		c.Username, c.Password = "watch", "s3cret"
		c.Expires = 2 * time.Second
	})
	require.Eventually(t, func() bool { return pbx.live("201") == 1 }, wait, tick)
	// The in-dialog refresh is challenged too, and passes.
	require.Eventually(t, func() bool { return pbx.count(func(p *fakePBX) int { return p.refreshes }) >= 1 }, wait, tick)
	assert.GreaterOrEqual(t, pbx.count(func(p *fakePBX) int { return p.authorized }), 2)
	assert.Equal(t, 1, pbx.count(func(p *fakePBX) int { return p.initials }))
}

func TestWrongPasswordBacksOff(t *testing.T) {
	pbx := newFakePBX(t)
	pbx.set(func(p *fakePBX) { p.challenge = true })
	startWatcher(t, pbx, func(c *Config) {
		c.Username, c.Password = "watch", "wrong"
		c.MaxBackoff = 5 * time.Second
	})
	require.Eventually(t, func() bool { return pbx.count(func(p *fakePBX) int { return len(p.received) }) >= 2 }, wait, tick)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 2, pbx.count(func(p *fakePBX) int { return len(p.received) }), "403 is retried only after the long backoff")
	assert.Equal(t, 0, pbx.live(""))
}

func TestLeaseHeldElsewhere(t *testing.T) {
	pbx := newFakePBX(t)
	leases := NewMemLeases()
	other := leases.For("other")
	ctx := context.Background()
	key := "watcher:201@example.com:dialog"
	ok, err := other.Acquire(ctx, key, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)

	startWatcher(t, pbx, func(c *Config) {
		c.Extensions = []string{"201", "202"}
		c.Lease = leases.For("me")
		c.LeaseTTL = 150 * time.Millisecond
	})
	require.Eventually(t, func() bool { return pbx.live("202") == 1 }, wait, tick)
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 0, pbx.live("201"), "another instance holds 201")
	assert.Equal(t, "me", leases.Holder("watcher:202@example.com:dialog"))

	require.NoError(t, other.Release(ctx, key))
	require.Eventually(t, func() bool { return pbx.live("201") == 1 }, wait, tick)
	assert.Equal(t, "me", leases.Holder(key))
}

func TestShutdownUnsubscribesAndWithdraws(t *testing.T) {
	pbx := newFakePBX(t)
	pbx.set(func(p *fakePBX) { p.dialogs["201"] = ringing("d1") })
	h := startWatcher(t, pbx, nil)
	require.Eventually(t, func() bool { return h.sink.line(t, "201") == presence.LineRinging }, wait, tick)

	h.stop()
	assert.Equal(t, 0, pbx.live(""))
	assert.Equal(t, 1, pbx.count(func(p *fakePBX) int { return p.unsubs }))
	assert.Equal(t, 0, h.sink.publications("201"))
}

func testLogger(t *testing.T) zerolog.Logger {
	if os.Getenv("WATCHER_DEBUG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel).With().Timestamp().Logger()
}
