package directory

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

// TestAdminSeesSharedGroupMarks: an administrator who puts a contact in a
// shared group sees the membership in Get (the API's answer to the mark)
// and in a search filtered by that group.
func TestAdminSeesSharedGroupMarks(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		p    accounts.Principal
	}{
		{name: "tenant admin key", p: adminA},
		{name: "operator key", p: operator},
		{name: "tenant user", p: tenantUserA},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newTenantFixture(t)
			require.NoError(t, f.svc.Mark(ctx, adminA, f.companyA.ID, f.sharedA.ID, true))
			if tt.p.Has(accounts.ScopeUsersAdmin) {
				require.NoError(t, f.svc.Mark(ctx, tt.p, f.companyA.ID, f.sharedA.ID, true), "idempotent")
			}
			got, err := f.svc.Get(ctx, tt.p, f.companyA.ID)
			require.NoError(t, err)
			assert.Equal(t, []string{f.sharedA.ID}, got.Marks)

			page, err := f.svc.Search(ctx, tt.p, Query{Group: f.sharedA.ID})
			require.NoError(t, err)
			require.Len(t, page.Items, 1)
			assert.Equal(t, f.companyA.ID, page.Items[0].Contact.ID)
			assert.Equal(t, []string{f.sharedA.ID}, page.Items[0].Marks)
		})
	}
	t.Run("other tenant's admin", func(t *testing.T) {
		f := newTenantFixture(t)
		require.NoError(t, f.svc.Mark(ctx, adminA, f.companyA.ID, f.sharedA.ID, true))
		_, err := f.svc.Search(ctx, adminB, Query{Group: f.sharedA.ID})
		require.ErrorIs(t, err, ErrNotFound)
		got, err := f.svc.Get(ctx, adminB, f.compB.ID)
		require.NoError(t, err)
		assert.Empty(t, got.Marks)
	})
}
