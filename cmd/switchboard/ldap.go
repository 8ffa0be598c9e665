package main

import (
	"crypto/tls"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/ldap"
	"github.com/switchboardhq/switchboard/sip"
)

// newLDAP builds the desk-phone LDAP directory, or returns nil when no
// LDAP address is set. It serves with the SIP certificate, so SIGHUP
// reloads it for LDAPS and StartTLS too.
func newLDAP(cfg config, certs *sip.CertReloader, dir *directory.Service, keys *accounts.Keys, log zerolog.Logger) (*ldap.Server, error) {
	if cfg.LDAPListen == "" && cfg.LDAPSListen == "" {
		return nil, nil
	}
	var tc *tls.Config
	if certs != nil {
		tc = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
	}
	srv, err := ldap.New(ldap.Config{
		Listen: cfg.LDAPListen, ListenTLS: cfg.LDAPSListen, TLS: tc,
		Domains: cfg.Domains, Anonymous: cfg.LDAPAnonymous,
		Region: cfg.Region, DomainRegions: cfg.DomainRegions,
	}, dir, keys, log.With().Str("component", "ldap").Logger())
	if err != nil {
		return nil, fmt.Errorf("ldap: %w", err)
	}
	log.Info().Str("ldap", cfg.LDAPListen).Str("ldaps", cfg.LDAPSListen).Msg("ldap directory on")
	return srv, nil
}
