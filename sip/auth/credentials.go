package auth

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
)

// Digest algorithm names as they appear in the algorithm parameter
// (RFC 3261 §25.1, RFC 8760 §2.1).
const (
	// MD5 is the RFC 3261 default digest algorithm.
	MD5 = "MD5"
	// SHA256 is the RFC 8760 SHA-256 digest algorithm.
	SHA256 = "SHA-256"
	// SHA512256 is the RFC 8760 SHA-512/256 digest algorithm.
	SHA512256 = "SHA-512-256"
)

// Credentials looks up the stored HA1 hash of a user, so that plaintext
// passwords never need to be kept at rest.
//
// HA1 returns ok=false when the user has no credentials for that realm and
// algorithm; err is reserved for lookup failures (store unreachable).
type Credentials interface {
	HA1(ctx context.Context, user, realm, algorithm string) (ha1 string, ok bool, err error)
}

var _ Credentials = (*MemCredentials)(nil)

// canonicalAlgorithm maps an algorithm parameter to its canonical spelling.
// RFC 3261 §22.4 / RFC 2617 §3.2.1: an absent algorithm means MD5. The
// comparison is case-insensitive (RFC 7616 §3.3 tokens). ok is false for
// algorithms this package cannot compute, including the "-sess" variants,
// which SIP deployments do not use.
func canonicalAlgorithm(alg string) (string, bool) {
	switch {
	case alg == "", strings.EqualFold(alg, MD5):
		return MD5, true
	case strings.EqualFold(alg, SHA256):
		return SHA256, true
	case strings.EqualFold(alg, SHA512256):
		return SHA512256, true
	}
	return "", false
}

func newHash(alg string) hash.Hash {
	switch alg {
	case MD5:
		return md5.New()
	case SHA256:
		return sha256.New()
	case SHA512256:
		return sha512.New512_256()
	}
	return nil
}

// HA1 returns the lowercase hex H(user ":" realm ":" password) for the given
// algorithm (RFC 2617 §3.2.2.2, RFC 8760 §2.2), or "" when the algorithm is
// not supported. It is what provisioning stores instead of the password.
func HA1(alg, user, realm, password string) string {
	canon, ok := canonicalAlgorithm(alg)
	if !ok {
		return ""
	}
	h := newHash(canon)
	h.Write([]byte(user))
	h.Write([]byte{':'})
	h.Write([]byte(realm))
	h.Write([]byte{':'})
	h.Write([]byte(password))
	return hex.EncodeToString(h.Sum(nil))
}

// MemCredentials is an in-memory Credentials store keeping only HA1 hashes
// (MD5 and SHA-256) per user and realm. It is safe for concurrent use.
type MemCredentials struct {
	mu  sync.RWMutex      // guards ha1
	ha1 map[memKey]string // HA1 per user, realm and algorithm
}

type memKey struct {
	user, realm, alg string
}

// NewMemCredentials returns an empty MemCredentials.
func NewMemCredentials() *MemCredentials {
	return &MemCredentials{ha1: make(map[memKey]string)}
}

// Set stores the MD5 and SHA-256 HA1 of user's password in realm, replacing
// any previous entry. The password itself is not retained.
func (m *MemCredentials) Set(user, realm, password string) {
	md := HA1(MD5, user, realm, password)
	sh := HA1(SHA256, user, realm, password)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ha1 == nil {
		m.ha1 = make(map[memKey]string)
	}
	m.ha1[memKey{user, realm, MD5}] = md
	m.ha1[memKey{user, realm, SHA256}] = sh
}

// Delete removes every HA1 stored for user in realm.
func (m *MemCredentials) Delete(user, realm string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, alg := range []string{MD5, SHA256, SHA512256} {
		delete(m.ha1, memKey{user, realm, alg})
	}
}

// HA1 implements Credentials.
func (m *MemCredentials) HA1(_ context.Context, user, realm, algorithm string) (string, bool, error) {
	alg, ok := canonicalAlgorithm(algorithm)
	if !ok {
		return "", false, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	h, ok := m.ha1[memKey{user, realm, alg}]
	return h, ok, nil
}
