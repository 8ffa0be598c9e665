package sip

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
)

// subscriptionStore keeps subscription dialogs beyond this process, so a
// restarted instance goes on NOTIFYing its subscribers.
type subscriptionStore interface {
	Save(ctx context.Context, id string, state []byte) error
	Delete(ctx context.Context, id string) error
	Load(ctx context.Context) (map[string][]byte, error)
}

// markStep is how far ahead CSeq and version are reserved in the store: a
// restarted instance starts from the reservation, so it never reuses a CSeq
// (phones reject one that goes backwards) while writing only once every
// markStep NOTIFYs.
const markStep = 64

// savedSubscription is a subscription as stored.
type savedSubscription struct {
	CallID     string         `json:"call_id"`
	LocalTag   string         `json:"local_tag"`
	RemoteTag  string         `json:"remote_tag"`
	EventID    string         `json:"event_id,omitempty"`
	Event      presence.Event `json:"event"`
	AOR        presence.AOR   `json:"aor"`
	Local      string         `json:"local"`
	Remote     string         `json:"remote"`
	RemoteDsp  string         `json:"remote_display,omitempty"`
	Target     string         `json:"target"`
	Routes     []string       `json:"routes,omitempty"`
	Source     string         `json:"source"`
	Transport  string         `json:"transport"`
	Contact    string         `json:"contact"`
	Expires    time.Time      `json:"expires"`
	RemoteCSeq uint32         `json:"remote_cseq"`
	CSeqMark   uint32         `json:"cseq_mark"`
	VersionMrk uint64         `json:"version_mark"`
	Pending    bool           `json:"pending,omitempty"`
	// A BLF list subscription: the list's name and URI; its members are
	// read afresh on restore.
	List        string       `json:"blf_list,omitempty"`
	ListURI     string       `json:"list_uri,omitempty"`
	ListWatcher presence.AOR `json:"list_watcher,omitempty"`
	ListDeflate bool         `json:"list_deflate,omitempty"`
}

func (id dialogID) String() string {
	return id.callID + ";" + id.localTag + ";" + id.remoteTag + ";" + id.eventID
}

// snapshot returns sub as stored, reserving the next markStep CSeqs and
// versions. The caller holds sub.mu.
func (sub *subscription) snapshot() savedSubscription {
	sub.cseqMark = sub.cseq + markStep
	sub.versionMark = sub.version + markStep
	routes := make([]string, len(sub.routes))
	for i, r := range sub.routes {
		routes[i] = r.String()
	}
	st := savedSubscription{
		CallID: sub.id.callID, LocalTag: sub.id.localTag, RemoteTag: sub.id.remoteTag, EventID: sub.id.eventID,
		Event: sub.event, AOR: sub.aor, Local: sub.local.String(), Remote: sub.remote.String(),
		RemoteDsp: sub.remoteDsp, Target: sub.target.String(), Routes: routes, Source: sub.source,
		Transport: sub.transport, Contact: sub.contact, Expires: sub.expires, RemoteCSeq: sub.remoteCSeq,
		CSeqMark: sub.cseqMark, VersionMrk: sub.versionMark, Pending: sub.pending,
	}
	if sub.list != nil {
		st.List, st.ListURI, st.ListWatcher, st.ListDeflate = sub.list.blf, sub.list.uri, sub.list.watcherAOR, sub.list.deflate
	}
	return st
}

func restoreSubscription(b []byte) (*subscription, error) {
	var st savedSubscription
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decode subscription: %w", err)
	}
	d := dialogParts{
		id:         dialogID{callID: st.CallID, localTag: st.LocalTag, remoteTag: st.RemoteTag, eventID: st.EventID},
		localParty: localParty{aor: st.AOR, event: st.Event, contact: st.Contact, transport: st.Transport},
		remoteDsp:  st.RemoteDsp, source: st.Source,
	}
	for _, u := range []struct {
		dst *sipmsg.Uri
		src string
	}{{&d.localParty.local, st.Local}, {&d.remote, st.Remote}, {&d.target, st.Target}} {
		if err := sipmsg.ParseUri(u.src, u.dst); err != nil {
			return nil, fmt.Errorf("decode subscription uri %q: %w", u.src, err)
		}
	}
	for _, r := range st.Routes {
		var u sipmsg.Uri
		if err := sipmsg.ParseUri(r, &u); err != nil {
			return nil, fmt.Errorf("decode subscription route %q: %w", r, err)
		}
		d.routes = append(d.routes, u)
	}
	sub := newSubscription(d)
	sub.expires, sub.remoteCSeq, sub.pending = st.Expires, st.RemoteCSeq, st.Pending
	sub.cseq, sub.version, sub.cseqMark, sub.versionMark = st.CSeqMark, st.VersionMrk, st.CSeqMark, st.VersionMrk
	sub.stored, sub.savedCSeqMark, sub.savedVersionMark = true, st.CSeqMark, st.VersionMrk
	if st.List != "" {
		// RLMI versions go on from the reservation, as CSeqs do.
		sub.list = &adHocList{uri: st.ListURI, blf: st.List, watcherAOR: st.ListWatcher, deflate: st.ListDeflate,
			version: uint32(st.VersionMrk)}
		sub.latest = presence.View{AOR: sub.aor}
	}
	return sub, nil
}

// batchSubscriptionStore is a subscriptionStore that writes many states
// and deletions in one round trip (presence.RedisWatchers pipelines them).
type batchSubscriptionStore interface {
	Apply(ctx context.Context, saves map[string][]byte, deletes []string) error
}

// pendingWrite is one subscription's state (or its deletion) waiting for
// the background writer.
type pendingWrite struct {
	sub   *subscription // nil for a deletion
	state []byte
	// The reservation the state carries, durable once written.
	cseqMark    uint32
	versionMark uint64
	done        chan struct{} // closed once written (or failed)
}

// persistTimeout bounds one background write of subscription states.
const persistTimeout = 2 * time.Second

// persist queues sub's current state for the background writer; the
// caller holds sub.mu. No lock is held while the writer does I/O, so a
// slow store never stalls the fan-out or another subscription's NOTIFYs.
// As before the writes were batched, a subscriber never learns of state a
// crash could lose: the first NOTIFY of a new subscription goes out once
// its state is written, and so does every NOTIFY past the CSeq and
// version reservation written (nextSeq waits for it), and a refresh is
// answered once written (waitSaved). A crash loses only the state of a
// subscription whose first NOTIFY has not left yet.
func (s *Server) persist(sub *subscription) {
	if s.store == nil || sub.ended || (sub.list != nil && sub.list.blf == "") {
		return // an ad-hoc list is not kept: its subscriber re-subscribes
	}
	b, err := json.Marshal(sub.snapshot())
	if err != nil {
		s.log.Error().Err(err).Msg("encode subscription")
		return
	}
	sub.stored = true
	sub.saving = s.queueWrite(sub.id.String(), &pendingWrite{sub: sub, state: b, cseqMark: sub.cseqMark, versionMark: sub.versionMark})
}

// forget queues the deletion of sub's stored state.
func (s *Server) forget(sub *subscription) {
	if s.store == nil {
		return
	}
	s.queueWrite(sub.id.String(), &pendingWrite{})
}

// queueWrite queues w for id, replacing a write of id not yet started,
// and starts the writer if none runs. It returns the channel closed once
// w (or a later write of id) is done.
func (s *Server) queueWrite(id string, w *pendingWrite) chan struct{} {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	if old := s.persistQ[id]; old != nil {
		w.done = old.done
	} else {
		w.done = make(chan struct{})
	}
	if s.persistQ == nil {
		s.persistQ = make(map[string]*pendingWrite)
	}
	s.persistQ[id] = w
	if !s.persisting {
		s.persisting = true
		s.persistWG.Add(1)
		go s.writeLoop()
	}
	return w.done
}

// writeLoop writes queued subscription states until none is left; at most
// one runs. Writes queued while one batch is written go in the next.
func (s *Server) writeLoop() {
	defer s.persistWG.Done()
	for {
		s.persistMu.Lock()
		batch := s.persistQ
		s.persistQ = nil
		if len(batch) == 0 {
			s.persisting = false
			s.persistMu.Unlock()
			return
		}
		s.persistMu.Unlock()
		s.writeBatch(batch)
	}
}

// writeBatch writes batch: in one round trip when the store can, else one
// by one. A failure is logged: degraded, not failed; the subscriptions
// work, only a restart of this instance would lose them.
func (s *Server) writeBatch(batch map[string]*pendingWrite) {
	ctx, cancel := context.WithTimeout(context.Background(), persistTimeout)
	defer cancel()
	if bs, ok := s.store.(batchSubscriptionStore); ok {
		saves := make(map[string][]byte, len(batch))
		var deletes []string
		for id, w := range batch {
			if w.sub == nil {
				deletes = append(deletes, id)
			} else {
				saves[id] = w.state
			}
		}
		if err := bs.Apply(ctx, saves, deletes); err != nil {
			s.log.Warn().Err(err).Int("subscriptions", len(batch)).Msg("persist subscriptions")
		}
	} else {
		for id, w := range batch {
			var err error
			if w.sub == nil {
				err = s.store.Delete(ctx, id)
			} else {
				err = s.store.Save(ctx, id, w.state)
			}
			if err != nil {
				s.log.Warn().Err(err).Str("id", id).Msg("persist subscription")
			}
		}
	}
	for _, w := range batch {
		if sub := w.sub; sub != nil {
			sub.mu.Lock()
			sub.savedCSeqMark = max(sub.savedCSeqMark, w.cseqMark)
			sub.savedVersionMark = max(sub.savedVersionMark, w.versionMark)
			sub.mu.Unlock()
		}
		close(w.done)
	}
}

// waitSaved waits, with no lock held, until the last state queued for
// sub is written (or persistTimeout passes).
func (s *Server) waitSaved(sub *subscription) {
	sub.mu.Lock()
	ch := sub.saving
	sub.mu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(persistTimeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// flushSubscriptions waits until every queued subscription write is done.
func (s *Server) flushSubscriptions() { s.persistWG.Wait() }

// restore reloads the subscriptions this instance held before a restart
// into the table; notifyRestored then brings each up to date.
func (s *Server) restore(ctx context.Context) []*subscription {
	if s.store == nil {
		return nil
	}
	saved, err := s.store.Load(ctx)
	if err != nil {
		s.log.Warn().Err(err).Msg("load subscriptions")
		return nil
	}
	now := time.Now()
	var restored []*subscription
	for id, b := range saved {
		sub, err := restoreSubscription(b)
		if err != nil || !sub.expires.After(now) {
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_ = s.store.Delete(dctx, id)
			cancel()
			continue
		}
		s.subs.add(sub)
		restored = append(restored, sub)
	}
	if len(restored) > 0 {
		s.log.Info().Int("subscriptions", len(restored)).Msg("subscriptions restored")
	}
	return restored
}

// notifyRestored NOTIFYs each restored subscription with the current state,
// so no lamp stays stale after a restart.
func (s *Server) notifyRestored(ctx context.Context, subs []*subscription) {
	for _, sub := range subs {
		if sub.list != nil {
			if s.lists == nil {
				s.end(sub)
				continue
			}
			s.relist(ctx, sub, true) // members read afresh, full state
			continue
		}
		view, err := s.core.Get(ctx, sub.aor)
		if err != nil {
			s.log.Warn().Err(err).Str("aor", sub.aor.String()).Msg("read presence for restored subscription")
			continue
		}
		s.kick(sub, view)
	}
}
