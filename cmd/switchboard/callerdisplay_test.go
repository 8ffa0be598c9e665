package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/events"
	"github.com/switchboardhq/switchboard/presence"
)

// callerEnv is a directory with 202@a.example's personal contact "Secret
// Lover", a company contact of a.example and one of b.example.
type callerEnv struct {
	svc    *directory.Service
	lookup *callerid.Lookup
	secret directory.Contact
}

func newCallerEnv(t *testing.T) callerEnv {
	t.Helper()
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{Domains: []string{"a.example", "b.example"}}, zerolog.Nop())
	require.NoError(t, err)
	op := accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	for _, u := range []accounts.User{{Extension: "201", Domain: "a.example", FirstName: "Ana"}, {Extension: "202", Domain: "a.example", FirstName: "Bruno"}} {
		_, err := svc.ProvisionUser(ctx, op, u)
		require.NoError(t, err)
	}
	_, err = svc.Create(ctx, op, directory.Contact{Kind: directory.KindCompany, Domain: "a.example", Company: "ACME Marseille",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+33 4 91 55 01 42"}}})
	require.NoError(t, err)
	_, err = svc.Create(ctx, op, directory.Contact{Kind: directory.KindCompany, Domain: "b.example", Company: "Other Tenant SA",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+33 4 72 00 11 22"}}})
	require.NoError(t, err)
	owner := accounts.Principal{User: "202@a.example", Scopes: []accounts.Scope{accounts.ScopePersonal}}
	secret, err := svc.Create(ctx, owner, directory.Contact{Kind: directory.KindPersonal, FirstName: "Secret", LastName: "Lover",
		Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: "06 99 88 77 66"}}})
	require.NoError(t, err)
	lk, err := callerid.New(ctx, svc, callerid.Config{DefaultRegion: "FR", DefaultDomain: "a.example"}, zerolog.Nop())
	require.NoError(t, err)
	return callerEnv{svc: svc, lookup: lk, secret: secret}
}

func TestCallerNamesNeverShareAPersonalName(t *testing.T) {
	env := newCallerEnv(t)
	callee := presence.NewAOR("202", "a.example")
	tests := []struct {
		name   string
		policy string
		remote presence.Party
		want   presence.Party
	}{
		{name: "personal contact of the callee: number only",
			remote: presence.Party{URI: "sip:0699887766@pbx"},
			want:   presence.Party{URI: "sip:0699887766@pbx"}},
		{name: "PBX reports the callee's personal name back: dropped",
			remote: presence.Party{URI: "sip:0699887766@pbx", Display: "Secret Lover", ContactID: "forged"},
			want:   presence.Party{URI: "sip:0699887766@pbx"}},
		{name: "company contact of the tenant is named",
			remote: presence.Party{URI: "sip:0491550142@pbx", Display: "0491550142"},
			want:   presence.Party{URI: "sip:0491550142@pbx", Display: "ACME Marseille"}},
		{name: "another tenant's company contact is not",
			remote: presence.Party{URI: "sip:0472001122@pbx", Display: "0472001122"},
			want:   presence.Party{URI: "sip:0472001122@pbx", Display: "0472001122"}},
		{name: "team member is named", remote: presence.Party{URI: "sip:201@a.example"},
			want: presence.Party{URI: "sip:201@a.example", Display: "Ana", ContactID: directory.TeamContactID("201@a.example")}},
		{name: "an unknown caller keeps the PBX's name",
			remote: presence.Party{URI: "sip:0611111111@pbx", Display: "CNAM Name"},
			want:   presence.Party{URI: "sip:0611111111@pbx", Display: "CNAM Name"}},
		{name: "number policy", policy: "a.example=number",
			remote: presence.Party{URI: "sip:0491550142@pbx", Display: "ACME"},
			want:   presence.Party{URI: "sip:0491550142@pbx"}},
		{name: "hidden policy", policy: "b.example=name,a.example=hidden",
			remote: presence.Party{URI: "sip:0491550142@pbx", Display: "ACME"},
			want:   presence.Party{}},
		{name: "bare policy sets the rest", policy: "hidden,b.example=name",
			remote: presence.Party{URI: "sip:0491550142@pbx"},
			want:   presence.Party{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy, err := parseCallerDisplay(tt.policy, []string{"a.example", "b.example"})
			require.NoError(t, err)
			if tt.want.Display == "ACME Marseille" {
				res, ok := env.lookup.ResolveShared(context.Background(), tt.remote.URI, callee.String())
				require.True(t, ok)
				tt.want.ContactID = res.ContactID
			}
			got, ok := callerNames{lookup: env.lookup, policy: policy}.ResolveCaller(context.Background(), callee, tt.remote)
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
			assert.NotEqual(t, env.secret.ID, got.ContactID)
		})
	}
}

func TestParseCallerDisplayRejects(t *testing.T) {
	for _, in := range []string{"a.example=loud", "c.example=name", "a.example=", "maybe"} {
		_, err := parseCallerDisplay(in, []string{"a.example"})
		assert.Error(t, err, in)
	}
}

func TestContactEventsCarryNoContentAndStayInTheTenant(t *testing.T) {
	personal := directory.Contact{ID: "c_1", Kind: directory.KindPersonal, Owner: "202@a.example", FirstName: "Secret", LastName: "Lover",
		Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: "06 99 88 77 66"}}, Notes: "private", Version: 2}
	ev := contactEvent(directory.ChangeEvent{Op: directory.ChangeUpdated, Contact: personal, Actor: "202@a.example"})
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	for _, leak := range []string{"Secret", "Lover", "0699887766", "06 99", "private"} {
		assert.NotContains(t, string(b), leak)
	}
	assert.Equal(t, events.ContactEvent{Type: "updated", ID: "c_1", Kind: "personal", Owner: "202", Domain: "a.example", Version: 2}, ev)

	company := contactEvent(directory.ChangeEvent{Op: directory.ChangeCreated, Contact: directory.Contact{ID: "c_2", Kind: directory.KindCompany, Domain: "b.example"}})
	subj, err := events.ContactSubject(company.Domain, company.Owner)
	require.NoError(t, err)
	assert.Equal(t, "switchboard.contacts.b_example.company", subj)
}

func TestCallerDisplayFlag(t *testing.T) {
	env := func(string) string { return "" }
	c, err := parseConfig([]string{"--domain", "a.example,b.example", "--caller-display", "a.example=hidden,number"}, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, map[string]callerDisplay{"a.example": displayHidden, "": displayNumber}, c.CallerDisplay)
	_, err = parseConfig([]string{"--domain", "a.example", "--caller-display", "b.example=hidden"}, env, io.Discard)
	assert.ErrorContains(t, err, "not a served domain")
}
