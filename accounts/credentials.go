package accounts

import (
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

// Digest holds a user's HA1 hashes as lowercase hex. The directory keeps
// them with the user and never returns them: users it hands out (Public)
// carry a Digest with only Updated set, telling that credentials exist.
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

// CheckSIPPassword validates a SIP password given when provisioning a
// user; "" (keep the current credentials) passes.
func CheckSIPPassword(pw string) error {
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

// NewDigest computes the HA1 hashes of extension ext in realm (the user's
// SIP domain) for password, stamped now.
func NewDigest(ext, realm, password string, now time.Time) *Digest {
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

// Public returns u without its HA1 hashes, web password hash and
// passwords, as the directory hands users out.
func (u User) Public() User {
	if u.Digest != nil {
		u.Digest = &Digest{Updated: u.Digest.Updated}
	}
	if u.Web != nil {
		u.Web = &WebCredential{Updated: u.Web.Updated}
	}
	u.SIPPassword, u.WebPassword = "", ""
	return u
}

// HA1 returns the hash of d for algorithm "MD5" (or "") or "SHA-256",
// case-insensitively, and "" for other algorithms.
func (d *Digest) HA1(algorithm string) string {
	switch {
	case algorithm == "", strings.EqualFold(algorithm, "MD5"):
		return d.MD5
	case strings.EqualFold(algorithm, "SHA-256"):
		return d.SHA256
	}
	return ""
}
