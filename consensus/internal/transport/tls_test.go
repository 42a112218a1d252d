package transport

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// files names a node's CA, certificate and key as GenerateDevCerts writes
// them.
type files struct{ ca, cert, key string }

func tlsFiles(dir, id string) files {
	return files{
		ca:   filepath.Join(dir, "ca.pem"),
		cert: filepath.Join(dir, id+".pem"),
		key:  filepath.Join(dir, id+"-key.pem"),
	}
}

func loadFiles(f files, id string) (*TLS, error) { return LoadTLS(f.ca, f.cert, f.key, id) }

// listen opens a listener on a fresh loopback port.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return cert
}

func TestGenerateDevCerts(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateDevCerts(dir, []string{"n1", "n2"}, []string{"node.example", "10.0.0.7"}); err != nil {
		t.Fatalf("GenerateDevCerts() error = %v", err)
	}
	ca := readCert(t, filepath.Join(dir, "ca.pem"))
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, id := range []string{"n1", "n2"} {
		cert := readCert(t, filepath.Join(dir, id+".pem"))
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s does not verify for usage %v: %v", id, usage, err)
			}
		}
		if !certMatchesID(cert, id) {
			t.Errorf("%s certificate does not name %s: CN %q, DNS %q", id, id, cert.Subject.CommonName, cert.DNSNames)
		}
		for _, name := range []string{"localhost", "node.example"} {
			if !slices.Contains(cert.DNSNames, name) {
				t.Errorf("%s DNS SANs %q lack %q", id, cert.DNSNames, name)
			}
		}
		if !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) ||
			!slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("10.0.0.7")) }) {
			t.Errorf("%s IP SANs = %v", id, cert.IPAddresses)
		}
		info, err := os.Stat(filepath.Join(dir, id+"-key.pem"))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s key file mode = %v, %v; want 0600", id, info.Mode().Perm(), err)
		}
		if _, err := loadFiles(tlsFiles(dir, id), id); err != nil {
			t.Errorf("LoadTLS(%s) error = %v", id, err)
		}
	}
	if _, err := loadFiles(tlsFiles(dir, "n1"), "n2"); err == nil {
		t.Errorf("LoadTLS with n1's certificate for node n2 succeeded, want an error")
	}

	// A later call reuses the CA, so new nodes join the same cluster.
	before, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err := GenerateDevCerts(dir, []string{"n3"}, nil); err != nil {
		t.Fatalf("GenerateDevCerts(n3) error = %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if !bytes.Equal(before, after) {
		t.Errorf("second GenerateDevCerts replaced the CA")
	}
	if _, err := readCert(t, filepath.Join(dir, "n3.pem")).Verify(x509.VerifyOptions{Roots: roots}); err != nil {
		t.Errorf("n3 does not chain to the original CA: %v", err)
	}
	for _, bad := range [][]string{nil, {""}, {"../x"}, {"ca"}, {"a b"}} {
		if err := GenerateDevCerts(dir, bad, nil); err == nil {
			t.Errorf("GenerateDevCerts(%q) succeeded, want an error", bad)
		}
	}
}

// mustLoad loads f for the node its certificate names.
func mustLoad(t testing.TB, f files) *TLS {
	t.Helper()
	id := readCert(t, f.cert).Subject.CommonName
	setup, err := loadFiles(f, id)
	if err != nil {
		t.Fatalf("LoadTLS(%s) error = %v", id, err)
	}
	return setup
}

// startMux starts a mux that claims id, over setup, whose RPC handler
// answers "<peer>:<body>".
func startMux(t testing.TB, id string, setup *TLS) *Mux {
	t.Helper()
	ln := listen(t)
	m := NewMux(Config{
		Listener:        ln,
		Advertise:       ln.Addr().String(),
		LocalID:         id,
		TLS:             setup,
		DialTimeout:     2 * time.Second,
		MaxConns:        16,
		MaxRequestBytes: 1 << 10,
		Logger:          slog.New(slog.DiscardHandler),
		Resolve:         func(string) string { return "" },
		Handle: func(peer string, _ byte, body []byte) (byte, []byte) {
			return 0, fmt.Appendf(nil, "%s:%s", peer, body)
		},
	})
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// Ensure the mux admits a peer only with a certificate from the cluster CA
// that names the node id it claims, and that a dialler refuses a server whose
// certificate names another node.
func TestMux_TLSPeerIdentity(t *testing.T) {
	good, foreign := t.TempDir(), t.TempDir()
	if err := GenerateDevCerts(good, []string{"n1", "n2", "n3"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := GenerateDevCerts(foreign, []string{"n2"}, nil); err != nil {
		t.Fatal(err)
	}
	server := startMux(t, "n1", mustLoad(t, tlsFiles(good, "n1")))
	addr := server.advertise
	tests := []struct {
		name     string
		id       string // node id the client claims
		files    files  // client's CA, certificate and key
		expected string // node id the client expects at addr
		ok       bool
	}{
		{"cluster peer", "n2", tlsFiles(good, "n2"), "n1", true},
		{"certificate from another CA", "n2", tlsFiles(foreign, "n2"), "n1", false},
		{"claims another node's id", "n3", files{ca: filepath.Join(good, "ca.pem"), cert: filepath.Join(good, "n2.pem"), key: filepath.Join(good, "n2-key.pem")}, "n1", false},
		{"server is not the expected node", "n2", tlsFiles(good, "n2"), "n3", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := startMux(t, tc.id, mustLoad(t, tc.files))
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := roundTrip(ctx, client, addr, tc.expected)
			if tc.ok {
				if err != nil || got != tc.id+":ping" {
					t.Errorf("round trip = %q, %v; want %q", got, err, tc.id+":ping")
				}
				return
			}
			if err == nil {
				t.Errorf("round trip = %q, want the connection refused", got)
			}
		})
	}
	if server.Refused() < 2 {
		t.Errorf("server refused %d connections, want at least 2", server.Refused())
	}
}

// roundTrip makes one RPC call through m to the node expected at addr.
func roundTrip(ctx context.Context, m *Mux, addr, expected string) (string, error) {
	c := NewClient(m, 1, 1<<10)
	defer c.Close()
	status, resp, _, err := c.Call(ctx, addr, expected, 1, []byte("ping"))
	if err != nil {
		return "", err
	}
	if status != 0 {
		return "", fmt.Errorf("status %d", status)
	}
	return string(resp), nil
}
