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
//
// Every subscription held costs one of these for as long as it lasts (an
// hour, refreshed, for a BLF key), so it is kept small and in few
// allocations (newSubscription): what the subscriptions to one resource
// repeat is in the localParty they share, its own strings are in one
// allocation and its URIs' parameters in params or another. With Go's
// 8-byte header for objects over 512 bytes it takes 760 of a 768-byte
// size class: a field more and it takes 896 (TestHeldSubscriptionSize).
type subscription struct {
	id dialogID
	// Fixed at creation: our side, shared (local, aor, event, contact,
	// transport).
	*localParty

	// Fixed at creation: how to reach the subscriber.
	remote    sipmsg.Uri // the subscriber, the From of the SUBSCRIBE
	remoteDsp string
	target    sipmsg.Uri   // the subscriber's Contact
	routes    []sipmsg.Uri // route set from Record-Route (RFC 3261 §12.1.1)
	source    string       // where its SUBSCRIBE came from: the flow to reuse

	// sendMu is held from building one NOTIFY to its outcome, so NOTIFYs
	// of a subscription go out one at a time with CSeq and version in
	// order; a lean NOTIFY's outcome releases it from another goroutine
	// (notifystep.go). Lock order: sendMu before mu.
	sendMu sync.Mutex

	// mu guards everything below; it is never held across network I/O.
	mu         sync.Mutex
	expires    time.Time
	remoteCSeq uint32 // last SUBSCRIBE CSeq accepted in this dialog
	cseq       uint32 // our last NOTIFY CSeq
	version    uint64 // next dialog-info version
	// cseqMark and versionMark are what the store has reserved.
	// savedCSeqMark and savedVersionMark are the reservation a restarted
	// instance would start from: that of the last state written (0 before
	// the first write). saving is closed once the last queued state is
	// written; stored (below): a state of sub was queued for the store (or
	// restored from it).
	cseqMark         uint32
	savedCSeqMark    uint32
	versionMark      uint64
	savedVersionMark uint64
	saving           chan struct{}
	latest           presence.View
	// cancelSend aborts the NOTIFY the sender has in flight, if any.
	cancelSend context.CancelFunc
	// list is set for an ad-hoc list subscription (eventlist.go); its
	// members' views take the place of latest.
	list    *adHocList
	stored  bool
	dirty   bool // latest not sent yet
	sending bool // a sender owns sending: a goroutine, or a lean NOTIFY in flight
	ended   bool
	// pending: accepted but not yet authorized, so NOTIFYs say "pending"
	// and carry no state (RFC 6665 §4.2.1.2).
	pending bool

	// params holds the parameter of a Contact that has one, such as
	// ;transport=tcp or ;ob, the common case, without an allocation of
	// its own.
	params [1]sipmsg.HeaderKV
}

// localParty is the notifier's side of subscription dialogs, the same for
// every watcher of a resource over one transport, and shared by them
// (shareLocal). It never changes.
type localParty struct {
	local     sipmsg.Uri // our URI, the To of the SUBSCRIBE
	aor       presence.AOR
	event     presence.Event
	contact   string // our Contact
	transport string // the subscriber's
}

// dialogParts is what a subscription keeps of the request (or stored
// state) that made it.
type dialogParts struct {
	id             dialogID
	localParty     localParty
	remote, target sipmsg.Uri
	remoteDsp      string
	routes         []sipmsg.Uri
	source         string
}

// newSubscription makes the subscription of dialog d, holding copies of
// d's strings and URIs (which may be cut from a parsed request) and
// sharing its localParty with the other watchers of the resource.
func newSubscription(d dialogParts) *subscription {
	sub := &subscription{
		id: d.id, localParty: shareLocal(d.localParty), remote: d.remote, remoteDsp: d.remoteDsp, target: d.target,
		source: intern(d.source),
	}
	var p packer
	p.add(&sub.id.callID)
	p.add(&sub.id.localTag)
	p.add(&sub.id.remoteTag)
	p.add(&sub.id.eventID)
	p.add(&sub.remoteDsp)
	p.uri(&sub.remote)
	p.uri(&sub.target)
	if len(d.routes) > 0 {
		sub.routes = make([]sipmsg.Uri, len(d.routes))
		for i := range d.routes {
			sub.routes[i] = d.routes[i]
			p.uri(&sub.routes[i])
		}
	}
	p.room = sub.params[:]
	p.pack()
	return sub
}

// watcherID is the per-watcher cap's key: a subscriber's user and host,
// the host in lower case.
type watcherID struct{ user, host string }

func (w watcherID) String() string { return w.user + "@" + w.host }

// watcher is the per-watcher cap's key of sub's subscriber.
func (sub *subscription) watcher() watcherID {
	return watcherID{user: sub.remote.User, host: strings.ToLower(sub.remote.Host)}
}

// errTooManySubscriptions means a watcher or a target reached its cap.
var errTooManySubscriptions = errors.New("too many subscriptions")

// subscriptions indexes live subscriptions by dialog, by watched AOR and
// counts them by watcher and by flow.
type subscriptions struct {
	mu        sync.RWMutex // guards byID, byAOR, byWatcher and byFlow
	byID      map[dialogID]*subscription
	byAOR     map[presence.AOR]map[dialogID]*subscription
	byWatcher map[watcherID]int
	byFlow    map[string]int // by flowKey, for the idle-connection check
}

func newSubscriptions() *subscriptions {
	return &subscriptions{
		byID: make(map[dialogID]*subscription), byAOR: make(map[presence.AOR]map[dialogID]*subscription),
		byWatcher: make(map[watcherID]int), byFlow: make(map[string]int),
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
	if w := s.watcher(); maxWatcher > 0 && t.byWatcher[w] >= maxWatcher {
		return fmt.Errorf("watcher %s holds %d: %w", w, maxWatcher, errTooManySubscriptions)
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
		t.byWatcher[old.watcher()]--
		t.dropFlowLocked(old)
	}
	t.byWatcher[s.watcher()]++
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
	w := s.watcher()
	if t.byWatcher[w]--; t.byWatcher[w] <= 0 {
		delete(t.byWatcher, w)
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
