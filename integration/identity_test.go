package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// TestDuplicateInstanceIDRefused: a second process started with the id of
// a running one, on the same Redis and NATS, refuses to start with a clear
// error; the first goes on serving.
func TestDuplicateInstanceIDRefused(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	id := "dup-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	a := startInstance(t, id, "--redis", redisURL, "--nats", natsURL)

	b := &instance{t: t, sipPort: freeSIPPort(t), http: "127.0.0.1:" + strconv.Itoa(harness.FreePort(t)), logs: &syncBuffer{}}
	cmd := exec.Command(binary(t),
		"--sip-listen", b.sipAddr(), "--http-listen", b.http, "--domain", "pbx.example.com",
		"--data-dir", t.TempDir(), "--instance-id", id, "--redis", redisURL, "--nats", natsURL)
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "exits with an error")
		assert.Equal(t, 1, exit.ExitCode())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("second process with id %s kept running:\n%s", id, b.logs.String())
	}
	assert.Contains(t, b.logs.String(), `--instance-id "`+id+`" is in use by another running switchboard`)

	code, _ := a.get("/healthz")
	assert.Equal(t, 200, code, "the first instance goes on")
	watcher := siptest.NewPhone(t, "UDP", a.sipAddr())
	subscribe(t, watcher, "dup-1")
}

// TestDefaultInstanceIDSurvivesCrash: without --instance-id an instance
// names itself once (host name and a random suffix, kept in the data dir);
// after a crash it comes back under the same name, takes over its own
// claim without waiting for it to lapse, and resumes its subscriptions.
func TestDefaultInstanceIDSurvivesCrash(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	dataDir := t.TempDir()
	in := &instance{t: t, sipPort: freeSIPPort(t), http: "127.0.0.1:" + strconv.Itoa(harness.FreePort(t)), logs: &syncBuffer{}}
	in.args = []string{
		"--sip-listen", in.sipAddr(), "--http-listen", in.http, "--domain", "pbx.example.com",
		"--data-dir", dataDir, "--redis", redisURL, "--nats", natsURL, "--log-level", "debug",
	}
	in.start()
	t.Cleanup(func() {
		in.kill()
		if t.Failed() {
			t.Logf("logs:\n%s", tail(in.logs.String(), 6000))
		}
	})
	raw, err := os.ReadFile(filepath.Join(dataDir, "instance-id"))
	require.NoError(t, err)
	id := strings.TrimSpace(string(raw))
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	assert.True(t, strings.HasPrefix(id, host+"-"), "id %q starts with the host name", id)
	assert.Contains(t, in.logs.String(), `"instance":"`+id+`"`)

	watcher := siptest.NewPhone(t, "UDP", in.sipAddr())
	_, n := subscribe(t, watcher, "crash-1")
	firstCSeq := n.CSeq().SeqNo

	in.kill()
	in.logs = &syncBuffer{}
	in.start()
	assert.Contains(t, in.logs.String(), `"instance":"`+id+`"`, "same id after the crash")
	assert.NotContains(t, in.logs.String(), "waiting for it to lapse", "its own claim is taken over, not waited for")
	n = watcher.Notify(200)
	assert.Greater(t, n.CSeq().SeqNo, firstCSeq, "the stored subscription was found under the same id")
}
