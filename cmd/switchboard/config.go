package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/instance"
	"github.com/switchboardhq/switchboard/sip"
	"github.com/switchboardhq/switchboard/sip/watcher"
)

// config is everything switchboard can be told at start.
type config struct {
	SIPListen     string
	HTTPListen    string
	DataDir       string
	Domains       []string
	LogFormat     string
	LogLevel      string
	ShutdownGrace time.Duration
	SingleDialog  bool
	CheckConfig   bool
	RedisURL      string
	NATSURL       string
	InstanceID    string
	TrustedCIDRs  []netip.Prefix
	RateLimit     float64
	TLSCert       string
	TLSKey        string
	SIPSListen    string
	HTTPTLS       bool
	SIPAuth       bool
	PolicyFile    string
	Region        string
	DomainRegions map[string]string
	CallerPattern string
	CallerMaxLen  int
	// CallerDisplay is the per-domain policy for colleagues' view of a
	// call's other party (callerdisplay.go).
	CallerDisplay map[string]callerDisplay
	Pprof         bool
	// MemoryTrim is how often an idle process hands freed memory back.
	MemoryTrim time.Duration
	// SIPAuthAlgorithms are offered in this order, one challenge each.
	SIPAuthAlgorithms []string
	PBX               string
	PBXTransport      string
	PBXExtensions     []string
	PBXEvents         []string
	PBXExpires        time.Duration
	PBXUser           string
	PBXPassword       string
	// ClickToCall configures POST /v1/calls (click2call.go).
	ClickToCall clickToCallConfig

	// SIPAuthSecret keys digest nonces, the same on every instance; never
	// logged. Empty: shared through Redis, or random per process.
	SIPAuthSecret string
	// SIPTCPIdleTimeout closes quiet SIP TCP/TLS connections; 0 never.
	SIPTCPIdleTimeout time.Duration
	// PublishMaxExpires is the longest PUBLISH lifetime granted.
	PublishMaxExpires time.Duration
	// SIPMaxConnsPerSource caps SIP TCP/TLS connections per address; 0 none.
	SIPMaxConnsPerSource int
	// SIPMaxInFlight caps SIP requests handled at once; 0 none.
	SIPMaxInFlight int
	// MaxContactsPerUser bounds each user's personal contacts; -1: none.
	MaxContactsPerUser int
	// BootstrapKeyFile receives a fresh store's bootstrap key instead of
	// stderr.
	BootstrapKeyFile string
	// SSEPerKey caps the event streams one API key holds per instance.
	SSEPerKey int
	// SessionTTL is the absolute lifetime of a web app sign-in.
	SessionTTL time.Duration
	// MaxSubsPerTarget and MaxSubsPerWatcher cap SIP subscriptions per
	// watched extension and per watcher; -1: no cap.
	MaxSubsPerTarget  int
	MaxSubsPerWatcher int
	// LDAPListen and LDAPSListen serve the directory to desk phones
	// (ldap package); empty: off. LDAPAnonymous lists domains whose
	// company contacts anonymous LDAP searches may read.
	LDAPListen    string
	LDAPSListen   string
	LDAPAnonymous []string
	// CalendarInterval is how often users' calendar feeds are read.
	CalendarInterval time.Duration
	// CalendarAllowPrivate lets calendar feeds live on private addresses.
	CalendarAllowPrivate bool
	// CallsPerUser and CallsRetentionDays bound each user's call history.
	CallsPerUser, CallsRetentionDays int
	// EventListBatch gathers BLF list changes into one NOTIFY.
	EventListBatch time.Duration
}

// parseConfig reads flags, each with a SWITCHBOARD_* environment twin; a
// flag given on the command line wins over the environment.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	var domains, trusted, pbxExts, pbxEvents, algs, domainRegions string
	var callerDisplayFlag, ldapAnonymous string
	fs := flag.NewFlagSet("switchboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(fs, stderr) }
	fs.StringVar(&c.SIPListen, "sip-listen", ":5060", "SIP address, served on UDP and TCP")
	fs.StringVar(&c.HTTPListen, "http-listen", ":8080", "HTTP address for health, metrics and the API")
	fs.StringVar(&c.DataDir, "data-dir", "./switchboard-data", "directory for the embedded stores")
	fs.StringVar(&domains, "domain", "switchboard.local", "SIP domains served, comma-separated; the first is the default")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "time to send final NOTIFYs on shutdown")
	fs.BoolVar(&c.SingleDialog, "blf-single-dialog", false, "send only the most important call in dialog NOTIFYs")
	fs.DurationVar(&c.EventListBatch, "eventlist-batch", 200*time.Millisecond, "gather BLF list changes this long into one NOTIFY; 0 sends each at once")
	fs.BoolVar(&c.CheckConfig, "check-config", false, "validate the configuration and exit")
	fs.StringVar(&c.RedisURL, "redis", "", "Redis URL (redis://host:6379/0) for shared state; empty keeps state in process")
	fs.StringVar(&c.NATSURL, "nats", "", "NATS URL (nats://host:4222) for presence events; empty runs an embedded server")
	fs.StringVar(&trusted, "trusted-cidr", "", "PBX addresses (CIDRs, comma-separated) whose forwarded REGISTER and PUBLISH skip authentication and rate limits")
	fs.StringVar(&c.Region, "region", "US", "ISO 3166 region phone numbers are read in (national formats, trunk prefixes), e.g. FR, DE, GB")
	fs.StringVar(&domainRegions, "domain-region", "", "regions of tenants outside --region, e.g. berlin.example.com=DE,lyon.example.com=FR")
	fs.StringVar(&c.CallerPattern, "callerid-pattern", "{first} {last} ({company})", "how caller names are shown on phones: {first} {last} {company} {department}")
	fs.IntVar(&c.CallerMaxLen, "callerid-max-len", 24, "longest caller name sent to phones; longer ones are cut")
	fs.IntVar(&c.MaxContactsPerUser, "max-contacts-per-user", 10000, "personal contacts each user may keep; -1: no limit")
	fs.IntVar(&c.CallsPerUser, "calls-per-user", 500, "recent calls kept per user (the oldest go first)")
	fs.IntVar(&c.CallsRetentionDays, "calls-retention-days", 90, "days a call stays in its user's history")
	fs.StringVar(&callerDisplayFlag, "caller-display", "", "what colleagues' lamps, the presence API and events show of an extension's caller, per domain: name, number or hidden, e.g. a.example=name,b.example=hidden (a bare value sets the rest; default name)")
	fs.DurationVar(&c.MemoryTrim, "memory-trim", 10*time.Second, "when no garbage collection ran for this long, run one and return free memory to the system (after a burst of subscriptions); 0: never")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve Go profiles at /debug/pprof/ on the HTTP address (for diagnosis; keep it off the internet)")
	fs.StringVar(&c.PolicyFile, "presence-policy", "", "file of presence allow-list rules (who may watch whom); empty: every watcher of the domain")
	fs.BoolVar(&c.SIPAuth, "sip-auth", false, "challenge phones' REGISTER, SUBSCRIBE and PUBLISH with digest, against the SIP passwords set when provisioning users")
	// MD5 first: many desk phones answer the first challenge they see and
	// know no SHA-256 (RFC 8760 clients pick the best one they support).
	fs.StringVar(&algs, "sip-auth-algorithms", "MD5,SHA-256", "digest algorithms offered, in order of the challenges")
	fs.StringVar(&c.SIPAuthSecret, "sip-auth-secret", "", "secret (16+ bytes) keying digest nonces, the same on every instance behind a dispatcher (prefer the environment variable); empty: kept and rotated in Redis with --redis, else random per process")
	fs.Float64Var(&c.RateLimit, "rate-limit", 50, "SIP requests per second allowed per source address; -1 disables")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate for SIP over TLS and HTTPS; reloaded on SIGHUP")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.SIPSListen, "sips-listen", ":5061", "SIP over TLS address, served when --tls-cert is set")
	fs.BoolVar(&c.HTTPTLS, "http-tls", false, "serve the HTTP API over TLS with --tls-cert")
	fs.StringVar(&c.PBX, "pbx", "", "PBX address (host:port) to SUBSCRIBE to for extension state; empty: the PBX pushes")
	fs.StringVar(&c.PBXTransport, "pbx-transport", "udp", "transport towards the PBX: udp or tcp")
	fs.StringVar(&pbxExts, "pbx-extensions", "", "extensions to watch at the PBX, e.g. 200-299,301, or all provisioned users: all")
	fs.StringVar(&pbxEvents, "pbx-events", "dialog", "event packages to watch: dialog, presence, reg")
	fs.DurationVar(&c.PBXExpires, "pbx-expires", 600*time.Second, "lifetime asked for subscriptions to the PBX; refreshed at 80%, so also how soon a PBX restart is noticed")
	fs.StringVar(&c.PBXUser, "pbx-user", "", "digest user when the PBX challenges our SUBSCRIBEs")
	fs.StringVar(&c.PBXPassword, "pbx-password", "", "digest password for --pbx-user (prefer the environment variable)")
	c.ClickToCall.flags(fs)
	fs.StringVar(&c.InstanceID, "instance-id", "", "this instance's name, unique among instances sharing Redis and NATS; default: host name plus a random suffix, made on first start and kept in --data-dir")
	fs.DurationVar(&c.SIPTCPIdleTimeout, "sip-tcp-idle-timeout", 10*time.Minute, "close SIP TCP/TLS connections quiet this long (never a live subscription's); 0 never")
	fs.DurationVar(&c.PublishMaxExpires, "publish-max-expires", 2*time.Hour, "longest lifetime granted to a PUBLISH; a PBX asked for more refreshes within it (pua: before each grant runs out), so also how long a dead PBX's calls stay lit")
	fs.IntVar(&c.SIPMaxInFlight, "sip-max-in-flight", 2000, "SIP requests handled at once (beyond: UDP ones are dropped for the phone to retransmit, TCP/TLS ones get 503 with Retry-After; trusted CIDRs exempt); 0 no cap")
	fs.IntVar(&c.SIPMaxConnsPerSource, "sip-max-conns-per-source", 128, "SIP TCP/TLS connections one address may hold (trusted CIDRs exempt); 0 no cap")
	fs.StringVar(&c.BootstrapKeyFile, "bootstrap-key-file", "", "write a fresh store's one-time bootstrap admin key to this file (mode 0600) instead of printing it on stderr")
	fs.IntVar(&c.SSEPerKey, "sse-streams-per-key", 8, "event streams (GET /v1/presence/stream) one API key may hold open per instance; more answer 429")
	fs.DurationVar(&c.SessionTTL, "session-ttl", 12*time.Hour, "how long a web app sign-in lasts (absolute: using it does not extend it)")
	fs.IntVar(&c.MaxSubsPerTarget, "max-subs-per-target", 1000, "SIP subscriptions one extension may have (beyond: 403); -1 no cap")
	fs.IntVar(&c.MaxSubsPerWatcher, "max-subs-per-watcher", 200, "SIP subscriptions one watcher (From AOR) may hold (beyond: 403); -1 no cap")
	fs.StringVar(&c.LDAPListen, "ldap-listen", "", "read-only LDAP directory for desk phones (StartTLS with --tls-cert), e.g. :389; empty: off")
	fs.StringVar(&c.LDAPSListen, "ldaps-listen", "", "LDAP over TLS with --tls-cert, e.g. :636; empty: off")
	fs.StringVar(&ldapAnonymous, "ldap-anonymous", "", "domains whose company contacts anonymous LDAP searches may read, comma-separated; default none (binds only)")
	fs.DurationVar(&c.CalendarInterval, "calendar-interval", 5*time.Minute, "how often each user's calendar feed is read")
	fs.BoolVar(&c.CalendarAllowPrivate, "calendar-allow-private", false, "let calendar feeds live on loopback, private and link-local addresses (an on-premises Nextcloud); off, users cannot point Switchboard at its own network")

	// Environment first, so flags given explicitly override it.
	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		envErrs = append(envErrs, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	for _, d := range strings.Split(domains, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.Domains = append(c.Domains, strings.ToLower(d))
		}
	}
	// "all" passes as one extension; run expands it to the provisioned users.
	if exts, err := watcher.ParseExtensions(pbxExts); err != nil {
		envErrs = append(envErrs, fmt.Errorf("--pbx-extensions: %w", err))
	} else {
		c.PBXExtensions = exts
	}
	for _, e := range strings.Split(pbxEvents, ",") {
		if e = strings.TrimSpace(e); e != "" {
			c.PBXEvents = append(c.PBXEvents, e)
		}
	}
	c.DomainRegions = map[string]string{}
	for _, pair := range splitList(domainRegions) {
		d, r, ok := strings.Cut(pair, "=")
		if !ok || len(strings.TrimSpace(r)) != 2 {
			envErrs = append(envErrs, fmt.Errorf("--domain-region %q: want domain=REGION", pair))
			continue
		}
		c.DomainRegions[strings.ToLower(strings.TrimSpace(d))] = strings.ToUpper(strings.TrimSpace(r))
	}
	for _, d := range splitList(ldapAnonymous) {
		c.LDAPAnonymous = append(c.LDAPAnonymous, strings.ToLower(d))
	}
	if cd, err := parseCallerDisplay(callerDisplayFlag, c.Domains); err != nil {
		envErrs = append(envErrs, err)
	} else {
		c.CallerDisplay = cd
	}
	for _, a := range strings.Split(algs, ",") {
		switch a = strings.TrimSpace(a); a {
		case "":
		case "MD5", "SHA-256":
			c.SIPAuthAlgorithms = append(c.SIPAuthAlgorithms, a)
		default:
			envErrs = append(envErrs, fmt.Errorf("--sip-auth-algorithms: unknown %q (MD5, SHA-256)", a))
		}
	}
	for _, cidr := range strings.Split(trusted, ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			if a, aerr := netip.ParseAddr(cidr); aerr == nil {
				p, err = a.Prefix(a.BitLen())
			}
		}
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("--trusted-cidr %q: %w", cidr, err))
			continue
		}
		c.TrustedCIDRs = append(c.TrustedCIDRs, p.Masked())
	}
	return c, errors.Join(append(envErrs, c.validate())...)
}

// validate reports every problem at once.
func (c config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.SIPListen); err != nil {
		errs = append(errs, fmt.Errorf("--sip-listen %q: %w", c.SIPListen, err))
	}
	if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
		errs = append(errs, fmt.Errorf("--http-listen %q: %w", c.HTTPListen, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if len(c.Domains) == 0 {
		errs = append(errs, errors.New("--domain needs at least one domain"))
	}
	for _, d := range c.Domains {
		if strings.ContainsAny(d, " @;:/") {
			errs = append(errs, fmt.Errorf("--domain %q is not a domain name", d))
		}
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want json or console", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			errs = append(errs, fmt.Errorf("--redis: %w", err))
		}
	}
	if c.NATSURL != "" {
		if u, err := url.Parse(c.NATSURL); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--nats %q: want nats://host:port", c.NATSURL))
		}
	}
	if c.InstanceID != "" {
		if err := instance.Check(c.InstanceID); err != nil {
			errs = append(errs, fmt.Errorf("--instance-id: %w", err))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.HTTPTLS && c.TLSCert == "" {
		errs = append(errs, errors.New("--http-tls needs --tls-cert and --tls-key"))
	}
	if c.TLSCert != "" {
		if _, _, err := net.SplitHostPort(c.SIPSListen); err != nil {
			errs = append(errs, fmt.Errorf("--sips-listen %q: %w", c.SIPSListen, err))
		}
	}
	if c.SIPAuthSecret != "" && len(c.SIPAuthSecret) < 16 {
		errs = append(errs, errors.New("--sip-auth-secret must be at least 16 bytes"))
	}
	if c.RateLimit == 0 || (c.RateLimit < 0 && c.RateLimit != -1) {
		errs = append(errs, errors.New("--rate-limit must be positive, or -1 to disable"))
	}
	if c.PBX != "" {
		if _, _, err := net.SplitHostPort(c.PBX); err != nil {
			errs = append(errs, fmt.Errorf("--pbx %q: %w", c.PBX, err))
		}
		if len(c.PBXExtensions) == 0 {
			errs = append(errs, errors.New("--pbx needs --pbx-extensions"))
		}
		if c.PBXExpires < 10*time.Second {
			errs = append(errs, errors.New("--pbx-expires must be at least 10s"))
		}
		if c.PBXTransport != "udp" && c.PBXTransport != "tcp" {
			errs = append(errs, fmt.Errorf("--pbx-transport %q: want udp or tcp", c.PBXTransport))
		}
		for _, e := range c.PBXEvents {
			if e != "dialog" && e != "presence" && e != "reg" {
				errs = append(errs, fmt.Errorf("--pbx-events: unknown event %q", e))
			}
		}
	}
	if len(c.Region) != 2 || strings.ToUpper(c.Region) != c.Region {
		errs = append(errs, fmt.Errorf("--region %q: want an ISO 3166 code like FR", c.Region))
	}
	if c.MaxContactsPerUser == 0 || c.MaxContactsPerUser < -1 {
		errs = append(errs, errors.New("--max-contacts-per-user must be positive, or -1 for no limit"))
	}
	if c.CallsPerUser < 1 || c.CallsRetentionDays < 1 {
		errs = append(errs, errors.New("--calls-per-user and --calls-retention-days must be at least 1"))
	}
	if c.CallerMaxLen < 8 {
		errs = append(errs, errors.New("--callerid-max-len must be at least 8"))
	}
	if c.SIPTCPIdleTimeout < 0 {
		errs = append(errs, errors.New("--sip-tcp-idle-timeout must not be negative"))
	}
	if c.SIPMaxInFlight < 0 {
		errs = append(errs, errors.New("--sip-max-in-flight must not be negative"))
	}
	if c.SIPMaxConnsPerSource < 0 {
		errs = append(errs, errors.New("--sip-max-conns-per-source must not be negative"))
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		errs = append(errs, errors.New("--session-ttl must be between 1m and 720h"))
	}
	if c.SSEPerKey < 1 {
		errs = append(errs, errors.New("--sse-streams-per-key must be at least 1"))
	}
	errs = append(errs, c.validateLDAP()...)
	errs = append(errs, c.ClickToCall.validate()...)
	if c.MaxSubsPerTarget == 0 || c.MaxSubsPerTarget < -1 || c.MaxSubsPerWatcher == 0 || c.MaxSubsPerWatcher < -1 {
		errs = append(errs, errors.New("--max-subs-per-target and --max-subs-per-watcher must be positive, or -1 for no cap"))
	}
	if c.EventListBatch < 0 {
		errs = append(errs, errors.New("--eventlist-batch must not be negative"))
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, errors.New("--shutdown-grace must not be negative"))
	}
	if c.CalendarInterval < 30*time.Second {
		errs = append(errs, errors.New("--calendar-interval must be at least 30s"))
	}
	return errors.Join(errs...)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// offIfZero maps a flag's 0, which means "off", to sip.Config's negative
// "off": there 0 means the default.
func offIfZero[T int | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// startup is what start makes of the configuration before it binds a
// socket or opens a store.
type startup struct {
	// policy is the presence allow-list of --presence-policy; nil without.
	policy sip.Policy
	// certs serve SIP over TLS and HTTPS; nil without --tls-cert.
	certs *sip.CertReloader
}

// prepare reads and checks what the configuration names beyond its own
// values: the presence policy file, the TLS certificate, and the
// caller-ID settings (regions, display pattern), built as start builds
// them over an empty directory. Start and --check-config both run it, so
// a configuration one accepts the other accepts too.
func prepare(ctx context.Context, c config) (startup, error) {
	var s startup
	var errs []error
	if c.PolicyFile != "" {
		if p, err := readPolicy(c.PolicyFile); err != nil {
			errs = append(errs, fmt.Errorf("--presence-policy: %w", err))
		} else {
			s.policy = p
		}
	}
	if c.TLSCert != "" && c.TLSKey != "" {
		certs, err := sip.NewCertReloader(c.TLSCert, c.TLSKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("--tls-cert: %w", err))
		}
		s.certs = certs
	}
	empty, err := directory.New(ctx, directory.NewMemStore(), directory.Config{Domains: c.Domains}, zerolog.Nop())
	if err == nil {
		_, err = callerid.New(ctx, empty, c.lookupConfig(), zerolog.Nop())
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("caller id (--region, --domain-region, --callerid-*): %w", err))
	}
	return s, errors.Join(errs...)
}

// lookupConfig is the caller-ID configuration.
func (c config) lookupConfig() callerid.Config {
	return callerid.Config{
		DefaultRegion: c.Region, DomainRegions: c.DomainRegions, DefaultDomain: c.Domains[0],
		DisplayPattern: c.CallerPattern, MaxDisplayLen: c.CallerMaxLen,
	}
}

func readPolicy(file string) (*sip.AllowList, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return sip.ReadAllowList(f)
}

// redactURL drops the credentials from a URL, or from each of a
// comma-separated list as NATS takes them, so it can be logged and shown.
func redactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = nil
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// validateLDAP checks the LDAP directory's flags.
func (c config) validateLDAP() []error {
	var errs []error
	for flag, addr := range map[string]string{"--ldap-listen": c.LDAPListen, "--ldaps-listen": c.LDAPSListen} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", flag, addr, err))
		}
	}
	if c.LDAPSListen != "" && c.TLSCert == "" {
		errs = append(errs, errors.New("--ldaps-listen needs --tls-cert and --tls-key"))
	}
	for _, d := range c.LDAPAnonymous {
		if !slices.Contains(c.Domains, d) {
			errs = append(errs, fmt.Errorf("--ldap-anonymous %q is not a served --domain", d))
		}
	}
	return errs
}

// envName is the environment twin of flag name.
func envName(flag string) string {
	return "SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// printUsage lists the flags as the README writes them (--name), each
// with its environment twin, instead of the flag package's -name.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: switchboard [flags]\n       switchboard keys create|revoke|list ...\n\nFlags (each also read from its environment variable):\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "   (" + envName(f.Name) + ")\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if d := f.DefValue; d != "" && d != "false" && d != "0" {
			if name == "string" {
				d = strconv.Quote(d)
			}
			line += " (default " + d + ")"
		}
		fmt.Fprintln(w, line)
	})
}
