package sip

import (
	"context"
	"fmt"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/rlmi"
)

// BLF lists are RFC 4662 resource lists served at sip:blf-<name>@domain,
// for the "BLF list" of desk phones (Yealink account.X.blf.blf_list_uri,
// Polycom attendant.uri, Grandstream "Eventlist BLF"): one SUBSCRIBE with
// Supported: eventlist instead of one per key. What a name lists is the
// ListResolver's business (directory groups, wired in cmd); each member is
// authorized as a single subscription to it would be.
//
// NOTIFYs are full state first (and after a refresh or a membership
// change), then partial state carrying only the resources whose state
// changed (RFC 4662 §5.3, fullState="false"), each resource's document
// with a version of its own that grows by one per document sent for it
// (RFC 4235 §4.1). Bursts within Config.EventListBatch go out as one NOTIFY.

// blfListPrefix starts the user part of a BLF list URI.
const blfListPrefix = "blf-"

// ListMember is one extension of a BLF list, with the name phones show.
type ListMember struct {
	AOR  presence.AOR
	Name string
}

// ListResolver says what a BLF list holds, as watcher sees it: name is the
// list URI's user part after "blf-". ok is false when watcher has no list
// by that name in domain.
type ListResolver interface {
	ListMembers(ctx context.Context, watcher presence.AOR, domain, name string) (members []ListMember, ok bool, err error)
}

// blfListName returns the list name of a BLF list URI.
func blfListName(u sipmsg.Uri) (string, bool) {
	if len(u.User) <= len(blfListPrefix) || !strings.EqualFold(u.User[:len(blfListPrefix)], blfListPrefix) {
		return "", false
	}
	return u.User[len(blfListPrefix):], true
}

// subscribeBLF answers a SUBSCRIBE to a BLF list URI (RFC 4662 §4).
func (s *Server) subscribeBLF(req *sipmsg.Request, tx sipmsg.ServerTransaction, event presence.Event, ctype, eventID, fromTag, name string, exp time.Duration) {
	listAOR, ok := s.checkListRequest(req, tx, ctype)
	if !ok {
		return
	}
	watcher, ok := s.aorOf(req.From().Address)
	if !ok {
		s.replyCode(req, tx, sipmsg.StatusForbidden, "Forbidden")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list := &adHocList{uri: req.Recipient.Addr(), blf: name, watcherAOR: watcher,
		deflate: hasOption(req, "Accept-Encoding", "deflate")}
	members, ok, err := s.resolveBLF(ctx, list, req.From().Address, 0, nil)
	if err != nil {
		s.replyErr(req, tx, err)
		return
	}
	if !ok {
		s.replyCode(req, tx, sipmsg.StatusNotFound, "No Such List")
		return
	}
	list.members = members
	s.acceptList(req, tx, list, event, eventID, fromTag, listAOR, exp)
}

// resolveBLF reads list's members afresh, each authorized for remote;
// new ones start their document versions at base. The state of members
// in known is not read again: the presence changes keep it current, and a
// re-read every few seconds would cost a store read per member.
func (s *Server) resolveBLF(ctx context.Context, list *adHocList, remote sipmsg.Uri, base uint64, known map[presence.AOR]listMember) ([]listMember, bool, error) {
	found, ok, err := s.lists.ListMembers(ctx, list.watcherAOR, list.watcherDomain(), list.blf)
	if err != nil || !ok {
		return nil, ok, err
	}
	out := make([]listMember, 0, len(found))
	seen := make(map[presence.AOR]bool, len(found))
	for _, f := range found {
		if seen[f.AOR] || len(out) == rlmi.MaxEntries {
			continue
		}
		seen[f.AOR] = true
		var m listMember
		var err error
		if k, ok := known[f.AOR]; ok && k.state == rlmi.StateActive {
			m, err = s.authorizeMember(ctx, remote, k, f.Name)
		} else {
			m, err = s.listMember(ctx, remote, f.AOR.URI(), f.Name)
		}
		if err != nil {
			return nil, false, err
		}
		m.docVersion = base
		out = append(out, m)
	}
	return out, true, nil
}

// watcherDomain is the domain of the list URI, which is the domain whose
// directory lists it.
func (l *adHocList) watcherDomain() string {
	var u sipmsg.Uri
	if err := sipmsg.ParseUri(l.uri, &u); err == nil {
		return strings.ToLower(u.Host)
	}
	return l.watcherAOR.Domain
}

// RefreshLists re-reads every BLF list subscription's members and NOTIFYs
// full state to those whose membership changed. Call it when the directory
// changed; the SIP edge also calls it every few seconds, since group
// memberships change without a contact change event.
func (s *Server) RefreshLists(ctx context.Context) {
	if s.lists == nil {
		return
	}
	for _, sub := range s.subs.all() {
		if sub.list == nil || sub.list.blf == "" {
			continue
		}
		s.relist(ctx, sub, false)
	}
}

// relist re-reads sub's members; when they changed, or force is set, the
// next NOTIFY carries full state. A list that is gone ends the
// subscription with reason=noresource (RFC 6665 §4.2.2).
func (s *Server) relist(ctx context.Context, sub *subscription, force bool) {
	sub.mu.Lock()
	if sub.ended {
		sub.mu.Unlock()
		return
	}
	old := sub.list.members
	base := sub.version
	sub.mu.Unlock()
	known := make(map[presence.AOR]listMember, len(old))
	for _, m := range old {
		known[m.aor] = m
	}
	fresh, ok, err := s.resolveBLF(ctx, sub.list, sub.remote, base, known)
	if err != nil {
		s.log.Warn().Err(err).Str("list", sub.list.uri).Msg("read blf list")
		return
	}
	if !ok {
		s.goSender(sub, func() {
			nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.NotifyTimeout)
			defer cancel()
			s.terminate(nctx, sub, "noresource")
		})
		return
	}
	changed := len(old) != len(fresh)
	for i, m := range fresh {
		prev, had := known[m.aor]
		if !had || prev.state != m.state || prev.name != m.name || i >= len(old) || old[i].aor != m.aor {
			changed = true
		}
	}
	if !changed && !force {
		return
	}
	s.subs.relist(sub, fresh)
	sub.mu.Lock()
	sub.dirty = true
	sub.mu.Unlock()
	s.startSender(sub)
}

// relist replaces sub's list members and its entries in the by-AOR index
// together. Lock order: t.mu before sub.mu, which watched needs no lock
// for: members change only here, under both.
func (t *subscriptions) relist(sub *subscription, members []listMember) {
	t.mu.Lock()
	defer t.mu.Unlock()
	indexed := t.byID[sub.id] == sub
	if indexed {
		for _, aor := range sub.watched() {
			if m := t.byAOR[aor]; m != nil {
				delete(m, sub.id)
				if len(m) == 0 {
					delete(t.byAOR, aor)
				}
			}
		}
	}
	sub.mu.Lock()
	cur := make(map[presence.AOR]*listMember, len(sub.list.members))
	for i := range sub.list.members {
		cur[sub.list.members[i].aor] = &sub.list.members[i]
	}
	for i := range members {
		if prev := cur[members[i].aor]; prev != nil && prev.state == members[i].state && prev.state == rlmi.StateActive {
			// Keep its document version and the newer view (RFC 4235
			// §4.1: versions of a resource only grow).
			members[i].docVersion = prev.docVersion
			if prev.view.Version > members[i].view.Version {
				members[i].view = prev.view
			}
		}
	}
	sub.list.members = members
	sub.list.sentFull = false
	sub.mu.Unlock()
	if indexed {
		for _, aor := range sub.watched() {
			m := t.byAOR[aor]
			if m == nil {
				m = make(map[dialogID]*subscription)
				t.byAOR[aor] = m
			}
			m[sub.id] = sub
		}
	}
}

// coalesce waits Config.EventListBatch before a list's next NOTIFY once
// its full state is out, so that changes arriving within it go out
// together; it returns early when shutdown starts.
func (s *Server) coalesce(sub *subscription) {
	if sub.list == nil || s.cfg.EventListBatch <= 0 {
		return
	}
	sub.mu.Lock()
	wait := sub.list.sentFull && !sub.ended
	sub.mu.Unlock()
	if !wait {
		return
	}
	t := time.NewTimer(s.cfg.EventListBatch)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.draining:
	}
}

// listMember authorizes remote for one resource of a list and reads its
// state: a resource the watcher may not see is terminated with reason
// "rejected", one that is not ours "noresource" (RFC 4662 §5.3).
func (s *Server) listMember(ctx context.Context, remote sipmsg.Uri, uri, name string) (listMember, error) {
	m := listMember{uri: uri, name: name, state: rlmi.StateTerminated, reason: "noresource"}
	var u sipmsg.Uri
	if err := sipmsg.ParseUri(uri, &u); err != nil {
		return m, nil
	}
	aor, ok := s.aorOf(u)
	if !ok {
		return m, nil
	}
	m.aor = aor
	dec, err := s.authorize(ctx, remote, aor)
	if err != nil {
		return m, fmt.Errorf("authorize list member %s: %w", aor, err)
	}
	switch dec {
	case Allow:
		m.state, m.reason = rlmi.StateActive, ""
		if m.view, err = s.core.Get(ctx, aor); err != nil {
			s.log.Warn().Err(err).Str("aor", aor.String()).Msg("read presence for list member")
			m.view = presence.View{AOR: aor, Line: presence.LineOffline, Status: presence.StatusAvailable}
		}
	case Pending:
		m.state, m.reason = rlmi.StatePending, ""
	default:
		m.reason = "rejected"
	}
	return m, nil
}

// authorizeMember asks again whether remote may see known, an active
// member, keeping its state when it still may.
func (s *Server) authorizeMember(ctx context.Context, remote sipmsg.Uri, known listMember, name string) (listMember, error) {
	dec, err := s.authorize(ctx, remote, known.aor)
	if err != nil {
		return known, fmt.Errorf("authorize list member %s: %w", known.aor, err)
	}
	m := known
	m.name, m.changed = name, false
	switch dec {
	case Allow:
	case Pending:
		m.state, m.reason, m.view = rlmi.StatePending, "", presence.View{}
	default:
		m.state, m.reason, m.view = rlmi.StateTerminated, "rejected", presence.View{}
	}
	return m, nil
}
