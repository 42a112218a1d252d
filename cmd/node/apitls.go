package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"
)

// apiCipherSuites are the TLS 1.2 suites the API offers: ECDHE key exchange
// and AEAD only. TLS 1.3, which Go prefers when the client offers it, has
// only such suites and is not configurable.
var apiCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// apiTLSConfig loads a node's API certificate and, if set, the CA its
// clients' certificates must chain to, and checks them now, so a node with a
// wrong file fails at start with the file named instead of failing every
// client's handshake. A certificate that does not name the host of apiAddr
// is only warned about: clients may reach the node by another name (a load
// balancer's).
func apiTLSConfig(f *apiTLSFiles, apiAddr string, now time.Time, log *slog.Logger) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("api_tls: load cert %s and key %s: %w", f.Cert, f.Key, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("api_tls: parse cert %s: %w", f.Cert, err)
		}
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("api_tls: cert %s is valid from %s to %s, not now", f.Cert, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil, fmt.Errorf("api_tls: cert %s is not for server authentication (extended key usage)", f.Cert)
	}
	if host, _, err := net.SplitHostPort(apiAddr); err == nil && !unspecifiedHost(host) {
		if err := leaf.VerifyHostname(host); err != nil {
			log.Warn("the API certificate does not name the API host; clients that reach it by that host will refuse it", "cert", f.Cert, "host", host, "err", err)
		}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: apiCipherSuites,
	}
	if f.ClientCA != "" {
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("api_tls: read client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api_tls: client_ca %s holds no PEM certificate", f.ClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// unspecifiedHost reports a listen host that names no one host: "", 0.0.0.0
// or ::.
func unspecifiedHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// warnPlainAPI warns when the API serves plain HTTP beyond the machine:
// every request carries a bearer key, which would then cross the network in
// the clear. Loopback, the embedded default's first run, is quiet.
func warnPlainAPI(apiAddr string, log *slog.Logger) {
	host, _, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return
	}
	ip := net.ParseIP(host)
	if host == "localhost" || ip != nil && ip.IsLoopback() {
		return
	}
	log.Warn("the API serves plain HTTP beyond loopback: bearer keys cross the network in the clear; set api_tls in the cluster file", "api_addr", apiAddr)
}

// serveAPI serves srv on ln, over TLS when srv has a TLS configuration. Its
// handshake is bounded by srv.ReadHeaderTimeout (net/http takes the
// smallest of its read and write time-outs for it).
func serveAPI(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig == nil {
		return srv.Serve(ln)
	}
	return srv.ServeTLS(ln, "", "")
}
