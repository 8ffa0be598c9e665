package sip

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

func TestResponseFor(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
	}{
		{name: "bad request", err: fmt.Errorf("%w: no host", errBadRequest), code: 400},
		{name: "invalid", err: presence.ErrInvalid, code: 400},
		{name: "unknown etag", err: presence.ErrUnknownETag, code: 412},
		{name: "out of order", err: presence.ErrOutOfOrder, code: 500},
		{name: "too many bindings", err: presence.ErrTooManyBindings, code: 403},
		{name: "too many subscriptions", err: fmt.Errorf("watcher x: %w", errTooManySubscriptions), code: 403},
		{name: "policy failed", err: errors.Join(errPolicy, errors.New("down")), code: 500},
		{name: "anything else", err: errors.New("redis down"), code: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason := responseFor(tt.err)
			assert.Equal(t, tt.code, code)
			assert.NotEmpty(t, reason)
		})
	}
}

func TestBadRequestReasonIsShortAndWhole(t *testing.T) {
	long := `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full">` +
		`<dialog id="abcdefgh-1234-5678-90ab-cdef01234567"><state>ringingish</state></dialog></dialog-info>`
	tests := []struct {
		name  string
		event presence.Event
		body  string
		want  string
	}{
		{name: "truncated xml", event: presence.EventDialog, body: "<dialog-info><oops",
			want: "XML syntax error on line 1: unexpected EOF"},
		{name: "pidf tuple without id", event: presence.EventPresence,
			body: `<presence xmlns="urn:ietf:params:xml:ns:pidf"><tuple><status><basic>open</basic></status></tuple></presence>`,
			want: "tuple 1: tuple has no id"},
		{name: "long message cut after a word", event: presence.EventDialog, body: long,
			want: `dialog 1: dialog "abcdefgh-1234-5678-90ab-cdef01234567" has ...`},
		{name: "wrong root", event: presence.EventPresence, body: `<notpresence/>`,
			want: `root element is <notpresence> in namespace "", want <presence>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := publishBody(tt.event, []byte(tt.body), time.Now())
			require.Error(t, err)
			got := reasonDetail(bodyError(err))
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), maxReasonDetail)
		})
	}
	t.Run("one word longer than the budget", func(t *testing.T) {
		got := reasonDetail(fmt.Errorf("%w: %s", errBadRequest, strings.Repeat("x", 100)))
		assert.Equal(t, strings.Repeat("x", maxReasonDetail-3)+"...", got)
	})
	t.Run("joined errors and control characters", func(t *testing.T) {
		got := reasonDetail(errors.Join(errBadRequest, errors.New("invalid Expires \"1\r\n2\"")))
		assert.Equal(t, `invalid Expires "1 2"`, got)
	})
}

func TestBadRequestReasonOnTheWire(t *testing.T) {
	srv := startServer(t, Config{})
	p := newPhone(t, srv, "UDP")
	p.Request("PUBLISH", ext201, 1, "bad-reason", "b1", "", "Event: dialog\n", "<dialog-info><oops")
	res := p.Response("PUBLISH")
	require.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "Bad Request (XML syntax error on line 1: unexpected EOF)", res.Reason)
}
