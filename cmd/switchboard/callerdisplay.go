package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// callerDisplay is what colleagues see of the other party of an
// extension's calls — on BLF lamps, in the presence API and stream and in
// NATS events, which all show one shared view (--caller-display).
type callerDisplay string

// Caller display policies.
const (
	// displayName names the party from what every user of the domain may
	// see (company contacts, team members), else keeps the name the PBX
	// reported, and shows the number.
	displayName callerDisplay = "name"
	// displayNumber shows the number only.
	displayNumber callerDisplay = "number"
	// displayHidden shows nothing of the party: only that the line rings
	// or is busy.
	displayHidden callerDisplay = "hidden"
)

// parseCallerDisplay reads "a.example=name,b.example=hidden"; a bare
// policy ("number") applies to domains not listed, under the key "".
func parseCallerDisplay(s string, domains []string) (map[string]callerDisplay, error) {
	out := map[string]callerDisplay{}
	for _, item := range splitList(s) {
		dom, mode, found := strings.Cut(item, "=")
		if !found {
			dom, mode = "", item
		}
		dom, mode = strings.ToLower(strings.TrimSpace(dom)), strings.ToLower(strings.TrimSpace(mode))
		switch callerDisplay(mode) {
		case displayName, displayNumber, displayHidden:
		default:
			return nil, fmt.Errorf("--caller-display %q: want name, number or hidden", item)
		}
		if dom != "" && !slices.Contains(domains, dom) {
			return nil, fmt.Errorf("--caller-display %q: %s is not a served domain (--domain)", item, dom)
		}
		out[dom] = callerDisplay(mode)
	}
	return out, nil
}

// callerNames is the presence core's CallerResolver. The view it feeds is
// shared by every watcher of the extension, so it never reads the
// callee's personal contacts: names come from ResolveShared (company
// contacts of the tenant, team members). The owner sees its personal
// names in its own API views, resolved there and never stored.
type callerNames struct {
	lookup *callerid.Lookup
	policy map[string]callerDisplay // by domain; "" for the rest; missing is name
}

// ResolveCaller implements presence.CallerResolver.
func (c callerNames) ResolveCaller(ctx context.Context, callee presence.AOR, remote presence.Party) (presence.Party, bool) {
	mode, ok := c.policy[callee.Domain]
	if !ok {
		mode = c.policy[""]
	}
	switch mode {
	case displayHidden:
		return presence.Party{}, true
	case displayNumber:
		return presence.Party{URI: remote.URI}, true
	}
	out := presence.Party{URI: remote.URI, Display: remote.Display} // a reported ContactID is never trusted
	if remote.URI == "" {
		return out, true
	}
	if res, ok := c.lookup.ResolveShared(ctx, remote.URI, callee.String()); ok && res.Display != "" {
		out.Display, out.ContactID = res.Display, res.ContactID
		return out, true
	}
	// A PBX that sets the caller name from /v1/lookup with its pbx key
	// reports the callee's personal name back to us: that name is the
	// callee's alone, so it goes, and colleagues see the number.
	if out.Display != "" {
		if res, ok := c.lookup.Resolve(ctx, remote.URI, callee.String()); ok && res.Kind == directory.KindPersonal &&
			(strings.EqualFold(strings.TrimSpace(out.Display), res.Display) || strings.EqualFold(strings.TrimSpace(out.Display), res.Name)) {
			out.Display = ""
		}
	}
	return out, true
}
