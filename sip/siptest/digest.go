package siptest

import (
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"
)

// Authorization answers the digest challenge of res (a 401) as user with
// pass, for a request of method to ruri, and returns the header line to
// add to the retried request ("Authorization: Digest …\n").
func Authorization(t *testing.T, res *sipmsg.Response, method, ruri, user, pass string) string {
	t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	require.NotNil(t, h, "401 without a challenge")
	chal, err := digest.ParseChallenge(h.Value())
	require.NoError(t, err)
	creds, err := digest.Digest(chal, digest.Options{Method: method, URI: ruri, Username: user, Password: pass, Count: 1, Cnonce: "0a4f113b"})
	require.NoError(t, err)
	v := creds.String()
	if !strings.HasPrefix(v, "Digest ") {
		v = "Digest " + v
	}
	return "Authorization: " + v + "\n"
}
