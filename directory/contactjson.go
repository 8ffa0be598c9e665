package directory

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// A hand-written JSON encoder for what the stores write on the import
// path: a bulk import stores every contact once (bolt, Redis) and, on
// Redis, once more inside its batch's change log entry, and
// encoding/json's reflection and allocations cost about 7 µs of the ~95
// µs of CPU an imported row takes.
//
// The output is byte-identical to json.Marshal's: the stores' existing
// records and every reader (json.Unmarshal, older instances, operators'
// scripts) see no difference. contactjson_test.go holds that to
// json.Marshal over random values filled by reflection, so a field added
// to one of these types and not here fails the test, and FuzzContactJSON
// keeps trying strings. User has no encoder here: users are written
// rarely and carry credentials, so they go through json.Marshal.

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
