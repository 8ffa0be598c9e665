package integration

import (
	"strings"
	"syscall"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// A desk phone watching over TCP loses its connection when the instance
// crashes. The restarted instance restores the subscription from Redis and
// reaches the phone over a new connection to its Contact (RFC 3261 §18.2.2,
// §12.2), so the lamp keeps working without the phone re-subscribing.
func TestTCPSubscriberSurvivesCrashRestart(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	a := startInstance(t, "tcp-crash", "--redis", redisURL, "--nats", natsURL)
	watcher := siptest.NewListeningPhone(t)
	watcher.Dial(a.sipAddr())
	_, n := subscribe(t, watcher, "tcp-crash-1")
	firstCSeq := n.CSeq().SeqNo
	require.Equal(t, 0, watcher.Accepted(), "NOTIFYs came over the phone's own connection")

	a.kill()
	a.start()

	n = watcher.Notify(200)
	assert.Equal(t, "tcp-crash-1", n.CallID().Value(), "same dialog")
	assert.Greater(t, n.CSeq().SeqNo, firstCSeq)
	assert.True(t, strings.HasPrefix(header(n, "Subscription-State"), "active"), header(n, "Subscription-State"))
	assert.Equal(t, 1, watcher.Accepted(), "the restarted instance connected to the Contact")
	v := doc(t, n).Version

	// The call rings: the lamp follows, over the same new connection.
	pbx := siptest.NewPhone(t, "UDP", a.sipAddr())
	publish(t, pbx, 1, "", dialogBody(0, "early"))
	n = watcher.Notify(200)
	d := doc(t, n)
	require.Len(t, d.Dialogs, 1)
	assert.Equal(t, "early", d.Dialogs[0].State)
	assert.Equal(t, v+1, d.Version)
	assert.Equal(t, 1, watcher.Accepted())
}

// SIGTERM with watchers that never answer NOTIFYs: while the final
// NOTIFYs wait, OPTIONS gets 503 and /readyz reports draining; the process
// still exits 0 within the grace (plus a margin for a loaded machine; a
// correctness bound, not a speed target).
func TestShutdownWithinGraceWhenWatchersDoNotAnswer(t *testing.T) {
	const grace = 4 * time.Second
	a := startInstance(t, "drain-silent", "--shutdown-grace", grace.String())
	watchers := make([]*siptest.Phone, 3)
	for i := range watchers {
		watchers[i] = siptest.NewPhone(t, "UDP", a.sipAddr())
		subscribe(t, watchers[i], "silent-"+string(rune('a'+i)))
	}
	// From here on nobody answers; a change leaves NOTIFYs in flight.
	pbx := siptest.NewPhone(t, "UDP", a.sipAddr())
	publish(t, pbx, 1, "", dialogBody(0, "early"))
	for _, w := range watchers {
		w.Next()
	}

	pinger := siptest.NewPhone(t, "UDP", a.sipAddr())
	start := time.Now()
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	// The final NOTIFYs wait min(2 s, grace/2) for answers that never come;
	// meanwhile a dispatcher's OPTIONS ping learns the instance is leaving.
	for _, w := range watchers {
		for { // past retransmissions of the unanswered NOTIFY; Next fails on silence
			if req, ok := w.Next().(*sipmsg.Request); ok && header(req, "Subscription-State") == "terminated;reason=deactivated" {
				break
			}
		}
	}
	pinger.Request("OPTIONS", "sip:pbx.example.com", 1, "drain-opt", "o", "", "", "")
	res := pinger.Response("OPTIONS")
	assert.Equal(t, 503, res.StatusCode)
	assert.NotEmpty(t, header(res, "Retry-After"))
	code, body := a.get("/readyz")
	assert.Equal(t, 503, code, "readiness reports draining before the listeners close")
	assert.Contains(t, body, "draining")
	select {
	case <-a.done:
		require.NoError(t, a.waitErr, "exit status 0 after draining")
		t.Logf("exited %s after SIGTERM (grace %s)", time.Since(start).Round(time.Millisecond), grace)
		assert.Less(t, time.Since(start), grace+3*time.Second, "shutdown took longer than the grace")
	case <-time.After(grace + 15*time.Second):
		t.Fatalf("still running %s after SIGTERM (grace %s)", time.Since(start), grace)
	}
}
