package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Web passwords sign a user in to the web app. Only an argon2id hash is
// kept, as a PHC string ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>",
// unpadded base64). argon2id rather than bcrypt: it is the current
// recommendation (RFC 9106, OWASP), it is memory-hard, and it has no
// 72-byte input limit that would silently cut long passphrases. The
// parameters are OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane):
// 20 MB and some 60 ms per check on one core (BenchmarkVerifyWebPassword),
// with callers bounding how many run at once (the api runs 4). They are
// written into each hash, so raising them later leaves older hashes
// verifiable.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Web password length limits: in characters (runes) at least, in bytes at
// most, so a multi-byte passphrase is not refused for its encoding.
const (
	MinWebPassword = 10
	MaxWebPassword = 256
)

// WebCredential is a user's web password as stored: its argon2id hash
// and when it was set. The directory never returns Hash: users it hands
// out (Public) carry a WebCredential with only Updated set, telling that
// a web password exists.
type WebCredential struct {
	Hash    string    `json:"hash,omitempty"`
	Updated time.Time `json:"updated"`
}

// CheckWebPassword validates a new web password; field names the request
// field it came in ("web_password" or "password").
func CheckWebPassword(field, pw string) error {
	if !utf8.ValidString(pw) || strings.ContainsAny(pw, "\x00\r\n") {
		return &FieldError{Field: field, Reason: "want UTF-8 text without NUL or line breaks"}
	}
	if utf8.RuneCountInString(pw) < MinWebPassword || len(pw) > MaxWebPassword {
		return &FieldError{Field: field, Reason: fmt.Sprintf("want at least %d characters and at most %d bytes", MinWebPassword, MaxWebPassword)}
	}
	return nil
}

// NewWebCredential hashes password with a fresh salt, stamped now.
func NewWebCredential(password string, now time.Time) (*WebCredential, error) {
	h, err := hashWebPassword(password)
	if err != nil {
		return nil, err
	}
	return &WebCredential{Hash: h, Updated: now}, nil
}

func hashWebPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash web password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

var errBadHash = errors.New("not an argon2id PHC string")

// Hashes with parameters beyond these are refused rather than computed: a
// tampered store must not make every sign-in allocate gigabytes.
const (
	maxArgonMemory = 256 * 1024
	maxArgonTime   = 10
)

// VerifyWebPassword reports whether password matches the PHC string
// encoded, in time independent of where they differ.
func VerifyWebPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > maxArgonMemory || t == 0 || t > maxArgonTime || p == 0 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

var (
	dummyOnce sync.Once
	dummyHash string
)

// VerifyNoUser spends the time a password check takes, for a user who
// does not exist or has no web password, so that the answer's timing
// does not tell which accounts exist. It always reports false.
func VerifyNoUser(password string) bool {
	dummyOnce.Do(func() {
		dummyHash, _ = hashWebPassword("switchboard: no such user")
	})
	_, _ = VerifyWebPassword(dummyHash, password)
	return false
}

// CheckWebPassword reports whether password is u's web password; a user
// without one never matches (but takes the same time).
func (u User) CheckWebPassword(password string) bool {
	if u.Web == nil || u.Web.Hash == "" {
		return VerifyNoUser(password)
	}
	ok, err := VerifyWebPassword(u.Web.Hash, password)
	return err == nil && ok
}
