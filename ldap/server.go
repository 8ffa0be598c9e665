package ldap

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/directory/phone"
)

// Defaults of Config's limits.
const (
	DefaultMaxResults  = 500
	DefaultTimeLimit   = 10 * time.Second
	DefaultConnTimeout = 15 * time.Second
)

// maxRequestBytes bounds one LDAP message; phones send a few hundred
// bytes, and the BER reader would otherwise accept up to 2 GiB.
const maxRequestBytes = 64 << 10

// searchPage is how many contacts one directory.Search call returns.
const searchPage = 500

// maxSearches bounds the searches running at once: gldap starts a
// goroutine per request, so a client pipelining thousands would otherwise
// run them all; beyond it searches answer busy.
const maxSearches = 64

// Config configures a Server.
type Config struct {
	// Listen is the plain LDAP address (StartTLS offered when TLS is
	// set); empty: none.
	Listen string
	// ListenTLS is the LDAPS address; it needs TLS. Empty: none.
	ListenTLS string
	// TLS carries the certificate (GetCertificate of the SIP reloader, so
	// SIGHUP reloads it here too); nil: no StartTLS, no LDAPS.
	TLS *tls.Config
	// Domains are the served SIP domains, one naming context each.
	Domains []string
	// Anonymous lists domains whose company contacts anonymous searches
	// may read; elsewhere an anonymous bind or search is refused.
	Anonymous []string
	// Region and DomainRegions decide how numbers are read, as for caller
	// ID (the --region and --domain-region flags).
	Region        string
	DomainRegions map[string]string
	// MaxResults caps the entries of one search, or of one page with the
	// paged results control; 0 means DefaultMaxResults.
	MaxResults int
	// TimeLimit caps the time of one search; 0 means DefaultTimeLimit.
	TimeLimit time.Duration
	// ConnTimeout is how long a connection may stay open; phones connect
	// per search. It also bounds how long shutdown waits for clients.
	// 0 means DefaultConnTimeout.
	ConnTimeout time.Duration
}

// searcher is the directory as this edge uses it.
type searcher interface {
	Search(ctx context.Context, p accounts.Principal, q directory.Query) (directory.Page, error)
}

// resolver turns an API key into its principal.
type resolver interface {
	Resolve(ctx context.Context, key string) (accounts.Principal, error)
}

var (
	_ searcher = (*directory.Service)(nil)
	_ resolver = (*accounts.Keys)(nil)
)

// Server answers LDAP binds and searches from the directory.
type Server struct {
	cfg     Config
	dir     searcher
	keys    resolver
	log     zerolog.Logger
	numbers map[string]*phone.Normalizer // by domain; "" the default region
	anon    map[string]bool
	running chan struct{} // a slot per search in progress, maxSearches
}

// New validates cfg and returns a Server.
func New(cfg Config, dir searcher, keys resolver, log zerolog.Logger) (*Server, error) {
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = DefaultMaxResults
	}
	if cfg.TimeLimit <= 0 {
		cfg.TimeLimit = DefaultTimeLimit
	}
	if cfg.ConnTimeout <= 0 {
		cfg.ConnTimeout = DefaultConnTimeout
	}
	var errs []error
	if cfg.ListenTLS != "" && cfg.TLS == nil {
		errs = append(errs, errors.New("ldaps needs a certificate"))
	}
	s := &Server{cfg: cfg, dir: dir, keys: keys, log: log, numbers: map[string]*phone.Normalizer{}, anon: map[string]bool{},
		running: make(chan struct{}, maxSearches)}
	for _, d := range cfg.Anonymous {
		d = strings.ToLower(strings.TrimSpace(d))
		if !slices.Contains(cfg.Domains, d) {
			errs = append(errs, fmt.Errorf("anonymous ldap domain %q is not served", d))
		}
		s.anon[d] = true
	}
	regions := map[string]string{"": cfg.Region}
	for d, r := range cfg.DomainRegions {
		regions[strings.ToLower(d)] = r
	}
	for d, r := range regions {
		n, err := phone.NewNormalizer(phone.Config{DefaultRegion: r})
		if err != nil {
			errs = append(errs, fmt.Errorf("ldap number region %q: %w", r, err))
			continue
		}
		s.numbers[d] = n
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Run serves the configured listeners until ctx ends, then closes them and
// waits for open connections (at most ConnTimeout).
//
// gldap binds its socket inside Run and takes no net.Listener, so a busy
// address is reported by Run, not before serving.
func (s *Server) Run(ctx context.Context) error {
	// A process-wide setting of the BER reader; nothing else here reads BER.
	ber.MaxPacketLengthBytes = maxRequestBytes
	type listener struct {
		addr string
		opts []gldap.Option
	}
	var ls []listener
	if s.cfg.Listen != "" {
		ls = append(ls, listener{addr: s.cfg.Listen})
	}
	if s.cfg.ListenTLS != "" {
		ls = append(ls, listener{addr: s.cfg.ListenTLS, opts: []gldap.Option{gldap.WithTLSConfig(s.cfg.TLS)}})
	}
	errc := make(chan error, len(ls))
	var wg sync.WaitGroup
	for _, l := range ls {
		srv, err := s.newGLDAP()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- s.serve(ctx, srv, l.addr, l.opts)
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// serve runs one gldap server until ctx ends.
func (s *Server) serve(ctx context.Context, srv *gldap.Server, addr string, opts []gldap.Option) error {
	runc := make(chan error, 1)
	go func() { runc <- srv.Run(addr, opts...) }()
	select {
	case err := <-runc:
		return fmt.Errorf("ldap on %s: %w", addr, err)
	case <-ctx.Done():
	}
	// Stop before Run has bound would leave the socket open.
	for !srv.Ready() {
		select {
		case err := <-runc:
			return fmt.Errorf("ldap on %s: %w", addr, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := srv.Stop(); err != nil {
		<-runc
		return fmt.Errorf("stop ldap on %s: %w", addr, err)
	}
	if err := <-runc; err != nil {
		return fmt.Errorf("ldap on %s: %w", addr, err)
	}
	return nil
}

// sessions holds the bind state of one gldap server's connections.
type sessions struct {
	mu     sync.Mutex // guards byConn
	byConn map[int]session
}

// session is a connection's bind state: the API key it bound with, or
// anonymous (key empty).
type session struct {
	key string
}

func (ss *sessions) get(id int) session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.byConn[id]
}

func (ss *sessions) set(id int, st session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.byConn[id] = st
}

func (ss *sessions) drop(id int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byConn, id)
}

func (s *Server) newGLDAP() (*gldap.Server, error) {
	ss := &sessions{byConn: map[int]session{}}
	hl := hclog.New(&hclog.LoggerOptions{Name: "ldap", Level: hclog.Error, Output: logWriter{s.log}})
	srv, err := gldap.NewServer(gldap.WithLogger(hl), gldap.WithReadTimeout(s.cfg.ConnTimeout),
		gldap.WithWriteTimeout(s.cfg.ConnTimeout), gldap.WithOnClose(ss.drop))
	if err != nil {
		return nil, fmt.Errorf("ldap server: %w", err)
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, fmt.Errorf("ldap router: %w", err)
	}
	errs := []error{
		mux.Bind(func(w *gldap.ResponseWriter, r *gldap.Request) { s.bind(w, r, ss) }),
		mux.Search(func(w *gldap.ResponseWriter, r *gldap.Request) { s.search(w, r, ss) }),
		mux.ExtendedOperation(s.startTLS, gldap.ExtendedOperationStartTLS),
		mux.Modify(refuse(gldap.ApplicationModifyResponse)),
		mux.Add(refuse(gldap.ApplicationAddResponse)),
		mux.Delete(refuse(gldap.ApplicationDelResponse)),
		mux.DefaultRoute(refuse(gldap.ApplicationExtendedResponse)),
		srv.Router(mux),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ldap routes: %w", err)
	}
	return srv, nil
}

// logWriter passes gldap's error lines to zerolog at debug: they are
// per-connection events (a phone hanging up, a read deadline), not faults.
type logWriter struct{ log zerolog.Logger }

func (l logWriter) Write(p []byte) (int, error) {
	l.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = logWriter{}

// refuse answers writes: the directory is read-only over LDAP.
func refuse(app int) gldap.HandlerFunc {
	return func(w *gldap.ResponseWriter, r *gldap.Request) {
		_ = w.Write(r.NewResponse(gldap.WithApplicationCode(app), gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
			gldap.WithDiagnosticMessage("read-only directory")))
	}
}

func (s *Server) startTLS(w *gldap.ResponseWriter, r *gldap.Request) {
	res := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	res.SetResponseName(gldap.ExtendedOperationStartTLS)
	if s.cfg.TLS == nil {
		res.SetResultCode(gldap.ResultProtocolError)
		res.SetDiagnosticMessage("no certificate configured")
		_ = w.Write(res)
		return
	}
	if err := w.Write(res); err != nil {
		return
	}
	// RFC 4511 §4.14.2: the handshake follows the success response.
	if err := r.StartTLS(s.cfg.TLS); err != nil {
		s.log.Debug().Err(err).Msg("ldap starttls handshake")
	}
}

// bind handles a simple bind: a user (ext@domain or its DN) or a domain
// with an API key as password, or an anonymous bind (RFC 4513 §5.1.1).
// A failed bind leaves the connection anonymous (RFC 4511 §4.2.1).
func (s *Server) bind(w *gldap.ResponseWriter, r *gldap.Request, ss *sessions) {
	reply := func(code int, msg string) {
		_ = w.Write(r.NewBindResponse(gldap.WithResponseCode(code), gldap.WithDiagnosticMessage(msg)))
	}
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		reply(gldap.ResultAuthMethodNotSupported, "simple bind only")
		return
	}
	ss.set(r.ConnectionID(), session{})
	name, pw := strings.TrimSpace(m.UserName), string(m.Password)
	switch {
	case pw == "" && name == "":
		if len(s.anon) == 0 {
			reply(gldap.ResultInappropriateAuthentication, "anonymous bind is not enabled")
			return
		}
		reply(gldap.ResultSuccess, "")
		return
	case pw == "":
		// RFC 4513 §5.1.2: a name without a password is an
		// unauthenticated bind, refused.
		reply(gldap.ResultUnwillingToPerform, "unauthenticated bind refused")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TimeLimit)
	defer cancel()
	p, err := s.keys.Resolve(ctx, pw)
	if errors.Is(err, directory.ErrNotFound) || (err == nil && !s.bindNameFits(name, p)) {
		reply(gldap.ResultInvalidCredentials, "")
		return
	}
	if err != nil {
		s.log.Error().Err(err).Msg("ldap bind: resolve key")
		reply(gldap.ResultUnavailable, "try again later")
		return
	}
	ss.set(r.ConnectionID(), session{key: pw})
	reply(gldap.ResultSuccess, "")
}

// bindNameFits reports whether name names what the key p acts as: the
// user, for a user key (201@pbx.example.com or
// uid=201[,ou=users],dc=pbx,dc=example,dc=com); the key's domain or its
// base DN for a tenant key; any served domain for an operator key.
func (s *Server) bindNameFits(name string, p accounts.Principal) bool {
	if p.User != "" {
		user, ok := userOfBindName(name)
		return ok && strings.EqualFold(user, p.User)
	}
	d, ok := s.domainOfName(name)
	return ok && p.InTenant(d)
}

// userOfBindName reads ext@domain from a bind name.
func userOfBindName(name string) (string, bool) {
	if !strings.Contains(name, "=") {
		ext, d, ok := strings.Cut(name, "@")
		return name, ok && ext != "" && d != ""
	}
	dn, err := goldap.ParseDN(name)
	if err != nil || len(dn.RDNs) < 2 {
		return "", false
	}
	first := dn.RDNs[0].Attributes
	if len(first) != 1 || !strings.EqualFold(first[0].Type, "uid") || first[0].Value == "" {
		return "", false
	}
	rest := dn.RDNs[1:]
	if a := rest[0].Attributes; len(a) == 1 && strings.EqualFold(a[0].Type, "ou") && strings.EqualFold(a[0].Value, "users") {
		rest = rest[1:]
	}
	d, ok := domainOfRDNs(rest)
	return first[0].Value + "@" + d, ok
}

// domainOfName reads a domain from a bind name: the domain itself or its
// base DN; it must be served.
func (s *Server) domainOfName(name string) (string, bool) {
	d := strings.ToLower(name)
	if strings.Contains(name, "=") {
		dn, err := goldap.ParseDN(name)
		if err != nil {
			return "", false
		}
		var ok bool
		if d, ok = domainOfRDNs(dn.RDNs); !ok {
			return "", false
		}
	}
	return d, slices.Contains(s.cfg.Domains, d)
}

// domainOfRDNs reads dc=pbx,dc=example,dc=com as pbx.example.com.
func domainOfRDNs(rdns []*goldap.RelativeDN) (string, bool) {
	if len(rdns) == 0 {
		return "", false
	}
	labels := make([]string, 0, len(rdns))
	for _, rdn := range rdns {
		if len(rdn.Attributes) != 1 || !strings.EqualFold(rdn.Attributes[0].Type, "dc") || rdn.Attributes[0].Value == "" {
			return "", false
		}
		labels = append(labels, strings.ToLower(rdn.Attributes[0].Value))
	}
	return strings.Join(labels, "."), true
}

// principalFor returns who a search by session st in domain acts as, or
// the LDAP result code refusing it.
func (s *Server) principalFor(ctx context.Context, st session, domain string) (accounts.Principal, int, string) {
	if st.key == "" {
		if s.anon[domain] {
			// The read-only company view: a principal with company:read
			// in domain, and no user, sees company contacts only.
			return accounts.Principal{Domain: domain, Scopes: []accounts.Scope{accounts.ScopeCompanyRead}}, gldap.ResultSuccess, ""
		}
		return accounts.Principal{}, gldap.ResultInsufficientAccessRights, "bind first"
	}
	p, err := s.keys.Resolve(ctx, st.key)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return p, gldap.ResultInvalidCredentials, "key revoked"
	case err != nil:
		s.log.Error().Err(err).Msg("ldap search: resolve key")
		return p, gldap.ResultUnavailable, "try again later"
	case !p.InTenant(domain):
		// Another tenant's naming context does not exist for p.
		return p, gldap.ResultNoSuchObject, ""
	}
	return p, gldap.ResultSuccess, ""
}

// pagingCookie is where a paged search resumes: the directory cursor of
// the Search page being read and how many of its items were consumed.
type pagingCookie struct {
	cursor string
	skip   int
}

func (c pagingCookie) encode() []byte {
	return []byte(base64.RawURLEncoding.EncodeToString([]byte(c.cursor + "\x00" + strconv.Itoa(c.skip))))
}

func decodeCookie(b []byte) (pagingCookie, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(string(b))
	if err != nil {
		return pagingCookie{}, false
	}
	cur, n, ok := bytes.Cut(raw, []byte{0})
	skip, err := strconv.Atoi(string(n))
	if !ok || err != nil || skip < 0 || skip > searchPage {
		return pagingCookie{}, false
	}
	return pagingCookie{cursor: string(cur), skip: skip}, true
}

func (s *Server) search(w *gldap.ResponseWriter, r *gldap.Request, ss *sessions) {
	done := func(code int, msg string, controls ...gldap.Control) {
		res := r.NewSearchDoneResponse(gldap.WithResponseCode(code), gldap.WithDiagnosticMessage(msg))
		if len(controls) > 0 {
			res.SetControls(controls...)
		}
		_ = w.Write(res)
	}
	select {
	case s.running <- struct{}{}:
		defer func() { <-s.running }()
	default:
		done(gldap.ResultBusy, "too many searches")
		return
	}
	m, err := r.GetSearchMessage()
	if err != nil {
		done(gldap.ResultProtocolError, "malformed search")
		return
	}
	st := ss.get(r.ConnectionID())
	if strings.TrimSpace(m.BaseDN) == "" {
		s.rootDSE(w, r, m, st)
		done(gldap.ResultSuccess, "")
		return
	}
	domain, ok := s.domainOfName(m.BaseDN)
	if !ok {
		done(gldap.ResultNoSuchObject, "")
		return
	}
	f, err := parseFilter(m.Filter)
	if err != nil {
		done(gldap.ResultProtocolError, err.Error())
		return
	}
	limit := s.cfg.TimeLimit
	if m.TimeLimit > 0 && time.Duration(m.TimeLimit)*time.Second < limit {
		limit = time.Duration(m.TimeLimit) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	p, code, msg := s.principalFor(ctx, st, domain)
	if code != gldap.ResultSuccess {
		done(code, msg)
		return
	}
	if m.Scope == gldap.BaseObject {
		// The naming context itself holds no contact.
		done(gldap.ResultSuccess, "")
		return
	}

	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if pc, ok := c.(*gldap.ControlPaging); ok {
			paging = pc
		}
	}
	max, start := s.cfg.MaxResults, pagingCookie{}
	if m.SizeLimit > 0 && int(m.SizeLimit) < max {
		max = int(m.SizeLimit)
	}
	if paging != nil {
		if len(paging.Cookie) > 0 {
			if start, ok = decodeCookie(paging.Cookie); !ok {
				done(gldap.ResultUnwillingToPerform, "bad paging cookie")
				return
			}
		}
		if paging.PagingSize == 0 {
			// RFC 2696 §3: size 0 abandons the paged search.
			done(gldap.ResultSuccess, "", &gldap.ControlPaging{})
			return
		}
		max = min(int(paging.PagingSize), s.cfg.MaxResults)
	}

	rest, more, err := s.find(ctx, p, domain, f, max, start, func(e *entry) error {
		attrs := e.selected(m.Attributes)
		if m.TypesOnly {
			for k := range attrs {
				attrs[k] = nil
			}
		}
		return w.Write(r.NewSearchResponseEntry(e.dn(), gldap.WithAttributes(attrs)))
	})
	switch {
	case errors.Is(err, directory.ErrForbidden):
		done(gldap.ResultInsufficientAccessRights, "this key may not read contacts")
	case ctx.Err() != nil:
		done(gldap.ResultTimeLimitExceeded, "")
	case errors.Is(err, errWrite):
		// The client is gone.
	case errors.As(err, new(*directory.FieldError)):
		// A cookie naming no directory position.
		done(gldap.ResultUnwillingToPerform, "bad paging cookie")
	case err != nil:
		s.log.Error().Err(err).Msg("ldap search")
		done(gldap.ResultOther, "search failed")
	case paging != nil && more:
		done(gldap.ResultSuccess, "", &gldap.ControlPaging{Cookie: rest.encode()})
	case paging != nil:
		done(gldap.ResultSuccess, "", &gldap.ControlPaging{})
	case more:
		done(gldap.ResultSizeLimitExceeded, "")
	default:
		done(gldap.ResultSuccess, "")
	}
}

// errWrite marks a failure to send an entry to the client.
var errWrite = errors.New("write entry")

// find passes emit the entries of the contacts p sees in domain that match
// f, from start on, at most max of them. more reports a further match,
// and rest is where it waits (the next page's cookie).
func (s *Server) find(ctx context.Context, p accounts.Principal, domain string, f *filter, max int, start pagingCookie, emit func(*entry) error) (rest pagingCookie, more bool, err error) {
	base := baseDN(domain)
	num := s.numberMatcher(domain)
	q := directory.Query{Text: f.hint(), Limit: searchPage, Cursor: start.cursor}
	skip, sent := start.skip, 0
	for {
		page, err := s.dir.Search(ctx, p, q)
		if err != nil {
			return rest, false, fmt.Errorf("search %s: %w", domain, err)
		}
		for i := skip; i < len(page.Items); i++ {
			c := &page.Items[i].Contact
			if contactDomain(c) != domain {
				continue
			}
			e := entryFor(c, base)
			if !f.match(e, num) {
				continue
			}
			if sent == max {
				return pagingCookie{cursor: q.Cursor, skip: i}, true, nil
			}
			if err := emit(e); err != nil {
				return rest, false, fmt.Errorf("%w: %w", errWrite, err)
			}
			sent++
		}
		if page.Next == "" {
			return rest, false, nil
		}
		q.Cursor, skip = page.Next, 0
	}
}

// rootDSE answers a base search of "" (RFC 4512 §5.1): what the server
// supports and, to a bound key, the naming contexts of its tenant.
func (s *Server) rootDSE(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage, st session) {
	if m.Scope != gldap.BaseObject {
		return
	}
	attrs := map[string][]string{
		"objectClass":          {"top"},
		"supportedLDAPVersion": {"3"},
		"supportedControl":     {gldap.ControlTypePaging},
	}
	if s.cfg.TLS != nil {
		attrs["supportedExtension"] = []string{string(gldap.ExtendedOperationStartTLS)}
	}
	var ctxs []string
	for _, d := range s.cfg.Domains {
		if st.key == "" && s.anon[d] {
			ctxs = append(ctxs, baseDN(d))
		}
	}
	if st.key != "" {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TimeLimit)
		defer cancel()
		if p, err := s.keys.Resolve(ctx, st.key); err == nil {
			for _, d := range s.cfg.Domains {
				if p.InTenant(d) {
					ctxs = append(ctxs, baseDN(d))
				}
			}
		}
	}
	if len(ctxs) > 0 {
		attrs["namingContexts"] = ctxs
	}
	_ = w.Write(r.NewSearchResponseEntry("", gldap.WithAttributes(attrs)))
}

// numberMatcher compares numbers as caller ID does: both parsed for the
// domain's region and equal when they share a key (E.164, national
// number, trailing digits, extension); unparsable ones compare digits.
func (s *Server) numberMatcher(domain string) numberMatcher {
	n := s.numbers[domain]
	if n == nil {
		n = s.numbers[""]
	}
	parsed := map[string][]string{} // the filter's values, parsed once per search
	keysOf := func(v string) []string {
		if ks, ok := parsed[v]; ok {
			return ks
		}
		var ks []string
		if num, err := n.Parse(v); err == nil {
			ks = num.Keys(n.MinTrailingDigits())
		}
		parsed[v] = ks
		return ks
	}
	digits := map[string]string{} // likewise
	return func(want, have string) bool {
		dw, ok := digits[want]
		if !ok {
			dw = digitsOf(want)
			digits[want] = dw
		}
		dh := digitsOf(have)
		if dw == "" || dh == "" {
			return false
		}
		if dw == dh {
			return true
		}
		// Every shared key implies equal last digits: skip parsing the
		// numbers that cannot match.
		k := min(4, len(dw), len(dh))
		if dw[len(dw)-k:] != dh[len(dh)-k:] {
			return false
		}
		kw := keysOf(want)
		hn, err := n.Parse(have)
		if err != nil {
			return false
		}
		for _, key := range hn.Keys(n.MinTrailingDigits()) {
			if slices.Contains(kw, key) {
				return true
			}
		}
		return false
	}
}
