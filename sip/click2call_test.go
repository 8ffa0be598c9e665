package sip

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// c2cPhone is a phone on loopback UDP, a sipgo user agent scripted to
// answer the INVITE with answer (0: ring until cancelled), the REFER with
// refer, then NOTIFY the sipfrags of its call to the number (frags).
type c2cPhone struct {
	addr   string
	answer int
	refer  int
	frags  []int

	invites chan *sipmsg.Request
	refers  chan *sipmsg.Request
	byes    chan *sipmsg.Request
	cancels chan struct{}
}

func startC2CPhone(t *testing.T, answer, refer int, frags ...int) *c2cPhone {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &c2cPhone{
		addr: conn.LocalAddr().String(), answer: answer, refer: refer, frags: frags,
		invites: make(chan *sipmsg.Request, 4), refers: make(chan *sipmsg.Request, 4),
		byes: make(chan *sipmsg.Request, 4), cancels: make(chan struct{}, 4),
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("TestPhone"))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(ua)
	require.NoError(t, err)
	client, err := sipgo.NewClient(ua)
	require.NoError(t, err)
	host, port, _ := net.SplitHostPort(p.addr)
	portN, err := strconv.Atoi(port)
	require.NoError(t, err)
	dua := &sipgo.DialogUA{Client: client, ContactHDR: sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "201", Host: host, Port: portN}}}
	var mu sync.Mutex
	var sess *sipgo.DialogServerSession
	var wg sync.WaitGroup
	stopped := false // under mu: no NOTIFY sender starts once set
	srv.OnInvite(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		p.invites <- req
		s, err := dua.ReadInvite(req, tx)
		if err != nil {
			return
		}
		mu.Lock()
		sess = s
		mu.Unlock()
		_ = s.Respond(sipmsg.StatusRinging, "Ringing", nil)
		if p.answer == 0 {
			<-tx.Done()
			p.cancels <- struct{}{}
			return
		}
		if p.answer != 200 {
			_ = s.Respond(p.answer, "Refused", nil)
			return
		}
		sdp := []byte("v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\n")
		_ = s.Respond(sipmsg.StatusOK, "OK", sdp, sipmsg.NewHeader("Content-Type", "application/sdp"))
	})
	srv.OnAck(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		mu.Lock()
		defer mu.Unlock()
		if sess != nil {
			_ = sess.ReadAck(req, tx)
		}
	})
	srv.OnRequest(sipmsg.REFER, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		p.refers <- req
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, p.refer, "Refer", nil))
		if p.refer >= 300 {
			return
		}
		mu.Lock()
		s := sess
		if stopped { // the test is over: Add must not race Wait
			mu.Unlock()
			return
		}
		wg.Add(1)
		mu.Unlock()
		go func() {
			defer wg.Done()
			for i, code := range p.frags {
				n := sipmsg.NewRequest(sipmsg.NOTIFY, req.Contact().Address)
				n.AppendHeader(sipmsg.NewHeader("Event", "refer"))
				state := "active;expires=60"
				if i == len(p.frags)-1 {
					state = "terminated;reason=noresource"
				}
				n.AppendHeader(sipmsg.NewHeader("Subscription-State", state))
				n.AppendHeader(sipmsg.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
				n.SetBody([]byte("SIP/2.0 " + strconv.Itoa(code) + " Status\r\n"))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, _ = s.Do(ctx, n)
				cancel()
			}
		}()
	})
	srv.OnBye(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		p.byes <- req
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		wg.Wait()
		ua.Close()
		conn.Close()
		<-done
	})
	return p
}

// register binds 201's phone at p, as its REGISTER would.
func (p *c2cPhone) register(t *testing.T, core *presence.Service) {
	t.Helper()
	_, err := core.Register(context.Background(), presence.NewAOR("201", "pbx.example.com"), presence.Registration{
		CallID: "reg-1", CSeq: 1,
		Contacts: []presence.ContactUpdate{{URI: "sip:201@" + p.addr, Expires: time.Hour, Transport: "udp"}},
	})
	require.NoError(t, err)
}

// startC2C runs click-to-call on a test server, with reports collected.
func startC2C(t *testing.T, cfg ClickToCallConfig) (*testServer, *ClickToCall, chan CallProgress) {
	t.Helper()
	ts := startServer(t, Config{})
	// Our Contact names the listening port: wait until sipgo has it.
	require.Eventually(t, func() bool { return len(ts.edge.ua.TransportLayer().ListenPorts("udp")) > 0 }, 5*time.Second, 5*time.Millisecond)
	c := ts.edge.NewClickToCall(cfg, ts.core)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ts, c, make(chan CallProgress, 16)
}

// finalOf collects reports until connected or failed.
func finalOf(t *testing.T, reports chan CallProgress) []CallProgress {
	t.Helper()
	var got []CallProgress
	timeout := time.After(20 * time.Second)
	for {
		select {
		case p := <-reports:
			got = append(got, p)
			if p.State == CallConnected || p.State == CallFailed {
				return got
			}
		case <-timeout:
			t.Fatalf("no final report; got %+v", got)
		}
	}
}

func states(ps []CallProgress) []CallState {
	var out []CallState
	for _, p := range ps {
		out = append(out, p.State)
	}
	return out
}

func TestClickToCallConnects(t *testing.T) {
	ts, c, reports := startC2C(t, ClickToCallConfig{AutoAnswer: true})
	phone := startC2CPhone(t, 200, 202, 100, 180, 200)
	phone.register(t, ts.core)

	require.NoError(t, c.Start(CallRequest{ID: "c1", From: presence.NewAOR("201", "pbx.example.com"), Number: "+33491550142"},
		func(p CallProgress) { reports <- p }))
	got := finalOf(t, reports)
	assert.Equal(t, []CallState{CallRinging, CallConnecting, CallConnected}, states(got))
	assert.Equal(t, 3, got[2].Seq)

	inv := <-phone.invites
	assert.Equal(t, "<sip:pbx.example.com>;answer-after=0", header(inv, "Call-Info"))
	assert.Equal(t, "info=alert-autoanswer", header(inv, "Alert-Info"))
	assert.Contains(t, string(inv.Body()), "a=inactive")
	assert.Equal(t, "+33491550142", inv.From().DisplayName)
	ref := <-phone.refers
	assert.Equal(t, "<sip:+33491550142@pbx.example.com>", header(ref, "Refer-To"))
	assert.Equal(t, inv.CallID().Value(), ref.CallID().Value(), "REFER is in the INVITE's dialog")
	select {
	case bye := <-phone.byes:
		assert.Equal(t, inv.CallID().Value(), bye.CallID().Value())
	case <-time.After(10 * time.Second):
		t.Fatal("switchboard did not hang up its leg")
	}
}

func TestClickToCallFailures(t *testing.T) {
	tests := []struct {
		name   string
		answer int
		refer  int
		frags  []int
		reason string
		status int
	}{
		{name: "phone busy", answer: 486, reason: ReasonBusy, status: 486},
		{name: "phone declines", answer: 603, reason: ReasonDeclined, status: 603},
		{name: "no answer", answer: 0, reason: ReasonNoAnswer},
		{name: "refer refused", answer: 200, refer: 603, reason: ReasonReferRefused, status: 603},
		{name: "target busy", answer: 200, refer: 202, frags: []int{100, 486}, reason: ReasonTargetBusy, status: 486},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, c, reports := startC2C(t, ClickToCallConfig{RingTimeout: time.Second})
			phone := startC2CPhone(t, tt.answer, tt.refer, tt.frags...)
			phone.register(t, ts.core)
			require.NoError(t, c.Start(CallRequest{ID: "c", From: presence.NewAOR("201", "pbx.example.com"), Number: "0491550142"},
				func(p CallProgress) { reports <- p }))
			got := finalOf(t, reports)
			last := got[len(got)-1]
			assert.Equal(t, CallFailed, last.State)
			assert.Equal(t, tt.reason, last.Reason)
			assert.Equal(t, tt.status, last.Status)
			inv := <-phone.invites
			assert.Empty(t, header(inv, "Call-Info"), "auto-answer is off unless configured")
			if tt.answer == 0 {
				select {
				case <-phone.cancels:
				case <-time.After(10 * time.Second):
					t.Fatal("the ringing phone was not cancelled")
				}
			}
			if tt.answer == 200 {
				select {
				case <-phone.byes:
				case <-time.After(10 * time.Second):
					t.Fatal("an answered phone was not hung up")
				}
			}
		})
	}
}

func TestClickToCallNotRegistered(t *testing.T) {
	_, c, reports := startC2C(t, ClickToCallConfig{})
	require.NoError(t, c.Start(CallRequest{ID: "c", From: presence.NewAOR("209", "pbx.example.com"), Number: "201"},
		func(p CallProgress) { reports <- p }))
	got := finalOf(t, reports)
	assert.Equal(t, ReasonNotRegistered, got[len(got)-1].Reason)
}

func TestClickToCallThroughPBX(t *testing.T) {
	// The "PBX" is the phone itself: the INVITE for sip:201@domain goes
	// to the PBX address, not to a binding (there is none).
	phone := startC2CPhone(t, 200, 202, 200)
	_, c, reports := startC2C(t, ClickToCallConfig{PBX: phone.addr})
	require.NoError(t, c.Start(CallRequest{ID: "c", From: presence.NewAOR("201", "pbx.example.com"), Number: "202"},
		func(p CallProgress) { reports <- p }))
	got := finalOf(t, reports)
	assert.Equal(t, CallConnected, got[len(got)-1].State)
	inv := <-phone.invites
	assert.Equal(t, "sip:201@pbx.example.com", inv.Recipient.String())
}

func TestSipfragStatus(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{name: "ok", body: "SIP/2.0 200 OK\r\n", want: 200},
		{name: "trying with headers", body: "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n", want: 100},
		{name: "empty", body: "", want: 0},
		{name: "not a status line", body: "INVITE sip:a@b SIP/2.0\r\n", want: 0},
		{name: "out of range", body: "SIP/2.0 999 Nope\r\n", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, sipfragStatus([]byte(tt.body)))
		})
	}
}

func TestStrayByeIs481(t *testing.T) {
	ts := startServer(t, Config{})
	p := newRawPhone(t, "127.0.0.1", ts.udp)
	p.Request("BYE", "sip:switchboard@pbx.example.com", "sip:201@pbx.example.com", "nope", 2, "", "")
	assert.Equal(t, 481, p.Response("BYE").StatusCode)
}

func TestClickToCallAfterStopRefused(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.edge.NewClickToCall(ClickToCallConfig{}, ts.core)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, c.Run(ctx))
	err := c.Start(CallRequest{ID: "c", From: presence.NewAOR("201", "pbx.example.com"), Number: "202"}, func(CallProgress) {})
	assert.ErrorIs(t, err, ErrClickToCallStopped)
}

func TestClickToCallQueueBounded(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.edge.NewClickToCall(ClickToCallConfig{Queue: 1}, ts.core)
	req := CallRequest{ID: "c", From: presence.NewAOR("201", "pbx.example.com"), Number: "202"}
	require.NoError(t, c.Start(req, func(CallProgress) {}))
	assert.ErrorIs(t, c.Start(req, func(CallProgress) {}), ErrClickToCallBusy, "a full queue refuses, never blocks")
	// Run, stopped at once, reports the queued call as failed.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got []CallProgress
	c2 := ts.edge.NewClickToCall(ClickToCallConfig{Queue: 1}, ts.core)
	require.NoError(t, c2.Start(req, func(p CallProgress) { got = append(got, p) }))
	require.NoError(t, c2.Run(ctx))
	require.Len(t, got, 1)
	assert.Equal(t, ReasonShutdown, got[0].Reason)
}
