package directory

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestProvisionSIPPassword(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	svc, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	const pw = "s3cret-Passw0rd"
	u := accounts.User{Extension: "201", Domain: "PBX.example.com", FirstName: "Ana", SIPPassword: pw}
	got, err := svc.ProvisionUser(ctx, admin, u)
	require.NoError(t, err)
	assertNoSecret(t, got, pw)
	require.NotNil(t, got.Digest, "the returned user tells that credentials exist")
	assert.False(t, got.Digest.Updated.IsZero())

	wantMD5 := accounts.NewDigest("201", "pbx.example.com", pw, testNow).MD5
	wantSHA := accounts.NewDigest("201", "pbx.example.com", pw, testNow).SHA256
	for _, tc := range []struct {
		name, user, realm, alg string
		want                   string
	}{
		{name: "md5", user: "201", realm: "pbx.example.com", alg: "MD5", want: wantMD5},
		{name: "default md5", user: "201", realm: "pbx.example.com", alg: "", want: wantMD5},
		{name: "sha-256", user: "201", realm: "pbx.example.com", alg: "sha-256", want: wantSHA},
		{name: "unsupported algorithm", user: "201", realm: "pbx.example.com", alg: "SHA-512-256"},
		{name: "other realm", user: "201", realm: "other.example.com", alg: "MD5"},
		{name: "unknown user", user: "299", realm: "pbx.example.com", alg: "MD5"},
		{name: "aor as user", user: "201@pbx.example.com", realm: "pbx.example.com", alg: "MD5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ok, err := svc.HA1(ctx, tc.user, tc.realm, tc.alg)
			require.NoError(t, err)
			assert.Equal(t, tc.want != "", ok)
			assert.Equal(t, tc.want, h)
		})
	}

	// Nothing stored holds the password.
	stored, err := store.GetUser(ctx, "201@pbx.example.com")
	require.NoError(t, err)
	raw, err := json.Marshal(stored)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), pw)
	assert.Contains(t, string(raw), wantSHA)

	// Returned users never carry the hashes.
	one, err := svc.GetUser(ctx, admin, "201@pbx.example.com")
	require.NoError(t, err)
	assertNoSecret(t, one, pw, wantMD5, wantSHA)
	all, err := svc.ListUsers(ctx, admin)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assertNoSecret(t, all[0], pw, wantMD5, wantSHA)

	// Re-provisioning without a password keeps the credentials; with one,
	// replaces them.
	_, err = svc.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", LastName: "Silva"})
	require.NoError(t, err)
	h, ok, err := svc.HA1(ctx, "201", "pbx.example.com", "MD5")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, wantMD5, h)
	_, err = svc.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", SIPPassword: "another-password"})
	require.NoError(t, err)
	h, _, _ = svc.HA1(ctx, "201", "pbx.example.com", "MD5")
	assert.Equal(t, accounts.NewDigest("201", "pbx.example.com", "another-password", testNow).MD5, h)

	// Deleting the user deletes the credentials.
	_, err = svc.DeleteUser(ctx, admin, "201@pbx.example.com", true)
	require.NoError(t, err)
	_, ok, err = svc.HA1(ctx, "201", "pbx.example.com", "MD5")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestSIPPasswordValidation(t *testing.T) {
	ctx := context.Background()
	svc, err := New(ctx, NewMemStore(), Config{}, testLogger())
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		pw   string
	}{
		{name: "too short", pw: "short"},
		{name: "too long", pw: strings.Repeat("x", 129)},
		{name: "line break", pw: "password\nline"},
		{name: "invalid utf-8", pw: "password\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", SIPPassword: tc.pw})
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "got %v", err)
			assert.Equal(t, "sip_password", fe.Field)
			assert.NotContains(t, err.Error(), tc.pw)
		})
	}
}

func TestSIPCredentialsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dir.db")
	s, err := OpenBolt(path)
	require.NoError(t, err)
	svc, err := New(ctx, s, Config{}, testLogger())
	require.NoError(t, err)
	_, err = svc.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", SIPPassword: "s3cret-Passw0rd"})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	svc2, err := New(ctx, openTestBolt(t, path), Config{}, testLogger())
	require.NoError(t, err)
	h, ok, err := svc2.HA1(ctx, "201", "pbx.example.com", "SHA-256")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, accounts.NewDigest("201", "pbx.example.com", "s3cret-Passw0rd", testNow).SHA256, h)
}

func assertNoSecret(t *testing.T, u accounts.User, secrets ...string) {
	t.Helper()
	raw, err := json.Marshal(u)
	require.NoError(t, err)
	for _, s := range secrets {
		assert.NotContains(t, string(raw), s)
	}
	assert.Empty(t, u.SIPPassword)
	if u.Digest != nil {
		assert.Empty(t, u.Digest.MD5)
		assert.Empty(t, u.Digest.SHA256)
	}
}
