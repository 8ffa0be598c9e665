package integration

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
)

// TestColleagueNamedFromDirectNumber: a user's direct number (DID),
// provisioned on instance A, names that colleague on the callee's lookup
// on instance B, as a team contact; numbers typed with an extension,
// vanity letters or full-width digits are accepted and found by their main
// number, and the phonebook dials them in the domain's region.
func TestColleagueNamedFromDirectNumber(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	args := []string{"--redis", redisURL, "--nats", natsURL, "--region", "FR"}
	a := startInstance(t, "num-a", args...)
	b := startInstance(t, "num-b", args...)
	admin := mintKey(t, redisURL, "--admin", "--scopes", "users:admin,company:write,lookup")
	callee := mintKey(t, redisURL, "--user", "201@pbx.example.com", "--scopes", "contacts:personal,company:read,lookup")

	code, body, _ := a.call("PUT", "/v1/users/201@pbx.example.com", admin, `{"first_name":"Ana","last_name":"Silva"}`)
	require.Contains(t, []int{200, 201}, code, body)
	code, body, _ = a.call("PUT", "/v1/users/202@pbx.example.com", admin,
		`{"first_name":"Bruno","last_name":"Costa","did":"+33 4 91 55 02 02","mobile":"０６ ９８ ７６ ５４ ３２"}`)
	require.Contains(t, []int{200, 201}, code, body)
	var u struct{ DID, Mobile string }
	require.NoError(t, json.Unmarshal([]byte(body), &u))
	assert.Equal(t, "+33 4 91 55 02 02", u.DID)
	assert.Equal(t, "０６ ９８ ７６ ５４ ３２", u.Mobile, "kept as typed")

	code, body, _ = a.call("PUT", "/v1/users/203@pbx.example.com", admin, `{"first_name":"Carla","did":"call me"}`)
	assert.Equal(t, 400, code, body)
	assert.Contains(t, body, `"field":"did"`)

	lookup := func(number string) (int, string) {
		code, body, _ := b.call("GET", "/v1/lookup?format=text&callee=201@pbx.example.com&number="+url.QueryEscape(number), callee, "")
		return code, body
	}
	// Bruno calls Ana from his direct line, as the trunk sends it.
	within(t, "B names Bruno calling from his DID", func() bool {
		_, body := lookup("+33491550202")
		return body == "Bruno Costa"
	})
	for _, n := range []string{"0491550202", "sip:+33698765432@trunk.example"} {
		code, body := lookup(n)
		assert.Equal(t, 200, code, n)
		assert.Equal(t, "Bruno Costa", body, n)
	}
	code, body, _ = b.call("GET", "/v1/lookup?callee=201@pbx.example.com&number=%2B33491550202", callee, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"kind":"team"`)
	assert.Contains(t, body, `"contact_id":"team:202@pbx.example.com"`)

	// A contact typed with a vanity number and an extension, and one in
	// full-width digits: stored as typed, found by the main number.
	for _, c := range []string{
		`{"kind":"personal","company":"Flowers","phones":[{"type":"work","number":"+1-800-FLOWERS x12"}]}`,
		`{"kind":"personal","first_name":"Kenji","phones":[{"type":"work","number":"＋８１ ３ １２３４ ５６７８ ext. 9"}]}`,
	} {
		code, body, _ := a.call("POST", "/v1/contacts", callee, c)
		require.Equal(t, 201, code, body)
		assert.True(t, strings.Contains(body, "x12") || strings.Contains(body, "ext. 9"), "stored as typed: %s", body)
	}
	within(t, "B names the vanity number", func() bool {
		_, body := lookup("+18003569377")
		return body == "Flowers"
	})
	within(t, "B names the full-width number", func() bool { // written after Flowers: may reach B a moment later
		_, body := lookup("0081312345678")
		return body == "Kenji"
	})

	// The phonebook dials what the phone can dial, in FR.
	_, body, _ = b.call("GET", "/v1/phonebook/cisco", callee, "")
	for _, want := range []string{"<Telephone>0491550202</Telephone>", "<Telephone>0698765432</Telephone>",
		"<Telephone>0018003569377</Telephone>", "Flowers (ext. 12)", "<Telephone>0081312345678</Telephone>"} {
		assert.Contains(t, body, want)
	}
}
