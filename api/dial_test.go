package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dialsOf returns number → dial of a contact JSON object.
func dialsOf(t *testing.T, contact map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	phones, _ := contact["phones"].([]any)
	for _, p := range phones {
		ph := p.(map[string]any)
		d, ok := ph["dial"].(string)
		require.True(t, ok, "every number has dial: %v", ph)
		out[ph["number"].(string)] = d
	}
	return out
}

func TestContactNumbersDialable(t *testing.T) {
	env := newCallerIDEnv(t, true) // region FR
	res, body := cidGet(t, env.ts.URL+"/v1/contacts/"+env.ids["tom"], "alice")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	var one struct {
		Contact map[string]any `json:"contact"`
		Marks   []string       `json:"marks"`
	}
	require.NoError(t, json.Unmarshal(body, &one))
	// A UK mobile typed nationally is no French number: its digits.
	assert.Equal(t, map[string]string{"+44 20 7183 8750": "+442071838750", "07700 900123": "07700900123"}, dialsOf(t, one.Contact))
	assert.Equal(t, "Cartoons", one.Contact["company"], "the rest of the contact is as before")
	assert.Equal(t, []string{"favorite"}, one.Marks)

	res, body = cidGet(t, env.ts.URL+"/v1/contacts?q=", "alice")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	var page struct {
		Items []struct {
			Contact map[string]any `json:"contact"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(body, &page))
	all := map[string]string{}
	for _, it := range page.Items {
		for n, d := range dialsOf(t, it.Contact) {
			all[n] = d
		}
	}
	assert.Equal(t, "+33491550142", all["04 91 55 01 42"], "national, read in the domain's region")
	assert.Equal(t, "+33491550142", all["+33 4 91 55 01 42"])
	assert.Equal(t, "+33320000001", all["03 20 00 00 01"])
	assert.Equal(t, "202", all["202"], "an extension dials as itself")

	// What an answer carries can be written back: dial is ignored.
	created, out := do(t, "POST", env.ts.URL+"/v1/contacts", "alice",
		`{"kind":"personal","first_name":"Round","phones":[{"type":"work","number":"04 91 55 01 43","dial":"+33491550143"}]}`)
	require.Equal(t, http.StatusCreated, created.StatusCode, "%v", out)
	assert.Equal(t, map[string]string{"04 91 55 01 43": "+33491550143"}, dialsOf(t, out["contact"].(map[string]any)))
}

func TestContactNumbersDialableWithoutLookup(t *testing.T) {
	env := newCallerIDEnv(t, false)
	res, body := cidGet(t, env.ts.URL+"/v1/contacts/"+env.ids["tom"], "alice")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	var one struct {
		Contact map[string]any `json:"contact"`
	}
	require.NoError(t, json.Unmarshal(body, &one))
	assert.Equal(t, map[string]string{"+44 20 7183 8750": "+442071838750", "07700 900123": "07700900123"}, dialsOf(t, one.Contact),
		"the typed main number until the caller-ID lookup (the region) is ready")
	res, body = cidGet(t, env.ts.URL+"/v1/contacts/"+env.ids["maman"], "alice")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	require.NoError(t, json.Unmarshal(body, &one))
	assert.Equal(t, map[string]string{"04 91 55 01 42": "0491550142"}, dialsOf(t, one.Contact))
}
