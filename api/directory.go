package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/directory/phone"
	"github.com/switchboardhq/switchboard/presence"
)

// Body limits: JSON requests and bulk imports.
const (
	maxJSONBody   = 1 << 20
	maxImportBody = 64 << 20 // a 250,000-row CSV of typical contacts is about 40 MB
)

// directoryRoutes registers the contacts directory API and the OpenAPI
// document. The directory routes exist only with Deps.Directory set.
func (s *Server) directoryRoutes() {
	s.mux.HandleFunc("GET /openapi.yaml", serveOpenAPI)
	if s.deps.Directory == nil {
		return
	}
	s.mux.HandleFunc("GET /v1/contacts", s.searchContacts)
	s.mux.HandleFunc("POST /v1/contacts", s.createContact)
	s.mux.HandleFunc("GET /v1/contacts/{id}", s.getContact)
	s.mux.HandleFunc("PUT /v1/contacts/{id}", s.updateContact)
	s.mux.HandleFunc("DELETE /v1/contacts/{id}", s.deleteContact)
	s.mux.HandleFunc("PUT /v1/contacts/{id}/marks/{group}", s.markContact)
	s.mux.HandleFunc("DELETE /v1/contacts/{id}/marks/{group}", s.unmarkContact)
	s.mux.HandleFunc("GET /v1/contacts/export.csv", s.exportCSV)
	s.mux.HandleFunc("POST /v1/contacts/import.csv", s.importCSV)
	s.mux.HandleFunc("GET /v1/contacts/export.vcf", s.exportVCard)
	s.mux.HandleFunc("POST /v1/contacts/import.vcf", s.importVCard)
	s.mux.HandleFunc("GET /v1/groups", s.listGroups)
	s.mux.HandleFunc("POST /v1/groups", s.createGroup)
	s.mux.HandleFunc("DELETE /v1/groups/{id}", s.deleteGroup)
	s.mux.HandleFunc("POST /v1/shared-groups", s.createSharedGroup)
	s.mux.HandleFunc("GET /v1/users", s.listUsers)
	s.mux.HandleFunc("GET /v1/users/{aor}", s.getUser)
	s.mux.HandleFunc("PUT /v1/users/{aor}", s.provisionUser)
	s.mux.HandleFunc("DELETE /v1/users/{aor}", s.deleteUser)
	s.mux.HandleFunc("PUT /v1/users/{aor}/web-password", s.setWebPassword)
}

// directoryError answers err from the directory with its status code.
func (s *Server) directoryError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *directory.FieldError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid", fe.Error(), fe.Field)
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit), "")
	case errors.Is(err, directory.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", message(err, directory.ErrNotFound), "")
	case errors.Is(err, directory.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", message(err, directory.ErrForbidden), "")
	case errors.Is(err, directory.ErrVersionMismatch):
		writeError(w, http.StatusPreconditionFailed, "version_mismatch", message(err, directory.ErrVersionMismatch), "")
	case errors.Is(err, directory.ErrQuotaExceeded):
		// 409: the request is fine, the caller's stored data is full.
		writeError(w, http.StatusConflict, "quota_exceeded", message(err, directory.ErrQuotaExceeded), "")
	case errors.Is(err, directory.ErrConflict), errors.Is(err, directory.ErrConfirmationRequired):
		writeError(w, http.StatusConflict, "conflict", message(err, directory.ErrConflict), "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		s.log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("directory request failed")
		writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
	}
}

// message is err's text without the trailing sentinel, which the error
// code already says.
func message(err, sentinel error) string {
	return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
}

// decodeJSON reads a JSON body of at most maxJSONBody bytes into v,
// rejecting unknown fields and trailing data. It answers and returns false
// on failure.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit), "")
		return false
	}
	writeError(w, http.StatusBadRequest, "invalid", "body: "+err.Error(), "")
	return false
}

// presenceBrief is the live presence shown on team contacts.
type presenceBrief struct {
	Line        string `json:"line"`
	Status      string `json:"status"`
	StatusLabel string `json:"status_label"`
	Note        string `json:"note,omitempty"`
}

// entryJSON is a contact as the API shows it: the contact with a
// dialable form of each number, the caller's marks and, for team
// contacts, live presence.
type entryJSON struct {
	directory.Entry
	Presence *presenceBrief `json:"presence,omitempty"`
	// dial makes a number of domain dialable; nil keeps the typed main
	// number.
	dial func(domain, raw string) string
}

// phoneJSON is a contact's number with Dial, the form a tel: or sms: link
// and click-to-call use: E.164 when the number reads as one in the
// domain's region, else its digits (an extension as it is dialed).
type phoneJSON struct {
	directory.Phone
	Dial string `json:"dial"`
}

// MarshalJSON writes e with "dial" added to each of the contact's phones.
func (e entryJSON) MarshalJSON() ([]byte, error) {
	type plain entryJSON // without this method
	type contactJSON struct {
		directory.Contact
		Phones []phoneJSON `json:"phones,omitempty"` // over Contact.Phones
	}
	c := e.Contact
	domain := c.Domain
	if domain == "" {
		_, domain, _ = strings.Cut(c.Owner, "@")
	}
	phones := make([]phoneJSON, len(c.Phones))
	for i, ph := range c.Phones {
		phones[i] = phoneJSON{Phone: ph, Dial: dialNumber(e.dial, domain, ph.Number)}
	}
	return json.Marshal(struct {
		plain
		Contact contactJSON `json:"contact"` // over Entry.Contact
	}{plain(e), contactJSON{Contact: c, Phones: phones}})
}

// dialNumber is raw as dial makes it dialable in domain, or its typed
// main number (vanity letters as digits, no extension).
func dialNumber(dial func(domain, raw string) string, domain, raw string) string {
	if dial != nil {
		return dial(domain, raw)
	}
	if t, err := phone.ParseTyped(raw); err == nil {
		return t.Main
	}
	return raw
}

// decodeContact reads a contact from the body. It accepts the phones'
// "dial" that answers carry and ignores it, so that a contact read can be
// written back as it is.
func (s *Server) decodeContact(w http.ResponseWriter, r *http.Request) (directory.Contact, bool) {
	var in struct {
		directory.Contact
		Phones []phoneJSON `json:"phones"` // over Contact.Phones
	}
	if !s.decodeJSON(w, r, &in) {
		return directory.Contact{}, false
	}
	c := in.Contact
	c.Phones = nil
	for _, ph := range in.Phones {
		c.Phones = append(c.Phones, ph.Phone)
	}
	return c, true
}

// entry is e as the API shows it, without presence.
func (s *Server) entry(e directory.Entry) entryJSON {
	h := &callerID{s: s}
	return entryJSON{Entry: e, dial: func(domain, raw string) string { return h.dialFunc(domain, true)(raw) }}
}

// withPresence decorates e with the presence of its extension when it is
// a team contact. Presence is best effort: an unavailable store leaves it
// out rather than failing the directory request.
func (s *Server) withPresence(ctx context.Context, e directory.Entry) entryJSON {
	out := s.entry(e)
	if e.Contact.Kind != directory.KindTeam || s.deps.Presence == nil {
		return out
	}
	aor, err := presence.ParseAOR(strings.TrimPrefix(e.Contact.ID, directory.TeamContactID("")))
	if err != nil {
		return out
	}
	v, err := s.deps.Presence.Get(ctx, aor)
	if err != nil {
		s.log.Debug().Err(err).Str("aor", aor.String()).Msg("presence for team contact")
		return out
	}
	out.Presence = &presenceBrief{Line: string(v.Line), Status: string(v.Status), StatusLabel: v.Status.Label(), Note: v.Note}
	return out
}

type pageJSON struct {
	Items       []entryJSON `json:"items"`
	Next        string      `json:"next,omitempty"`
	Total       int         `json:"total"`
	TotalCapped bool        `json:"total_capped,omitempty"`
}

func (s *Server) searchContacts(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	query := directory.Query{Text: q.Get("q"), Kind: directory.Kind(q.Get("kind")), Group: q.Get("group"), Cursor: q.Get("cursor")}
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "invalid", "limit must be a positive integer", "limit")
			return
		}
		query.Limit = n
	}
	page, err := s.deps.Directory.Search(r.Context(), p, query)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	out := pageJSON{Items: make([]entryJSON, 0, len(page.Items)), Next: page.Next, Total: page.Total, TotalCapped: page.TotalCapped}
	for _, e := range page.Items {
		out.Items = append(out.Items, s.withPresence(r.Context(), e))
	}
	writeJSON(w, http.StatusOK, out)
}

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	c, ok := s.decodeContact(w, r)
	if !ok {
		return
	}
	created, err := s.deps.Directory.Create(r.Context(), p, c)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(created.Version))
	w.Header().Set("Location", "/v1/contacts/"+created.ID)
	writeJSON(w, http.StatusCreated, s.entry(directory.Entry{Contact: created}))
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	e, err := s.deps.Directory.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(e.Contact.Version))
	writeJSON(w, http.StatusOK, s.withPresence(r.Context(), e))
}

// ifMatch returns the contact version the request's If-Match names. It
// answers 428 when the header is missing and 400 when it is not a single
// strong ETag or "*"; "*" stands for the current version.
func (s *Server) ifMatch(w http.ResponseWriter, r *http.Request, p accounts.Principal, id string) (uint64, bool) {
	raw := strings.TrimSpace(r.Header.Get("If-Match"))
	if raw == "" {
		writeError(w, http.StatusPreconditionRequired, "precondition_required", "send If-Match with the contact's ETag", "If-Match")
		return 0, false
	}
	if raw == "*" {
		e, err := s.deps.Directory.Get(r.Context(), p, id)
		if err != nil {
			s.directoryError(w, r, err)
			return 0, false
		}
		return e.Contact.Version, true
	}
	unq, ok := strings.CutPrefix(raw, `"`)
	if ok {
		unq, ok = strings.CutSuffix(unq, `"`)
	}
	v, err := strconv.ParseUint(unq, 10, 64)
	if !ok || err != nil {
		writeError(w, http.StatusBadRequest, "invalid", `If-Match must be one ETag such as "3"`, "If-Match")
		return 0, false
	}
	return v, true
}

func (s *Server) updateContact(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	version, ok := s.ifMatch(w, r, p, id)
	if !ok {
		return
	}
	c, ok := s.decodeContact(w, r)
	if !ok {
		return
	}
	if c.ID != "" && c.ID != id {
		writeError(w, http.StatusBadRequest, "invalid", "id in the body differs from the path", "id")
		return
	}
	c.ID = id
	updated, err := s.deps.Directory.Update(r.Context(), p, c, version)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	e, err := s.deps.Directory.Get(r.Context(), p, id)
	if err != nil {
		e = directory.Entry{Contact: updated} // deleted meanwhile: show what was written
	}
	w.Header().Set("ETag", etag(updated.Version))
	writeJSON(w, http.StatusOK, s.withPresence(r.Context(), e))
}

func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	version, ok := s.ifMatch(w, r, p, id)
	if !ok {
		return
	}
	if err := s.deps.Directory.Delete(r.Context(), p, id, version); err != nil {
		s.directoryError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) markContact(w http.ResponseWriter, r *http.Request)   { s.setMark(w, r, true) }
func (s *Server) unmarkContact(w http.ResponseWriter, r *http.Request) { s.setMark(w, r, false) }

func (s *Server) setMark(w http.ResponseWriter, r *http.Request, on bool) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if err := s.deps.Directory.Mark(r.Context(), p, id, r.PathValue("group"), on); err != nil {
		s.directoryError(w, r, err)
		return
	}
	e, err := s.deps.Directory.Get(r.Context(), p, id)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.withPresence(r.Context(), e))
}

// bulkKind reads the kind query parameter of exports and imports; it
// defaults to personal.
func bulkKind(r *http.Request) directory.Kind {
	if k := r.URL.Query().Get("kind"); k != "" {
		return directory.Kind(k)
	}
	return directory.KindPersonal
}

// export renders with write into a buffer first, so that a refusal is
// still answered as a JSON error, then sends it as an attachment.
func (s *Server) export(w http.ResponseWriter, r *http.Request, contentType, ext string, write func(context.Context, accounts.Principal, directory.Kind, io.Writer) error) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	kind := bulkKind(r)
	var buf bytes.Buffer
	if err := write(r.Context(), p, kind, &buf); err != nil {
		s.directoryError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="contacts-%s.%s"`, kind, ext))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = buf.WriteTo(w)
}

func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) {
	s.export(w, r, "text/csv; charset=utf-8", "csv", s.deps.Directory.ExportCSV)
}

func (s *Server) exportVCard(w http.ResponseWriter, r *http.Request) {
	version := r.URL.Query().Get("version")
	if version == "" {
		version = "4.0"
	}
	s.export(w, r, "text/vcard; charset=utf-8", "vcf", func(ctx context.Context, p accounts.Principal, k directory.Kind, out io.Writer) error {
		return s.deps.Directory.ExportVCard(ctx, p, k, version, out)
	})
}

type importFunc func(context.Context, accounts.Principal, directory.Kind, io.Reader, directory.ImportOptions) (directory.ImportReport, error)

// bulkImport reads the body (at most maxImportBody bytes) with imp and
// answers the ImportReport, row errors included.
func (s *Server) bulkImport(w http.ResponseWriter, r *http.Request, imp importFunc) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	// domain: the tenant of imported company contacts; an operator key
	// must name it, a tenant key may only name its own.
	opts := directory.ImportOptions{OnDuplicate: directory.DupPolicy(q.Get("on_duplicate")), Domain: q.Get("domain")}
	if raw := q.Get("dry_run"); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "dry_run must be true or false", "dry_run")
			return
		}
		opts.DryRun = v
	}
	if r.ContentLength > maxImportBody {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", maxImportBody), "")
		return
	}
	rep, err := imp(r.Context(), p, bulkKind(r), http.MaxBytesReader(w, r.Body, maxImportBody), opts)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) importCSV(w http.ResponseWriter, r *http.Request) {
	s.bulkImport(w, r, s.deps.Directory.ImportCSV)
}

func (s *Server) importVCard(w http.ResponseWriter, r *http.Request) {
	s.bulkImport(w, r, s.deps.Directory.ImportVCard)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	groups, err := s.deps.Directory.ListGroups(r.Context(), p)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	if groups == nil {
		groups = []directory.Group{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": groups})
}

type groupRequest struct {
	Name string `json:"name"`
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	var req groupRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	g, err := s.deps.Directory.CreateGroup(r.Context(), p, req.Name)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, g)
}

type sharedGroupRequest struct {
	Domain string `json:"domain"`
	Name   string `json:"name"`
}

func (s *Server) createSharedGroup(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	var req sharedGroupRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	g, err := s.deps.Directory.CreateSharedGroup(r.Context(), p, strings.ToLower(strings.TrimSpace(req.Domain)), req.Name)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if err := s.deps.Directory.DeleteGroup(r.Context(), p, r.PathValue("id")); err != nil {
		s.directoryError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// userJSON is a PBX user as the API shows it: never a password or hash,
// only whether SIP credentials are set and since when.
type userJSON struct {
	AOR                   string     `json:"aor"`
	Extension             string     `json:"extension"`
	Domain                string     `json:"domain"`
	FirstName             string     `json:"first_name,omitempty"`
	LastName              string     `json:"last_name,omitempty"`
	Email                 string     `json:"email,omitempty"`
	Department            string     `json:"department,omitempty"`
	JobTitle              string     `json:"job_title,omitempty"`
	DID                   string     `json:"did,omitempty"`
	Mobile                string     `json:"mobile,omitempty"`
	Created               time.Time  `json:"created"`
	Updated               time.Time  `json:"updated"`
	SIPCredentials        bool       `json:"sip_credentials"`
	SIPCredentialsUpdated *time.Time `json:"sip_credentials_updated,omitempty"`
	// WebPassword tells whether the user has a web app password (never
	// the password or its hash).
	WebPassword        bool       `json:"web_password"`
	WebPasswordUpdated *time.Time `json:"web_password_updated,omitempty"`
	Admin              bool       `json:"admin"`
}

func toUserJSON(u accounts.User) userJSON {
	out := userJSON{
		AOR: u.AOR(), Extension: u.Extension, Domain: u.Domain, FirstName: u.FirstName, LastName: u.LastName,
		Email: u.Email, Department: u.Department, JobTitle: u.JobTitle, DID: u.DID, Mobile: u.Mobile,
		Created: u.Created, Updated: u.Updated, Admin: u.Admin,
	}
	if u.Digest != nil {
		t := u.Digest.Updated
		out.SIPCredentials, out.SIPCredentialsUpdated = true, &t
	}
	if u.Web != nil {
		t := u.Web.Updated
		out.WebPassword, out.WebPasswordUpdated = true, &t
	}
	return out
}

// userRequest is the body of PUT /v1/users/{aor}; the extension and
// domain come from the path.
type userRequest struct {
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
	Email      string `json:"email"`
	Department string `json:"department"`
	JobTitle   string `json:"job_title"`
	// DID (direct number) and Mobile are kept as typed; the team contact
	// lists them after the extension.
	DID         string `json:"did"`
	Mobile      string `json:"mobile"`
	SIPPassword string `json:"sip_password"`
	// WebPassword sets the web app password ("" keeps it); Admin lets the
	// user administer the domain in the web app.
	WebPassword string `json:"web_password"`
	Admin       bool   `json:"admin"`
}

// pathAOR reads the {aor} path value as ext@domain with a lowercase
// domain, answering 400 when it is not one.
func pathAOR(w http.ResponseWriter, r *http.Request) (ext, domain string, ok bool) {
	ext, domain, ok = strings.Cut(r.PathValue("aor"), "@")
	if !ok || ext == "" || domain == "" {
		writeError(w, http.StatusBadRequest, "invalid", "want a user as ext@domain", "aor")
		return "", "", false
	}
	return ext, strings.ToLower(domain), true
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	users, err := s.deps.Directory.ListUsers(r.Context(), p)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = toUserJSON(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	ext, domain, ok := pathAOR(w, r)
	if !ok {
		return
	}
	u, err := s.deps.Directory.GetUser(r.Context(), p, ext+"@"+domain)
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
}

func (s *Server) provisionUser(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	ext, domain, ok := pathAOR(w, r)
	if !ok {
		return
	}
	var req userRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if req.WebPassword != "" {
		if !s.acquireHashSlot(w, r) {
			return
		}
		defer s.releaseHashSlot()
	}
	status := http.StatusOK
	if _, err := s.deps.Directory.GetUser(r.Context(), p, ext+"@"+domain); errors.Is(err, directory.ErrNotFound) {
		status = http.StatusCreated
	}
	u, err := s.deps.Directory.ProvisionUser(r.Context(), p, accounts.User{
		Extension: ext, Domain: domain, FirstName: req.FirstName, LastName: req.LastName,
		Email: req.Email, Department: req.Department, JobTitle: req.JobTitle, SIPPassword: req.SIPPassword,
		DID: req.DID, Mobile: req.Mobile, WebPassword: req.WebPassword, Admin: req.Admin,
	})
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	writeJSON(w, status, toUserJSON(u))
}

// confirmationJSON answers a user deletion that needs confirm=true: the
// error plus what the deletion would take with it.
type confirmationJSON struct {
	apiError
	Dependents    directory.Dependents `json:"dependents"`
	Subscriptions *subscriptionsJSON   `json:"subscriptions,omitempty"`
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	ext, domain, ok := pathAOR(w, r)
	if !ok {
		return
	}
	confirm := false
	if raw := r.URL.Query().Get("confirm"); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "confirm must be true or false", "confirm")
			return
		}
		confirm = v
	}
	dep, err := s.deps.Directory.DeleteUser(r.Context(), p, ext+"@"+domain, confirm)
	subs := s.subscriptionsOf(presence.NewAOR(ext, domain))
	if errors.Is(err, directory.ErrConfirmationRequired) {
		var body confirmationJSON
		body.Error.Code = "confirmation_required"
		body.Error.Message = "deleting " + ext + "@" + domain + " also deletes its dependents; repeat with confirm=true"
		body.Dependents = dep
		body.Subscriptions = subs
		writeJSON(w, http.StatusConflict, body)
		return
	}
	if err != nil {
		s.directoryError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": ext + "@" + domain, "dependents": dep, "subscriptions": subs})
}

// subscriptionCounter counts live SIP subscriptions, for the dependents
// report of a user about to be deleted.
type subscriptionCounter interface {
	SubscriptionsOf(aor presence.AOR) (watchedBy, watching int)
}

// subscriptionsJSON is how many BLF keys and softphones watch the user,
// and how many extensions the user's own phones watch, on this instance.
type subscriptionsJSON struct {
	WatchedBy int `json:"watched_by"`
	Watching  int `json:"watching"`
}

func (s *Server) subscriptionsOf(aor presence.AOR) *subscriptionsJSON {
	if s.deps.Subscriptions == nil {
		return nil
	}
	by, watching := s.deps.Subscriptions.SubscriptionsOf(aor)
	return &subscriptionsJSON{WatchedBy: by, Watching: watching}
}

// webPasswordRequest is the body of PUT /v1/users/{aor}/web-password.
type webPasswordRequest struct {
	Current  string `json:"current"`
	Password string `json:"password"`
}

func (s *Server) setWebPassword(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	ext, domain, ok := pathAOR(w, r)
	if !ok {
		return
	}
	var req webPasswordRequest
	if !s.decodeJSON(w, r, &req) {
		return
	}
	if !s.acquireHashSlot(w, r) {
		return
	}
	defer s.releaseHashSlot()
	if err := s.deps.Directory.SetWebPassword(r.Context(), p, ext+"@"+domain, req.Current, req.Password); err != nil {
		s.directoryError(w, r, err)
		return
	}
	s.log.Info().Str("aor", ext+"@"+domain).Str("by", p.User).Msg("web password changed")
	w.WriteHeader(http.StatusNoContent)
}
