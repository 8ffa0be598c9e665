package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"net/netip"
	"sync"
	"time"
)

// Nonce layout, before base64url encoding:
//
//	issued (8, unix nanoseconds) | salt (8, random) | mac (16)
//
// mac = HMAC-SHA256(key, issued | salt | source IP (16) | realm),
// truncated to 128 bits. RFC 7616 §3.3 suggests exactly this kind of
// nonce (time stamp plus a keyed hash over client-specific data) so the
// server can validate it without keeping per-nonce state. The key is the
// one the keyring holds for the issue time: one secret for all times, or
// one per rotation period shared by every instance (SharedSecret).
const (
	nonceTSLen   = 8
	nonceSaltLen = 8
	nonceMACLen  = 16
	nonceRawLen  = nonceTSLen + nonceSaltLen + nonceMACLen
)

var nonceEncoding = base64.RawURLEncoding

// macKey is one nonce secret, with a pool of HMACs keyed with it.
type macKey struct {
	macs sync.Pool // of hash.Hash keyed with the secret
}

func newMACKey(secret []byte) *macKey {
	key := append([]byte(nil), secret...)
	k := &macKey{}
	k.macs.New = func() any { return hmac.New(sha256.New, key) }
	return k
}

// randomKey returns a key nobody else knows: nonces signed with it are
// valid on this process only.
func randomKey() *macKey {
	secret := make([]byte, 32)
	randomBytes(secret)
	return newMACKey(secret)
}

// randomBytes fills b from crypto/rand, which never fails (Go 1.24+).
func randomBytes(b []byte) { _, _ = rand.Read(b) }

// keyring gives the key for nonces issued at a time; nil when it holds
// none for that time (the nonce is then invalid).
type keyring interface {
	key(issued time.Time) *macKey
}

// staticKey is one key for every issue time.
type staticKey struct{ k *macKey }

func (s staticKey) key(time.Time) *macKey { return s.k }

// nonceFactory mints and verifies HMAC-signed nonces.
type nonceFactory struct {
	keys keyring
}

func newNonceFactory(keys keyring) *nonceFactory {
	return &nonceFactory{keys: keys}
}

func (k *macKey) mac(dst []byte, tsSalt []byte, src netip.Addr, realm string) []byte {
	m := k.macs.Get().(hash.Hash)
	defer k.macs.Put(m)
	m.Reset()
	m.Write(tsSalt)
	ip := src.Unmap().As16()
	m.Write(ip[:])
	m.Write([]byte(realm))
	var sum [sha256.Size]byte
	return append(dst, m.Sum(sum[:0])[:nonceMACLen]...)
}

// issue returns a new nonce bound to now, src and realm.
func (f *nonceFactory) issue(now time.Time, src netip.Addr, realm string) string {
	raw := make([]byte, nonceTSLen+nonceSaltLen, nonceRawLen)
	binary.BigEndian.PutUint64(raw, uint64(now.UnixNano()))
	randomBytes(raw[nonceTSLen:])
	k := f.keys.key(now)
	if k == nil {
		// A keyring always holds a key for the present (SharedSecret
		// falls back to a local one); this only guards a misuse.
		k = randomKey()
	}
	raw = k.mac(raw, raw, src, realm)
	return nonceEncoding.EncodeToString(raw)
}

// verify checks that nonce was minted with the key for its issue time, for
// src and realm, and returns its issue time. ok is false for forged,
// truncated or foreign (other source IP or realm, or a key this instance
// does not hold) nonces.
func (f *nonceFactory) verify(nonce string, src netip.Addr, realm string) (issued time.Time, ok bool) {
	if nonceEncoding.EncodedLen(nonceRawLen) != len(nonce) {
		return time.Time{}, false
	}
	var raw [nonceRawLen]byte
	n, err := nonceEncoding.Decode(raw[:], []byte(nonce))
	if err != nil || n != nonceRawLen {
		return time.Time{}, false
	}
	issued = time.Unix(0, int64(binary.BigEndian.Uint64(raw[:nonceTSLen])))
	k := f.keys.key(issued)
	if k == nil {
		return time.Time{}, false
	}
	var want [nonceMACLen]byte
	k.mac(want[:0], raw[:nonceTSLen+nonceSaltLen], src, realm)
	if !hmac.Equal(want[:], raw[nonceTSLen+nonceSaltLen:]) {
		return time.Time{}, false
	}
	return issued, true
}
