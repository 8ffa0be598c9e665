package directory

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"time"
	"unicode/utf8"
)

// SIP digest credentials. Provisioning takes a plaintext SIP password and
// keeps only HA1 = H(extension ":" realm ":" password) for MD5 (RFC 3261
// §22.4, RFC 2617 §3.2.2.2) and SHA-256 (RFC 8760 §2.2), the realm being
// the user's SIP domain. That is enough to verify digest responses, and a
// leaked store does not give the passwords away (though an HA1 lets one
// authenticate in its realm, so the store stays confidential).

// Digest holds a user's HA1 hashes as lowercase hex. The Service keeps
// them with the user and never returns them: users it hands out carry a
// Digest with only Updated set, telling that credentials exist.
type Digest struct {
	MD5     string    `json:"md5,omitempty"`
	SHA256  string    `json:"sha256,omitempty"`
	Updated time.Time `json:"updated"`
}

// SIP password length limits, in bytes.
const (
	minSIPPassword = 8
	maxSIPPassword = 128
)

func checkSIPPassword(pw string) error {
	if pw == "" {
		return nil
	}
	if len(pw) < minSIPPassword || len(pw) > maxSIPPassword {
		return &FieldError{Field: "sip_password", Reason: "want 8 to 128 bytes"}
	}
	if !utf8.ValidString(pw) || strings.ContainsAny(pw, "\x00\r\n") {
		return &FieldError{Field: "sip_password", Reason: "want UTF-8 text without NUL or line breaks"}
	}
	return nil
}

func newDigest(ext, realm, password string, now time.Time) *Digest {
	return &Digest{
		MD5:     ha1(md5.New(), ext, realm, password),
		SHA256:  ha1(sha256.New(), ext, realm, password),
		Updated: now,
	}
}

func ha1(h hash.Hash, user, realm, password string) string {
	h.Write([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(h.Sum(nil))
}

// public returns u without its HA1 hashes.
func (u User) public() User {
	if u.Digest != nil {
		u.Digest = &Digest{Updated: u.Digest.Updated}
	}
	u.SIPPassword = ""
	return u
}

// HA1 returns the stored HA1 of the user with extension user in realm
// (the user's SIP domain, matched exactly as the HA1 was computed over it)
// for algorithm "MD5" (or "") or "SHA-256", case-insensitively. ok is
// false for unknown users, users without SIP credentials and other
// algorithms. It makes *Service a sip/auth Credentials store and never
// fails.
func (s *Service) HA1(_ context.Context, user, realm, algorithm string) (string, bool, error) {
	s.mu.RLock()
	u, found := s.users[user+"@"+realm]
	s.mu.RUnlock()
	if !found || u.Digest == nil {
		return "", false, nil
	}
	var h string
	switch {
	case algorithm == "", strings.EqualFold(algorithm, "MD5"):
		h = u.Digest.MD5
	case strings.EqualFold(algorithm, "SHA-256"):
		h = u.Digest.SHA256
	}
	return h, h != "", nil
}
