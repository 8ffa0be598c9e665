package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// parseExtensions expands "200-219,301" into the extensions it names;
// "all" stands for every provisioned user and is expanded at start.
func parseExtensions(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		return []string{"all"}, nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			out = append(out, part)
			continue
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a > b || b-a > 10000 || len(lo) != len(hi) {
			return nil, fmt.Errorf("extension range %q: want like 200-299, at most 10000", part)
		}
		for n := a; n <= b; n++ {
			out = append(out, fmt.Sprintf("%0*d", len(lo), n))
		}
	}
	return out, nil
}

// contactAddr is the address the PBX should send NOTIFYs to: the SIP
// listener's own host when it names one, else the local address this host
// uses to reach the PBX (no packet is sent to find it).
func contactAddr(listen, pbx string) (string, int, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, err
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return host, p, nil
	}
	c, err := net.Dial("udp", pbx)
	if err != nil {
		return "", 0, fmt.Errorf("find local address towards pbx %s: %w", pbx, err)
	}
	defer c.Close()
	h, _, _ := net.SplitHostPort(c.LocalAddr().String())
	return h, p, nil
}

// redisLease shares the watching work between instances: an extension is
// watched by the instance holding its lease (SET NX with a TTL).
type redisLease struct {
	rdb    redis.UniversalClient
	prefix string
	owner  string
}

// renewScript and releaseScript act only on a lease this owner still holds.
var (
	renewScript   = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)
)

func (l redisLease) Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.prefix+key, l.owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", key, err)
	}
	if ok {
		return true, nil
	}
	// Already ours (after a restart with the same instance id): renew it.
	return l.Renew(ctx, key, ttl)
}

func (l redisLease) Renew(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.prefix + key}, l.owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", key, err)
	}
	return n == 1, nil
}

func (l redisLease) Release(ctx context.Context, key string) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{l.prefix + key}, l.owner).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", key, err)
	}
	return nil
}
