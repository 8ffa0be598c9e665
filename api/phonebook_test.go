package api

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
)

// newTypedPhonebookEnv is the caller-ID env (domain region FR) plus
// contacts whose numbers are typed as people type them, a colleague with
// a direct and a mobile number, and an own group "Suppliers".
func newTypedPhonebookEnv(t *testing.T) (*cidEnv, directory.Group) {
	t.Helper()
	env := newCallerIDEnv(t, true)
	ctx := context.Background()
	_, err := env.svc.ProvisionUser(ctx, cidAdmin, accounts.User{Extension: "204", Domain: "pbx.example.com", FirstName: "Dina", LastName: "Roux",
		DID: "+33 4 91 55 02 04", Mobile: "０６ １２ ３４ ５６ ７８"})
	require.NoError(t, err)
	flowers, err := env.svc.Create(ctx, cidAlice, directory.Contact{Kind: directory.KindPersonal, Company: "Flowers Inc",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+1-800-FLOWERS x12"}}})
	require.NoError(t, err)
	_, err = env.svc.Create(ctx, cidAlice, directory.Contact{Kind: directory.KindPersonal, FirstName: "Kenji", LastName: "Sato",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "＋８１ ３ １２３４ ５６７８"}}})
	require.NoError(t, err)
	g, err := env.svc.CreateGroup(ctx, cidAlice, "Suppliers")
	require.NoError(t, err)
	require.NoError(t, env.svc.Mark(ctx, cidAlice, flowers.ID, g.ID, true))
	return env, g
}

func TestPhonebookDialableNumbers(t *testing.T) {
	env, _ := newTypedPhonebookEnv(t)
	tests := []struct {
		name, query string
		want        map[string]string // cisco row name → telephone
	}{
		{name: "national format of the domain's region", want: map[string]string{
			"Flowers Inc (ext. 12)": "0018003569377", // vanity read, extension shown not dialed, IDD of FR
			"Kenji Sato":            "0081312345678", // full-width digits
			"ACME":                  "0491550142",
			"Dina Roux (work)":      "204",
			"Dina Roux (mobile)":    "0612345678",
		}},
		{name: "e164", query: "?numbers=e164", want: map[string]string{
			"Flowers Inc (ext. 12)": "+18003569377",
			"Kenji Sato":            "+81312345678",
			"ACME":                  "+33491550142",
			"Dina Roux (work)":      "204", // an extension has no E.164 form
			"Dina Roux (mobile)":    "+33612345678",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := phonebookRequest(t, env, "/v1/phonebook/cisco"+tt.query, basicAlice)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var d ciscoDir
			require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &d))
			got := map[string][]string{}
			for _, e := range d.Entries {
				got[e.Name] = append(got[e.Name], e.Telephone)
			}
			for name, tel := range tt.want {
				assert.Contains(t, got[name], tel, name)
			}
			// Dina's direct number is a second work number.
			assert.Contains(t, got["Dina Roux (work)"], map[bool]string{false: "0491550204", true: "+33491550204"}[tt.query != ""])
		})
	}

	rec := phonebookRequest(t, env, "/v1/phonebook/yealink?numbers=pretty", basicAlice)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestPhonebookPolycom(t *testing.T) {
	env, _ := newTypedPhonebookEnv(t)
	rec := phonebookRequest(t, env, "/v1/phonebook/polycom?q=flowers", basicAlice)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	wellFormed(t, rec.Body.Bytes())
	var d polycomDir
	require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &d))
	require.Len(t, d.List.Items, 1)
	assert.Equal(t, polycomItem{FirstName: "Flowers Inc", Contact: "0018003569377", Label: "Flowers Inc (ext. 12)"}, d.List.Items[0])

	rec = phonebookRequest(t, env, "/v1/phonebook/polycom?q=nobody", basicAlice)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "<item_list></item_list>", "an empty directory still has its item list")

	assert.Equal(t, "é", clipBytes("ééé", 3), "cut on a rune boundary")
}

func TestPhonebookGroupFilter(t *testing.T) {
	env, g := newTypedPhonebookEnv(t)
	for _, v := range []string{g.ID, "suppliers"} {
		rec := phonebookRequest(t, env, "/v1/phonebook/yealink?group="+url.QueryEscape(v), basicAlice)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var d yealinkDir
		require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &d))
		require.Len(t, d.Entries, 1, v)
		assert.Equal(t, "Flowers Inc", d.Entries[0].Name)
	}
	rec := phonebookRequest(t, env, "/v1/phonebook/yealink?group=favorite", basicAlice)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "O&#39;Brien")
	assert.NotContains(t, rec.Body.String(), "ACME")

	rec = phonebookRequest(t, env, "/v1/phonebook/yealink?group=Nope", basicAlice)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	// Alice's own group is not Bob's.
	rec = phonebookRequest(t, env, "/v1/phonebook/yealink?group="+url.QueryEscape(g.ID), func(r *http.Request) { r.SetBasicAuth("202", "bob") })
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

func TestPhonebookSearchScreens(t *testing.T) {
	env, _ := newTypedPhonebookEnv(t)
	const back = "http://phones.example:8080/v1/phonebook/%s?key=alice&numbers=e164"
	tests := []struct {
		format string
		url    func(body []byte) (string, string) // URL, parameter name
	}{
		{"yealink", func(b []byte) (string, string) {
			var s yealinkInputScreen
			require.NoError(t, xml.Unmarshal(b, &s))
			return s.URL, s.Field.Parameter
		}},
		{"cisco", func(b []byte) (string, string) {
			var s ciscoInput
			require.NoError(t, xml.Unmarshal(b, &s))
			return s.URL, s.Item.QueryStringParam
		}},
		{"snom", func(b []byte) (string, string) {
			var s snomInput
			require.NoError(t, xml.Unmarshal(b, &s))
			return s.URL, s.Item.QueryStringParam
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			rec := phonebookRequest(t, env, "/v1/phonebook/"+tt.format+"/search?key=alice&numbers=e164&q=old&page=3", nil)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			wellFormed(t, rec.Body.Bytes())
			target, param := tt.url(rec.Body.Bytes())
			assert.Equal(t, "q", param)
			want, _ := url.Parse(fmt.Sprintf(back, tt.format))
			got, err := url.Parse(target)
			require.NoError(t, err)
			assert.Equal(t, want.Path, got.Path)
			assert.Equal(t, want.Query(), got.Query(), "the screen's query is kept, q and page dropped")

			// What the phone requests after the user typed "sato".
			rec = phonebookRequest(t, env, got.RequestURI()+"&q=sato", nil)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Contains(t, rec.Body.String(), "Kenji Sato")
			assert.Contains(t, rec.Body.String(), "+81312345678")
			assert.NotContains(t, rec.Body.String(), "ACME")
		})
	}
	rec := phonebookRequest(t, env, "/v1/phonebook/grandstream/search", basicAlice)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	rec = phonebookRequest(t, env, "/v1/phonebook/cisco/search", nil)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}
