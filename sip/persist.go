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
	sub := &subscription{
		id:    dialogID{callID: st.CallID, localTag: st.LocalTag, remoteTag: st.RemoteTag, eventID: st.EventID},
		event: st.Event, aor: st.AOR, remoteDsp: st.RemoteDsp, source: st.Source, transport: st.Transport,
		contact: st.Contact, expires: st.Expires, remoteCSeq: st.RemoteCSeq,
		cseq: st.CSeqMark, version: st.VersionMrk, cseqMark: st.CSeqMark, versionMark: st.VersionMrk,
		pending: st.Pending,
	}
	for _, u := range []struct {
		dst *sipmsg.Uri
		src string
	}{{&sub.local, st.Local}, {&sub.remote, st.Remote}, {&sub.target, st.Target}} {
		if err := sipmsg.ParseUri(u.src, u.dst); err != nil {
			return nil, fmt.Errorf("decode subscription uri %q: %w", u.src, err)
		}
	}
	for _, r := range st.Routes {
		var u sipmsg.Uri
		if err := sipmsg.ParseUri(r, &u); err != nil {
			return nil, fmt.Errorf("decode subscription route %q: %w", r, err)
		}
		sub.routes = append(sub.routes, u)
	}
	sub.watcher = watcherKey(sub.remote)
	if st.List != "" {
		// RLMI versions go on from the reservation, as CSeqs do.
		sub.list = &adHocList{uri: st.ListURI, blf: st.List, watcherAOR: st.ListWatcher, deflate: st.ListDeflate,
			version: uint32(st.VersionMrk)}
		sub.latest = presence.View{AOR: st.AOR}
	}
	return sub, nil
}

// persist saves sub's current state; the caller holds sub.mu.
func (s *Server) persist(sub *subscription) {
	if s.store == nil || (sub.list != nil && sub.list.blf == "") {
		return // an ad-hoc list is not kept: its subscriber re-subscribes
	}
	b, err := json.Marshal(sub.snapshot())
	if err != nil {
		s.log.Error().Err(err).Msg("encode subscription")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.store.Save(ctx, sub.id.String(), b); err != nil {
		// Degraded, not failed: the subscription works; only a restart of
		// this instance would lose it.
		s.log.Warn().Err(err).Str("aor", sub.aor.String()).Msg("persist subscription")
	}
}

func (s *Server) forget(sub *subscription) {
	if s.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.store.Delete(ctx, sub.id.String()); err != nil {
		s.log.Warn().Err(err).Str("aor", sub.aor.String()).Msg("forget subscription")
	}
}

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
