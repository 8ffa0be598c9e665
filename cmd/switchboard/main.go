// Command switchboard runs the Switchboard presence and directory sidecar.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	slogzerolog "github.com/samber/slog-zerolog/v2"
	"golang.org/x/sync/errgroup"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/api"
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/events"
	"github.com/switchboardhq/switchboard/instance"
	"github.com/switchboardhq/switchboard/lease"
	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip"
	"github.com/switchboardhq/switchboard/sip/watcher"
	"github.com/switchboardhq/switchboard/web"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

// listeners are the sockets, bound before anything serves.
type listeners struct {
	sip  sip.Listeners
	http net.Listener
}

func (l listeners) close() {
	if l.sip.UDP != nil {
		l.sip.UDP.Close()
	}
	for _, c := range []net.Listener{l.sip.TCP, l.sip.TLS, l.http} {
		if c != nil {
			c.Close()
		}
	}
}

// bind binds every socket; with certs set, SIP over TLS and optionally the
// HTTP API speak TLS with certificates the reloader can swap.
func bind(cfg config, certs *sip.CertReloader) (listeners, error) {
	var l listeners
	var err error
	fail := func(what, addr string, err error) (listeners, error) {
		l.close()
		return listeners{}, fmt.Errorf("listen %s %s: %w", what, addr, err)
	}
	if l.sip.UDP, err = net.ListenPacket("udp", cfg.SIPListen); err != nil {
		return fail("sip udp", cfg.SIPListen, err)
	}
	if u, ok := l.sip.UDP.(*net.UDPConn); ok {
		// One reader drains the socket; a deep buffer rides out bursts
		// (a PBX restart re-registering every phone) instead of dropping.
		_ = u.SetReadBuffer(4 << 20)
		_ = u.SetWriteBuffer(4 << 20)
	}
	if l.sip.TCP, err = net.Listen("tcp", cfg.SIPListen); err != nil {
		return fail("sip tcp", cfg.SIPListen, err)
	}
	if certs != nil {
		if l.sip.TLS, err = tls.Listen("tcp", cfg.SIPSListen, certs.TLSConfig()); err != nil {
			return fail("sip tls", cfg.SIPSListen, err)
		}
	}
	if l.http, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
		return fail("http", cfg.HTTPListen, err)
	}
	if cfg.HTTPTLS {
		l.http = tls.NewListener(l.http, certs.TLSConfig())
	}
	return l, nil
}

// run wires Switchboard together and serves until the first SIGINT or
// SIGTERM, which drains; a second signal stops at once.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "keys" {
		return runKeys(ctx, args[1:], getenv, os.Stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	pre, err := prepare(ctx, cfg)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if cfg.CheckConfig {
		fmt.Fprintln(stderr, "configuration ok")
		return nil
	}
	// Who this process is, before anything logs or names itself.
	id, err := instance.Open(cfg.DataDir, cfg.InstanceID)
	if err != nil {
		return err
	}
	defer id.Close()
	cfg.InstanceID = id.ID
	log := newLogger(cfg, stderr).With().Str("instance", cfg.InstanceID).Logger()
	// sipgo logs through slog: route it into zerolog once, before NewUA.
	// The slog level must be set too: sipgo logs every message at debug,
	// and a handler that is Enabled for debug formats each one (13% of the
	// CPU under load) only for zerolog to drop it.
	sipLog := log.With().Str("component", "sipgo").Logger().Level(max(zerolog.WarnLevel, log.GetLevel()))
	sipLevel := slog.LevelWarn
	if sipLog.GetLevel() >= zerolog.ErrorLevel {
		sipLevel = slog.LevelError
	}
	sipmsg.SetDefaultLogger(slog.New(slogzerolog.Option{Logger: &sipLog, Level: sipLevel}.NewZerologHandler()))
	sipmsg.UDPMTUSize = 65535 // RFC 3261 §18.1.1 maximum datagram; sip decides what may go over UDP

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go exitOnSecondSignal(ctx, stop, log)

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	certs := pre.certs
	ln, err := bind(cfg, certs)
	if err != nil {
		return err
	}

	// The bus outlives the servers, so the last changes still go out while
	// they drain; it stops after them.
	busCtx, stopBus := context.WithCancel(context.Background())
	defer stopBus()
	natsURL := cfg.NATSURL
	natsOpts := []nats.Option{nats.NoEcho()}
	if natsURL == "" {
		var srv *natsserver.Server
		srv, natsURL, err = events.RunEmbedded(busCtx, filepath.Join(cfg.DataDir, "nats"), log)
		if err != nil {
			return fmt.Errorf("start embedded nats: %w", err)
		}
		// Our own connection to the embedded server is a pipe, not TCP
		// over loopback: every presence and call event crosses it, and
		// the kernel's TCP path was a seventh of a PUBLISH's CPU.
		natsOpts = append(natsOpts, nats.InProcessServer(srv))
	}
	nc, err := events.Connect(ctx, natsURL, "switchboard-"+cfg.InstanceID, log, natsOpts...)
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer nc.Close()
	bus := events.New(nc, cfg.InstanceID, log)

	ready := map[string]func(context.Context) error{
		"nats": func(context.Context) error {
			if h := bus.Health(); h != events.HealthConnected {
				return fmt.Errorf("nats %s", h)
			}
			return nil
		},
	}
	var store presence.Store = presence.NewMemStore()
	var redisStore *presence.RedisStore
	var rdb *redis.Client // the one client of the process
	var claim *lease.Claim
	if cfg.RedisURL != "" {
		if rdb, err = openRedis(cfg.RedisURL); err != nil {
			return err
		}
		defer rdb.Close()
		if claim, err = claimInstance(ctx, rdb, id, log); err != nil {
			return err
		}
		defer releaseClaim(claim, log)
		redisStore = presence.NewRedisStore(rdb, presencePrefix)
		store = redisStore
		ready["redis"] = redisStore.Ping
	}
	storeHist := newStoreHistogram()
	core := presence.New(presence.Config{MaxBindings: 10}, timedStore{Store: store, hist: storeHist}, log)

	ds, err := openDirectoryStore(cfg.DataDir, rdb)
	if err != nil {
		return err
	}
	defer ds.close()
	dir, err := directory.New(ctx, ds.store, directory.Config{Domains: cfg.Domains, MaxContactsPerUser: cfg.MaxContactsPerUser}, log)
	if err != nil {
		return fmt.Errorf("load directory: %w", err)
	}
	history, callNames, closeCalls, err := openCalls(cfg, rdb, log)
	if err != nil {
		return err
	}
	defer closeCalls()
	dir.OnChange(func(ev directory.ChangeEvent) {
		forgetDeletedUser(history, ev)
		if !ev.Local {
			return // the instance that wrote it publishes it
		}
		if err := bus.PublishContact(context.Background(), contactEvent(ev)); err != nil {
			log.Warn().Err(err).Str("contact", ev.Contact.ID).Msg("publish contact event")
		}
	})

	deps := sip.Deps{Core: reportingCore{Service: core, history: history}, Policy: pre.policy, Lists: blfLists{dir: dir}}
	var refreshAuth func(context.Context) error // shares nonce secrets; nil when none to share
	if cfg.SIPAuth {
		deps.Auth, refreshAuth = newSIPAuth(ctx, cfg, dir, rdb, log)
	}
	if redisStore != nil {
		deps.Subscriptions = redisStore.Watchers(cfg.InstanceID)
	}
	edge, err := sip.New(sip.Config{
		Domains: cfg.Domains, SingleDialog: cfg.SingleDialog, EventListBatch: cfg.EventListBatch,
		TrustedCIDRs: cfg.TrustedCIDRs, RateLimit: cfg.RateLimit,
		TCPIdleTimeout: offIfZero(cfg.SIPTCPIdleTimeout), MaxConnsPerSource: offIfZero(cfg.SIPMaxConnsPerSource),
		MaxInFlight:               offIfZero(cfg.SIPMaxInFlight),
		MaxSubscriptionsPerTarget: cfg.MaxSubsPerTarget, MaxSubscriptionsPerWatcher: cfg.MaxSubsPerWatcher,
		PublishMaxExpires: cfg.PublishMaxExpires,
	}, deps, log)
	if err != nil {
		return err
	}
	var pbxWatcher *watcher.Watcher
	if cfg.PBX != "" {
		if len(cfg.PBXExtensions) == 1 && cfg.PBXExtensions[0] == "all" {
			if cfg.PBXExtensions, err = provisionedExtensions(ctx, dir, cfg.Domains[0]); err != nil {
				return err
			}
		}
		if pbxWatcher, err = newWatcher(cfg, edge, reportingCore{Service: core, history: history}, rdb, log); err != nil {
			return err
		}
		edge.SetNotifyHandler(pbxWatcher)
	}
	ready["sip"] = func(context.Context) error {
		if edge.Draining() {
			return errors.New("draining")
		}
		return nil
	}

	cal, closeCal, err := newCalendar(cfg, rdb, core, log)
	if err != nil {
		return err
	}
	defer closeCal()
	dir.AddChangeObserver(func(ev directory.ChangeEvent) { forgetCalendar(cal, ev, log) })

	keys := accounts.NewKeys(ds.keys)
	// A revocation goes through the directory's change log, so every
	// instance drops the key from its cache at once.
	keys.AnnounceChanges(dir.KeyChanged)
	dir.OnKeyChange(keys.Forget)
	if err := bootstrapKey(ctx, keys, cfg.BootstrapKeyFile, stderr, log); err != nil {
		return err
	}
	apiSrv := api.New(api.Deps{
		Presence:      core,
		Directory:     dir,
		Keys:          keys,
		Domains:       cfg.Domains,
		StreamsPerKey: cfg.SSEPerKey,
		SessionTTL:    cfg.SessionTTL,
		Ready:         checkAll(ready),
		Subscriptions: edge, // the user-delete report counts SIP subscriptions
		NATSURL:       redactURL(natsURL),
		Metrics:       promhttp.HandlerFor(newMetrics(edge, bus, storeHist), promhttp.HandlerOpts{}),
		Calendar:      cal,
		WatchPolicy:   calendarPolicy(deps.Policy),
		App:           web.Handler(),
	}, log)
	// The caller-ID index follows every contact change; build it after
	// the event observer is set (the directory keeps the first observer).
	lookup, err := callerid.New(ctx, dir, cfg.lookupConfig(), log)
	if err != nil {
		return fmt.Errorf("index caller-id numbers: %w", err)
	}
	apiSrv.SetCallerID(lookup)
	c2c, stopC2C, err := wireClickToCall(busCtx, cfg, edge, core, apiSrv, bus, log)
	if err != nil {
		return err
	}
	defer stopC2C()
	ldapSrv, err := newLDAP(cfg, certs, dir, keys, log)
	if err != nil {
		return err
	}
	core.SetCallerResolver(callerNames{lookup: lookup, policy: cfg.CallerDisplay})
	callNames.lookup = lookup
	apiSrv.SetCalls(history)
	core.Watch(history.Changed)
	stopCalls, err := wireCallEvents(busCtx, history, bus, apiSrv, log)
	if err != nil {
		return fmt.Errorf("subscribe call events: %w", err)
	}
	defer stopCalls()
	br := &bridge{bus: bus, core: core, log: log.With().Str("component", "bridge").Logger()}
	core.Watch(edge.Changed)
	core.Watch(apiSrv.Watch)
	core.Watch(br.publish)
	stopEvents, err := bus.SubscribePresence(busCtx, "", br.consume)
	if err != nil {
		return fmt.Errorf("subscribe presence events: %w", err)
	}
	defer stopEvents()
	// After a NATS outage, changes from other instances may have been
	// missed: re-read the shared state for every subscriber.
	events.OnReconnect(nc, func() {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		edge.Resync(rctx)
	})

	var handler http.Handler = apiSrv
	if cfg.Pprof {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("/", apiSrv)
		handler = mux
	}
	httpSrv := apiSrv.HTTPServer(handler) // header, body and idle timeouts
	log.Info().Str("sip", ln.sip.UDP.LocalAddr().String()).Str("http", ln.http.Addr().String()).
		Strs("domains", cfg.Domains).Bool("redis", redisStore != nil).Str("nats", redactURL(natsURL)).Msg("switchboard started")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return core.Run(gctx) })
	g.Go(func() error { trimMemory(gctx, cfg.MemoryTrim); return nil })
	g.Go(func() error { return dir.Run(gctx) })
	g.Go(func() error { return cal.Run(gctx) })
	g.Go(func() error { return history.Run(gctx) })
	g.Go(func() error { return c2c.Run(gctx) })
	sipDone := make(chan struct{})
	g.Go(func() error {
		defer close(sipDone)
		return edge.ServeListeners(gctx, ln.sip, cfg.ShutdownGrace)
	})
	if pbxWatcher != nil {
		g.Go(func() error { return pbxWatcher.Run(gctx) })
	}
	if refreshAuth != nil {
		g.Go(func() error { return refreshAuth(gctx) })
	}
	if claim != nil {
		g.Go(func() error { return watchClaim(gctx, claim, cfg.InstanceID) })
	}
	if certs != nil {
		g.Go(func() error { reloadOnHangup(gctx, certs, log); return nil })
	}
	if ldapSrv != nil {
		g.Go(func() error { return ldapSrv.Run(gctx) })
	}
	g.Go(func() error {
		if err := httpSrv.Serve(ln.http); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info().Msg("shutting down")
		// /readyz says draining and event streams end while HTTP still
		// answers; the listener closes once the SIP edge has drained.
		apiSrv.Drain()
		<-sipDone
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return httpSrv.Shutdown(sctx)
	})
	err = g.Wait()
	log.Info().Msg("stopped")
	return err
}

// exitOnSecondSignal ends the process at once on a signal that arrives
// while draining.
func exitOnSecondSignal(ctx context.Context, stop func(), log zerolog.Logger) {
	<-ctx.Done()
	stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	log.Warn().Msg("second signal: exiting now")
	os.Exit(1)
}

// provisionedExtensions lists the team users of domain: what the watcher
// follows with --pbx-extensions all (read at start).
func provisionedExtensions(ctx context.Context, dir *directory.Service, domain string) ([]string, error) {
	users, err := dir.ListUsers(ctx, accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin}})
	if err != nil {
		return nil, fmt.Errorf("list provisioned users: %w", err)
	}
	var exts []string
	for _, u := range users {
		if strings.EqualFold(u.Domain, domain) {
			exts = append(exts, u.Extension)
		}
	}
	if len(exts) == 0 {
		return nil, fmt.Errorf("--pbx-extensions all: no users provisioned in %s", domain)
	}
	return exts, nil
}

// newWatcher subscribes to the PBX for the configured extensions, feeding
// the presence core; with Redis, instances share the work through leases.
func newWatcher(cfg config, edge *sip.Server, core watcher.Sink, rdb *redis.Client, log zerolog.Logger) (*watcher.Watcher, error) {
	host, port, err := contactAddr(cfg.SIPListen, cfg.PBX)
	if err != nil {
		return nil, err
	}
	wc := watcher.Config{
		PBX: cfg.PBX, Transport: cfg.PBXTransport, Domain: cfg.Domains[0], Extensions: cfg.PBXExtensions,
		Events: cfg.PBXEvents, Expires: cfg.PBXExpires, Username: cfg.PBXUser, Password: cfg.PBXPassword,
		ContactHost: host, ContactPort: port,
	}
	if rdb != nil {
		wc.Lease = lease.NewRedis(rdb, watchLeasePrefix, cfg.InstanceID)
	}
	if err := wc.Validate(); err != nil {
		return nil, fmt.Errorf("pbx watcher: %w", err)
	}
	return watcher.New(wc, edge.Client(), core, log), nil
}

// reloadOnHangup reloads the TLS certificate on every SIGHUP until ctx
// ends; a bad new certificate leaves the old one in use.
func reloadOnHangup(ctx context.Context, certs *sip.CertReloader, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := certs.Reload(); err != nil {
				log.Error().Err(err).Msg("reload tls certificate; keeping the old one")
				continue
			}
			log.Info().Msg("tls certificate reloaded")
		}
	}
}

func checkAll(checks map[string]func(context.Context) error) func(context.Context) map[string]error {
	return func(ctx context.Context) map[string]error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		out := make(map[string]error, len(checks))
		for name, check := range checks {
			out[name] = check(ctx)
		}
		return out
	}
}

func newLogger(cfg config, stderr io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	var w io.Writer = stderr
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}
