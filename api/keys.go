package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
)

// keyManager is what the key endpoints need of accounts.Keys.
type keyManager interface {
	MintBy(ctx context.Context, p accounts.Principal, createdBy string) (string, accounts.KeyInfo, error)
	List(ctx context.Context) ([]accounts.KeyInfo, error)
	Get(ctx context.Context, id string) (accounts.KeyInfo, error)
	Revoke(ctx context.Context, id string) error
}

var _ keyManager = (*accounts.Keys)(nil)

// keyRoutes registers the API key endpoints when Deps.Keys can manage
// keys (accounts.Keys can; test fakes that only resolve cannot).
func (s *Server) keyRoutes() {
	km, ok := s.deps.Keys.(keyManager)
	if !ok {
		return
	}
	h := keyHandlers{s: s, keys: km}
	s.mux.HandleFunc("GET /v1/keys", h.list)
	s.mux.HandleFunc("POST /v1/keys", h.create)
	s.mux.HandleFunc("DELETE /v1/keys/{id}", h.revoke)
}

type keyHandlers struct {
	s    *Server
	keys keyManager
}

// keyRequest is the body of POST /v1/keys; the fields mean what the CLI's
// flags of the same names mean.
type keyRequest struct {
	User   string           `json:"user"`
	Admin  bool             `json:"admin"`
	Domain string           `json:"domain"`
	PBX    bool             `json:"pbx"`
	Scopes []accounts.Scope `json:"scopes"`
}

// keyJSON is a key as the API shows it; Key is set only in the answer that
// creates it.
type keyJSON struct {
	Key       string           `json:"key,omitempty"`
	ID        string           `json:"id"`
	Kind      accounts.KeyKind `json:"kind"`
	User      string           `json:"user,omitempty"`
	Admin     bool             `json:"admin,omitempty"`
	Domain    string           `json:"domain,omitempty"`
	PBX       bool             `json:"pbx,omitempty"`
	Scopes    []accounts.Scope `json:"scopes"`
	CreatedBy string           `json:"created_by,omitempty"`
	Created   time.Time        `json:"created"`
}

func toKeyJSON(k accounts.KeyInfo) keyJSON {
	return keyJSON{
		ID: k.ID, Kind: k.Kind(), User: k.User, Admin: k.Admin, Domain: k.Domain, PBX: k.PBX,
		Scopes: k.Scopes, CreatedBy: k.CreatedBy, Created: k.Created,
	}
}

// keyAdmin reports whether p manages keys as an administrator: of its
// domain (tenant admin), or of every domain (operator, no domain).
func keyAdmin(p accounts.Principal) bool { return p.Has(accounts.ScopeUsersAdmin) }

// keyVisible reports whether caller may see and revoke k. Keys of
// another tenant or user answer 404, as if they did not exist.
func keyVisible(caller accounts.Principal, k accounts.KeyInfo) bool {
	switch {
	case keyAdmin(caller):
		return caller.Domain == "" || (k.Domain != "" && strings.EqualFold(k.Domain, caller.Domain))
	case caller.User != "" && !caller.PBX:
		return k.User == caller.User && !k.Admin && !k.PBX
	}
	return false
}

// mayMint checks a request for a key against its caller and returns the
// principal to mint, or an error message for 403. An administrator
// grants scopes it holds (and contacts:personal on user keys: a user's
// own data), within its domain unless it is an operator; any other user
// mints keys only for themself with a subset of their own scopes.
func mayMint(caller accounts.Principal, req keyRequest) (accounts.Principal, string) {
	p := accounts.Principal{
		User: strings.ToLower(strings.TrimSpace(req.User)), Admin: req.Admin, PBX: req.PBX,
		Domain: strings.ToLower(strings.TrimSpace(req.Domain)), Scopes: req.Scopes,
	}
	if caller.PBX || (caller.User == "" && !keyAdmin(caller)) {
		return p, "this key cannot mint keys"
	}
	if !keyAdmin(caller) {
		if p.User == "" && !p.Admin && !p.PBX {
			p.User = caller.User // "mint a key for me"
		}
		switch {
		case p.Admin || p.PBX:
			return p, "only an administrator (users:admin) mints admin and pbx keys"
		case p.User != caller.User:
			return p, "a user mints keys only for themself"
		}
		for _, sc := range p.Scopes {
			if !caller.Has(sc) {
				return p, fmt.Sprintf("scope %s is not one of this key's scopes", sc)
			}
		}
		return p, ""
	}
	if caller.Domain != "" {
		if p.Domain == "" && (p.Admin || p.PBX) {
			p.Domain = caller.Domain // a tenant admin's admin and pbx keys stay in its tenant
		}
		userDomain := caller.Domain
		if p.User != "" {
			_, userDomain, _ = strings.Cut(p.User, "@")
		}
		if (p.Domain != "" && p.Domain != caller.Domain) || !strings.EqualFold(userDomain, caller.Domain) {
			return p, "a tenant administrator mints keys only in " + caller.Domain
		}
	}
	for _, sc := range p.Scopes {
		if !caller.Has(sc) && !(sc == accounts.ScopePersonal && p.User != "") {
			return p, fmt.Sprintf("scope %s is not one of this key's scopes", sc)
		}
	}
	return p, ""
}

func (h keyHandlers) create(w http.ResponseWriter, r *http.Request) {
	caller, ok := h.s.authenticate(w, r)
	if !ok {
		return
	}
	var req keyRequest
	if !h.s.decodeJSON(w, r, &req) {
		return
	}
	for _, sc := range req.Scopes {
		if _, err := accounts.ParseScopes(string(sc)); err != nil || sc == "" {
			h.s.keyError(w, r, err)
			return
		}
	}
	p, denied := mayMint(caller, req)
	if denied != "" {
		writeError(w, http.StatusForbidden, "forbidden", denied, "")
		return
	}
	if p.Domain != "" && len(h.s.deps.Domains) > 0 && !slices.Contains(h.s.deps.Domains, p.Domain) {
		writeError(w, http.StatusBadRequest, "invalid", "domain "+p.Domain+" is not served here", "domain")
		return
	}
	by := accounts.KeyID(requestKey(r))
	key, info, err := h.keys.MintBy(r.Context(), p, by)
	if err != nil {
		h.s.keyError(w, r, err)
		return
	}
	h.s.log.Info().Str("key_id", info.ID).Str("kind", string(info.Kind())).Str("user", info.User).
		Str("domain", info.Domain).Str("created_by", by).Msg("api key minted")
	out := toKeyJSON(info)
	out.Key = key
	w.Header().Set("Location", "/v1/keys/"+info.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

func (h keyHandlers) list(w http.ResponseWriter, r *http.Request) {
	caller, ok := h.s.authenticate(w, r)
	if !ok {
		return
	}
	if caller.PBX || (caller.User == "" && !keyAdmin(caller)) {
		writeError(w, http.StatusForbidden, "forbidden", "this key cannot manage keys", "")
		return
	}
	all, err := h.keys.List(r.Context())
	if err != nil {
		h.s.keyError(w, r, err)
		return
	}
	items := make([]keyJSON, 0, len(all))
	for _, k := range all {
		if keyVisible(caller, k) {
			items = append(items, toKeyJSON(k))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (h keyHandlers) revoke(w http.ResponseWriter, r *http.Request) {
	caller, ok := h.s.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	k, err := h.keys.Get(r.Context(), id)
	if err == nil && !keyVisible(caller, k) {
		err = fmt.Errorf("api key %s: %w", id, accounts.ErrNotFound)
	}
	if err == nil {
		err = h.keys.Revoke(r.Context(), id)
	}
	if err != nil {
		h.s.keyError(w, r, err)
		return
	}
	h.s.log.Info().Str("key_id", id).Str("by", accounts.KeyID(requestKey(r))).Msg("api key revoked")
	w.WriteHeader(http.StatusNoContent)
}

// keyError answers an error of the key store.
func (s *Server) keyError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *accounts.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid", fe.Error(), fe.Field)
	case errors.Is(err, accounts.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such API key", "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
	default:
		s.log.Warn().Err(err).Str("method", r.Method).Msg("api key request failed")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "key store unavailable", "")
	}
}
