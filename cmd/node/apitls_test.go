package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/consensus"
)

// apiTLSCluster is a cluster file whose nodes' API hosts `node certs
// --config` must put in their API certificates.
const apiTLSCluster = `data_dir: d
api_tls: {cert: "certs/{id}-api.pem", key: "certs/{id}-api-key.pem"}
nodes:
  - {id: n1, raft_addr: "127.0.0.1:7001", api_addr: "127.0.0.21:8081"}
  - {id: n2, raft_addr: "127.0.0.1:7002", api_addr: "ledger-n2.example:8082"}
  - {id: n3, raft_addr: "127.0.0.1:7003", api_addr: "0.0.0.0:8083"}
`

// makeAPICerts runs `node certs --config` for apiTLSCluster in a temp dir
// and returns the cluster file's path and the certificate directory.
func makeAPICerts(t *testing.T) (config, dir string) {
	t.Helper()
	base := t.TempDir()
	config, dir = filepath.Join(base, "cluster.yaml"), filepath.Join(base, "certs")
	if err := os.WriteFile(config, []byte(apiTLSCluster), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runCerts([]string{"--dir", dir, "--config", config}); err != nil {
		t.Fatalf("node certs: %v", err)
	}
	return config, dir
}

func caPool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if b, err := os.ReadFile(filepath.Join(dir, "ca.pem")); err != nil || !pool.AppendCertsFromPEM(b) {
		t.Fatalf("no CA certificate in %s (%v)", dir, err)
	}
	return pool
}

// TestAPITLSCerts checks the API certificates `node certs` writes: one per
// node of the cluster file, beside its node certificate, signed by the dev
// CA, for server authentication only, naming loopback, --hosts and the host
// of the node's own api_addr (not another node's), with a private key only
// its owner may read.
func TestAPITLSCerts(t *testing.T) {
	_, dir := makeAPICerts(t)
	roots := caPool(t, dir)
	tests := []struct {
		id       string
		names    []string // hosts the certificate must name
		notNames []string
	}{
		{"n1", []string{"127.0.0.21", "127.0.0.1", "localhost", "::1"}, []string{"ledger-n2.example", "n1"}},
		{"n2", []string{"ledger-n2.example", "127.0.0.1"}, []string{"127.0.0.21"}},
		{"n3", []string{"127.0.0.1", "localhost"}, []string{"0.0.0.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			certPath, keyPath := consensus.APICertFiles(dir, tc.id)
			pair, err := tls.LoadX509KeyPair(certPath, keyPath)
			if err != nil {
				t.Fatal(err)
			}
			leaf := pair.Leaf
			for _, name := range tc.names {
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
					t.Errorf("%s's API certificate for %s: %v", tc.id, name, err)
				}
			}
			for _, name := range tc.notNames {
				if err := leaf.VerifyHostname(name); err == nil {
					t.Errorf("%s's API certificate names %s", tc.id, name)
				}
			}
			if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
				t.Errorf("%s's API certificate is good for client authentication too", tc.id)
			}
			if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v (%v), want 0600", keyPath, fi.Mode().Perm(), err)
			}
			if _, err := os.Stat(filepath.Join(dir, tc.id+".pem")); err != nil {
				t.Errorf("no node certificate beside the API one: %v", err)
			}
		})
	}
	if err := runCerts([]string{"--dir", t.TempDir(), "--ids", "n1,n1-api"}); err == nil || !strings.Contains(err.Error(), "n1-api") {
		t.Errorf("certs for n1 and n1-api: %v, want a refusal naming the clash", err)
	}
}

// serveTLSAPI serves a handler that answers 200 "ok" with cfg on a loopback
// port until the test ends, and returns its address.
func serveTLSAPI(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second, TLSConfig: cfg,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelInfo),
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = serveAPI(srv, ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// get sends GET / to url with the client TLS configuration tc.
func get(url string, tc *tls.Config) (int, string, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestAPITLSServes checks the API's HTTPS as a client meets it: a client
// that trusts the CA gets through over TLS 1.3, or 1.2 if that is its
// highest; one that does not is refused at the handshake; TLS 1.1, and plain
// HTTP, are refused. With client_ca, a client without a certificate of that
// CA is refused and one with it gets through.
func TestAPITLSServes(t *testing.T) {
	_, dir := makeAPICerts(t)
	roots := caPool(t, dir)
	certPath, keyPath := consensus.APICertFiles(dir, "n1")
	log := slog.New(slog.DiscardHandler)

	cfg, err := apiTLSConfig(&apiTLSFiles{Cert: certPath, Key: keyPath}, "127.0.0.1:0", time.Now(), log)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLSAPI(t, cfg)
	url := "https://" + addr + "/"

	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		client := &tls.Config{RootCAs: roots, MaxVersion: v}
		conn, err := tls.Dial("tcp", addr, client)
		if err != nil {
			t.Fatalf("a client trusting the CA, up to %s: %v", tls.VersionName(v), err)
		}
		if got := conn.ConnectionState().Version; got != v {
			t.Errorf("negotiated %s, want %s", tls.VersionName(got), tls.VersionName(v))
		}
		conn.Close()
	}
	if status, body, err := get(url, &tls.Config{RootCAs: roots}); err != nil || status != http.StatusOK || body != "ok" {
		t.Errorf("GET trusting the CA: %d %q %v", status, body, err)
	}
	var unknown x509.UnknownAuthorityError
	if _, _, err := get(url, &tls.Config{}); !errors.As(err, &unknown) {
		t.Errorf("GET trusting only the system's roots: %v, want an unknown authority", err)
	}
	if _, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Errorf("a TLS 1.1 client was served")
	}
	if status, body, err := get("http://"+addr+"/", nil); err == nil && (status != http.StatusBadRequest || strings.Contains(body, "ok")) {
		t.Errorf("plain HTTP to the HTTPS port: %d %q, want 400 and no answer", status, body)
	}

	// With client_ca, a node certificate (client authentication, same CA)
	// gets through; no certificate does not.
	cfg, err = apiTLSConfig(&apiTLSFiles{Cert: certPath, Key: keyPath, ClientCA: filepath.Join(dir, "ca.pem")}, "127.0.0.1:0", time.Now(), log)
	if err != nil {
		t.Fatal(err)
	}
	mutual := "https://" + serveTLSAPI(t, cfg) + "/"
	if _, _, err := get(mutual, &tls.Config{RootCAs: roots}); err == nil {
		t.Errorf("client_ca set, a client without a certificate was served")
	}
	clientCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "n2.pem"), filepath.Join(dir, "n2-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if status, _, err := get(mutual, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}}); err != nil || status != http.StatusOK {
		t.Errorf("client_ca set, a client with a certificate of it: %d %v", status, err)
	}
}

// TestAPITLSConfigRefuses: every wrong api_tls file fails the start with
// the file named; a certificate that does not name the API host is only
// warned about.
func TestAPITLSConfigRefuses(t *testing.T) {
	_, dir := makeAPICerts(t)
	cert, key := consensus.APICertFiles(dir, "n1")
	_, otherKey := consensus.APICertFiles(dir, "n2")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   apiTLSFiles
		now     time.Time
		wantErr string
	}{
		{"valid", apiTLSFiles{Cert: cert, Key: key}, time.Now(), ""},
		{"missing cert", apiTLSFiles{Cert: filepath.Join(dir, "nope.pem"), Key: key}, time.Now(), "nope.pem"},
		{"another node's key", apiTLSFiles{Cert: cert, Key: otherKey}, time.Now(), "n2-api-key.pem"},
		{"expired", apiTLSFiles{Cert: cert, Key: key}, time.Now().Add(10 * 365 * 24 * time.Hour), "not now"},
		{"client_ca missing", apiTLSFiles{Cert: cert, Key: key, ClientCA: filepath.Join(dir, "nope-ca.pem")}, time.Now(), "client_ca"},
		{"client_ca not PEM", apiTLSFiles{Cert: cert, Key: key, ClientCA: notPEM}, time.Now(), "not.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apiTLSConfig(&tc.files, "127.0.0.1:8081", tc.now, slog.New(slog.DiscardHandler))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("apiTLSConfig() = %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("apiTLSConfig() = %v, want an error naming %q", err, tc.wantErr)
			}
		})
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	if _, err := apiTLSConfig(&apiTLSFiles{Cert: cert, Key: key}, "ledger.example:8443", time.Now(), log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "does not name the API host") {
		t.Errorf("no warning for a certificate without the API host: %q", logs.String())
	}
}

// TestAPITLSPlainWarning: plain HTTP beyond loopback is warned about at
// start, loopback (the embedded default) is not.
func TestAPITLSPlainWarning(t *testing.T) {
	for addr, warn := range map[string]bool{"127.0.0.1:8080": false, "localhost:8080": false, "[::1]:8080": false, "0.0.0.0:8080": true, "10.0.0.5:8080": true} {
		var logs bytes.Buffer
		warnPlainAPI(addr, slog.New(slog.NewJSONHandler(&logs, nil)))
		if got := logs.Len() > 0; got != warn {
			t.Errorf("plain HTTP on %s: warned %v, want %v", addr, got, warn)
		}
	}
}

// TestAPITLSBadCertFailsStart: a node whose api_tls files do not load stops
// before it touches its data directory, naming the file.
func TestAPITLSBadCertFailsStart(t *testing.T) {
	base := t.TempDir()
	config := filepath.Join(base, "cluster.yaml")
	yaml := strings.Replace(apiTLSCluster, "data_dir: d", "data_dir: data", 1)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	err := runServe(t.Context(), []string{"--config", config, "--id", "n1"})
	if err == nil || !strings.Contains(err.Error(), "api_tls") || !strings.Contains(err.Error(), "n1-api.pem") {
		t.Fatalf("serve with missing API certificates: %v, want an api_tls error naming n1-api.pem", err)
	}
	if _, statErr := os.Stat(filepath.Join(base, "data")); !os.IsNotExist(statErr) {
		t.Errorf("data dir was touched: %v", statErr)
	}
}
