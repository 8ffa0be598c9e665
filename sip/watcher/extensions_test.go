package watcher

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExtensions(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{name: "list and range", in: "200-202, 301", want: []string{"200", "201", "202", "301"}},
		{name: "leading zeros kept", in: "008-010", want: []string{"008", "009", "010"}},
		{name: "empty", in: "", want: nil},
		{name: "a word is one extension", in: "all", want: []string{"all"}},
		{name: "reversed", in: "210-200", wantErr: true},
		{name: "not numbers", in: "a-b", wantErr: true},
		{name: "too many", in: "1-99999", wantErr: true},
		{name: "ends of different lengths", in: "99-100", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtensions(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
