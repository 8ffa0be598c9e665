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
	bolterrors "go.etcd.io/bbolt/errors"

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
	keys  directory.KeyStore
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
  switchboard keys create (--user EXT@DOMAIN | --admin) --scopes SCOPE[,SCOPE...] [store flags]
  switchboard keys list [store flags]
  switchboard keys revoke ID [store flags]

store flags (as for the server, with the same SWITCHBOARD_* environment):
  --data-dir DIR   directory holding the embedded database (directory.db)
  --redis URL      Redis URL of a shared store instead

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
	var user, scopes string
	var admin bool
	if cmd == "create" {
		fs.StringVar(&user, "user", "", "user the key acts as, ext@domain")
		fs.BoolVar(&admin, "admin", false, "mint an administrative key")
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
	var p directory.Principal
	var err error
	if cmd == "create" {
		sc, err := directory.ParseScopes(scopes)
		if err != nil {
			return fmt.Errorf("keys create: --%w", err)
		}
		p = directory.Principal{User: strings.ToLower(strings.TrimSpace(user)), Admin: admin, Scopes: sc}
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
	keys := directory.NewKeys(ds.keys)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	switch cmd {
	case "create":
		key, info, err := keys.Mint(ctx, p)
		if err != nil {
			var fe *directory.FieldError
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
		fmt.Fprintln(tw, "ID\tIDENTITY\tSCOPES\tCREATED")
		for _, k := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, identity(k), joinScopes(k.Scopes), k.Created.Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
	case "revoke":
		if err := keys.Revoke(ctx, pos[0]); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		fmt.Fprintf(stderr, "revoked key %s; servers stop accepting it within %s\n", pos[0], directory.KeyCacheTTL)
	}
	return nil
}

// identity describes who a key acts as.
func identity(k directory.KeyInfo) string {
	switch {
	case k.Admin && k.User != "":
		return k.User + " (admin)"
	case k.Admin:
		return "admin"
	}
	return k.User
}

func joinScopes(sc []directory.Scope) string {
	out := make([]string, len(sc))
	for i, s := range sc {
		out[i] = string(s)
	}
	return strings.Join(out, ",")
}
