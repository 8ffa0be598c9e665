package calendar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/switchboardhq/switchboard/presence"
)

// Run polls due feeds, at most Config.Workers at once, until ctx ends, and
// returns after every poll it started has. It first hands presence the
// busy time already stored, so a restart shows meetings at once.
func (s *Service) Run(ctx context.Context) error {
	s.resync(ctx)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards inflight
		inflight = map[presence.AOR]bool{}
	)
	defer wg.Wait()
	sem := make(chan struct{}, s.cfg.Workers)
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		due, err := s.store.Due(ctx, s.now(), 4*s.cfg.Workers)
		if err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("list due calendars")
		}
	dispatch:
		for _, aor := range due {
			mu.Lock()
			busy := inflight[aor]
			mu.Unlock()
			if busy {
				continue
			}
			select {
			case sem <- struct{}{}:
			default:
				break dispatch // all workers busy: the rest wait for the next tick
			}
			mu.Lock()
			inflight[aor] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(inflight, aor)
					mu.Unlock()
					<-sem
				}()
				s.pollLeased(ctx, aor)
			})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick:
		}
	}
}

// resync gives presence every stored feed's coming busy time.
func (s *Service) resync(ctx context.Context) {
	all, err := s.store.Due(ctx, time.Now().Add(100*365*24*time.Hour), 1<<20)
	if err != nil {
		s.log.Warn().Err(err).Msg("list calendars to resync presence")
		return
	}
	for _, aor := range all {
		f, err := s.store.Get(ctx, aor)
		if err != nil {
			continue
		}
		s.tellPresence(ctx, f)
	}
}

// pollLeased polls aor's feed if no other instance is doing so.
func (s *Service) pollLeased(ctx context.Context, aor presence.AOR) {
	if l := s.cfg.Lease; l != nil {
		// The lease outlives the longest poll, so it never lapses while
		// the holder still works on the feed.
		ok, err := l.Acquire(ctx, aor.String(), 2*s.cfg.Timeout+10*time.Second)
		if err != nil {
			s.log.Warn().Err(err).Str("aor", aor.String()).Msg("take calendar lease")
			return
		}
		if !ok {
			return
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := l.Release(rctx, aor.String()); err != nil {
				s.log.Warn().Err(err).Str("aor", aor.String()).Msg("release calendar lease")
			}
		}()
	}
	if err := s.Poll(ctx, aor); err != nil && !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
		s.log.Warn().Err(err).Str("aor", aor.String()).Msg("poll calendar")
	}
}

// errStale aborts storing a poll whose feed changed meanwhile.
var errStale = errors.New("calendar changed during poll")

// Poll reads aor's feed now if it is due, stores the result (the busy
// time, or the error for the user to see) and tells presence. A failed
// read leaves presence as it was. A feed another instance has just read
// (no longer due) is left alone.
func (s *Service) Poll(ctx context.Context, aor presence.AOR) error {
	f, err := s.store.Get(ctx, aor)
	if err != nil {
		return err
	}
	now := s.now()
	if f.Poll.Next.After(now) {
		return nil
	}
	from, to := now.Add(-s.cfg.Behind), now.Add(s.cfg.Ahead)
	// Busy was expanded for the window of its last full read: once half
	// of it has gone by, read the feed in full again even if unchanged.
	conditional := !f.Poll.To.IsZero() && f.Poll.To.After(now.Add(s.cfg.Ahead/2))
	res := s.fetcher.fetch(ctx, f, conditional, from, to)
	if res.err != nil {
		s.log.Info().Err(res.err).Str("aor", aor.String()).Str("feed", Redact(f.URL)).Msg("calendar feed unreadable")
	}
	gen := f.Gen
	f, err = s.store.Update(ctx, aor, func(cur *Feed, found bool) error {
		if !found || cur.Gen != gen {
			return errStale
		}
		p := &cur.Poll
		p.Attempted = now
		if res.err != nil {
			p.Error = res.err.Error()
			p.Failures++
			p.Next = now.Add(s.backoff(p.Failures))
			return nil
		}
		p.Error, p.Failures, p.Succeeded = "", 0, now
		p.Next = now.Add(s.cfg.Interval - s.cfg.Interval/10 + mrand.N(s.cfg.Interval/5+1))
		if !res.notModified {
			cur.Busy = res.busy
			p.From, p.To = from, to
			p.ETag, p.LastModified = res.etag, res.lastModified
		}
		return nil
	})
	if errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return err
	}
	if res.err == nil {
		s.tellPresence(ctx, f)
		// A Delete between our store update and the push above cleared
		// presence first: clear it again rather than leave its meetings.
		if _, err := s.store.Get(ctx, aor); errors.Is(err, ErrNotFound) {
			f.Busy = nil
			s.tellPresence(ctx, f)
		}
	}
	return nil
}

// tellPresence hands presence the coming part of f's busy time.
func (s *Service) tellPresence(ctx context.Context, f Feed) {
	now := s.now()
	busy := within(f.Busy, now, now.Add(s.cfg.PresenceAhead))
	if err := s.presence.SetCalendar(ctx, f.AOR, busy); err != nil && ctx.Err() == nil {
		s.log.Warn().Err(err).Str("aor", f.AOR.String()).Msg("set calendar presence")
	}
}

// backoff is the wait after n failures in a row, doubling, with jitter.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d - d/10 + mrand.N(d/5+1)
}

// fetcher reads feeds over HTTP.
type fetcher struct {
	client   *http.Client
	maxBytes int64
	loc      *time.Location
}

// errAddress reports a feed on an address the configuration refuses.
var errAddress = errors.New("address not allowed")

func newFetcher(cfg Config) *fetcher {
	d := &net.Dialer{Timeout: cfg.Timeout}
	if !cfg.AllowPrivate {
		// Checked on the address actually dialled, after DNS and on
		// every redirect, so neither a DNS answer nor a redirect can
		// point the poller at the local network.
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return errAddress
			}
			ip := ap.Addr().Unmap()
			if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() ||
				ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
				netip.MustParsePrefix("100.64.0.0/10").Contains(ip) {
				return errAddress
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would be dialled instead of the feed, escaping the check
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	return &fetcher{
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				return nil
			},
		},
		maxBytes: cfg.MaxBytes,
		loc:      cfg.Location,
	}
}

// result is one read of a feed. err is fit to show the user: it never
// carries the address.
type result struct {
	busy               []presence.Busy
	notModified        bool
	etag, lastModified string
	err                error
}

func (ft *fetcher) fetch(ctx context.Context, f Feed, conditional bool, from, to time.Time) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return result{err: errors.New("the address cannot be requested")}
	}
	req.Header.Set("Accept", "text/calendar, */*;q=0.5")
	req.Header.Set("User-Agent", "Switchboard-calendar/1")
	if conditional {
		if f.Poll.ETag != "" {
			req.Header.Set("If-None-Match", f.Poll.ETag)
		}
		if f.Poll.LastModified != "" {
			req.Header.Set("If-Modified-Since", f.Poll.LastModified)
		}
	}
	resp, err := ft.client.Do(req)
	if err != nil {
		return result{err: describe(err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		return result{notModified: true}
	case resp.StatusCode != http.StatusOK:
		return result{err: fmt.Errorf("the server answered HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, ft.maxBytes+1))
	if err != nil {
		return result{err: describe(err)}
	}
	if int64(len(body)) > ft.maxBytes {
		return result{err: fmt.Errorf("the feed is larger than %d bytes", ft.maxBytes)}
	}
	busy, err := ParseBusy(bytes.NewReader(body), from, to, ft.loc)
	if errors.Is(err, errTooComplex) {
		return result{err: errors.New("the feed has too many recurring events to expand")}
	}
	if err != nil {
		return result{err: errors.New("the feed is not iCalendar (text/calendar)")}
	}
	return result{busy: busy, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}
}

// describe says why a request failed without repeating its URL, which
// url.Error would.
func describe(err error) error {
	var ne net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errAddress):
		return errors.New("the address is on a private or local network, which is not allowed")
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return errors.New("the server did not answer in time")
	case errors.As(err, &dnsErr):
		return errors.New("the host name does not resolve")
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("the server refused the connection")
	}
	return errors.New("the server could not be reached")
}
