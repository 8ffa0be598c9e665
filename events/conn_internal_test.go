package events

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestReconnectDelay(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		base     time.Duration
	}{
		{name: "first", attempts: 0, base: reconnectMin},
		{name: "second", attempts: 1, base: reconnectMin},
		{name: "third doubles", attempts: 2, base: 2 * reconnectMin},
		{name: "sixth", attempts: 5, base: 16 * reconnectMin},
		{name: "capped", attempts: 10, base: reconnectMax},
		{name: "huge stays capped", attempts: 1 << 20, base: reconnectMax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 50 {
				d := reconnectDelay(tt.attempts)
				assert.GreaterOrEqual(t, d, tt.base)
				assert.LessOrEqual(t, d, tt.base+tt.base/4)
			}
		})
	}
}
