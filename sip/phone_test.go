package sip

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

func TestMain(m *testing.M) {
	// sipgo logs every unparsable datagram whole; the tests send many.
	sipmsg.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// testServer is a Switchboard SIP edge on loopback UDP and TCP.
type testServer struct {
	core *presence.Service
	edge *Server
	udp  string
	tcp  string
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if len(cfg.Domains) == 0 {
		cfg.Domains = []string{"pbx.example.com"}
	}
	core := presence.New(presence.Config{Tick: 50 * time.Millisecond}, presence.NewMemStore(), zerolog.Nop())
	edge, err := New(cfg, Deps{Core: core}, zerolog.Nop())
	require.NoError(t, err)
	core.Watch(edge.Changed)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = core.Run(ctx) }()
	go func() { defer wg.Done(); _ = edge.Serve(ctx, udp, tcp, 2*time.Second) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &testServer{core: core, edge: edge, udp: udp.LocalAddr().String(), tcp: tcp.Addr().String()}
}

func newPhone(t *testing.T, srv *testServer, transport string) *siptest.Phone {
	t.Helper()
	if transport == "TCP" {
		return siptest.NewPhone(t, transport, srv.tcp)
	}
	return siptest.NewPhone(t, transport, srv.udp)
}
