package main

import (
	"context"
	"path/filepath"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/calendar"
	"github.com/switchboardhq/switchboard/lease"
	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip"
)

// calendarFile is the embedded store of calendar feeds in --data-dir.
const calendarFile = "calendar.db"

// newCalendar returns the calendar feeds' service: on Redis, shared with
// the other instances, which take turns reading each feed through leases;
// else in a bbolt file of its own. close releases the store.
func newCalendar(cfg config, rdb *redis.Client, core *presence.Service, log zerolog.Logger) (svc *calendar.Service, closeStore func() error, err error) {
	cc := calendar.Config{Interval: cfg.CalendarInterval, AllowPrivate: cfg.CalendarAllowPrivate}
	var store calendar.Store
	closeStore = func() error { return nil }
	if rdb != nil {
		store = calendar.NewRedisStore(rdb, calendarPrefix)
		cc.Lease = lease.NewRedis(rdb, calendarLeasePrefix, cfg.InstanceID)
	} else {
		b, err := calendar.OpenBolt(filepath.Join(cfg.DataDir, calendarFile))
		if err != nil {
			return nil, nil, err
		}
		store, closeStore = b, b.Close
	}
	return calendar.New(cc, store, core, log), closeStore, nil
}

// calendarPolicy applies the presence policy to availability queries; nil
// without one.
func calendarPolicy(p sip.Policy) interface {
	MayWatch(ctx context.Context, watcher, target presence.AOR) (bool, error)
} {
	if p == nil {
		return nil
	}
	return policyWatch{p}
}

type policyWatch struct{ p sip.Policy }

// MayWatch allows what the policy allows; "pending" is not yet allowed.
func (w policyWatch) MayWatch(ctx context.Context, watcher, target presence.AOR) (bool, error) {
	d, err := w.p.Allowed(ctx, watcher, target)
	return d == sip.Allow, err
}
