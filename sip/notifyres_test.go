package sip

import (
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var responseSeeds = []string{
	"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-sbnabc1\r\nFrom: <sip:201@a>;tag=l\r\nTo: <sip:300@a>;tag=r\r\nCall-ID: c1\r\nCSeq: 7 NOTIFY\r\nContent-Length: 0\r\n\r\n",
	"SIP/2.0 503 Service Unavailable\r\nv: SIP/2.0/UDP 10.0.0.1:5060 ; rport ; BRANCH = z9hG4bK-sbnx\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKother\r\ncseq: 2 NOTIFY\r\nRetry-After: 30\r\nl: 0\r\n\r\n",
	"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-sbn1, SIP/2.0/UDP g;branch=z9hG4bK2\r\nCSeq: 1 NOTIFY\r\n\r\n",
	"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-sbn1\r\n folded: yes\r\nCSeq: 1 NOTIFY\r\n\r\n",
	"SIP/2.0 481 Call/Transaction Does Not Exist\r\nVia: SIP/2.0/UDP h:1;branch=z9hG4bK-sbn9\r\nCSeq: 4 SUBSCRIBE\r\n\r\n",
	"SIP/2.0 2000 OK\r\n\r\n",
}

// TestScanResponseAgreesWithParser: where the scanner reads a response, it
// reads what sipgo's parser does; what it declines goes to the parser.
func TestScanResponseAgreesWithParser(t *testing.T) {
	for _, s := range responseSeeds {
		checkScanAgainstParser(t, []byte(s))
	}
	_, ok := scanResponse([]byte(responseSeeds[1]))
	assert.False(t, ok, "BRANCH = x: the parser's job")
	r, ok := scanResponse([]byte(strings.Replace(responseSeeds[1], " ; BRANCH = ", ";branch=", 1)))
	require.True(t, ok)
	assert.Equal(t, leanResponse{code: 503, reason: "Service Unavailable", branch: "z9hG4bK-sbnx", method: "NOTIFY", retryAfter: "30", hasRetry: true}, r)
	_, ok = scanResponse([]byte(responseSeeds[2]))
	assert.False(t, ok, "two Via values on one line: the parser's job")
	_, ok = scanResponse([]byte(responseSeeds[3]))
	assert.False(t, ok, "a folded line: the parser's job")
}

func FuzzScanResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScanAgainstParser(t, data)
	})
}

func checkScanAgainstParser(t *testing.T, data []byte) {
	t.Helper()
	r, ok := scanResponse(data)
	if !ok {
		return
	}
	msg, err := sipmsg.NewParser().ParseSIP(data)
	if err != nil {
		return // the scanner is the more lenient; it matches only our branches
	}
	res, isRes := msg.(*sipmsg.Response)
	require.True(t, isRes, "%q scanned as a response", data)
	p, ok := parseResponse(sipmsg.NewParser(), data)
	if !ok || p.branch == "" {
		// The parser found no branch (its Via reading gave up, e.g. on a
		// port that is not a number): nothing our random branches could
		// be confused with.
		return
	}
	assert.Equal(t, p.code, r.code, "code of %q", data)
	assert.Equal(t, p.branch, r.branch, "branch of %q", data)
	assert.Equal(t, p.method, r.method, "method of %q", data)
	assert.Equal(t, p.hasRetry, r.hasRetry, "Retry-After of %q", data)
	assert.Equal(t, res.StatusCode, r.code)
}
