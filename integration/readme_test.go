package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeSection returns the text of the README section titled title.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(raw), "\n## "+title+"\n")
	require.True(t, ok, "README has no section %q", title)
	section, _, _ := strings.Cut(after, "\n## ")
	return section
}

// shellBlocks returns the ```sh blocks of text.
func shellBlocks(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestReadmeRunsAsWritten starts the binary the way "Run it" says (its
// domain, no other state flags) and runs the README's examples against it
// as written: only the HTTP address and the bootstrap key are filled in.
func TestReadmeRunsAsWritten(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("SWITCHBOARD_INTEGRATION") == "required" {
			t.Fatal("curl is required to run the README's examples")
		}
		t.Skip("curl not installed")
	}
	in, key := bootstrapped(t, "readme")

	// The embedded NATS server's URL is in the startup line and on /readyz.
	var started struct{ NATS string }
	require.Eventually(t, func() bool { return strings.Contains(in.logs.String(), `"message":"switchboard started"`) }, 5*time.Second, 20*time.Millisecond)
	for _, line := range strings.Split(in.logs.String(), "\n") {
		if strings.Contains(line, `"message":"switchboard started"`) {
			require.NoError(t, json.Unmarshal([]byte(line), &started))
		}
	}
	require.True(t, strings.HasPrefix(started.NATS, "nats://127.0.0.1:"), "startup line names the embedded NATS server: %q", started.NATS)
	code, body := in.get("/readyz")
	require.Equal(t, 200, code, body)
	var ready struct {
		NATSURL string `json:"nats_url"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	assert.Equal(t, started.NATS, ready.NATSURL)

	// Every curl example of "Run it" succeeds, the first user among them.
	ran := 0
	for _, block := range shellBlocks(readmeSection(t, "Run it")) {
		if !strings.HasPrefix(block, "curl ") {
			continue
		}
		script := `curl() { command curl -sS --fail-with-body "$@"; echo; }` + "\n" +
			strings.ReplaceAll(block, "localhost:8080", in.http)
		cmd := exec.Command("bash", "-euc", script)
		cmd.Env = append(os.Environ(), "BOOTSTRAP_KEY="+key)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "README example failed:\n%s\n%s", block, out)
		ran++
	}
	require.NotZero(t, ran, "no curl example in Run it")
	code, user := apiCall(t, in, "GET", "/v1/users/201@pbx.example.com", key, "")
	require.Equal(t, 200, code, "the README creates the first user: %v", user)

	// The caller-ID example finds a company contact holding its number:
	// the number is valid in the default region.
	m := regexp.MustCompile("`GET (/v1/lookup\\?[^`]*)`").FindStringSubmatch(readmeSection(t, "The HTTP API"))
	require.NotNil(t, m, "no lookup example in The HTTP API")
	number := regexp.MustCompile(`number=([^&]+)`).FindStringSubmatch(m[1])[1]
	code, created := apiCall(t, in, "POST", "/v1/contacts", key,
		`{"kind":"company","domain":"pbx.example.com","company":"Acme Plumbing","phones":[{"type":"work","number":"`+number+`"}]}`)
	require.Equal(t, 201, code, "%v", created)
	code, name, _ := in.call("GET", m[1], key, "")
	assert.Equal(t, 200, code, name)
	assert.Equal(t, "Acme Plumbing", name)

	// And it is a valid number of the default region the binary states,
	// not merely one of plausible length.
	help, _ := exec.Command(binary(t), "--help").CombinedOutput()
	rm := regexp.MustCompile(`(?m)^  --region string .*\n.*\(default "([A-Z]{2})"\)`).FindSubmatch(help)
	require.NotNil(t, rm, "--help states the default region:\n%s", help)
	region := string(rm[1])
	pn, err := phonenumbers.Parse(number, region)
	require.NoError(t, err)
	assert.True(t, phonenumbers.IsValidNumberForRegion(pn, region), "%s is a valid number in %s", number, region)
}
