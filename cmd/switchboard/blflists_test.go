package main

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// BLF lists: the whole team, a shared group by its name, and a user's own
// group for that user only.
func TestBLFListsOverTheDirectory(t *testing.T) {
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{Domains: []string{"a.example", "b.example"}}, zerolog.Nop())
	require.NoError(t, err)
	op := accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	for _, u := range []accounts.User{{Extension: "201", Domain: "a.example", FirstName: "Ana"}, {Extension: "202", Domain: "a.example", FirstName: "Bruno"},
		{Extension: "203", Domain: "a.example", FirstName: "Carla"}, {Extension: "301", Domain: "b.example", FirstName: "Other"}} {
		_, err := svc.ProvisionUser(ctx, op, u)
		require.NoError(t, err)
	}
	shared, err := svc.CreateSharedGroup(ctx, op, "a.example", "Front Desk")
	require.NoError(t, err)
	require.NoError(t, svc.Mark(ctx, op, directory.TeamContactID("202@a.example"), shared.ID, true))
	ana := accounts.Principal{User: "201@a.example", Scopes: []accounts.Scope{accounts.ScopePersonal}}
	own, err := svc.CreateGroup(ctx, ana, "Sales")
	require.NoError(t, err)
	require.NoError(t, svc.Mark(ctx, ana, directory.TeamContactID("203@a.example"), own.ID, true))

	lists := blfLists{dir: svc}
	tests := []struct {
		name, watcher, domain, list string
		want                        []string // nil: no such list
	}{
		{"team", "201", "a.example", "team", []string{"201", "202", "203"}},
		{"shared group by name", "203", "a.example", "front-desk", []string{"202"}},
		{"shared group by id", "203", "a.example", shared.ID, []string{"202"}},
		{"own group", "201", "a.example", "sales", []string{"203"}},
		{"another user's group", "202", "a.example", "sales", nil},
		{"another domain", "201", "b.example", "team", nil},
		{"no such group", "201", "a.example", "nosuch", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			members, ok, err := lists.ListMembers(ctx, presence.NewAOR(tt.watcher, "a.example"), tt.domain, tt.list)
			require.NoError(t, err)
			if tt.want == nil {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			var got []string
			for _, m := range members {
				assert.Equal(t, "a.example", m.AOR.Domain)
				assert.NotEmpty(t, m.Name)
				got = append(got, m.AOR.User)
			}
			assert.ElementsMatch(t, tt.want, got)
		})
	}
}
