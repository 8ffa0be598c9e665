// Package integration holds black-box tests: they build the switchboard
// binary, start it as a process and drive it with real SIP clients (the
// siptest phone and SIPp), real Redis and real NATS.
package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/switchboard once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "switchboard")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, "../cmd/switchboard").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// instance is one switchboard process.
type instance struct {
	t       *testing.T
	args    []string
	sipPort int
	http    string
	cmd     *exec.Cmd
	logs    *syncBuffer
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startInstance runs switchboard on free loopback ports with extra args.
// Another process may take a port between the check and the bind: then it
// starts again on other ports.
func startInstance(t *testing.T, id string, extra ...string) *instance {
	t.Helper()
	in := &instance{t: t, logs: &syncBuffer{}}
	dataDir := t.TempDir()
	t.Cleanup(func() {
		in.kill()
		if t.Failed() {
			t.Logf("logs of %s:\n%s", id, tail(in.logs.String(), 6000))
		}
	})
	for attempt := 1; ; attempt++ {
		in.sipPort, in.http = freeSIPPort(t), "127.0.0.1:"+strconv.Itoa(harness.FreePort(t))
		in.args = append([]string{
			"--sip-listen", "127.0.0.1:" + strconv.Itoa(in.sipPort), "--http-listen", in.http,
			"--domain", "pbx.example.com", "--data-dir", dataDir, "--instance-id", id,
			"--log-level", "debug", "--shutdown-grace", "2s", "--trusted-cidr", "127.0.0.1/32",
		}, extra...)
		if in.launch() || attempt == 3 || !strings.Contains(in.logs.String(), "address already in use") {
			in.awaitHealthy()
			return in
		}
		in.logs = &syncBuffer{}
	}
}

// freeSIPPort finds a port free on both UDP and TCP.
func freeSIPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		p := harness.FreeUDPPort(t)
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no port free on both UDP and TCP")
	return 0
}

func (in *instance) start() {
	in.t.Helper()
	in.launch()
	in.awaitHealthy()
}

// launch starts the process and reports whether it became healthy; false
// means it exited (see awaitHealthy for the failure).
func (in *instance) launch() bool {
	in.t.Helper()
	in.cmd = exec.Command(binary(in.t), in.args...)
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	require.NoError(in.t, in.cmd.Start())
	done := make(chan struct{})
	in.done = done
	go func(c *exec.Cmd) { in.waitErr = c.Wait(); close(done) }(in.cmd)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := in.get("/healthz"); code == 200 {
			return true
		}
		select {
		case <-in.done:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// awaitHealthy fails the test unless the launched process is serving.
func (in *instance) awaitHealthy() {
	in.t.Helper()
	if code, _ := in.get("/healthz"); code == 200 {
		return
	}
	select {
	case <-in.done:
		in.t.Fatalf("switchboard exited at start: %v\n%s", in.waitErr, in.logs.String())
	default:
		in.t.Fatalf("switchboard not healthy within 15s\n%s", in.logs.String())
	}
}

func (in *instance) sipAddr() string { return "127.0.0.1:" + strconv.Itoa(in.sipPort) }

func (in *instance) get(path string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+in.http+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

// kill ends the process at once, as a crash would.
func (in *instance) kill() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	_ = in.cmd.Process.Kill()
	<-in.done
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	require.NoError(in.t, in.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-in.done:
		require.NoError(in.t, in.waitErr, "clean exit after SIGTERM")
	case <-time.After(15 * time.Second):
		in.t.Fatal("no exit within 15s of SIGTERM")
	}
}

// alive reports whether the process is still running.
func (in *instance) alive() bool {
	select {
	case <-in.done:
		return false
	default:
		return true
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// goroutines reads the process's goroutine count from its metrics.
func (in *instance) goroutines() int {
	in.t.Helper()
	code, body := in.get("/metrics")
	require.Equal(in.t, 200, code)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, err := strconv.ParseFloat(v, 64)
			require.NoError(in.t, err)
			return int(n)
		}
	}
	in.t.Fatal("no go_goroutines in /metrics")
	return 0
}

// assertNoGoroutineLeak waits for the goroutine count to settle back near
// before: a fault must not leave goroutines piling up.
func (in *instance) assertNoGoroutineLeak(before int) {
	in.t.Helper()
	const slack = 10
	require.Eventually(in.t, func() bool { return in.goroutines() <= before+slack }, 10*time.Second, 200*time.Millisecond,
		"goroutines grew from %d to %d", before, in.goroutines())
}
