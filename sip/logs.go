package sip

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// sipgoParseError is the message sipgo's UDP and TCP/TLS transports log,
// at error level with the whole raw text, for a message they cannot parse
// (sip/transport_udp.go parseAndHandle, transport_tcp.go parseStream).
const sipgoParseError = "failed to parse"

// maxExcerpt bounds how much of a malformed message is logged.
const maxExcerpt = 200

// malformedLog is the slog handler sipgo's transport layer logs through. A
// malformed message is the sender's fault, not ours, and one hostile
// source can send thousands a second with anything in them (terminal
// escapes, megabytes over TCP): so those records become a rate-limited
// warning with a short escaped excerpt and a counter, and every other
// record passes on unchanged.
type malformedLog struct {
	next slog.Handler
	r    *malformedReporter
}

var _ slog.Handler = (*malformedLog)(nil)

// malformedReporter logs and counts malformed messages for one Server.
type malformedReporter struct {
	log   zerolog.Logger // sampled
	count atomic.Uint64
}

func newMalformedReporter(log zerolog.Logger) *malformedReporter {
	return &malformedReporter{log: log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Minute})}
}

func (h *malformedLog) Enabled(ctx context.Context, l slog.Level) bool {
	// sipgo logs parse errors at error level: see them even when the
	// handler below is set to drop errors.
	return l >= slog.LevelError || h.next.Enabled(ctx, l)
}

func (h *malformedLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == sipgoParseError {
		h.r.report(r)
		return nil
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *malformedLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &malformedLog{next: h.next.WithAttrs(as), r: h.r}
}

func (h *malformedLog) WithGroup(name string) slog.Handler {
	return &malformedLog{next: h.next.WithGroup(name), r: h.r}
}

func (m *malformedReporter) report(r slog.Record) {
	m.count.Add(1)
	var data, reason string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "data":
			data = a.Value.String()
		case "error":
			reason = a.Value.String()
		}
		return true
	})
	m.log.Warn().Str("error", excerpt(reason)).Int("bytes", len(data)).Str("excerpt", excerpt(data)).
		Msg("malformed sip message dropped")
}

// excerpt is the start of s, escaped so that no control character or
// invalid UTF-8 reaches the log as is, in at most maxExcerpt bytes.
func excerpt(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case r != '\\' && strconv.IsPrint(r):
			piece = s[i : i+size]
		default:
			q := strconv.QuoteRune(r)
			piece = q[1 : len(q)-1]
		}
		if b.Len()+len(piece) > maxExcerpt {
			break
		}
		b.WriteString(piece)
		i += size
	}
	return b.String()
}
