package sip

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The raw sender's datagrams leave from the listener's own address, over
// IPv4 and IPv6 sockets (an IPv4 peer of a dual-stack one mapped), and it
// sends nothing once closed.
func TestRawSenderSendsFromTheListener(t *testing.T) {
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) {
			loop := "127.0.0.1:0"
			if network == "udp6" {
				loop = "[::1]:0"
			}
			l, err := net.ListenPacket(network, loop)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer l.Close()
			peer, err := net.ListenPacket(network, loop)
			require.NoError(t, err)
			defer peer.Close()

			raw, err := newRawSender(l)
			require.NoError(t, err)
			to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
			require.NoError(t, raw.send([]byte("NOTIFY one"), to))
			buf := make([]byte, 100)
			require.NoError(t, peer.SetReadDeadline(time.Now().Add(5*time.Second)))
			n, from, err := peer.ReadFrom(buf)
			require.NoError(t, err)
			assert.Equal(t, "NOTIFY one", string(buf[:n]))
			assert.Equal(t, l.LocalAddr().String(), from.String(), "from the listener's address and port")

			raw.close()
			assert.ErrorIs(t, raw.send([]byte("NOTIFY two"), to), errRawClosed)
		})
	}
}

// A dual-stack socket reaches an IPv4 peer through its mapped address.
func TestRawSenderDualStackToIPv4(t *testing.T) {
	l, err := net.ListenPacket("udp", ":0")
	require.NoError(t, err)
	defer l.Close()
	raw, err := newRawSender(l)
	require.NoError(t, err)
	defer raw.close()
	if !raw.v6 {
		t.Skip("the wildcard socket is IPv4 only here")
	}
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer peer.Close()
	require.NoError(t, raw.send([]byte("hello"), netip.MustParseAddrPort(peer.LocalAddr().String())))
	buf := make([]byte, 10)
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, _, err := peer.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
}
