package sip

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

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
