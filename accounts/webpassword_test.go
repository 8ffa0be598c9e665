package accounts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebPasswordHash(t *testing.T) {
	c, err := NewWebCredential("correct horse battery", time.Unix(0, 0))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(c.Hash, "$argon2id$v=19$m=19456,t=2,p=1$"), c.Hash)
	assert.NotContains(t, c.Hash, "correct horse")

	ok, err := VerifyWebPassword(c.Hash, "correct horse battery")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifyWebPassword(c.Hash, "correct horse batterx")
	require.NoError(t, err)
	assert.False(t, ok)

	again, err := NewWebCredential("correct horse battery", time.Unix(0, 0))
	require.NoError(t, err)
	assert.NotEqual(t, c.Hash, again.Hash, "a fresh salt every time")

	for _, bad := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA"} {
		_, err := VerifyWebPassword(bad, "x")
		assert.Error(t, err, bad)
	}
}

func TestCheckWebPassword(t *testing.T) {
	tests := []struct {
		name, pw string
		ok       bool
	}{
		{"short", "nine char", false},
		{"ten", "ten chars!", true},
		{"ten runes, more bytes", "éééééééééé", true},
		{"too long", strings.Repeat("a", MaxWebPassword+1), false},
		{"longest", strings.Repeat("a", MaxWebPassword), true},
		{"line break", "long enough\npassword", false},
		{"invalid utf-8", "long enough \xff password", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckWebPassword("password", tt.pw)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "password", fe.Field)
		})
	}
}

func TestUserWebPasswordNeverPublic(t *testing.T) {
	c, err := NewWebCredential("correct horse battery", time.Unix(100, 0).UTC())
	require.NoError(t, err)
	u := User{Extension: "201", Domain: "a.example", FirstName: "Ann", Web: c, WebPassword: "correct horse battery"}
	assert.True(t, u.CheckWebPassword("correct horse battery"))
	assert.False(t, u.CheckWebPassword("wrong password!"))
	assert.False(t, User{}.CheckWebPassword("correct horse battery"), "no web password never matches")

	raw, err := json.Marshal(u.Public())
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "argon2")
	assert.NotContains(t, string(raw), "correct horse")
	assert.Contains(t, string(raw), `"web":{"updated":"1970-01-01T00:01:40Z"}`, "Public tells that a password is set")
}

// BenchmarkVerifyWebPassword measures one sign-in's hash check (argon2id
// with the stored parameters); B/op shows its memory.
func BenchmarkVerifyWebPassword(b *testing.B) {
	c, err := NewWebCredential("correct horse battery", time.Unix(0, 0))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := VerifyWebPassword(c.Hash, "correct horse battery"); !ok {
			b.Fatal("no match")
		}
	}
}
