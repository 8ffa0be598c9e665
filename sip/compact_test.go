package sip

import (
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A compacted URI renders and compares as the parsed one, and adding a
// parameter to it leaves the original alone.
func TestCompactURI(t *testing.T) {
	for _, raw := range []string{
		"sip:300@10.0.0.5:5062;transport=tcp;lr?subject=x",
		"sips:alice:secret@pbx.example.com",
		"sip:[2001:db8::5]:5080",
		"tel:+33491550142",
	} {
		var u sipmsg.Uri
		require.NoError(t, sipmsg.ParseUri(raw, &u))
		c := compactURI(u)
		assert.Equal(t, u.String(), c.String(), raw)
		c.UriParams.Add("x", "1")
		_, has := u.UriParams.Get("x")
		assert.False(t, has, "the original keeps its parameters: %s", raw)
	}
}
