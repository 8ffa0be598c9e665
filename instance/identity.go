// Package instance gives a Switchboard process its identity: a name, the
// instance id, that stays the same across restarts (the per-instance state
// in Redis is filed under it), and a token that is unique to the process.
package instance

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Files kept in the data dir.
const (
	// idFile holds the instance id made on first start.
	idFile = "instance-id"
	// lockFile is locked while a process runs on the data dir and holds
	// that process's token.
	lockFile = "instance.lock"
)

// ErrDataDirInUse reports a data dir that a running process has locked.
var ErrDataDirInUse = errors.New("data dir in use by another running switchboard")

// Identity is who this process is. Close releases the data dir.
type Identity struct {
	// ID names the instance: given by the operator, or made on first start
	// from the host name and a random suffix and kept in the data dir.
	ID string
	// Token is random, drawn per process: it tells two processes apart
	// even when both were given the same ID.
	Token string
	// Previous is the token of the process that last ran on this data
	// dir, known to be gone (it no longer holds the lock); "" on first start.
	Previous string

	lock *os.File
}

// Open locks dataDir for this process and returns its identity. id is the
// operator's --instance-id; empty selects the one kept in dataDir, made
// there on first start.
func Open(dataDir, id string) (*Identity, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dataDir, lockFile), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open instance lock: %w", err)
	}
	// The kernel drops the lock when the process dies, however it dies:
	// holding it proves the previous process is gone.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dataDir, ErrDataDirInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", dataDir, err)
	}
	in := &Identity{ID: id, Token: rand.Text(), lock: f}
	fail := func(err error) (*Identity, error) {
		in.Close()
		return nil, err
	}
	prev, err := os.ReadFile(f.Name())
	if err != nil {
		return fail(fmt.Errorf("read instance lock: %w", err))
	}
	in.Previous = strings.TrimSpace(string(prev))
	if err := f.Truncate(0); err != nil {
		return fail(fmt.Errorf("write instance lock: %w", err))
	}
	if _, err := f.WriteAt([]byte(in.Token+"\n"), 0); err != nil {
		return fail(fmt.Errorf("write instance lock: %w", err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("write instance lock: %w", err))
	}
	if in.ID == "" {
		if in.ID, err = storedID(dataDir); err != nil {
			return fail(err)
		}
	}
	return in, nil
}

// Close releases the data dir.
func (in *Identity) Close() error {
	if in.lock == nil {
		return nil
	}
	err := in.lock.Close() // closing drops the lock
	in.lock = nil
	return err
}

// storedID reads the id kept in dataDir, making it on first start.
func storedID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, idFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if err := Check(id); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read instance id: %w", err)
	}
	host, _ := os.Hostname()
	id := NewID(host)
	// Write then rename, so a crash never leaves a half-written id.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("write instance id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write instance id: %w", err)
	}
	return id, nil
}

// NewID makes an instance id from a host name and a random suffix, e.g.
// "pbx1-k3f9qa" for pbx1.example.com: readable in logs and Redis keys, and
// distinct even for two instances on one host.
func NewID(host string) string {
	host, _, _ = strings.Cut(host, ".")
	host = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, host)
	if host == "" {
		host = "switchboard"
	}
	return host + "-" + strings.ToLower(rand.Text()[:6])
}

// Check reports whether id can name an instance: it becomes part of Redis
// keys and of a NATS client name.
func Check(id string) error {
	if id == "" || strings.ContainsAny(id, " .*>\t\r\n") {
		return fmt.Errorf("instance id %q: want a name without spaces, dots or wildcards", id)
	}
	return nil
}
