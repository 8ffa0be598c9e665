package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/sip/auth"
)

// The directory answers SIP digest challenges from the HA1 hashes stored
// at provisioning.
var _ auth.Credentials = (*directory.Service)(nil)

// directoryFile is where the directory lives without Redis: a bbolt file
// in the data dir. On Redis it lives under directoryPrefix.
const directoryFile = "directory.db"

// directoryStore is the opened directory store and its API key store.
type directoryStore struct {
	store directory.Store
	keys  accounts.KeyStore
	close func() error
}

// openDirectoryStore opens the store the server uses: Redis on the
// process's client rdb when set (the caller closes it), else the bbolt
// file in dataDir (created when missing).
func openDirectoryStore(dataDir string, rdb *redis.Client) (directoryStore, error) {
	if rdb != nil {
		s := directory.NewRedisStore(rdb, directoryPrefix)
		return directoryStore{store: s, keys: s.KeyStore(), close: func() error { return nil }}, nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return directoryStore{}, fmt.Errorf("create data dir: %w", err)
	}
	s, err := directory.OpenBolt(filepath.Join(dataDir, directoryFile))
	if errors.Is(err, bolterrors.ErrTimeout) {
		return directoryStore{}, fmt.Errorf("%w (a running switchboard holds the embedded database: stop it first, or use --redis)", err)
	}
	if err != nil {
		return directoryStore{}, err
	}
	return directoryStore{store: s, keys: s.KeyStore(), close: s.Close}, nil
}

const keysUsage = `usage:
  switchboard keys create --user EXT@DOMAIN --scopes SCOPE[,SCOPE...] [store flags]
  switchboard keys create --admin [--domain DOMAIN] --scopes SCOPE[,SCOPE...] [store flags]
  switchboard keys create --pbx --domain DOMAIN [--scopes lookup] [store flags]
  switchboard keys list [store flags]
  switchboard keys revoke ID [store flags]

store flags (as for the server, with the same SWITCHBOARD_* environment):
  --data-dir DIR   directory holding the embedded database (directory.db)
  --redis URL      Redis URL of a shared store instead

kinds: a user key acts as its user, in the user's domain; an admin key with
--domain is a tenant admin confined to that domain, without it an operator
key for every domain; a pbx key (what a dialplan uses for caller ID) has
the scope lookup for any callee of its domain.

scopes: contacts:personal, company:read, company:write, users:admin, lookup`

// runKeys implements "switchboard keys": it mints, lists and revokes API
// keys in the store the server uses. args follow the word "keys". The key
// created is printed once, alone on stdout; everything else goes to
// stderr.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, keysUsage)
		if len(args) == 0 {
			return errors.New("keys: missing command")
		}
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("switchboard keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, keysUsage) }
	dataDir := fs.String("data-dir", "./switchboard-data", "directory for the embedded stores")
	redisURL := fs.String("redis", "", "Redis URL of the shared store")
	var user, scopes, domain string
	var admin, pbx bool
	if cmd == "create" {
		fs.StringVar(&user, "user", "", "user the key acts as, ext@domain")
		fs.BoolVar(&admin, "admin", false, "mint an administrative key")
		fs.BoolVar(&pbx, "pbx", false, "mint a PBX dialplan key (scope lookup, needs --domain)")
		fs.StringVar(&domain, "domain", "", "tenant (SIP domain) the key is bound to; an admin key without one is an operator key")
		fs.StringVar(&scopes, "scopes", "", "comma-separated scopes")
	}
	for _, f := range []string{"data-dir", "redis"} {
		if v := getenv("SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))); v != "" {
			if err := fs.Set(f, v); err != nil {
				return fmt.Errorf("keys: SWITCHBOARD_%s: %w", strings.ToUpper(f), err)
			}
		}
	}
	// Flags may come before and after the positional ID.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}

	switch cmd {
	case "create", "list":
		if len(pos) > 0 {
			return fmt.Errorf("keys %s: unexpected arguments %q", cmd, pos)
		}
	case "revoke":
		if len(pos) != 1 {
			return errors.New("keys revoke: want exactly one key ID (see switchboard keys list)")
		}
	default:
		fmt.Fprintln(stderr, keysUsage)
		return fmt.Errorf("keys: unknown command %q", cmd)
	}
	var p accounts.Principal
	var err error
	if cmd == "create" {
		if pbx && scopes == "" {
			scopes = string(accounts.ScopeLookup)
		}
		sc, err := accounts.ParseScopes(scopes)
		if err != nil {
			return fmt.Errorf("keys create: --%w", err)
		}
		p = accounts.Principal{User: strings.ToLower(strings.TrimSpace(user)), Admin: admin, PBX: pbx, Domain: domain, Scopes: sc}
	}

	var rdb *redis.Client
	if *redisURL != "" {
		if rdb, err = openRedis(*redisURL); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		defer rdb.Close()
	}
	ds, err := openDirectoryStore(*dataDir, rdb)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer ds.close()
	keys := accounts.NewKeys(ds.keys)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	switch cmd {
	case "create":
		key, info, err := keys.Mint(ctx, p)
		if err != nil {
			var fe *accounts.FieldError
			if errors.As(err, &fe) {
				return fmt.Errorf("keys create: --%s: %s", fe.Field, fe.Reason)
			}
			return fmt.Errorf("keys create: %w", err)
		}
		fmt.Fprintf(stderr, "created key %s for %s with scopes %s; it is shown only now:\n", info.ID, identity(info), joinScopes(info.Scopes))
		fmt.Fprintln(stdout, key)
	case "list":
		all, err := keys.List(ctx)
		if err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tIDENTITY\tDOMAIN\tSCOPES\tCREATED")
		for _, k := range all {
			dom := k.Domain
			if dom == "" {
				dom = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Kind(), identity(k), dom, joinScopes(k.Scopes), k.Created.Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
	case "revoke":
		if err := keys.Revoke(ctx, pos[0]); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		fmt.Fprintf(stderr, "revoked key %s; servers stop accepting it within %s\n", pos[0], accounts.KeyCacheTTL)
	}
	return nil
}

// identity describes who a key acts as.
func identity(k accounts.KeyInfo) string {
	switch {
	case k.Admin && k.User != "":
		return k.User + " (admin)"
	case k.Admin && k.Domain != "":
		return "admin of " + k.Domain
	case k.Admin:
		return "operator admin"
	case k.PBX:
		return "pbx of " + k.Domain
	}
	return k.User
}

func joinScopes(sc []accounts.Scope) string {
	out := make([]string, len(sc))
	for i, s := range sc {
		out[i] = string(s)
	}
	return strings.Join(out, ",")
}

// bootstrapBanner frames the bootstrap key on stderr, where a newcomer
// running the server in a terminal sees it.
const bootstrapBanner = `
================================================================================
 Switchboard bootstrap key: an operator admin key (users:admin, company:write,
 lookup) for this fresh store. It is shown only now. Mint other keys with it:
   curl -H "Authorization: Bearer KEY" -d '{"admin":true,"domain":"...","scopes":["users:admin"]}' http://HOST/v1/keys

   %s

================================================================================
`

// bootstrapKey gives a fresh store its first key, so that a newcomer mints
// every other key over the API without stopping the server. The key goes
// to file (mode 0600) when set, else to stderr once. Of several instances
// starting together on one store, exactly one bootstraps.
func bootstrapKey(ctx context.Context, keys *accounts.Keys, file string, stderr io.Writer, log zerolog.Logger) error {
	var tmp string
	stage := func(key string) error {
		if file == "" {
			return nil
		}
		// Written beside file and renamed after the store accepts the key,
		// so a bad path fails before the store's one bootstrap is spent.
		f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*") // mode 0600
		if err != nil {
			return fmt.Errorf("--bootstrap-key-file: %w", err)
		}
		tmp = f.Name()
		_, err = fmt.Fprintln(f, key)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--bootstrap-key-file: %w", err)
		}
		return nil
	}
	key, info, ok, err := keys.Bootstrap(ctx, stage)
	if !ok && tmp != "" {
		os.Remove(tmp)
	}
	if err != nil || !ok {
		return err
	}
	if file == "" {
		log.Warn().Str("key_id", info.ID).Msg("fresh store: bootstrap admin key printed once on stderr")
		fmt.Fprintf(stderr, bootstrapBanner, key)
		return nil
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		// Nobody holds the key: revoke it rather than leave it valid.
		if rerr := keys.Revoke(ctx, info.ID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return fmt.Errorf("--bootstrap-key-file: %w (mint an admin key with switchboard keys create --admin)", err)
	}
	log.Warn().Str("key_id", info.ID).Str("file", file).Msg("fresh store: bootstrap admin key written")
	return nil
}
