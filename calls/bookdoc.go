package calls

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// This file is the stored shape of a user's book. A call step must not
// cost more as the history grows, so the book is not one JSON document
// (decoded and re-encoded whole on every write) but a list of framed
// records, newest first, each with its start and ID in front of its JSON:
// a write walks the frames and splices bytes, and decodes (or encodes)
// only the record it adds or changes. It stays one document per user, so
// every Store keeps its one-key atomic update (instances sharing Redis
// still converge) and its TTL.
//
//	doc    = 0x01 uvarint(len(readAt)) readAt record*
//	record = uvarint(n) n×byte: started (unix ns, int64 big endian) uvarint(len(id)) id json(Call)
//
// readAt is time.MarshalBinary of the read marker, empty when never read.
// A document in the former shape (JSON, starting with '{') is still read,
// and the first write rewrites it in this one.

const bookV1 = 0x01

// bookDoc is a parsed document: its read marker and its framed records.
// Both alias the stored bytes.
type bookDoc struct {
	readAt []byte
	recs   []byte
}

// frame is one record of a bookDoc: recs[from:to] is the whole frame.
type frame struct {
	started  int64
	id, body []byte
	from, to int
}

// newer reports whether f sorts before (is newer than) c, as before does.
func (f *frame) newer(c *Call, cStarted int64) bool {
	if f.started != cStarted {
		return f.started > cStarted
	}
	return string(f.id) > c.ID
}

// frames walks recs.
type frames struct {
	recs []byte
	off  int
	f    frame
	err  error
}

func (it *frames) next() bool {
	if it.err != nil || it.off >= len(it.recs) {
		return false
	}
	n, k := binary.Uvarint(it.recs[it.off:])
	start := it.off + k
	if k <= 0 || n < 9 || uint64(len(it.recs)-start) < n {
		it.err = errors.New("corrupt call record frame")
		return false
	}
	p := it.recs[start : start+int(n)]
	idLen, k := binary.Uvarint(p[8:])
	if k <= 0 || uint64(len(p)-8-k) < idLen {
		it.err = errors.New("corrupt call record id")
		return false
	}
	id := 8 + k
	it.f = frame{started: int64(binary.BigEndian.Uint64(p)), id: p[id : id+int(idLen)], body: p[id+int(idLen):],
		from: it.off, to: start + int(n)}
	it.off = it.f.to
	return true
}

// appendFrame appends c's frame, its JSON being body.
func appendFrame(out []byte, c *Call, body []byte) []byte {
	var idLen [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(idLen[:], uint64(len(c.ID)))
	out = binary.AppendUvarint(out, uint64(8+k+len(c.ID)+len(body)))
	out = binary.BigEndian.AppendUint64(out, uint64(c.Started.UnixNano()))
	out = append(out, idLen[:k]...)
	out = append(out, c.ID...)
	return append(out, body...)
}

// appendHead appends the document header with read marker readAt.
func appendHead(out, readAt []byte) []byte {
	out = append(out, bookV1)
	out = binary.AppendUvarint(out, uint64(len(readAt)))
	return append(out, readAt...)
}

// parseBookDoc reads a stored book: nil is an empty one; the former JSON
// shape is converted.
func parseBookDoc(data []byte) (bookDoc, error) {
	if len(data) == 0 {
		return bookDoc{}, nil
	}
	if data[0] != bookV1 {
		var b book
		if err := json.Unmarshal(data, &b); err != nil {
			return bookDoc{}, err
		}
		enc, err := encodeBook(b)
		if err != nil {
			return bookDoc{}, err
		}
		data = enc
	}
	n, k := binary.Uvarint(data[1:])
	if k <= 0 || uint64(len(data)-1-k) < n {
		return bookDoc{}, errors.New("corrupt call book header")
	}
	off := 1 + k
	return bookDoc{readAt: data[off : off+int(n)], recs: data[off+int(n):]}, nil
}

// encodeBook is b in the stored shape (calls newest first, as kept).
func encodeBook(b book) ([]byte, error) {
	var readAt []byte
	if !b.ReadAt.IsZero() {
		var err error
		if readAt, err = b.ReadAt.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	out := appendHead(nil, readAt)
	for i := range b.Calls {
		body, err := json.Marshal(&b.Calls[i])
		if err != nil {
			return nil, err
		}
		out = appendFrame(out, &b.Calls[i], body)
	}
	return out, nil
}

// decodeBook decodes a whole stored book, for reads.
func decodeBook(data []byte) (book, error) {
	d, err := parseBookDoc(data)
	if err != nil {
		return book{}, err
	}
	var b book
	if len(d.readAt) > 0 {
		if err := b.ReadAt.UnmarshalBinary(d.readAt); err != nil {
			return book{}, err
		}
	}
	it := frames{recs: d.recs}
	for it.next() {
		var c Call
		if err := json.Unmarshal(it.f.body, &c); err != nil {
			return book{}, err
		}
		b.Calls = append(b.Calls, c)
	}
	return b, it.err
}

// updateBook runs fn on user's parsed book; fn returns the new document.
func (s *Service) updateBook(ctx context.Context, user string, fn func(d bookDoc) ([]byte, error)) error {
	key := userKey(user)
	return s.store.Update(ctx, key, s.cfg.Retention, func(old []byte) ([]byte, error) {
		d, err := parseBookDoc(old)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", key, err)
		}
		return fn(d)
	})
}

// findFrame finds the record id in d.
func findFrame(d bookDoc, id string) (frame, bool, error) {
	it := frames{recs: d.recs}
	for it.next() {
		if string(it.f.id) == id {
			return it.f, true, nil
		}
	}
	return frame{}, false, it.err
}

// patchRecord runs fn on user's record id, when there is one, and stores
// it if fn reports a change; it returns the record as stored after (zero
// when absent) and whether it changed. fn must not change ID or Started.
func (s *Service) patchRecord(ctx context.Context, user, id string, fn func(c *Call) bool) (Call, bool, error) {
	var c Call
	changed := false
	err := s.updateBook(ctx, user, func(d bookDoc) ([]byte, error) {
		c, changed = Call{}, false
		f, ok, err := findFrame(d, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errKeep
		}
		if err := json.Unmarshal(f.body, &c); err != nil {
			return nil, err
		}
		if !fn(&c) {
			return nil, errKeep
		}
		body, err := json.Marshal(&c)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, 16+len(d.readAt)+len(d.recs)+len(body))
		out = appendHead(out, d.readAt)
		out = append(out, d.recs[:f.from]...)
		out = appendFrame(out, &c, body)
		out = append(out, d.recs[f.to:]...)
		changed = true
		return out, nil
	})
	return c, changed, err
}
