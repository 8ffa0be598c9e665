package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

// resolve opens the data dir's store as the server would and resolves key.
func resolve(t *testing.T, dataDir, key string) (accounts.Principal, error) {
	t.Helper()
	ds, err := openDirectoryStore(dataDir, nil)
	require.NoError(t, err)
	defer ds.close()
	return accounts.NewKeys(ds.keys).Resolve(context.Background(), key)
}

func TestKeysCLI(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runKeysCapture(t, dir, "create", "--user", "201@pbx.example.com", "--scopes", "contacts:personal,company:read")
	require.NoError(t, err, stderr)
	userKey := strings.TrimSpace(stdout)
	require.True(t, strings.HasPrefix(userKey, "sbk_"), stdout)
	assert.Equal(t, 1, strings.Count(stdout, "\n"), "the key alone on stdout")
	assert.Contains(t, stderr, "201@pbx.example.com")

	stdout, stderr, err = runKeysCapture(t, dir, "create", "--admin", "--scopes", "users:admin,company:write")
	require.NoError(t, err, stderr)
	adminKey := strings.TrimSpace(stdout)

	p, err := resolve(t, dir, userKey)
	require.NoError(t, err)
	assert.Equal(t, accounts.Principal{User: "201@pbx.example.com", Domain: "pbx.example.com", Scopes: []accounts.Scope{accounts.ScopeCompanyRead, accounts.ScopePersonal}}, p)
	p, err = resolve(t, dir, adminKey)
	require.NoError(t, err)
	assert.Equal(t, accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeCompanyWrite, accounts.ScopeUsersAdmin}}, p)

	stdout, _, err = runKeysCapture(t, dir, "list")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 3, stdout)
	assert.Contains(t, stdout, "201@pbx.example.com")
	assert.Contains(t, stdout, "admin")
	for _, k := range []string{userKey, adminKey} {
		assert.NotContains(t, stdout, k[len("sbk_0123456789abcdef_"):], "list never shows secrets")
	}

	// Revoke the user key by ID; flags may follow the ID.
	id := strings.Split(userKey, "_")[1]
	_, stderr, err = runKeysNoEnv(t, "revoke", id, "--data-dir", dir)
	require.NoError(t, err, stderr)
	_, err = resolve(t, dir, userKey)
	require.ErrorIs(t, err, accounts.ErrNotFound)
	_, err = resolve(t, dir, adminKey)
	require.NoError(t, err)
	stdout, _, err = runKeysCapture(t, dir, "list")
	require.NoError(t, err)
	assert.NotContains(t, stdout, id)
	_, _, err = runKeysCapture(t, dir, "revoke", id)
	require.ErrorIs(t, err, accounts.ErrNotFound)
}

func TestKeysCLIErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "no command", args: nil, want: "missing command"},
		{name: "unknown command", args: []string{"rotate"}, want: `unknown command "rotate"`},
		{name: "no identity", args: []string{"create", "--scopes", "lookup"}, want: "--user"},
		{name: "bad user", args: []string{"create", "--user", "alice", "--scopes", "lookup"}, want: "--user"},
		{name: "no scopes", args: []string{"create", "--user", "201@pbx.example.com"}, want: "--scopes"},
		{name: "unknown scope", args: []string{"create", "--user", "201@pbx.example.com", "--scopes", "lookup,root"}, want: `unknown scope "root"`},
		{name: "personal on admin key", args: []string{"create", "--admin", "--scopes", "contacts:personal"}, want: "needs a user"},
		{name: "revoke without id", args: []string{"revoke"}, want: "one key ID"},
		{name: "list with arguments", args: []string{"list", "x"}, want: "unexpected arguments"},
		{name: "unknown flag", args: []string{"list", "--nope"}, want: "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runKeysCapture(t, dir, tc.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, stderr, err := runKeysCapture(t, dir, "--help")
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, stderr, "keys create")
}

func TestRunDispatchesKeys(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"keys", "rotate"}, func(string) string { return "" }, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown command "rotate"`)
}

// runKeysCapture runs runKeys with SWITCHBOARD_DATA_DIR set to dataDir.
func runKeysCapture(t *testing.T, dataDir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"SWITCHBOARD_DATA_DIR": dataDir}
	err = runKeys(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// runKeysNoEnv runs runKeys with no environment.
func runKeysNoEnv(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runKeys(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestBootstrapKey(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T, dir string) *accounts.Keys {
		t.Helper()
		ds, err := openDirectoryStore(dir, nil)
		require.NoError(t, err)
		t.Cleanup(func() { ds.close() })
		return accounts.NewKeys(ds.keys)
	}
	keyIn := func(t *testing.T, s string) string {
		t.Helper()
		for _, f := range strings.Fields(s) {
			if strings.HasPrefix(f, "sbk_") {
				return f
			}
		}
		t.Fatalf("no key in %q", s)
		return ""
	}

	t.Run("printed once", func(t *testing.T) {
		keys := open(t, t.TempDir())
		var stderr bytes.Buffer
		require.NoError(t, bootstrapKey(ctx, keys, "", &stderr, zerolog.Nop()))
		key := keyIn(t, stderr.String())
		p, err := keys.Resolve(ctx, key)
		require.NoError(t, err)
		assert.True(t, p.Admin)
		assert.Empty(t, p.Domain, "an operator key")
		assert.ElementsMatch(t, accounts.BootstrapPrincipal.Scopes, p.Scopes)

		stderr.Reset()
		require.NoError(t, bootstrapKey(ctx, keys, "", &stderr, zerolog.Nop()))
		assert.Empty(t, stderr.String(), "never twice")
	})

	t.Run("not over existing keys", func(t *testing.T) {
		dir := t.TempDir()
		_, _, err := runKeysCapture(t, dir, "create", "--admin", "--scopes", "users:admin")
		require.NoError(t, err)
		var stderr bytes.Buffer
		require.NoError(t, bootstrapKey(ctx, open(t, dir), "", &stderr, zerolog.Nop()))
		assert.Empty(t, stderr.String())
	})

	t.Run("written to a file", func(t *testing.T) {
		keys := open(t, t.TempDir())
		// A path whose directory is missing fails before the store's one
		// bootstrap is spent.
		var stderr bytes.Buffer
		err := bootstrapKey(ctx, keys, filepath.Join(t.TempDir(), "missing", "key"), &stderr, zerolog.Nop())
		require.ErrorContains(t, err, "--bootstrap-key-file")

		file := filepath.Join(t.TempDir(), "bootstrap.key")
		require.NoError(t, bootstrapKey(ctx, keys, file, &stderr, zerolog.Nop()))
		assert.NotContains(t, stderr.String(), "sbk_", "not printed when written")
		st, err := os.Stat(file)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		_, err = keys.Resolve(ctx, strings.TrimSpace(string(raw)))
		require.NoError(t, err)
		entries, err := os.ReadDir(filepath.Dir(file))
		require.NoError(t, err)
		assert.Len(t, entries, 1, "no temporary file left")
	})
}

func TestKeysCLITenants(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runKeysCapture(t, dir, "create", "--pbx", "--domain", "a.example")
	require.NoError(t, err, stderr)
	p, err := resolve(t, dir, strings.TrimSpace(stdout))
	require.NoError(t, err)
	assert.Equal(t, accounts.Principal{PBX: true, Domain: "a.example", Scopes: []accounts.Scope{accounts.ScopeLookup}}, p, "a pbx key defaults to scope lookup")
	assert.Contains(t, stderr, "pbx of a.example")

	stdout, stderr, err = runKeysCapture(t, dir, "create", "--admin", "--domain", "B.example", "--scopes", "users:admin")
	require.NoError(t, err, stderr)
	p, err = resolve(t, dir, strings.TrimSpace(stdout))
	require.NoError(t, err)
	assert.Equal(t, accounts.Principal{Admin: true, Domain: "b.example", Scopes: []accounts.Scope{accounts.ScopeUsersAdmin}}, p)

	stdout, _, err = runKeysCapture(t, dir, "list")
	require.NoError(t, err)
	assert.Contains(t, stdout, "KIND")
	assert.Contains(t, stdout, "pbx ")
	assert.Contains(t, stdout, "tenant_admin")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "pbx without domain", args: []string{"create", "--pbx"}, want: "--domain"},
		{name: "pbx with more scopes", args: []string{"create", "--pbx", "--domain", "a.example", "--scopes", "lookup,company:read"}, want: "--scopes"},
		{name: "user key in another domain", args: []string{"create", "--user", "201@a.example", "--domain", "b.example", "--scopes", "lookup"}, want: "--domain"},
		{name: "bad domain", args: []string{"create", "--admin", "--domain", "a b", "--scopes", "lookup"}, want: "--domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runKeysCapture(t, dir, tc.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
