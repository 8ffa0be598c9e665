package sip

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// benchPhone is a UDP client for the end-to-end benchmarks: it writes
// requests as text and reads replies with one buffer, so that the
// allocations a benchmark reports are nearly all the server's.
type benchPhone struct {
	b    *testing.B
	conn *net.UDPConn
	srv  *net.UDPAddr
	addr string
	buf  []byte
	out  bytes.Buffer
}

func newBenchPhone(b *testing.B, srv *testServer) *benchPhone {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(b, err)
	b.Cleanup(func() { c.Close() })
	to, err := net.ResolveUDPAddr("udp", srv.udp)
	require.NoError(b, err)
	return &benchPhone{b: b, conn: c, srv: to, addr: c.LocalAddr().String(), buf: make([]byte, 65535)}
}

// send writes one request; headers are extra lines, each ending in \r\n.
func (p *benchPhone) send(method, ruri, callID, fromTag, from, to string, cseq int, headers, body string) {
	o := &p.out
	o.Reset()
	fmt.Fprintf(o, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s-%d-%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <%s>;tag=%s\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:300@%s>\r\n%sContent-Length: %d\r\n\r\n%s",
		method, ruri, p.addr, callID, cseq, method, from, fromTag, to, callID, cseq, method, p.addr, headers, len(body), body)
	if _, err := p.conn.WriteToUDP(o.Bytes(), p.srv); err != nil {
		p.b.Fatal(err)
	}
}

// read returns the next datagram, valid until the next read.
func (p *benchPhone) read() []byte {
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := p.conn.ReadFromUDP(p.buf)
	if err != nil {
		p.b.Fatal(err)
	}
	return p.buf[:n]
}

// final waits for the final response to method and returns its status
// and its header value name (empty when absent). A NOTIFY meanwhile is
// answered.
func (p *benchPhone) final(method, name string) (int, string) {
	for {
		m := p.read()
		if bytes.HasPrefix(m, []byte("NOTIFY ")) {
			p.answer(m)
			continue
		}
		if !bytes.HasPrefix(m, []byte("SIP/2.0 ")) || !bytes.Contains(m, []byte(" "+method+"\r\n")) {
			continue
		}
		code, _ := strconv.Atoi(string(m[8:11]))
		if code < 200 {
			continue
		}
		return code, headerValue(m, name)
	}
}

// notify waits for a NOTIFY and answers it 200.
func (p *benchPhone) notify() {
	for {
		if m := p.read(); bytes.HasPrefix(m, []byte("NOTIFY ")) {
			p.answer(m)
			return
		}
	}
}

// answer replies 200 to the request m, copying the headers RFC 3261 §8.2.6 names.
func (p *benchPhone) answer(m []byte) {
	o := &p.out
	o.Reset()
	o.WriteString("SIP/2.0 200 OK\r\n")
	for line := range bytes.SplitSeq(m, []byte("\r\n")) {
		if len(line) == 0 {
			break
		}
		for _, h := range [...]string{"Via:", "From:", "To:", "Call-ID:", "CSeq:"} {
			if len(line) > len(h) && strings.EqualFold(string(line[:len(h)]), h) {
				o.Write(line)
				o.WriteString("\r\n")
			}
		}
	}
	o.WriteString("Content-Length: 0\r\n\r\n")
	if _, err := p.conn.WriteToUDP(o.Bytes(), p.srv); err != nil {
		p.b.Fatal(err)
	}
}

func headerValue(m []byte, name string) string {
	if name == "" {
		return ""
	}
	for line := range bytes.SplitSeq(m, []byte("\r\n")) {
		if len(line) == 0 {
			break
		}
		if len(line) > len(name)+1 && strings.EqualFold(string(line[:len(name)]), name) && line[len(name)] == ':' {
			return strings.TrimSpace(string(line[len(name)+1:]))
		}
	}
	return ""
}

// benchServer is an edge as compare.sh runs it: no rate limit, no caps.
func benchServer(b *testing.B) *testServer {
	return startServer(b, Config{RateLimit: -1, MaxSubscriptionsPerWatcher: -1, MaxSubscriptionsPerTarget: -1})
}

// BenchmarkRegister is one REGISTER handled end to end over UDP: parsed,
// stored in the presence core and answered 200.
func BenchmarkRegister(b *testing.B) {
	srv := benchServer(b)
	p := newBenchPhone(b, srv)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		p.send("REGISTER", "sip:pbx.example.com", "reg-"+strconv.Itoa(i%500), "r1",
			"sip:"+strconv.Itoa(1000+i%500)+"@pbx.example.com", "sip:"+strconv.Itoa(1000+i%500)+"@pbx.example.com", i, "Expires: 600\r\n", "")
		if code, _ := p.final("REGISTER", ""); code != 200 {
			b.Fatalf("REGISTER answered %d", code)
		}
	}
}

// BenchmarkSubscribe is one dialog SUBSCRIBE accepted with its first
// NOTIFY sent and answered. The subscriptions are held (new dialogs).
func BenchmarkSubscribe(b *testing.B) {
	srv := benchServer(b)
	p := newBenchPhone(b, srv)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		p.send("SUBSCRIBE", ext201, "sub-"+strconv.Itoa(i), "s"+strconv.Itoa(i), "sip:300@pbx.example.com", ext201, 1,
			"Event: dialog\r\nAccept: application/dialog-info+xml\r\nExpires: 3600\r\n", "")
		if code, _ := p.final("SUBSCRIBE", ""); code != 200 {
			b.Fatalf("SUBSCRIBE answered %d", code)
		}
		p.notify()
	}
}

// BenchmarkPublish is one dialog PUBLISH and its removal (Expires: 0),
// as the SIPp PUBLISH scenario does, with no subscriber.
func BenchmarkPublish(b *testing.B) {
	srv := benchServer(b)
	p := newBenchPhone(b, srv)
	body := strings.ReplaceAll(earlyBody(0, "early"), "\n", "\r\n")
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		ext := "sip:" + strconv.Itoa(1000+i%500) + "@pbx.example.com"
		p.send("PUBLISH", ext, "pub-"+strconv.Itoa(i), "p1", ext, ext, 1,
			"Event: dialog\r\nExpires: 120\r\nContent-Type: application/dialog-info+xml\r\n", body)
		code, etag := p.final("PUBLISH", "SIP-ETag")
		if code != 200 || etag == "" {
			b.Fatalf("PUBLISH answered %d, etag %q", code, etag)
		}
		p.send("PUBLISH", ext, "pub-"+strconv.Itoa(i), "p1", ext, ext, 2, "Event: dialog\r\nExpires: 0\r\nSIP-If-Match: "+etag+"\r\n", "")
		if code, _ := p.final("PUBLISH", ""); code != 200 {
			b.Fatalf("PUBLISH removal answered %d", code)
		}
	}
}

// BenchmarkNotify is one NOTIFY built, sent over UDP and answered 200.
func BenchmarkNotify(b *testing.B) {
	srv := benchServer(b)
	farm := newPhoneFarm(b)
	aor := presence.NewAOR("201", "pbx.example.com")
	target := sipmsg.Uri{Scheme: "sip", User: "300", Host: "127.0.0.1"}
	sub := &subscription{
		id: dialogID{callID: "one", localTag: "l", remoteTag: "r"},
		localParty: &localParty{event: presence.EventDialog, aor: aor,
			local:     sipmsg.Uri{Scheme: "sip", User: "201", Host: "pbx.example.com"},
			transport: "UDP", contact: "<sip:switchboard@127.0.0.1>"},
		remote: target, target: target, source: farm.conn.LocalAddr().String(), expires: time.Now().Add(time.Hour),
	}
	view := presence.View{AOR: aor, Line: presence.LineIdle, Status: presence.StatusAvailable}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		sub.sendMu.Lock()
		err := srv.edge.sendNotify(ctx, sub, view, "active;expires=3600", true)
		sub.sendMu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeldSubscriptions reports the live heap per held dialog
// subscription (bytes/sub) after 2,000 SUBSCRIBEs, each answered with its
// first NOTIFY. "fresh": finished transactions are still kept (the lean
// UDP cache's SUBSCRIBE responses for Timer J, sipgo's NOTIFY client
// transactions for Timer K/D), as they are for subscriptions made in the
// last 32 s; "settled": they are gone (the timers shortened for the
// benchmark), what a held subscription costs for the rest of its life.
// Both over 1,000 extensions, 2 watchers each; "settled-50-per-ext" over
// 40, 50 watchers each, as integration/perf/compare.sh makes them (the
// watchers of an extension share what is the same for all of them).
func BenchmarkHeldSubscriptions(b *testing.B) {
	const n = 2000
	for _, c := range []struct {
		name    string
		settled bool
		exts    int
	}{{"fresh", false, 1000}, {"settled", true, 1000}, {"settled-50-per-ext", true, 40}} {
		name, settled := c.name, c.settled
		b.Run(name, func(b *testing.B) {
			if settled {
				j, k := sipmsg.Timer_J, sipmsg.Timer_K
				sipmsg.Timer_J, sipmsg.Timer_K = time.Millisecond, time.Millisecond
				b.Cleanup(func() { sipmsg.Timer_J, sipmsg.Timer_K = j, k })
			}
			for b.Loop() {
				b.StopTimer()
				srv := benchServer(b)
				p := newBenchPhone(b, srv)
				before := liveHeap()
				b.StartTimer()
				for i := range n {
					ext := "sip:" + strconv.Itoa(1000+i%c.exts) + "@pbx.example.com"
					p.send("SUBSCRIBE", ext, "held-"+strconv.Itoa(i), "h"+strconv.Itoa(i), "sip:"+strconv.Itoa(5000+i)+"@pbx.example.com", ext, 1,
						"Event: dialog\r\nAccept: application/dialog-info+xml\r\nExpires: 3600\r\n", "")
					if code, _ := p.final("SUBSCRIBE", ""); code != 200 {
						b.Fatalf("SUBSCRIBE answered %d", code)
					}
					p.notify()
				}
				b.StopTimer()
				require.Equal(b, n, srv.edge.Subscriptions())
				if settled {
					time.Sleep(100 * time.Millisecond) // the transactions' timers fire
				}
				b.ReportMetric(float64(liveHeap()-before)/n, "bytes/sub")
				if path := os.Getenv("HELD_HEAP_PROFILE"); path != "" {
					// Where the held bytes are: go tool pprof -sample_index=inuse_space
					f, err := os.Create(path + "." + name)
					require.NoError(b, err)
					require.NoError(b, pprof.WriteHeapProfile(f))
					require.NoError(b, f.Close())
				}
				b.StartTimer()
			}
		})
	}
}

func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
