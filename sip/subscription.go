package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
)

// dialogID identifies a subscription dialog (RFC 3261 §12, RFC 6665 §4.1.2):
// Call-ID, our tag (the To tag we gave) and the subscriber's From tag, plus
// the Event id parameter, since one dialog may carry several subscriptions.
type dialogID struct {
	callID, localTag, remoteTag, eventID string
}

// subscription is the notifier side of one subscription dialog.
type subscription struct {
	id    dialogID
	event presence.Event
	aor   presence.AOR

	// Fixed at creation: how to reach the subscriber.
	local     sipmsg.Uri // our URI, the To of the SUBSCRIBE
	remote    sipmsg.Uri // the subscriber, the From of the SUBSCRIBE
	remoteDsp string
	target    sipmsg.Uri   // the subscriber's Contact
	routes    []sipmsg.Uri // route set from Record-Route (RFC 3261 §12.1.1)
	source    string       // where its SUBSCRIBE came from: the flow to reuse
	transport string
	contact   string // our Contact
	watcher   string // the subscriber's AOR, for the per-watcher cap

	// sendMu is held across building and sending one NOTIFY, so NOTIFYs of
	// a subscription go out one at a time with CSeq and version in order,
	// although sipgo runs every request on its own goroutine. Lock order:
	// sendMu before mu.
	sendMu sync.Mutex

	// mu guards everything below; it is never held across network I/O.
	mu         sync.Mutex
	expires    time.Time
	remoteCSeq uint32 // last SUBSCRIBE CSeq accepted in this dialog
	cseq       uint32 // our last NOTIFY CSeq
	version    uint64 // next dialog-info version
	// cseqMark and versionMark are what the store has reserved.
	cseqMark    uint32
	versionMark uint64
	// stored: a state of sub was queued for the store (or restored from
	// it). savedCSeqMark and savedVersionMark are the reservation a
	// restarted instance would start from: that of the last state written
	// (0 before the first write). saving is closed once the last queued
	// state is written.
	stored           bool
	savedCSeqMark    uint32
	savedVersionMark uint64
	saving           chan struct{}
	latest           presence.View
	dirty            bool // latest not sent yet
	sending          bool // a sender goroutine is running
	// cancelSend aborts the NOTIFY the sender has in flight, if any.
	cancelSend context.CancelFunc
	ended      bool
	// pending: accepted but not yet authorized, so NOTIFYs say "pending"
	// and carry no state (RFC 6665 §4.2.1.2).
	pending bool
	// list is set for an ad-hoc list subscription (eventlist.go); its
	// members' views take the place of latest.
	list *adHocList
}

// watcherKey is the per-watcher cap's key for a subscriber URI.
func watcherKey(u sipmsg.Uri) string {
	return u.User + "@" + strings.ToLower(u.Host)
}

// errTooManySubscriptions means a watcher or a target reached its cap.
var errTooManySubscriptions = errors.New("too many subscriptions")

// subscriptions indexes live subscriptions by dialog, by watched AOR and
// counts them by watcher and by flow.
type subscriptions struct {
	mu        sync.RWMutex // guards byID, byAOR, byWatcher and byFlow
	byID      map[dialogID]*subscription
	byAOR     map[presence.AOR]map[dialogID]*subscription
	byWatcher map[string]int
	byFlow    map[string]int // by flowKey, for the idle-connection check
}

func newSubscriptions() *subscriptions {
	return &subscriptions{
		byID: make(map[dialogID]*subscription), byAOR: make(map[presence.AOR]map[dialogID]*subscription),
		byWatcher: make(map[string]int), byFlow: make(map[string]int),
	}
}

// flowKey names the flow a subscription's SUBSCRIBE came over.
func flowKey(transport, source string) string {
	return strings.ToLower(transport) + " " + source
}

// hasFlow reports whether a live subscription came over the connection
// from remote on network ("tcp" or "tls").
func (t *subscriptions) hasFlow(network, remote string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byFlow[flowKey(network, remote)] > 0
}

// tryAdd adds s unless its watcher already holds maxWatcher subscriptions
// or its target has maxTarget; a cap below 1 is no cap.
func (t *subscriptions) tryAdd(s *subscription, maxWatcher, maxTarget int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if maxWatcher > 0 && t.byWatcher[s.watcher] >= maxWatcher {
		return fmt.Errorf("watcher %s holds %d: %w", s.watcher, maxWatcher, errTooManySubscriptions)
	}
	for _, aor := range s.watched() {
		if maxTarget > 0 && len(t.byAOR[aor]) >= maxTarget {
			return fmt.Errorf("%s has %d watchers: %w", aor, maxTarget, errTooManySubscriptions)
		}
	}
	t.addLocked(s)
	return nil
}

func (t *subscriptions) add(s *subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addLocked(s)
}

// addLocked adds s; the caller holds t.mu.
func (t *subscriptions) addLocked(s *subscription) {
	if old := t.byID[s.id]; old != nil {
		t.byWatcher[old.watcher]--
		t.dropFlowLocked(old)
	}
	t.byWatcher[s.watcher]++
	t.byFlow[flowKey(s.transport, s.source)]++
	t.byID[s.id] = s
	for _, aor := range s.watched() {
		m := t.byAOR[aor]
		if m == nil {
			m = make(map[dialogID]*subscription)
			t.byAOR[aor] = m
		}
		m[s.id] = s
	}
}

func (t *subscriptions) get(id dialogID) *subscription {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byID[id]
}

func (t *subscriptions) remove(s *subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID[s.id] != s {
		return
	}
	delete(t.byID, s.id)
	if t.byWatcher[s.watcher]--; t.byWatcher[s.watcher] <= 0 {
		delete(t.byWatcher, s.watcher)
	}
	t.dropFlowLocked(s)
	for _, aor := range s.watched() {
		if m := t.byAOR[aor]; m != nil {
			delete(m, s.id)
			if len(m) == 0 {
				delete(t.byAOR, aor)
			}
		}
	}
}

func (t *subscriptions) watching(aor presence.AOR) []*subscription {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m := t.byAOR[aor]
	out := make([]*subscription, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	return out
}

func (t *subscriptions) all() []*subscription {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*subscription, 0, len(t.byID))
	for _, s := range t.byID {
		out = append(out, s)
	}
	return out
}

func (t *subscriptions) count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byID)
}

// dropFlowLocked uncounts s's flow; the caller holds t.mu.
func (t *subscriptions) dropFlowLocked(s *subscription) {
	k := flowKey(s.transport, s.source)
	if t.byFlow[k]--; t.byFlow[k] <= 0 {
		delete(t.byFlow, k)
	}
}
