package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
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
}

// parseConfig reads flags, each with a SWITCHBOARD_* environment twin; a
// flag given on the command line wins over the environment.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	var domains string
	fs := flag.NewFlagSet("switchboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.SIPListen, "sip-listen", ":5060", "SIP address, served on UDP and TCP")
	fs.StringVar(&c.HTTPListen, "http-listen", ":8080", "HTTP address for health, metrics and the API")
	fs.StringVar(&c.DataDir, "data-dir", "./switchboard-data", "directory for the embedded stores")
	fs.StringVar(&domains, "domain", "switchboard.local", "SIP domains served, comma-separated; the first is the default")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "time to send final NOTIFYs on shutdown")
	fs.BoolVar(&c.SingleDialog, "blf-single-dialog", false, "send only the most important call in dialog NOTIFYs")
	fs.BoolVar(&c.CheckConfig, "check-config", false, "validate the configuration and exit")

	// Environment first, so flags given explicitly override it.
	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := "SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
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
	if c.ShutdownGrace < 0 {
		errs = append(errs, errors.New("--shutdown-grace must not be negative"))
	}
	return errors.Join(errs...)
}
