package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/calendar"
	"github.com/switchboardhq/switchboard/directory"
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

// forgetCalendar deletes a deleted user's calendar feed and the busy time
// it gave presence: a user's deletion removes their team contact, whichever
// API or instance did it. Only the instance that wrote the change acts.
func forgetCalendar(cal *calendar.Service, ev directory.ChangeEvent, log zerolog.Logger) {
	if !ev.Local || ev.Op != directory.ChangeDeleted || ev.Contact.Kind != directory.KindTeam {
		return
	}
	aor, err := presence.ParseAOR(strings.TrimPrefix(ev.Contact.ID, directory.TeamContactID("")))
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cal.Delete(ctx, aor); err != nil && !errors.Is(err, calendar.ErrNotFound) {
		log.Warn().Err(err).Str("aor", aor.String()).Msg("delete the calendar feed of a deleted user")
	}
}
