package harness

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// process is one server binary from PATH, restartable on the same port.
type process struct {
	t       testing.TB
	bin     string
	port    int
	dir     string
	args    func(port int, dir string) []string
	ready   func(addr string) error
	cmd     *exec.Cmd
	exited  chan struct{} // closed by the waiter goroutine when cmd exits
	logPath string
}

// startProcess starts bin on a free port, retrying with a new port a few
// times since another process may take a "free" port first.
func startProcess(t testing.TB, bin string, args func(port int, dir string) []string, ready func(addr string) error) (*process, error) {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, err
	}
	p := &process{t: t, bin: path, dir: t.TempDir(), args: args, ready: ready}
	p.logPath = filepath.Join(p.dir, bin+".log")
	t.Cleanup(p.stop)
	for range 3 {
		p.port = FreePort(t)
		if err = p.start(); err == nil {
			return p, nil
		}
	}
	return nil, err
}

func (p *process) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

func (p *process) start() error {
	if p.cmd != nil {
		return errors.New("already running")
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(p.bin, p.args(p.port, p.dir)...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	exited := make(chan struct{})
	// Owned by p: stop waits for exited.
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited

	deadline := time.Now().Add(startTimeout)
	for {
		err := p.ready(p.addr())
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			p.cmd = nil
			return fmt.Errorf("%s exited on port %d: %s", p.bin, p.port, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return fmt.Errorf("%s on port %d not ready: %w: %s", p.bin, p.port, err, p.logTail())
		}
	}
}

// stop terminates the server and waits for it to exit; a no-op when stopped.
func (p *process) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

func (p *process) logTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(len(lines)-5, 0):], " | ")
}

// dialLine connects to addr, optionally writes send, and checks that the
// first line read starts with want.
func dialLine(addr, send, want string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if send != "" {
		if _, err := c.Write([]byte(send)); err != nil {
			return err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, want) {
		return fmt.Errorf("got %q, want %q", strings.TrimSpace(line), want)
	}
	return nil
}
