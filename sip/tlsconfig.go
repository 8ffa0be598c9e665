package sip

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// CertReloader serves a certificate and key from files and swaps them in
// on Reload, so a renewed certificate takes effect without dropping the
// phones' TLS connections (cmd calls Reload on SIGHUP). Safe for
// concurrent use.
type CertReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads the PEM certificate chain and key from the files.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again. On error the previous certificate stays in
// use, so a half-written renewal never takes the listener down.
func (r *CertReloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load tls certificate %s: %w", r.certFile, err)
	}
	r.cert.Store(&c)
	return nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// TLSConfig returns a server tls.Config using r, with TLS 1.2 as the floor
// (RFC 8996 retired 1.0 and 1.1; SIP phones in the field do 1.2).
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
}
