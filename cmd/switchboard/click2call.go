package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/api"
	"github.com/switchboardhq/switchboard/events"
	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip"
)

// clickToCallConfig is the click-to-call part of the configuration.
type clickToCallConfig struct {
	AutoAnswer  bool
	RingTimeout time.Duration
	PerMinute   float64
}

func (c *clickToCallConfig) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.AutoAnswer, "click-to-call-autoanswer", false, "ask the user's phone to answer click-to-calls by itself (Call-Info answer-after=0, Alert-Info info=alert-autoanswer)")
	fs.DurationVar(&c.RingTimeout, "click-to-call-ring-timeout", 30*time.Second, "how long a click-to-call rings the user's phone before it fails with no_answer")
	fs.Float64Var(&c.PerMinute, "click-to-call-rate", 10, "click-to-calls each user may start per minute (5 at once)")
}

func (c clickToCallConfig) validate() []error {
	var errs []error
	if c.RingTimeout < time.Second {
		errs = append(errs, errors.New("--click-to-call-ring-timeout must be at least 1s"))
	}
	if c.PerMinute <= 0 {
		errs = append(errs, errors.New("--click-to-call-rate must be positive"))
	}
	return errs
}

// clickDialer is the API's Dialer on the SIP edge's click-to-call.
type clickDialer struct {
	c2c    *sip.ClickToCall
	report func(sip.CallProgress)
}

func (d clickDialer) Dial(req api.ClickToCallRequest) error {
	if err := d.c2c.Start(sip.CallRequest{ID: req.ID, From: req.From, Number: req.Number}, d.report); err != nil {
		return fmt.Errorf("start click-to-call %s: %w", req.ID, err)
	}
	return nil
}

// wireClickToCall builds click-to-call on the SIP edge, serves it on the
// API, and shares its progress through NATS: this instance's steps are
// published, other instances' feed the API (GET and event streams). The
// INVITE goes through --pbx when set (phones register there), else to
// the phone's binding. Run the returned ClickToCall; call stop after.
func wireClickToCall(ctx context.Context, cfg config, edge *sip.Server, core *presence.Service, apiSrv *api.Server, bus *events.Bus, log zerolog.Logger) (*sip.ClickToCall, func(), error) {
	c2c := edge.NewClickToCall(sip.ClickToCallConfig{
		AutoAnswer: cfg.ClickToCall.AutoAnswer, RingTimeout: cfg.ClickToCall.RingTimeout,
		PBX: cfg.PBX, PBXTransport: cfg.PBXTransport,
	}, core)
	report := func(p sip.CallProgress) {
		apiSrv.ClickToCallProgress(api.ClickToCallProgress{
			ID: p.ID, From: p.From, Number: p.Number, State: string(p.State), Reason: p.Reason,
			SIPStatus: p.Status, Seq: p.Seq, At: p.At,
		})
		ev := events.ClickToCallEvent{
			ID: p.ID, Domain: p.From.Domain, Extension: p.From.User, To: p.Number, State: string(p.State),
			Reason: p.Reason, SIPStatus: p.Status, Seq: p.Seq, At: p.At,
		}
		pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := bus.PublishClickToCall(pctx, ev); err != nil {
			log.Warn().Err(err).Str("call", p.ID).Msg("publish click-to-call event")
		}
	}
	err := apiSrv.SetClickToCall(api.ClickToCallConfig{
		Dialer: clickDialer{c2c: c2c, report: report}, DefaultRegion: cfg.Region, DomainRegions: cfg.DomainRegions,
		PerMinute: cfg.ClickToCall.PerMinute,
	})
	if err != nil {
		return nil, nil, err
	}
	stop, err := bus.SubscribeClickToCall(ctx, "", func(ev events.ClickToCallEvent) {
		apiSrv.ClickToCallProgress(api.ClickToCallProgress{
			ID: ev.ID, From: presence.NewAOR(ev.Extension, ev.Domain), Number: ev.To, State: ev.State,
			Reason: ev.Reason, SIPStatus: ev.SIPStatus, Seq: ev.Seq, At: ev.At,
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("subscribe click-to-call events: %w", err)
	}
	return c2c, func() { _ = stop() }, nil
}
