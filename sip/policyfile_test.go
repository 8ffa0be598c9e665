package sip

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

func TestReadAllowList(t *testing.T) {
	l, err := ReadAllowList(strings.NewReader(`
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
		want    Decision
	}{
		{name: "group member", watcher: "301@pbx.example.com", target: director, want: Allow},
		{name: "listed user", watcher: "201@pbx.example.com", target: director, want: Allow},
		{name: "colleague not listed", watcher: "202@pbx.example.com", target: director, want: Deny},
		{name: "extension without rule", watcher: "202@pbx.example.com", target: presence.NewAOR("204", "pbx.example.com"), want: Allow},
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
		_, err := ReadAllowList(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

// FuzzReadAllowList checks that no policy file makes the parser panic, and
// that a file it accepts answers every question.
func FuzzReadAllowList(f *testing.F) {
	f.Add("group reception: 300@pbx.example.com, 301@pbx.example.com\n200@pbx.example.com: group:reception, *@pbx.example.com\n")
	f.Add("# comment only\n\n")
	f.Add("200@a: \n")
	f.Fuzz(func(t *testing.T, in string) {
		l, err := ReadAllowList(strings.NewReader(in))
		if err != nil {
			return
		}
		w, target := presence.NewAOR("300", "pbx.example.com"), presence.NewAOR("200", "pbx.example.com")
		if _, err := l.Allowed(context.Background(), w, target); err != nil {
			t.Fatalf("allowed: %v", err)
		}
	})
}
