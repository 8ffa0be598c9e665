package sip

import (
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// heldParts is the dialog of watcher w's subscription to extension ext
// over transport tp, as a phone's SUBSCRIBE makes it.
func heldParts(t testing.TB, w, ext int, tp string) dialogParts {
	uri := func(s string) sipmsg.Uri {
		var u sipmsg.Uri
		require.NoError(t, sipmsg.ParseUri(s, &u))
		return u
	}
	e := strconv.Itoa(ext)
	return dialogParts{
		id: dialogID{callID: "c-" + strconv.Itoa(w) + "-" + e, localTag: sipmsg.GenerateTagN(10), remoteTag: "t" + strconv.Itoa(w)},
		localParty: localParty{local: uri("sip:" + e + "@pbx.example.com"), aor: presence.NewAOR(e, "pbx.example.com"),
			event: presence.EventDialog, contact: "<sip:switchboard@10.0.0.1>", transport: tp},
		remote: uri("sip:" + strconv.Itoa(w) + "@pbx.example.com"),
		target: uri("sip:" + strconv.Itoa(w) + "@10.0.0.5:5062;transport=" + tp),
		source: "10.0.0.5:5062",
	}
}

// The watchers of one extension over one transport share its
// localParty, which is let go once none holds it.
func TestSubscriptionsShareLocalParty(t *testing.T) {
	a, b := newSubscription(heldParts(t, 300, 9201, "udp")), newSubscription(heldParts(t, 301, 9201, "udp"))
	assert.Same(t, a.localParty, b.localParty)
	assert.NotSame(t, a.localParty, newSubscription(heldParts(t, 300, 9202, "udp")).localParty, "another extension")
	assert.NotSame(t, a.localParty, newSubscription(heldParts(t, 300, 9201, "tcp")).localParty, "another transport")
	assert.Equal(t, "sip:9201@pbx.example.com", b.local.String())
	assert.Equal(t, presence.NewAOR("9201", "pbx.example.com"), b.aor)

	key := localKey(a.localParty)
	held := func() bool {
		localParties.Lock()
		defer localParties.Unlock()
		_, ok := localParties.m[key]
		return ok
	}
	require.True(t, held())
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	a, b = nil, nil
	for i := 0; i < 1000 && held(); i++ {
		runtime.GC()
		runtime.Gosched()
	}
	assert.False(t, held(), "the localParty of a resource no subscription holds is forgotten")
}

// A held subscription costs one 768-byte allocation (the struct and
// Go's 8-byte header for objects over 512 bytes: a field more and it
// takes 896), one for its strings and a share of its extension's
// localParty: here 50 watchers of each of 20 extensions.
func TestHeldSubscriptionSize(t *testing.T) {
	const n = 1000
	parts := make([]dialogParts, n)
	for i := range parts {
		parts[i] = heldParts(t, 5000+i, 9300+i%20, "udp")
	}
	subs := make([]*subscription, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range subs {
		subs[i] = newSubscription(parts[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSub := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	t.Logf("%.0f bytes per subscription", perSub)
	// The struct itself, exactly: 768 with the header, 896 with a field
	// more.
	assert.LessOrEqual(t, unsafe.Sizeof(subscription{}), uintptr(768-8), "the struct fits the 768-byte class")
	// HeapAlloc also counts what other goroutines of the test binary
	// allocate meanwhile (a run under -race -shuffle measured 833.4), so
	// the bound leaves 64 bytes a subscription of room: a struct in the
	// 896-byte class would still cost 960 and fail it.
	assert.LessOrEqual(t, perSub, 768.0+48+16+64, "struct, strings (48-byte class) and a 50th of a localParty")
	runtime.KeepAlive(subs)
	runtime.KeepAlive(parts)
}
