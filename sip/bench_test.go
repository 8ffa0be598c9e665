package sip

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

func BenchmarkParseRegister(b *testing.B) {
	srv := &Server{cfg: Config{}}
	srv.cfg.SetDefaults()
	raw := "REGISTER sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKabc;rport\r\nMax-Forwards: 70\r\n" +
		"From: <sip:201@pbx.example.com>;tag=a1\r\nTo: <sip:201@pbx.example.com>\r\nCall-ID: reg-1@10.0.0.5\r\nCSeq: 42 REGISTER\r\n" +
		"Contact: <sip:201@10.0.0.5:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000B82ABCDEF>\";expires=3600\r\n" +
		"User-Agent: Yealink SIP-T46U 108.86.0.45\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
	b.ReportAllocs()
	for b.Loop() {
		m, err := sipmsg.ParseMessage([]byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.parseRegister(m.(*sipmsg.Request)); err != nil {
			b.Fatal(err)
		}
	}
}

// phoneFarm answers every NOTIFY it receives with 200, like a room full of
// desk phones, and counts them.
type phoneFarm struct {
	conn net.PacketConn
	got  atomic.Int64
}

func newPhoneFarm(b *testing.B) *phoneFarm {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(b, err)
	if uc, ok := c.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(8 << 20)
		_ = uc.SetWriteBuffer(8 << 20)
	}
	f := &phoneFarm{conn: c}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		parser := sipmsg.NewParser()
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := parser.ParseSIP(append([]byte(nil), buf[:n]...))
			if err != nil {
				continue
			}
			if req, ok := m.(*sipmsg.Request); ok && req.Method == sipmsg.NOTIFY {
				f.got.Add(1)
				res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
				_, _ = c.WriteTo([]byte(res.String()), from)
			}
		}
	}()
	b.Cleanup(func() { c.Close(); <-done })
	return f
}

// BenchmarkNotifyFanout measures one presence change reaching n subscribers:
// the time from the change to the last NOTIFY answered.
func BenchmarkNotifyFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			srv := startServer(b, Config{NotifyTimeout: 5 * time.Second})
			farm := newPhoneFarm(b)
			aor := presence.NewAOR("201", "pbx.example.com")
			target := sipmsg.Uri{Scheme: "sip", User: "300", Host: "127.0.0.1"}
			for i := range n {
				srv.edge.subs.add(&subscription{
					id: dialogID{callID: fmt.Sprintf("fan-%d", i), localTag: "l", remoteTag: "r"},
					localParty: &localParty{event: presence.EventDialog, aor: aor,
						local:     sipmsg.Uri{Scheme: "sip", User: "201", Host: "pbx.example.com"},
						transport: "UDP", contact: "<sip:switchboard@127.0.0.1>"},
					remote: target, target: target, source: farm.conn.LocalAddr().String(), expires: time.Now().Add(time.Hour),
				})
			}
			ctx := context.Background()
			var cseq uint32
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				want := farm.got.Load() + int64(n)
				cseq++
				if _, err := srv.core.Register(ctx, aor, presence.Registration{CallID: "fan", CSeq: cseq,
					Contacts: []presence.ContactUpdate{{URI: "sip:201@10.0.0.5", Expires: time.Duration(cseq%2) * time.Hour}}}); err != nil {
					b.Fatal(err)
				}
				deadline := time.Now().Add(60 * time.Second)
				for farm.got.Load() < want {
					if time.Now().After(deadline) {
						b.Fatalf("only %d of %d NOTIFYs answered", farm.got.Load()-(want-int64(n)), n)
					}
					time.Sleep(200 * time.Microsecond)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/notify")
		})
	}
}
