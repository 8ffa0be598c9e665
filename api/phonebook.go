package api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
)

// Desk phone directories: GET /v1/phonebook/{format} serves the contacts a
// user may see (personal, company, team; favorites first, then VIPs, then
// by name, as directory.Service.Search orders them) in the XML each phone
// family downloads:
//
//   - yealink: the remote phonebook form <YealinkIPPhoneDirectory> with one
//     <DirectoryEntry> per contact and up to three <Telephone> elements,
//     which every Yealink T-series firmware reads (the newer
//     <YealinkIPPhoneBook>/<Menu>/<Unit> form is only for grouped local
//     books).
//   - grandstream: the GXP16xx/17xx/21xx "XML Phonebook Guide" format:
//     <AddressBook> with <pbgroup> definitions and <Contact> entries whose
//     <Phone type="Work|Home|Mobile|Fax|Other"> carries <phonenumber> and
//     <accountindex> (0–5 for accounts 1–6; ?account=N picks account N,
//     default 1). <Frequent>1</Frequent> marks favorites.
//   - cisco: <CiscoIPPhoneDirectory> (Cisco Unified IP Phone Services
//     Application Development Notes), at most 32 <DirectoryEntry> per
//     page, one per number, with Dial/EditDial/Exit softkeys and a Next
//     softkey whose URL carries the next page.
//   - snom: <SnomIPPhoneDirectory>, the XML minibrowser directory object
//     that snom D-series phones open as a remote directory (chosen over
//     tbook.xml, which is a provisioning import of the local book, not a
//     browsable directory).
//
// Authentication as phones support it: HTTP basic with the user as
// username ("ext@domain" or "ext") and the user's API key as password,
// or ?key=, or a bearer key. q filters like the directory search; page
// (1-based) pages the cisco format. Every text is XML-escaped by
// encoding/xml.
const (
	ciscoPageSize = 32
	// ciscoMaxPage bounds how deep a Cisco client may page (32 × 100
	// entries): deeper than a phone user scrolls, and it bounds the work.
	ciscoMaxPage = 100
	// phonebookMax bounds a full download; Yealink and Grandstream phones
	// hold about 2,000 remote entries.
	phonebookMax = 2000
	// ciscoTextMax is the longest Name/Title Cisco phones display.
	ciscoTextMax = 32
)

// phonebookFormats lists the supported formats.
var phonebookFormats = map[string]bool{"yealink": true, "grandstream": true, "cisco": true, "snom": true}

func (h *callerID) phonebook(w http.ResponseWriter, r *http.Request) {
	format := r.PathValue("format")
	if !phonebookFormats[format] {
		writeError(w, http.StatusNotFound, "not_found", "unknown phonebook format (want yealink, grandstream, cisco or snom)", "format")
		return
	}
	if h.s.deps.Directory == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "directory not configured", "")
		return
	}
	p, ok := h.phoneAuth(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	page := 1
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ciscoMaxPage {
			writeError(w, http.StatusBadRequest, "invalid", "page must be 1 to "+strconv.Itoa(ciscoMaxPage), "page")
			return
		}
		page = n
	}
	account := 1
	if v := q.Get("account"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 6 {
			writeError(w, http.StatusBadRequest, "invalid", "account must be 1 to 6", "account")
			return
		}
		account = n
	}
	want := phonebookMax
	if format == "cisco" {
		want = page*ciscoPageSize + 1 // one more tells whether a next page exists
	}
	entries, err := h.collect(r, p, q.Get("q"), want)
	if err != nil {
		h.directoryError(w, err)
		return
	}
	var doc any
	switch format {
	case "yealink":
		doc = yealinkDirectory(entries)
	case "grandstream":
		doc = grandstreamBook(entries, account)
	case "cisco":
		doc = ciscoDirectory(r, entries, page)
	case "snom":
		doc = snomDirectory(entries)
	}
	writeXML(w, doc)
}

// phoneAuth accepts HTTP basic (username the user, password the key),
// then a bearer key or ?key= through authenticate.
func (h *callerID) phoneAuth(w http.ResponseWriter, r *http.Request) (accounts.Principal, bool) {
	user, key, basic := r.BasicAuth()
	if !basic {
		if r.Header.Get("Authorization") == "" && r.URL.Query().Get("key") == "" {
			// Phones only send credentials after a Basic challenge.
			w.Header().Set("WWW-Authenticate", `Basic realm="switchboard", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "missing credentials", "")
			return accounts.Principal{}, false
		}
		return h.s.authenticate(w, r)
	}
	p, err := h.s.deps.Keys.Resolve(r.Context(), strings.TrimSpace(key))
	if err != nil && !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrForbidden) {
		h.s.log.Warn().Err(err).Msg("resolve api key")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "cannot check the API key now", "")
		return accounts.Principal{}, false
	}
	if err != nil || (user != "" && p.User != "" && !sameCallee(user, p.User)) || (user != "" && p.User == "") {
		w.Header().Set("WWW-Authenticate", `Basic realm="switchboard", charset="UTF-8"`)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "invalid username or key", "")
		return accounts.Principal{}, false
	}
	return p, true
}

func (h *callerID) directoryError(w http.ResponseWriter, err error) {
	var fe *directory.FieldError
	switch {
	case errors.Is(err, directory.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", "this key may not read the directory", "")
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid", fe.Reason, fe.Field)
	default:
		h.s.log.Warn().Err(err).Msg("phonebook search")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "directory unavailable", "")
	}
}

// pbEntry is one contact as the phone formats need it.
type pbEntry struct {
	first, last, name string
	kind              directory.Kind
	favorite          bool
	phones            []directory.Phone
}

// collect returns up to want entries with at least one number, in search
// order.
func (h *callerID) collect(r *http.Request, p accounts.Principal, text string, want int) ([]pbEntry, error) {
	var out []pbEntry
	cursor := ""
	for len(out) < want {
		pg, err := h.s.deps.Directory.Search(r.Context(), p, directory.Query{Text: text, Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, it := range pg.Items {
			c := it.Contact
			if len(c.Phones) == 0 {
				continue
			}
			fav := false
			for _, m := range it.Marks {
				fav = fav || m == directory.GroupFavorite
			}
			out = append(out, pbEntry{first: c.FirstName, last: c.LastName, name: phoneName(c), kind: c.Kind, favorite: fav, phones: c.Phones})
			if len(out) == want {
				break
			}
		}
		if pg.Next == "" {
			break
		}
		cursor = pg.Next
	}
	return out, nil
}

// phoneName is the name shown in a directory list: "First Last", or the
// company for a company-only contact.
func phoneName(c directory.Contact) string { return c.DisplayName() }

// clip cuts s to n runes, ending with "." like caller-ID displays.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ,;:-/([") + "."
}

var phoneTypeLabel = map[directory.PhoneType]string{
	directory.PhoneWork: "Work", directory.PhoneMobile: "Mobile", directory.PhoneHome: "Home",
	directory.PhoneFax: "Fax", directory.PhoneOther: "Other",
}

func writeXML(w http.ResponseWriter, doc any) {
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "encode phonebook", "")
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
	_, _ = w.Write([]byte("\n"))
}

// Yealink.

type yealinkDir struct {
	XMLName xml.Name       `xml:"YealinkIPPhoneDirectory"`
	Entries []yealinkEntry `xml:"DirectoryEntry"`
}

type yealinkEntry struct {
	Name      string   `xml:"Name"`
	Telephone []string `xml:"Telephone"`
}

func yealinkDirectory(entries []pbEntry) yealinkDir {
	d := yealinkDir{Entries: []yealinkEntry{}}
	for _, e := range entries {
		ye := yealinkEntry{Name: e.name}
		for _, ph := range e.phones {
			if len(ye.Telephone) == 3 { // Yealink keeps three numbers per entry
				break
			}
			ye.Telephone = append(ye.Telephone, ph.Number)
		}
		d.Entries = append(d.Entries, ye)
	}
	return d
}

// Grandstream.

type gsBook struct {
	XMLName  xml.Name    `xml:"AddressBook"`
	Version  int         `xml:"version"`
	Groups   []gsGroup   `xml:"pbgroup"`
	Contacts []gsContact `xml:"Contact"`
}

type gsGroup struct {
	ID   int    `xml:"id"`
	Name string `xml:"name"`
}

type gsContact struct {
	FirstName string    `xml:"FirstName,omitempty"`
	LastName  string    `xml:"LastName,omitempty"`
	Frequent  int       `xml:"Frequent"`
	Phones    []gsPhone `xml:"Phone"`
	Group     int       `xml:"Group"`
}

type gsPhone struct {
	Type         string `xml:"type,attr"`
	Number       string `xml:"phonenumber"`
	AccountIndex int    `xml:"accountindex"`
}

// Grandstream group IDs, one per contact kind.
var gsGroupOf = map[directory.Kind]int{directory.KindPersonal: 1, directory.KindCompany: 2, directory.KindTeam: 3}

func grandstreamBook(entries []pbEntry, account int) gsBook {
	b := gsBook{Version: 1, Groups: []gsGroup{{1, "Personal"}, {2, "Company"}, {3, "Team"}}, Contacts: []gsContact{}}
	for _, e := range entries {
		c := gsContact{FirstName: e.first, LastName: e.last, Group: gsGroupOf[e.kind]}
		if c.FirstName == "" && c.LastName == "" {
			c.FirstName = e.name // the guide wants a first or last name
		}
		if e.favorite {
			c.Frequent = 1
		}
		for _, ph := range e.phones {
			t := phoneTypeLabel[ph.Type]
			if t == "" {
				t = "Other"
			}
			c.Phones = append(c.Phones, gsPhone{Type: t, Number: ph.Number, AccountIndex: account - 1})
		}
		b.Contacts = append(b.Contacts, c)
	}
	return b
}

// Cisco.

type ciscoDir struct {
	XMLName  xml.Name       `xml:"CiscoIPPhoneDirectory"`
	Title    string         `xml:"Title"`
	Prompt   string         `xml:"Prompt"`
	Entries  []ciscoEntry   `xml:"DirectoryEntry"`
	SoftKeys []ciscoSoftKey `xml:"SoftKeyItem"`
}

type ciscoEntry struct {
	Name      string `xml:"Name"`
	Telephone string `xml:"Telephone"`
}

type ciscoSoftKey struct {
	Name     string `xml:"Name"`
	URL      string `xml:"URL"`
	Position int    `xml:"Position"`
}

// pbRow is one number of one contact: Cisco and snom list numbers.
type pbRow struct{ name, number string }

func rows(entries []pbEntry) []pbRow {
	var out []pbRow
	for _, e := range entries {
		for _, ph := range e.phones {
			name := e.name
			if len(e.phones) > 1 {
				name += " (" + strings.ToLower(phoneTypeLabel[ph.Type]) + ")"
			}
			out = append(out, pbRow{name, ph.Number})
		}
	}
	return out
}

func ciscoDirectory(r *http.Request, entries []pbEntry, page int) ciscoDir {
	all := rows(entries)
	from := min((page-1)*ciscoPageSize, len(all))
	to := min(from+ciscoPageSize, len(all))
	d := ciscoDir{Title: "Directory", Entries: []ciscoEntry{}}
	if to > from {
		d.Prompt = "Records " + strconv.Itoa(from+1) + " to " + strconv.Itoa(to)
	} else {
		d.Prompt = "No records"
	}
	for _, row := range all[from:to] {
		d.Entries = append(d.Entries, ciscoEntry{Name: clip(row.name, ciscoTextMax), Telephone: row.number})
	}
	d.SoftKeys = []ciscoSoftKey{
		{Name: "Dial", URL: "SoftKey:Dial", Position: 1},
		{Name: "EditDial", URL: "SoftKey:EditDial", Position: 2},
		{Name: "Exit", URL: "SoftKey:Exit", Position: 3},
	}
	if len(all) > to && page < ciscoMaxPage {
		d.SoftKeys = append(d.SoftKeys, ciscoSoftKey{Name: "Next", URL: pageURL(r, page+1), Position: 4})
	}
	if page > 1 {
		d.SoftKeys = append(d.SoftKeys, ciscoSoftKey{Name: "Prev", URL: pageURL(r, page-1), Position: 5})
	}
	return d
}

// pageURL is the absolute URL of the request with page set: Cisco phones
// need absolute softkey URLs. The query (key, q) is kept, since these
// phones cannot add credentials on their own.
func pageURL(r *http.Request, page int) string {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	u.RawQuery = q.Encode()
	return u.String()
}

// snom.

type snomDir struct {
	XMLName xml.Name    `xml:"SnomIPPhoneDirectory"`
	Title   string      `xml:"Title"`
	Prompt  string      `xml:"Prompt"`
	Entries []snomEntry `xml:"DirectoryEntry"`
}

type snomEntry struct {
	Name      string `xml:"Name"`
	Telephone string `xml:"Telephone"`
}

func snomDirectory(entries []pbEntry) snomDir {
	d := snomDir{Title: "Directory", Prompt: "Dial", Entries: []snomEntry{}}
	for _, row := range rows(entries) {
		d.Entries = append(d.Entries, snomEntry{Name: row.name, Telephone: row.number})
	}
	return d
}
