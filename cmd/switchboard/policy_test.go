package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip"
)

func TestLoadPolicy(t *testing.T) {
	l, err := loadPolicy(strings.NewReader(`
# reception watches the director
group reception: 300@pbx.example.com, 301@pbx.example.com
200@pbx.example.com: group:reception, 201@pbx.example.com
`))
	require.NoError(t, err)
	director := presence.NewAOR("200", "pbx.example.com")
	tests := []struct {
		name    string
		watcher string
		target  presence.AOR
		want    sip.Decision
	}{
		{name: "group member", watcher: "301@pbx.example.com", target: director, want: sip.Allow},
		{name: "listed user", watcher: "201@pbx.example.com", target: director, want: sip.Allow},
		{name: "colleague not listed", watcher: "202@pbx.example.com", target: director, want: sip.Deny},
		{name: "extension without rule", watcher: "202@pbx.example.com", target: presence.NewAOR("204", "pbx.example.com"), want: sip.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := presence.ParseAOR(tt.watcher)
			require.NoError(t, err)
			got, err := l.Allowed(context.Background(), w, tt.target)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	for _, bad := range []string{"no colon here", "200: not-an-aor", "group g: nobody"} {
		_, err := loadPolicy(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}
