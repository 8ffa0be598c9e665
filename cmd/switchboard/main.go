// Command switchboard runs the Switchboard presence and directory sidecar.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	slogzerolog "github.com/samber/slog-zerolog/v2"
	"golang.org/x/sync/errgroup"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip"
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

// run wires Switchboard together and serves until the first SIGINT or
// SIGTERM, which drains; a second signal stops at once.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if cfg.CheckConfig {
		fmt.Fprintln(stderr, "configuration ok")
		return nil
	}
	log := newLogger(cfg, stderr)
	// sipgo logs through slog: route it into zerolog once, before NewUA.
	sipLog := log.With().Str("component", "sipgo").Logger().Level(max(zerolog.WarnLevel, log.GetLevel()))
	sipmsg.SetDefaultLogger(slog.New(slogzerolog.Option{Logger: &sipLog}.NewZerologHandler()))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal after draining began ends the process now.
		<-ctx.Done()
		stop()
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		log.Warn().Msg("second signal: exiting now")
		os.Exit(1)
	}()

	// Bind every socket before serving, so a bad address fails start-up.
	udp, err := net.ListenPacket("udp", cfg.SIPListen)
	if err != nil {
		return fmt.Errorf("listen sip udp %s: %w", cfg.SIPListen, err)
	}
	tcp, err := net.Listen("tcp", cfg.SIPListen)
	if err != nil {
		udp.Close()
		return fmt.Errorf("listen sip tcp %s: %w", cfg.SIPListen, err)
	}
	httpLn, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		udp.Close()
		tcp.Close()
		return fmt.Errorf("listen http %s: %w", cfg.HTTPListen, err)
	}

	core := presence.New(presence.Config{}, presence.NewMemStore(), log)
	edge, err := sip.New(sip.Config{Domains: cfg.Domains, SingleDialog: cfg.SingleDialog}, sip.Deps{Core: core}, log)
	if err != nil {
		return err
	}
	core.Watch(edge.Changed)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","subscriptions":%d}`+"\n", edge.Subscriptions())
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if edge.Draining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"status":"draining"}`)
			return
		}
		fmt.Fprintln(w, `{"status":"ready"}`)
	})
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	log.Info().Str("sip", udp.LocalAddr().String()).Str("http", httpLn.Addr().String()).
		Strs("domains", cfg.Domains).Msg("switchboard started")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return core.Run(gctx) })
	g.Go(func() error { return edge.Serve(gctx, udp, tcp, cfg.ShutdownGrace) })
	g.Go(func() error {
		if err := httpSrv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info().Msg("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace+5*time.Second)
		defer cancel()
		return httpSrv.Shutdown(sctx)
	})
	err = g.Wait()
	log.Info().Msg("stopped")
	return err
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
