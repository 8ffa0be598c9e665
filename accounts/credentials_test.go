package accounts

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestHA1Vector(t *testing.T) {
	// RFC 2617 §3.5: HA1 of Mufasa:testrealm@host.com:Circle Of Life.
	d := NewDigest("Mufasa", "testrealm@host.com", "Circle Of Life", testNow)
	assert.Equal(t, "939e7578ed9e3c518a452acee763bce9", d.MD5)
	sum := sha256.Sum256([]byte("Mufasa:testrealm@host.com:Circle Of Life"))
	assert.Equal(t, hex.EncodeToString(sum[:]), d.SHA256)
}

func TestDigestHA1(t *testing.T) {
	d := NewDigest("201", "pbx.example.com", "s3cret-Passw0rd", testNow)
	for _, tc := range []struct {
		name, alg, want string
	}{
		{"default", "", d.MD5}, {"md5", "md5", d.MD5}, {"sha-256", "SHA-256", d.SHA256}, {"other", "SHA-512-256", ""},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, d.HA1(tc.alg)) })
	}
}
