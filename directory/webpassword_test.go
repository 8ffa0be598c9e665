package directory

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

func TestWebPasswordAcrossInstances(t *testing.T) {
	a, b, store := twoServices(t)
	ctx := context.Background()
	u, err := a.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana",
		WebPassword: "first web password", Admin: true})
	require.NoError(t, err)
	require.NotNil(t, u.Web)
	assert.Empty(t, u.Web.Hash, "never handed out")
	assert.True(t, u.Admin)

	// The other instance signs the user in.
	require.Eventually(t, func() bool {
		_, err := b.Authenticate(ctx, "201@PBX.example.com", "first web password")
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	_, err = b.Authenticate(ctx, "201@pbx.example.com", "wrong password")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = b.Authenticate(ctx, "299@pbx.example.com", "first web password")
	require.ErrorIs(t, err, ErrNotFound)

	// The user changes it on b, giving the current one.
	err = b.SetWebPassword(ctx, alice, "201@pbx.example.com", "not it at all", "second web password")
	var fe *accounts.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "current", fe.Field)
	err = b.SetWebPassword(ctx, alice, "201@pbx.example.com", "first web password", "short")
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "password", fe.Field)
	require.NoError(t, b.SetWebPassword(ctx, alice, "201@pbx.example.com", "first web password", "second web password"))
	require.Eventually(t, func() bool {
		_, err := a.Authenticate(ctx, "201@pbx.example.com", "second web password")
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)

	// Another user may not; an administrator may, without the current one.
	bob := accounts.Principal{User: "202@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}}
	require.ErrorIs(t, a.SetWebPassword(ctx, bob, "201@pbx.example.com", "", "third web password"), ErrForbidden)
	require.NoError(t, a.SetWebPassword(ctx, admin, "201@pbx.example.com", "", "third web password"))

	// Provisioning again without web_password keeps it.
	_, err = a.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana B"})
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, "201@pbx.example.com", "third web password")
	require.NoError(t, err)

	// The store holds the hash only.
	stored, err := store.GetUser(ctx, "201@pbx.example.com")
	require.NoError(t, err)
	raw, _ := json.Marshal(stored)
	assert.Contains(t, string(raw), "$argon2id$")
	assert.NotContains(t, string(raw), "third web password")

	// Listing never returns it.
	users, err := a.ListUsers(ctx, admin)
	require.NoError(t, err)
	raw, _ = json.Marshal(users)
	assert.NotContains(t, string(raw), "argon2")
}

func TestAdminUserNeedsCompanyWrite(t *testing.T) {
	svc := newService(t, Config{})
	usersOnly := accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin}}
	_, err := svc.ProvisionUser(context.Background(), usersOnly, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", Admin: true})
	require.ErrorIs(t, err, ErrForbidden)
	_, err = svc.ProvisionUser(context.Background(), usersOnly, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", WebPassword: "short"})
	var fe *accounts.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "web_password", fe.Field)
}
