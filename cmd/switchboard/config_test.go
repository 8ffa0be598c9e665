package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c config)
		wantErr []string
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c config) {
				assert.Equal(t, ":5060", c.SIPListen)
				assert.Equal(t, ":8080", c.HTTPListen)
				assert.Equal(t, []string{"switchboard.local"}, c.Domains)
				assert.Equal(t, "json", c.LogFormat)
			},
		},
		{
			name: "environment",
			env:  map[string]string{"SWITCHBOARD_SIP_LISTEN": "127.0.0.1:5070", "SWITCHBOARD_DOMAIN": "PBX.example.com, b.example.com", "SWITCHBOARD_SHUTDOWN_GRACE": "3s"},
			check: func(t *testing.T, c config) {
				assert.Equal(t, "127.0.0.1:5070", c.SIPListen)
				assert.Equal(t, []string{"pbx.example.com", "b.example.com"}, c.Domains)
				assert.Equal(t, 3*time.Second, c.ShutdownGrace)
			},
		},
		{
			name: "flag beats environment",
			args: []string{"--sip-listen", "127.0.0.1:5080"},
			env:  map[string]string{"SWITCHBOARD_SIP_LISTEN": "127.0.0.1:5070"},
			check: func(t *testing.T, c config) {
				assert.Equal(t, "127.0.0.1:5080", c.SIPListen)
			},
		},
		{
			name: "tenant regions",
			args: []string{"--region", "FR", "--domain-region", "berlin.example.com=de, lyon.example.com=FR"},
			check: func(t *testing.T, c config) {
				assert.Equal(t, "FR", c.Region)
				assert.Equal(t, map[string]string{"berlin.example.com": "DE", "lyon.example.com": "FR"}, c.DomainRegions)
			},
		},
		{
			name: "sip connection limits: defaults, and 0 turns them off",
			args: []string{"--sip-tcp-idle-timeout", "0"},
			check: func(t *testing.T, c config) {
				assert.Equal(t, time.Duration(-1), offIfZero(c.SIPTCPIdleTimeout))
				assert.Equal(t, 128, offIfZero(c.SIPMaxConnsPerSource))
				assert.Equal(t, 2000, offIfZero(c.SIPMaxInFlight))
			},
		},
		{
			name: "requests in flight: raised, or 0 for no cap",
			args: []string{"--sip-max-in-flight", "0"},
			check: func(t *testing.T, c config) {
				assert.Equal(t, -1, offIfZero(c.SIPMaxInFlight))
			},
		},
		{
			name:    "negative sip connection limits",
			args:    []string{"--sip-tcp-idle-timeout", "-1s", "--sip-max-conns-per-source", "-3"},
			wantErr: []string{"--sip-tcp-idle-timeout", "--sip-max-conns-per-source"},
		},
		{
			name:    "every problem at once",
			args:    []string{"--sip-listen", "nope", "--log-format", "xml", "--domain", "a b"},
			env:     map[string]string{"SWITCHBOARD_SHUTDOWN_GRACE": "forever"},
			wantErr: []string{"SWITCHBOARD_SHUTDOWN_GRACE", "--sip-listen", "--log-format", `--domain "a b"`},
		},
		{
			name:  "contact quota",
			env:   map[string]string{"SWITCHBOARD_MAX_CONTACTS_PER_USER": "-1"},
			check: func(t *testing.T, c config) { assert.Equal(t, -1, c.MaxContactsPerUser) },
		},
		{name: "contact quota zero", args: []string{"--max-contacts-per-user", "0"}, wantErr: []string{"--max-contacts-per-user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			c, err := parseConfig(tt.args, getenv, io.Discard)
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

// TestCheckConfigAgreesWithStart runs configurations start refuses through
// --check-config and through start: both refuse, for the same reason.
func TestCheckConfigAgreesWithStart(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy")
	require.NoError(t, os.WriteFile(policy, []byte("this is not a rule\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown region", args: []string{"--region", "XX"}, want: `"XX"`},
		{name: "unknown tenant region", args: []string{"--domain-region", "b.example.com=ZZ"}, want: `"ZZ"`},
		{name: "unknown caller-id placeholder", args: []string{"--callerid-pattern", "{nick}"}, want: "{nick}"},
		{name: "missing presence policy", args: []string{"--presence-policy", filepath.Join(t.TempDir(), "none")}, want: "--presence-policy"},
		{name: "malformed presence policy", args: []string{"--presence-policy", policy}, want: "--presence-policy"},
		{name: "missing tls certificate", args: []string{"--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"}, want: "--tls-cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := []string{"--data-dir", t.TempDir(), "--sip-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--sips-listen", "127.0.0.1:0"}
			var out bytes.Buffer
			checkErr := run(context.Background(), append(append([]string{"--check-config"}, base...), tt.args...), func(string) string { return "" }, &out)
			require.Error(t, checkErr, "--check-config accepted it")
			assert.Contains(t, checkErr.Error(), tt.want)
			assert.NotContains(t, out.String(), "configuration ok")

			startErr := run(context.Background(), append(base, tt.args...), func(string) string { return "" }, io.Discard)
			require.Error(t, startErr, "start accepted it")
			assert.Equal(t, checkErr.Error(), startErr.Error())
		})
	}

	t.Run("valid", func(t *testing.T) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"--check-config", "--data-dir", t.TempDir(), "--region", "FR", "--domain-region", "b.example.com=DE"}, func(string) string { return "" }, &out)
		require.NoError(t, err)
		assert.Contains(t, out.String(), "configuration ok")
	})
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "embedded", in: "nats://127.0.0.1:4222", want: "nats://127.0.0.1:4222"},
		{name: "password", in: "nats://sb:s3cret@10.0.0.11:4222", want: "nats://10.0.0.11:4222"},
		{name: "token", in: "tls://t0ken@nats.example.com:4222", want: "tls://nats.example.com:4222"},
		{name: "server list", in: "nats://a:pw@10.0.0.11:4222,nats://a:pw@10.0.0.12:4222", want: "nats://10.0.0.11:4222,nats://10.0.0.12:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, redactURL(tt.in)) })
	}
}

// TestHelpListsDoubleDashFlags: --help writes every flag the way the
// README and scripts do (--name) with its environment twin.
func TestHelpListsDoubleDashFlags(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(--help) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{
		"  --max-subs-per-target int   (SWITCHBOARD_MAX_SUBS_PER_TARGET)",
		"  --redis string   (SWITCHBOARD_REDIS)",
		"  --sip-listen string   (SWITCHBOARD_SIP_LISTEN)",
		`(default ":5060")`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") {
			t.Errorf("single-dash flag in --help: %q", line)
		}
	}
}
