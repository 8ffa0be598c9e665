package directory

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written JSON encoder for what the stores write on the import
// path, and a strict decoder for what they read back. A bulk import
// stores every contact once (bolt, Redis) and, on Redis, once more inside
// its batch's change log entry, which every other instance decodes;
// encoding/json's reflection and allocations cost about 7 µs of CPU per
// contact to encode and 12 to decode (issue #20's profile and
// BenchmarkContactJSON, BenchmarkContactDecode).
//
// The output is byte-identical to json.Marshal's: the stores' existing
// records and every reader (json.Unmarshal, older instances, operators'
// scripts) see no difference. contactjson_test.go holds the encoder to
// json.Marshal and the decoder to json.Unmarshal over random values
// filled by reflection, so a field added to one of these types and not
// here fails the tests; FuzzContactJSON and FuzzDecodeBatchJSON keep
// trying inputs. User has no encoder here: users are written rarely and
// carry credentials, so they go through encoding/json.

// contactJSONSizeHint is about the encoded size of an imported contact
// (names, a company, two phones, an email: about 390 bytes), to size buffers.
const contactJSONSizeHint = 400

// jsonSpan is the byte range [start, end) of one value inside a larger
// encoding.
type jsonSpan struct{ start, end int }

// appendContactJSON appends json.Marshal(c) to dst. It fails exactly when
// json.Marshal does (a Created or Updated time that RFC 3339 cannot hold)
// and then returns dst unchanged with json.Marshal's error.
func appendContactJSON(dst []byte, c *Contact) ([]byte, error) {
	n0 := len(dst)
	dst, ok := appendContact(dst, c)
	if !ok {
		return marshalFallback(dst[:n0], c)
	}
	return dst, nil
}

// appendContact appends c; ok is false when a time does not fit RFC 3339.
func appendContact(dst []byte, c *Contact) (_ []byte, ok bool) {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, c.ID)
	dst = append(dst, `,"kind":`...)
	dst = appendJSONString(dst, string(c.Kind))
	dst = appendOptString(dst, `,"owner":`, c.Owner)
	dst = appendOptString(dst, `,"domain":`, c.Domain)
	dst = appendOptString(dst, `,"first_name":`, c.FirstName)
	dst = appendOptString(dst, `,"last_name":`, c.LastName)
	dst = appendOptString(dst, `,"company":`, c.Company)
	dst = appendOptString(dst, `,"department":`, c.Department)
	dst = appendOptString(dst, `,"job_title":`, c.JobTitle)
	if len(c.Phones) > 0 {
		dst = append(dst, `,"phones":[`...)
		for i := range c.Phones {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"type":`...)
			dst = appendJSONString(dst, string(c.Phones[i].Type))
			dst = append(dst, `,"number":`...)
			dst = appendJSONString(dst, c.Phones[i].Number)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(c.Emails) > 0 {
		dst = append(dst, `,"emails":`...)
		dst = appendStringArray(dst, c.Emails)
	}
	dst = append(dst, `,"address":`...)
	dst = appendAddress(dst, &c.Address)
	dst = appendOptString(dst, `,"notes":`, c.Notes)
	dst = append(dst, `,"created":`...)
	if dst, ok = appendJSONTime(dst, c.Created); !ok {
		return dst, false
	}
	dst = append(dst, `,"updated":`...)
	if dst, ok = appendJSONTime(dst, c.Updated); !ok {
		return dst, false
	}
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendUint(dst, c.Version, 10)
	return append(dst, '}'), true
}

// appendAddress appends a; every field is omitempty, so the first one
// written opens the object.
func appendAddress(dst []byte, a *Address) []byte {
	o := jsonObject{dst: dst}
	o.optString(`"street":`, a.Street)
	o.optString(`"city":`, a.City)
	o.optString(`"region":`, a.Region)
	o.optString(`"postal_code":`, a.PostalCode)
	o.optString(`"country":`, a.Country)
	return o.close()
}

// appendMarkJSON appends json.Marshal(m) to dst. It cannot fail.
func appendMarkJSON(dst []byte, m *Mark) []byte {
	dst = append(dst, `{"owner":`...)
	dst = appendJSONString(dst, m.Owner)
	dst = append(dst, `,"contact_id":`...)
	dst = appendJSONString(dst, m.ContactID)
	dst = append(dst, `,"groups":`...)
	if m.Groups == nil {
		dst = append(dst, "null"...) // no omitempty: nil and empty differ
	} else {
		dst = appendStringArray(dst, m.Groups)
	}
	return append(dst, '}')
}

// appendGroupJSON appends json.Marshal(g) to dst. It cannot fail.
func appendGroupJSON(dst []byte, g *Group) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, g.ID)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, g.Name)
	dst = appendOptString(dst, `,"owner":`, g.Owner)
	dst = appendOptString(dst, `,"domain":`, g.Domain)
	if g.Builtin {
		dst = append(dst, `,"builtin":true`...)
	}
	return append(dst, '}')
}

// appendBatchJSON appends json.Marshal(b) to dst, and to spans the range
// in dst of each b.Contacts[i].Contact, which is json.Marshal of that
// contact: a store writing the contacts and the batch encodes them once.
// On error it returns dst and spans unchanged with json.Marshal's error.
func appendBatchJSON(dst []byte, b *Batch, spans []jsonSpan) ([]byte, []jsonSpan, error) {
	n0, s0 := len(dst), len(spans)
	o := jsonObject{dst: dst}
	if len(b.Contacts) > 0 {
		o.field(`"contacts":`)
		for i := range b.Contacts {
			w := &b.Contacts[i]
			o.elem(i, `{"contact":`)
			start := len(o.dst)
			var ok bool
			if o.dst, ok = appendContact(o.dst, &w.Contact); !ok {
				dst, err := marshalFallback(o.dst[:n0], b)
				return dst, spans[:s0], err
			}
			spans = append(spans, jsonSpan{start, len(o.dst)})
			if w.Expected != 0 {
				o.dst = append(o.dst, `,"expected":`...)
				o.dst = strconv.AppendUint(o.dst, w.Expected, 10)
			}
			o.dst = append(o.dst, '}')
		}
		o.dst = append(o.dst, ']')
	}
	if len(b.DeleteContacts) > 0 {
		o.field(`"delete_contacts":`)
		for i, d := range b.DeleteContacts {
			o.elem(i, `{"id":`)
			o.dst = appendJSONString(o.dst, d.ID)
			if d.Expected != 0 {
				o.dst = append(o.dst, `,"expected":`...)
				o.dst = strconv.AppendUint(o.dst, d.Expected, 10)
			}
			o.dst = append(o.dst, '}')
		}
		o.dst = append(o.dst, ']')
	}
	if len(b.Users) > 0 {
		// Rare and holding credentials: left to encoding/json.
		raw, err := json.Marshal(b.Users)
		if err != nil {
			dst, err := marshalFallback(o.dst[:n0], b)
			return dst, spans[:s0], err
		}
		o.field(`"users":`)
		o.dst = append(o.dst, raw...)
	}
	o.optStrings(`"delete_users":`, b.DeleteUsers)
	if len(b.Marks) > 0 {
		o.field(`"marks":`)
		for i := range b.Marks {
			o.elem(i, "")
			o.dst = appendMarkJSON(o.dst, &b.Marks[i])
		}
		o.dst = append(o.dst, ']')
	}
	if len(b.Groups) > 0 {
		o.field(`"groups":`)
		for i := range b.Groups {
			o.elem(i, "")
			o.dst = appendGroupJSON(o.dst, &b.Groups[i])
		}
		o.dst = append(o.dst, ']')
	}
	o.optStrings(`"delete_groups":`, b.DeleteGroups)
	o.optStrings(`"keys":`, b.Keys)
	o.optString(`"actor":`, b.Actor)
	o.optString(`"origin":`, b.Origin)
	return o.close(), spans, nil
}

// jsonObject writes a JSON object whose fields may all be omitted: the first
// field written opens it.
type jsonObject struct {
	dst  []byte
	open bool
}

// field starts the field with the quoted name and colon key.
func (o *jsonObject) field(key string) {
	if o.open {
		o.dst = append(o.dst, ',')
	} else {
		o.dst = append(o.dst, '{')
		o.open = true
	}
	o.dst = append(o.dst, key...)
}

// elem starts element i of an array field (opening the array at 0),
// followed by prefix.
func (o *jsonObject) elem(i int, prefix string) {
	if i == 0 {
		o.dst = append(o.dst, '[')
	} else {
		o.dst = append(o.dst, ',')
	}
	o.dst = append(o.dst, prefix...)
}

func (o *jsonObject) optString(key, v string) {
	if v != "" {
		o.field(key)
		o.dst = appendJSONString(o.dst, v)
	}
}

func (o *jsonObject) optStrings(key string, v []string) {
	if len(v) > 0 {
		o.field(key)
		o.dst = appendStringArray(o.dst, v)
	}
}

func (o *jsonObject) close() []byte {
	if !o.open {
		o.dst = append(o.dst, '{')
	}
	return append(o.dst, '}')
}

// marshalFallback appends json.Marshal(v) to dst, or returns dst and its
// error: the rare values the fast path refuses get json.Marshal's own
// answer.
func marshalFallback(dst []byte, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, raw...), nil
}

// appendOptString appends key and s unless s is empty (omitempty).
func appendOptString(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendJSONString(dst, s)
}

// appendStringArray appends ss as a JSON array; a nil ss too is "[]", so
// callers handle null themselves.
func appendStringArray(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// appendJSONTime appends t quoted as time.Time.MarshalJSON does (RFC 3339
// with nanoseconds, trailing zeros trimmed). AppendText shares its
// formatting and its refusals (a year outside 0–9999, a zone offset of
// 24 hours or more); ok is false on those.
func appendJSONTime(dst []byte, t time.Time) (_ []byte, ok bool) {
	dst = append(dst, '"')
	out, err := t.AppendText(dst)
	if err != nil {
		return dst, false
	}
	return append(out, '"'), true
}

// htmlSafe[b] reports whether ASCII byte b is written as is by
// encoding/json with HTML escaping on (json.Marshal): not a control
// character, quote, backslash or one of < > &.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted and escaped exactly as json.Marshal
// writes a string: \" \\ \b \f \n \r \t, \u00XX for other control
// characters and for < > &, \ufffd for each byte of invalid UTF-8, and
// \u2028 \u2029 escaped for JSONP.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decodeBatchJSON is json.Unmarshal(data, b) for a zero b. Batches in the
// exact form json.Marshal writes (keys in field order, no whitespace, no
// users) are read by a strict scanner; anything else, or anything the
// scanner is unsure of, goes to json.Unmarshal, so results never differ.
// Every Redis instance decodes the batches other instances commit.
func decodeBatchJSON(data []byte, b *Batch) error {
	if fast, ok := scanBatchJSON(data); ok {
		*b = fast
		return nil
	}
	return json.Unmarshal(data, b)
}

// scanBatchJSON reads a canonical batch; ok is false for anything else.
func scanBatchJSON(data []byte) (b Batch, ok bool) {
	r := jsonReader{data: data, ok: true}
	r.batch(&b)
	return b, r.end()
}

// decodeContactJSON is json.Unmarshal(data, c) for a zero c, the same way.
func decodeContactJSON(data []byte, c *Contact) error {
	if fast, ok := scanContactJSON(data); ok {
		*c = fast
		return nil
	}
	return json.Unmarshal(data, c)
}

// scanContactJSON reads a canonical contact; ok is false for anything
// else.
func scanContactJSON(data []byte) (c Contact, ok bool) {
	r := jsonReader{data: data, ok: true}
	r.contact(&c)
	return c, r.end()
}

// decodeStored is json.Unmarshal(data, v) for a zero v, contacts
// through decodeContactJSON.
func decodeStored[T any](data []byte, v *T) error {
	if c, ok := any(v).(*Contact); ok {
		return decodeContactJSON(data, c)
	}
	return json.Unmarshal(data, v)
}

// jsonReader scans the canonical JSON of the stored types. Its methods
// do nothing once ok is false: the first byte out of the expected form
// gives up.
type jsonReader struct {
	data []byte
	pos  int
	ok   bool
}

// end reports whether everything was read in the canonical form.
func (r *jsonReader) end() bool { return r.ok && r.pos == len(r.data) }

// lit consumes s or gives up.
func (r *jsonReader) lit(s string) {
	if r.ok && !r.opt(s) {
		r.ok = false
	}
}

// opt consumes s if the input continues with it.
func (r *jsonReader) opt(s string) bool {
	if r.ok && len(r.data)-r.pos >= len(s) && string(r.data[r.pos:r.pos+len(s)]) == s {
		r.pos += len(s)
		return true
	}
	return false
}

// key consumes the key of a field that may be the first of its object:
// with a leading comma unless first.
func (r *jsonReader) key(first *bool, key string) bool {
	if !r.ok || r.pos >= len(r.data) {
		return false
	}
	if !*first {
		if r.data[r.pos] != ',' {
			return false
		}
		r.pos++
		if !r.opt(key) {
			r.pos--
			return false
		}
		return true
	}
	if r.opt(key) {
		*first = false
		return true
	}
	return false
}

// str reads a JSON string into a new string, never one sharing data's
// memory: bolt's values are its mmap, valid only in the transaction. Raw
// bytes must be valid UTF-8 (json.Unmarshal would replace invalid ones)
// and escaped UTF-16 surrogates give up (json.Unmarshal pairs them).
func (r *jsonReader) str() string {
	if !r.ok || r.pos >= len(r.data) || r.data[r.pos] != '"' {
		r.ok = false
		return ""
	}
	start := r.pos + 1
	for i := start; i < len(r.data); {
		switch c := r.data[i]; {
		case c == '"':
			r.pos = i + 1
			return string(r.data[start:i])
		case c == '\\':
			return r.unescape(start, i)
		case c < 0x20:
			r.ok = false
			return ""
		case c < utf8.RuneSelf:
			i++
		default:
			cr, size := utf8.DecodeRune(r.data[i:])
			if cr == utf8.RuneError && size == 1 {
				r.ok = false
				return ""
			}
			i += size
		}
	}
	r.ok = false
	return ""
}

// strOf is str returning the member of known equal to the string
// without allocating: kinds and phone types, shared by every contact.
func (r *jsonReader) strOf(known []string) string {
	if r.ok && r.pos < len(r.data) && r.data[r.pos] == '"' {
		for _, k := range known {
			end := r.pos + 1 + len(k)
			if end < len(r.data) && r.data[end] == '"' && string(r.data[r.pos+1:end]) == k {
				r.pos = end + 1
				return k
			}
		}
	}
	return r.str()
}

var (
	knownKinds      = []string{string(KindCompany), string(KindPersonal), string(KindTeam)}
	knownPhoneTypes = []string{string(PhoneWork), string(PhoneMobile), string(PhoneHome), string(PhoneFax), string(PhoneOther)}
)

// unescape reads the rest of a string from its first backslash at i.
func (r *jsonReader) unescape(start, i int) string {
	buf := make([]byte, 0, i-start+16)
	buf = append(buf, r.data[start:i]...)
	for i < len(r.data) {
		c := r.data[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return string(buf)
		case c == '\\':
			if i+1 >= len(r.data) {
				r.ok = false
				return ""
			}
			e := r.data[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				if i+4 > len(r.data) {
					r.ok = false
					return ""
				}
				var cr rune
				for _, h := range r.data[i : i+4] {
					switch {
					case '0' <= h && h <= '9':
						cr = cr<<4 | rune(h-'0')
					case 'a' <= h && h <= 'f':
						cr = cr<<4 | rune(h-'a'+10)
					case 'A' <= h && h <= 'F':
						cr = cr<<4 | rune(h-'A'+10)
					default:
						r.ok = false
						return ""
					}
				}
				if utf16.IsSurrogate(cr) {
					r.ok = false
					return ""
				}
				buf = utf8.AppendRune(buf, cr)
				i += 4
			default:
				r.ok = false
				return ""
			}
		case c < 0x20:
			r.ok = false
			return ""
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			cr, size := utf8.DecodeRune(r.data[i:])
			if cr == utf8.RuneError && size == 1 {
				r.ok = false
				return ""
			}
			buf = append(buf, r.data[i:i+size]...)
			i += size
		}
	}
	r.ok = false
	return ""
}

// uint reads a JSON number that is a uint64 without sign, fraction,
// exponent or leading zero.
func (r *jsonReader) uint() uint64 {
	if !r.ok {
		return 0
	}
	start := r.pos
	var n uint64
	for r.pos < len(r.data) && '0' <= r.data[r.pos] && r.data[r.pos] <= '9' {
		d := uint64(r.data[r.pos] - '0')
		if n > (math.MaxUint64-d)/10 {
			r.ok = false
			return 0
		}
		n = n*10 + d
		r.pos++
	}
	if r.pos == start || (r.data[start] == '0' && r.pos-start > 1) ||
		(r.pos < len(r.data) && (r.data[r.pos] == '.' || r.data[r.pos] == 'e' || r.data[r.pos] == 'E')) {
		r.ok = false
	}
	return n
}

// time reads a quoted time as time.Time.UnmarshalJSON does: the bytes
// between the quotes, unescaped (so a backslash gives up), parsed by
// UnmarshalText's strict RFC 3339.
func (r *jsonReader) time() time.Time {
	var t time.Time
	if !r.ok || r.pos >= len(r.data) || r.data[r.pos] != '"' {
		r.ok = false
		return t
	}
	end := bytes.IndexByte(r.data[r.pos+1:], '"')
	if end < 0 {
		r.ok = false
		return t
	}
	raw := r.data[r.pos+1 : r.pos+1+end]
	for _, c := range raw {
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			r.ok = false
			return t
		}
	}
	if t.UnmarshalText(raw) != nil {
		r.ok = false
		return t
	}
	r.pos += end + 2
	return t
}

// strings reads a JSON array of strings; [] is an empty, non-nil slice
// as json.Unmarshal makes it.
func (r *jsonReader) strings() []string {
	r.lit("[")
	out := []string{}
	if r.opt("]") {
		return out
	}
	for r.ok {
		out = append(out, r.str())
		if !r.opt(",") {
			break
		}
	}
	r.lit("]")
	return out
}

func (r *jsonReader) contact(c *Contact) {
	r.lit(`{"id":`)
	c.ID = r.str()
	r.lit(`,"kind":`)
	c.Kind = Kind(r.strOf(knownKinds))
	for _, f := range [...]struct {
		key string
		dst *string
	}{
		{`,"owner":`, &c.Owner}, {`,"domain":`, &c.Domain}, {`,"first_name":`, &c.FirstName},
		{`,"last_name":`, &c.LastName}, {`,"company":`, &c.Company}, {`,"department":`, &c.Department},
		{`,"job_title":`, &c.JobTitle},
	} {
		if r.opt(f.key) {
			*f.dst = r.str()
		}
	}
	if r.opt(`,"phones":[`) {
		// omitempty: a canonical list is never empty.
		r.each(func() {
			var p Phone
			r.lit(`{"type":`)
			p.Type = PhoneType(r.strOf(knownPhoneTypes))
			r.lit(`,"number":`)
			p.Number = r.str()
			r.lit("}")
			c.Phones = append(c.Phones, p)
		})
	}
	if r.opt(`,"emails":`) {
		if c.Emails = r.strings(); len(c.Emails) == 0 {
			r.ok = false
		}
	}
	r.lit(`,"address":{`)
	first := true
	for _, f := range [...]struct {
		key string
		dst *string
	}{
		{`"street":`, &c.Address.Street}, {`"city":`, &c.Address.City}, {`"region":`, &c.Address.Region},
		{`"postal_code":`, &c.Address.PostalCode}, {`"country":`, &c.Address.Country},
	} {
		if r.key(&first, f.key) {
			*f.dst = r.str()
		}
	}
	r.lit("}")
	if r.opt(`,"notes":`) {
		c.Notes = r.str()
	}
	r.lit(`,"created":`)
	c.Created = r.time()
	r.lit(`,"updated":`)
	c.Updated = r.time()
	r.lit(`,"version":`)
	c.Version = r.uint()
	r.lit("}")
}

// each reads the elements of an array, whose "[" is read, with elem,
// and its "]".
func (r *jsonReader) each(elem func()) {
	for r.ok {
		elem()
		if !r.opt(",") {
			break
		}
	}
	r.lit("]")
}

func (r *jsonReader) batch(b *Batch) {
	r.lit("{")
	first := true
	if r.key(&first, `"contacts":[`) {
		r.each(func() {
			var w ContactWrite
			r.lit(`{"contact":`)
			r.contact(&w.Contact)
			if r.opt(`,"expected":`) {
				w.Expected = r.uint()
			}
			r.lit("}")
			b.Contacts = append(b.Contacts, w)
		})
	}
	if r.key(&first, `"delete_contacts":[`) {
		r.each(func() {
			var d ContactDelete
			r.lit(`{"id":`)
			d.ID = r.str()
			if r.opt(`,"expected":`) {
				d.Expected = r.uint()
			}
			r.lit("}")
			b.DeleteContacts = append(b.DeleteContacts, d)
		})
	}
	if r.key(&first, `"users":`) {
		r.ok = false // left to json.Unmarshal
		return
	}
	if r.key(&first, `"delete_users":`) {
		b.DeleteUsers = r.strings()
	}
	if r.key(&first, `"marks":[`) {
		r.each(func() {
			var m Mark
			r.lit(`{"owner":`)
			m.Owner = r.str()
			r.lit(`,"contact_id":`)
			m.ContactID = r.str()
			r.lit(`,"groups":`)
			if !r.opt("null") {
				m.Groups = r.strings()
			}
			r.lit("}")
			b.Marks = append(b.Marks, m)
		})
	}
	if r.key(&first, `"groups":[`) {
		r.each(func() {
			var g Group
			r.lit(`{"id":`)
			g.ID = r.str()
			r.lit(`,"name":`)
			g.Name = r.str()
			if r.opt(`,"owner":`) {
				g.Owner = r.str()
			}
			if r.opt(`,"domain":`) {
				g.Domain = r.str()
			}
			g.Builtin = r.opt(`,"builtin":true`)
			r.lit("}")
			b.Groups = append(b.Groups, g)
		})
	}
	if r.key(&first, `"delete_groups":`) {
		b.DeleteGroups = r.strings()
	}
	if r.key(&first, `"keys":`) {
		b.Keys = r.strings()
	}
	if r.key(&first, `"actor":`) {
		b.Actor = r.str()
	}
	if r.key(&first, `"origin":`) {
		b.Origin = r.str()
	}
	r.lit("}")
}
