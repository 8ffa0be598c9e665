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
// mac = HMAC-SHA256(secret, issued | salt | source IP (16) | realm),
// truncated to 128 bits. RFC 7616 §3.3 suggests exactly this kind of
// nonce (time stamp plus a keyed hash over client-specific data) so the
// server can validate it without keeping per-nonce state.
const (
	nonceTSLen   = 8
	nonceSaltLen = 8
	nonceMACLen  = 16
	nonceRawLen  = nonceTSLen + nonceSaltLen + nonceMACLen
)

var nonceEncoding = base64.RawURLEncoding

// nonceFactory mints and verifies HMAC-signed nonces.
type nonceFactory struct {
	macs sync.Pool // of hash.Hash keyed with the secret
}

func newNonceFactory(secret []byte) *nonceFactory {
	key := append([]byte(nil), secret...)
	f := &nonceFactory{}
	f.macs.New = func() any { return hmac.New(sha256.New, key) }
	return f
}

func (f *nonceFactory) mac(dst []byte, tsSalt []byte, src netip.Addr, realm string) []byte {
	m := f.macs.Get().(hash.Hash)
	defer f.macs.Put(m)
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
	_, _ = rand.Read(raw[nonceTSLen:]) // crypto/rand.Read never fails (Go 1.24+).
	raw = f.mac(raw, raw, src, realm)
	return nonceEncoding.EncodeToString(raw)
}

// verify checks that nonce was minted by this secret for src and realm and
// returns its issue time. ok is false for forged, truncated or foreign
// (other source IP or realm) nonces.
func (f *nonceFactory) verify(nonce string, src netip.Addr, realm string) (issued time.Time, ok bool) {
	if nonceEncoding.EncodedLen(nonceRawLen) != len(nonce) {
		return time.Time{}, false
	}
	var raw [nonceRawLen]byte
	n, err := nonceEncoding.Decode(raw[:], []byte(nonce))
	if err != nil || n != nonceRawLen {
		return time.Time{}, false
	}
	var want [nonceMACLen]byte
	f.mac(want[:0], raw[:nonceTSLen+nonceSaltLen], src, realm)
	if !hmac.Equal(want[:], raw[nonceTSLen+nonceSaltLen:]) {
		return time.Time{}, false
	}
	ns := int64(binary.BigEndian.Uint64(raw[:nonceTSLen]))
	return time.Unix(0, ns), true
}
