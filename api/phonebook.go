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
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/directory/phone"
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
//   - polycom: the SoundPoint/VVX contact directory file (<directory>,
//     <item_list>, one <item> per number with <fn>, <ln> of at most 40
//     bytes, <ct> the contact number, <lb> a label and <sd> a speed-dial
//     index for favorites), which phones fetch as <MAC>-directory.xml.
//
// Numbers are given as the phone must dial them, not as typed: the main
// number only (an extension is shown in the name where the format has one
// per number, and dialed by hand after the answer), vanity letters as
// digits, without spaces or punctuation, in the national format of the
// domain's region (a foreign number with the region's international
// prefix), or E.164 with ?numbers=e164 for phones that dial "+". group
// keeps the contacts of one group (its ID or its name).
//
// GET /v1/phonebook/{yealink|cisco|snom}/search is the vendor's input
// screen (YealinkIPPhoneInputScreen, CiscoIPPhoneInput, SnomIPPhoneInput):
// one text field q whose answer the phone requests from the phonebook URL,
// with the query the screen was opened with (key, numbers, group, account).
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
	// polycomTextMax is the longest fn, ln and lb, in bytes (Polycom
	// administrator's guide, local contact directory file format).
	polycomTextMax = 40
)

// phonebookFormats lists the supported formats.
var phonebookFormats = map[string]bool{"yealink": true, "grandstream": true, "cisco": true, "snom": true, "polycom": true}

// searchScreens lists the formats with a search (input) screen.
var searchScreens = map[string]bool{"yealink": true, "cisco": true, "snom": true}

// numberDialer turns a stored number into the string a phone of a domain
// dials; *callerid.Lookup implements it.
type numberDialer interface {
	Dial(domain, raw string, e164 bool) (string, bool)
}

var _ numberDialer = (*callerid.Lookup)(nil)

func (h *callerID) phonebook(w http.ResponseWriter, r *http.Request) {
	format := r.PathValue("format")
	if !phonebookFormats[format] {
		writeError(w, http.StatusNotFound, "not_found", "unknown phonebook format (want yealink, grandstream, cisco, snom or polycom)", "format")
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
	e164 := false
	switch v := q.Get("numbers"); v {
	case "", "national":
	case "e164":
		e164 = true
	default:
		writeError(w, http.StatusBadRequest, "invalid", "numbers must be national or e164", "numbers")
		return
	}
	group := ""
	if v := q.Get("group"); v != "" {
		if group, ok = h.groupID(w, r, p, v); !ok {
			return
		}
	}
	want := phonebookMax
	if format == "cisco" {
		want = page*ciscoPageSize + 1 // one more tells whether a next page exists
	}
	entries, err := h.collect(r, p, directory.Query{Text: q.Get("q"), Group: group}, want, h.dialFunc(p.Tenant(), e164))
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
	case "polycom":
		doc = polycomDirectory(entries)
	}
	writeXML(w, doc)
}

// groupID returns the ID of the group p names by ID or, failing that, by
// name (case-insensitive), answering 404 when p has no such group.
func (h *callerID) groupID(w http.ResponseWriter, r *http.Request, p accounts.Principal, v string) (string, bool) {
	groups, err := h.s.deps.Directory.ListGroups(r.Context(), p)
	if err != nil {
		h.directoryError(w, err)
		return "", false
	}
	for _, g := range groups {
		if g.ID == v {
			return g.ID, true
		}
	}
	for _, g := range groups {
		if strings.EqualFold(g.Name, v) {
			return g.ID, true
		}
	}
	writeError(w, http.StatusNotFound, "not_found", "no such group", "group")
	return "", false
}

// dialFunc returns how numbers of domain are written for its phones: the
// caller-ID lookup's regions when it is installed, else the typed main
// number (vanity letters as digits, no extension).
func (h *callerID) dialFunc(domain string, e164 bool) func(raw string) string {
	var d numberDialer
	if box := h.s.callers.Load(); box != nil {
		d, _ = box.callerLookup.(numberDialer)
	}
	return func(raw string) string {
		if d != nil {
			if s, ok := d.Dial(domain, raw, e164); ok {
				return s
			}
		}
		if t, err := phone.ParseTyped(raw); err == nil {
			return t.Main
		}
		return raw
	}
}

// phonebookSearch serves the search screen of a format: one text field
// whose value the phone sends as q to the phonebook URL.
func (h *callerID) phonebookSearch(w http.ResponseWriter, r *http.Request) {
	format := r.PathValue("format")
	if !searchScreens[format] {
		writeError(w, http.StatusNotFound, "not_found", "no search screen for this format (yealink, cisco, snom have one)", "format")
		return
	}
	if _, ok := h.phoneAuth(w, r); !ok {
		return
	}
	target := phonebookURL(r, format)
	var doc any
	switch format {
	case "yealink":
		doc = yealinkInputScreen{
			Type: "string", DisplayMode: "normal", DefaultIndex: 1, DestroyOnExit: "yes",
			Title: "Search", URL: target,
			Field: yealinkInputField{Type: "string", Password: "no", Editable: "yes", Prompt: "Name or number:", Parameter: "q", Selection: "1"},
		}
	case "cisco":
		doc = ciscoInput{Title: "Search", Prompt: "Name or number", URL: target,
			Item: ciscoInputItem{DisplayName: "Name or number", QueryStringParam: "q", InputFlags: "A"}}
	case "snom":
		doc = snomInput{Title: "Search", Prompt: "Name or number", URL: target,
			Item: ciscoInputItem{DisplayName: "Name or number", QueryStringParam: "q", InputFlags: "a"}}
	}
	writeXML(w, doc)
}

// phonebookURL is the absolute URL of format's phonebook with the search
// screen's query, minus q and page: the phone appends q.
func phonebookURL(r *http.Request, format string) string {
	u := url.URL{Scheme: "http", Host: r.Host, Path: "/v1/phonebook/" + format}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	q := r.URL.Query()
	q.Del("q")
	q.Del("page")
	u.RawQuery = q.Encode()
	return u.String()
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
	phones            []pbPhone
}

// pbPhone is one number of a contact: dial is what the phone dials, ext
// the extension typed after it ("" when none).
type pbPhone struct {
	typ       directory.PhoneType
	dial, ext string
}

// collect returns up to want entries with at least one number, in search
// order, their numbers written by dial.
func (h *callerID) collect(r *http.Request, p accounts.Principal, query directory.Query, want int, dial func(string) string) ([]pbEntry, error) {
	var out []pbEntry
	cursor := ""
	for len(out) < want {
		query.Limit, query.Cursor = 500, cursor
		pg, err := h.s.deps.Directory.Search(r.Context(), p, query)
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
			e := pbEntry{first: c.FirstName, last: c.LastName, name: phoneName(c), kind: c.Kind, favorite: fav}
			for _, ph := range c.Phones {
				pp := pbPhone{typ: ph.Type, dial: dial(ph.Number)}
				if t, err := phone.ParseTyped(ph.Number); err == nil {
					pp.ext = t.Extension
				}
				e.phones = append(e.phones, pp)
			}
			out = append(out, e)
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

// yealinkInputScreen is the YealinkIPPhoneInputScreen search screen (XML
// Browser Developer's Guide): the phone requests URL with
// Parameter=value appended.
type yealinkInputScreen struct {
	XMLName       xml.Name          `xml:"YealinkIPPhoneInputScreen"`
	Type          string            `xml:"type,attr"`
	DisplayMode   string            `xml:"displayMode,attr"`
	DefaultIndex  int               `xml:"defaultIndex,attr"`
	DestroyOnExit string            `xml:"destroyOnExit,attr"`
	Title         string            `xml:"Title"`
	URL           string            `xml:"URL"`
	Field         yealinkInputField `xml:"InputField"`
}

type yealinkInputField struct {
	Type      string `xml:"type,attr"`
	Password  string `xml:"password,attr"`
	Editable  string `xml:"editable,attr"`
	Prompt    string `xml:"Prompt"`
	Parameter string `xml:"Parameter"`
	Selection string `xml:"Selection"`
	Default   string `xml:"Default"`
}

func yealinkDirectory(entries []pbEntry) yealinkDir {
	d := yealinkDir{Entries: []yealinkEntry{}}
	for _, e := range entries {
		ye := yealinkEntry{Name: e.name}
		for _, ph := range e.phones {
			if len(ye.Telephone) == 3 { // Yealink keeps three numbers per entry
				break
			}
			ye.Telephone = append(ye.Telephone, ph.dial)
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
			t := phoneTypeLabel[ph.typ]
			if t == "" {
				t = "Other"
			}
			c.Phones = append(c.Phones, gsPhone{Type: t, Number: ph.dial, AccountIndex: account - 1})
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

// ciscoInput is the CiscoIPPhoneInput search screen; the phone requests
// URL with QueryStringParam=value appended.
type ciscoInput struct {
	XMLName xml.Name       `xml:"CiscoIPPhoneInput"`
	Title   string         `xml:"Title"`
	Prompt  string         `xml:"Prompt"`
	URL     string         `xml:"URL"`
	Item    ciscoInputItem `xml:"InputItem"`
}

// ciscoInputItem is one input field; snom's SnomIPPhoneInput has the same.
type ciscoInputItem struct {
	DisplayName      string `xml:"DisplayName"`
	QueryStringParam string `xml:"QueryStringParam"`
	DefaultValue     string `xml:"DefaultValue"`
	InputFlags       string `xml:"InputFlags"`
}

type ciscoSoftKey struct {
	Name     string `xml:"Name"`
	URL      string `xml:"URL"`
	Position int    `xml:"Position"`
}

// pbRow is one number of one contact: Cisco, snom and Polycom list
// numbers. label says which number it is ("mobile", "work, ext. 45"),
// empty for the one number of a contact without extension.
type pbRow struct {
	e             *pbEntry
	name, label   string
	number        string
	favoriteIndex int // 1-based among favorites' rows, 0 for others
}

func rows(entries []pbEntry) []pbRow {
	var out []pbRow
	fav := 0
	for i := range entries {
		e := &entries[i]
		for _, ph := range e.phones {
			var parts []string
			if len(e.phones) > 1 {
				parts = append(parts, strings.ToLower(phoneTypeLabel[ph.typ]))
			}
			if ph.ext != "" {
				parts = append(parts, "ext. "+ph.ext)
			}
			row := pbRow{e: e, name: e.name, label: strings.Join(parts, ", "), number: ph.dial}
			if row.label != "" {
				row.name += " (" + row.label + ")"
			}
			if e.favorite {
				fav++
				row.favoriteIndex = fav
			}
			out = append(out, row)
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

type snomInput struct {
	XMLName xml.Name       `xml:"SnomIPPhoneInput"`
	Title   string         `xml:"Title"`
	Prompt  string         `xml:"Prompt"`
	URL     string         `xml:"URL"`
	Item    ciscoInputItem `xml:"InputItem"`
}

func snomDirectory(entries []pbEntry) snomDir {
	d := snomDir{Title: "Directory", Prompt: "Dial", Entries: []snomEntry{}}
	for _, row := range rows(entries) {
		d.Entries = append(d.Entries, snomEntry{Name: row.name, Telephone: row.number})
	}
	return d
}

// Polycom.

type polycomDir struct {
	XMLName xml.Name    `xml:"directory"`
	List    polycomList `xml:"item_list"`
}

type polycomList struct {
	Items []polycomItem `xml:"item"`
}

// polycomItem is one number: the format has one contact number (ct) per
// item.
type polycomItem struct {
	LastName  string `xml:"ln,omitempty"`
	FirstName string `xml:"fn,omitempty"`
	Contact   string `xml:"ct"`
	Label     string `xml:"lb,omitempty"`
	SpeedDial int    `xml:"sd,omitempty"`
}

func polycomDirectory(entries []pbEntry) polycomDir {
	d := polycomDir{}
	for _, row := range rows(entries) {
		it := polycomItem{
			LastName: clipBytes(row.e.last, polycomTextMax), FirstName: clipBytes(row.e.first, polycomTextMax),
			Contact: row.number, SpeedDial: row.favoriteIndex,
		}
		if it.FirstName == "" && it.LastName == "" {
			it.FirstName = clipBytes(row.e.name, polycomTextMax) // a company contact
		}
		if row.label != "" {
			it.Label = clipBytes(row.name, polycomTextMax)
		}
		d.List.Items = append(d.List.Items, it)
	}
	return d
}

// clipBytes cuts s to at most n bytes on a rune boundary.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimRight(s[:n], " ")
}
