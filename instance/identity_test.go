package instance_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/instance"
)

func TestDefaultIDStablePerDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := instance.Open(dir, "")
	require.NoError(t, err)
	require.NoError(t, instance.Check(first.ID))
	host, _ := os.Hostname()
	assert.Equal(t, instance.NewID(host)[:len(first.ID)-6], first.ID[:len(first.ID)-6], "host name, then a random suffix")
	assert.Empty(t, first.Previous, "first start")
	require.NoError(t, first.Close())

	again, err := instance.Open(dir, "")
	require.NoError(t, err)
	t.Cleanup(func() { again.Close() })
	assert.Equal(t, first.ID, again.ID, "a restart keeps the id, and so finds its subscriptions")
	assert.NotEqual(t, first.Token, again.Token, "tokens are per process")
	assert.Equal(t, first.Token, again.Previous, "the predecessor's token, for taking over its claim")

	other, err := instance.Open(t.TempDir(), "")
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	assert.NotEqual(t, first.ID, other.ID, "another data dir on the same host is another instance")
}

func TestGivenIDWins(t *testing.T) {
	dir := t.TempDir()
	in, err := instance.Open(dir, "pbx-a")
	require.NoError(t, err)
	t.Cleanup(func() { in.Close() })
	assert.Equal(t, "pbx-a", in.ID)
	_, err = os.Stat(filepath.Join(dir, "instance-id"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing made when the operator names the instance")
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	in, err := instance.Open(dir, "")
	require.NoError(t, err)
	_, err = instance.Open(dir, "")
	require.ErrorIs(t, err, instance.ErrDataDirInUse)
	require.NoError(t, in.Close())
	in, err = instance.Open(dir, "")
	require.NoError(t, err)
	require.NoError(t, in.Close())
}

func TestNewID(t *testing.T) {
	tests := []struct {
		name, host, prefix string
	}{
		{name: "short host", host: "pbx1", prefix: "pbx1-"},
		{name: "fqdn cut at the first dot", host: "pbx1.example.com", prefix: "pbx1-"},
		{name: "odd characters replaced", host: "a b*c>", prefix: "a-b-c--"},
		{name: "no host name", host: "", prefix: "switchboard-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := instance.NewID(tt.host)
			assert.Equal(t, tt.prefix, id[:len(id)-6])
			require.NoError(t, instance.Check(id))
			assert.NotEqual(t, id, instance.NewID(tt.host), "random suffix")
		})
	}
	assert.Error(t, instance.Check("a.b"))
	assert.Error(t, instance.Check(""))
}
