package events_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/events"
)

func TestToken(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "plain extension", in: "1001", want: "1001"},
		{name: "dotted domain", in: "pbx.example.com", want: "pbx_example_com"},
		{name: "underscore escaped", in: "alice_smith", want: "alice~usmith"},
		{name: "tilde escaped", in: "a~b", want: "a~~b"},
		{name: "dot and underscore", in: "a._b", want: "a_~ub"},
		{name: "underscore and dot", in: "a_.b", want: "a~u_b"},
		{name: "plus and at kept", in: "+49@x", want: "+49@x"},
		{name: "unicode kept", in: "zürich.ch", want: "zürich_ch"},
		{name: "empty", in: "", wantErr: true},
		{name: "star wildcard", in: "10*", wantErr: true},
		{name: "tail wildcard", in: ">", wantErr: true},
		{name: "space", in: "a b", wantErr: true},
		{name: "tab", in: "a\tb", wantErr: true},
		{name: "newline", in: "a\nb", wantErr: true},
		{name: "non-breaking space", in: "a\u00a0b", wantErr: true},
		{name: "control character", in: "a\x00b", wantErr: true},
		{name: "invalid utf-8", in: "a\xffb", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.Token(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, events.ErrInvalidToken)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			back, err := events.ParseToken(got)
			require.NoError(t, err)
			assert.Equal(t, tt.in, back, "round trip")
		})
	}
}

func TestTokenInjective(t *testing.T) {
	// Values that a naive "." -> "_" mapping would merge.
	inputs := []string{"a.b", "a_b", "a~ub", "a~_b", "a._b", "a_.b", "a__b", "a..b", "a~~b", "a~b"}
	seen := map[string]string{}
	for _, in := range inputs {
		tok, err := events.Token(in)
		require.NoError(t, err, in)
		if prev, ok := seen[tok]; ok {
			t.Fatalf("%q and %q both map to %q", prev, in, tok)
		}
		seen[tok] = in
	}
}

func TestParseTokenErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "empty", in: ""},
		{name: "lone escape", in: "abc~"},
		{name: "unknown escape", in: "a~xb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.ParseToken(tt.in)
			require.ErrorIs(t, err, events.ErrInvalidToken)
		})
	}
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		name    string
		subject func() (string, error)
		want    string
		wantErr bool
	}{
		{name: "presence", subject: func() (string, error) { return events.PresenceSubject("PBX.Example.com", "1001") }, want: "switchboard.presence.pbx_example_com.1001"},
		{name: "presence extension keeps case", subject: func() (string, error) { return events.PresenceSubject("x.org", "Alice") }, want: "switchboard.presence.x_org.Alice"},
		{name: "contact of company", subject: func() (string, error) { return events.ContactSubject("x.org", "acme_gmbh") }, want: "switchboard.contacts.x_org.acme~ugmbh"},
		{name: "presence filter one domain", subject: func() (string, error) { return events.PresenceFilter("x.org") }, want: "switchboard.presence.x_org.*"},
		{name: "presence filter all", subject: func() (string, error) { return events.PresenceFilter("") }, want: "switchboard.presence.>"},
		{name: "contact filter one domain", subject: func() (string, error) { return events.ContactFilter("x.org") }, want: "switchboard.contacts.x_org.*"},
		{name: "contact filter all", subject: func() (string, error) { return events.ContactFilter("") }, want: "switchboard.contacts.>"},
		{name: "wildcard extension", subject: func() (string, error) { return events.PresenceSubject("x.org", "*") }, wantErr: true},
		{name: "wildcard domain", subject: func() (string, error) { return events.PresenceSubject(">", "1") }, wantErr: true},
		{name: "empty extension", subject: func() (string, error) { return events.PresenceSubject("x.org", "") }, wantErr: true},
		{name: "empty owner", subject: func() (string, error) { return events.ContactSubject("x.org", "") }, wantErr: true},
		{name: "filter with space", subject: func() (string, error) { return events.PresenceFilter("x .org") }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.subject()
			if tt.wantErr {
				require.ErrorIs(t, err, events.ErrInvalidToken)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
