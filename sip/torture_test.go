package sip

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTorture sends the RFC 4475 torture messages (§3.1.1 valid, §3.1.2
// invalid) over UDP to a running server. Valid requests must be answered
// (405 is fine for methods we do not serve); invalid ones get 400 or are
// dropped, as the RFC allows, and the server keeps serving.
func TestTorture(t *testing.T) {
	srv := startServer(t, Config{})
	// Codes allowed besides silence for an invalid message; nil means 400.
	invalidOK := map[string][]int{
		"badvers":  {400, 505}, // §3.1.2.16: 505 Version Not Supported
		"baddate":  {405},      // §3.1.2.12: a bad Date is ignored; INVITE is not served
		"regbadct": {400, 404}, // §3.1.2.13: 400, or example.com is not our domain
	}
	files, err := filepath.Glob("testdata/torture/*/*.dat")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		kind, name := filepath.Base(filepath.Dir(f)), strings.TrimSuffix(filepath.Base(f), ".dat")
		t.Run(kind+"/"+name, func(t *testing.T) {
			msg, err := os.ReadFile(f)
			require.NoError(t, err)
			p := newRawPhone(t, "127.0.0.1", srv.udp)
			_, err = p.conn.WriteTo(withRport(msg), p.server)
			require.NoError(t, err)
			isResponse := strings.HasPrefix(string(msg), "SIP/")
			wait := 2 * time.Second
			if kind == "invalid" || isResponse {
				wait = 300 * time.Millisecond
			}
			var res *sipmsg.Response
			if m := p.Recv(wait); m != nil {
				res, _ = m.(*sipmsg.Response)
			}
			switch {
			case isResponse:
				assert.Nil(t, res, "a stray response is never answered")
			case kind == "valid":
				require.NotNil(t, res, "a valid request must be answered")
				assert.True(t, res.StatusCode >= 200 && res.StatusCode < 700, res.StatusCode)
			case res != nil:
				ok := invalidOK[name]
				if ok == nil {
					ok = []int{400}
				}
				assert.Contains(t, ok, res.StatusCode, res.Reason)
			}
		})
	}
	p := newPhone(t, srv, "UDP")
	p.Request("OPTIONS", "sip:pbx.example.com", 1, "after-torture", "o1", "", "", "")
	assert.Equal(t, 200, p.Response("OPTIONS").StatusCode, "still serving")
}

// withRport adds rport (RFC 3581) to the first Via value of msg, so the
// answer comes back to the test's socket instead of the Via port (5060 by
// default, RFC 3261 §18.2.2). The tortured parts stay as they are.
func withRport(msg []byte) []byte {
	s := string(msg)
	for i := 0; i < len(s); {
		end := strings.Index(s[i:], "\r\n")
		if end <= 0 {
			return msg // the headers ended without a Via
		}
		line := s[i : i+end]
		name, _, ok := strings.Cut(line, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); ok && (n == "via" || n == "v") {
			// The value runs over folded lines up to a comma or the end.
			j := i + len(name) + 1
			for ; j < len(s); j++ {
				if s[j] == ',' || (strings.HasPrefix(s[j:], "\r\n") && (j+2 >= len(s) || (s[j+2] != ' ' && s[j+2] != '\t'))) {
					break
				}
			}
			return []byte(s[:j] + ";rport" + s[j:])
		}
		i += end + 2
	}
	return msg
}

// TestOversizedTCP sends messages over TCP that announce or stream more
// than MaxMessageSize: the server must not buffer them, answers nothing
// for them, and goes on serving.
func TestOversizedTCP(t *testing.T) {
	srv := startServer(t, Config{MaxMessageSize: 16 << 10})
	tests := []struct {
		name string
		msg  string
	}{
		{name: "huge content length", msg: "PUBLISH sip:201@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKbig1\r\nFrom: <sip:300@pbx.example.com>;tag=a\r\nTo: <sip:201@pbx.example.com>\r\nCall-ID: big1\r\nCSeq: 1 PUBLISH\r\nEvent: dialog\r\nContent-Type: application/dialog-info+xml\r\nContent-Length: 999999999\r\n\r\n<dialog-info"},
		{name: "endless headers", msg: "OPTIONS sip:pbx.example.com SIP/2.0\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("a", 100)+"\r\n", 400)},
		{name: "endless line", msg: "OPTIONS sip:pbx.example.com SIP/2.0\r\nSubject: " + strings.Repeat("b", 40<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.tcp)
			require.NoError(t, err)
			defer c.Close()
			_, _ = c.Write([]byte(tt.msg)) // the server may close mid-write
			require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
			b, _ := io.ReadAll(c)
			assert.NotContains(t, string(b), "SIP/2.0 200", "an oversized message is never served")
		})
	}
	p := newPhone(t, srv, "TCP")
	p.Request("OPTIONS", "sip:pbx.example.com", 1, "after-big", "o1", "", "", "")
	assert.Equal(t, 200, p.Response("OPTIONS").StatusCode)
}

// TestHostileBodies sends PUBLISH bodies built to hurt an XML parser.
func TestHostileBodies(t *testing.T) {
	srv := startServer(t, Config{})
	deep := strings.Repeat("<a>", 5000) + strings.Repeat("</a>", 5000)
	tests := []struct {
		name, event, ctype, body string
	}{
		{name: "external entity", event: "dialog", ctype: typeDialogInfo, body: `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="&x;"/>`},
		{name: "deep nesting dialog-info", event: "dialog", ctype: typeDialogInfo, body: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="sip:201@pbx.example.com">` + deep + `</dialog-info>`},
		{name: "deep nesting pidf", event: "presence", ctype: typePIDF, body: `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:201@pbx.example.com">` + deep + `</presence>`},
		{name: "huge attribute", event: "dialog", ctype: typeDialogInfo, body: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="` + strings.Repeat("e", 50000) + `"/>`},
		{name: "pidf entity expansion", event: "presence", ctype: typePIDF, body: `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="&b;"/>`},
		{name: "not xml", event: "presence", ctype: typePIDF, body: "\x00\xff\xfe garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPhone(t, srv, "TCP") // TCP: bodies beyond a datagram
			p.Request("PUBLISH", ext201, 1, "hostile-"+sipmsg.GenerateTagN(6), "h1", "", "Event: "+tt.event+"\nContent-Type: "+tt.ctype+"\n", tt.body)
			res := p.Response("PUBLISH")
			assert.Equal(t, 400, res.StatusCode, res.Reason)
		})
	}
}

// selfSigned writes a fresh self-signed certificate for 127.0.0.1 and its
// key into dir and returns their paths and the certificate's serial.
func selfSigned(t *testing.T, dir string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "pbx.example.com"},
		DNSNames:     []string{"pbx.example.com"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

// readSIP reads one message from a stream, framed by Content-Length.
func readSIP(t *testing.T, r *bufio.Reader) *sipmsg.Response {
	t.Helper()
	var head strings.Builder
	length := 0
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		head.WriteString(line)
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	body := make([]byte, length)
	_, err := io.ReadFull(r, body)
	require.NoError(t, err)
	m, err := sipmsg.ParseMessage(append([]byte(head.String()), body...))
	require.NoError(t, err)
	res, ok := m.(*sipmsg.Response)
	require.True(t, ok, "want a response, got %s", m.String())
	return res
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, 1)
	certs, err := NewCertReloader(certFile, keyFile)
	require.NoError(t, err)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := startServerWith(t, Config{}, serverOpts{tls: tls.NewListener(tcp, certs.TLSConfig())})

	dial := func() (*tls.Conn, *bufio.Reader) {
		c, err := tls.Dial("tcp", srv.tls, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a self-signed test certificate
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		return c, bufio.NewReader(c)
	}
	c, r := dial()
	addr := c.LocalAddr().String()
	for i, method := range []string{"OPTIONS", "REGISTER"} {
		msg := fmt.Sprintf("%s sips:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bKtls%d;rport\r\nMax-Forwards: 70\r\nFrom: <sips:201@pbx.example.com>;tag=t%d\r\nTo: <sips:201@pbx.example.com>\r\nCall-ID: tls-%d\r\nCSeq: 1 %s\r\nContact: <sips:201@%s>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
			method, addr, i, i, i, method, addr)
		_, err := c.Write([]byte(msg))
		require.NoError(t, err)
		res := readSIP(t, r)
		assert.Equal(t, 200, res.StatusCode, "%s: %s", method, res.Reason)
	}
	assert.Equal(t, int64(1), c.ConnectionState().PeerCertificates[0].SerialNumber.Int64())

	// A renewed certificate is served to new connections after Reload; a
	// broken one is refused and the old one stays.
	selfSigned(t, dir, 2)
	require.NoError(t, certs.Reload())
	c2, _ := dial()
	require.NoError(t, c2.Handshake())
	assert.Equal(t, int64(2), c2.ConnectionState().PeerCertificates[0].SerialNumber.Int64())
	require.NoError(t, os.WriteFile(certFile, []byte("not a certificate"), 0o600))
	assert.Error(t, certs.Reload())
	c3, _ := dial()
	require.NoError(t, c3.Handshake())
	assert.Equal(t, int64(2), c3.ConnectionState().PeerCertificates[0].SerialNumber.Int64())

	_, err = NewCertReloader(filepath.Join(dir, "missing.pem"), keyFile)
	assert.Error(t, err)
}
