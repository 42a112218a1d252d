package consensus

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func tlsFiles(dir, id string) *TLSConfig {
	return &TLSConfig{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, id+".pem"),
		KeyFile:  filepath.Join(dir, id+"-key.pem"),
	}
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
		if _, err := loadTLS(tlsFiles(dir, id), id); err != nil {
			t.Errorf("loadTLS(%s) error = %v", id, err)
		}
	}
	if _, err := loadTLS(tlsFiles(dir, "n1"), "n2"); err == nil {
		t.Errorf("loadTLS with n1's certificate for node n2 succeeded, want an error")
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
	for _, bad := range [][]string{nil, {""}, {"../x"}, {"ca"}} {
		if err := GenerateDevCerts(dir, bad, nil); err == nil {
			t.Errorf("GenerateDevCerts(%q) succeeded, want an error", bad)
		}
	}
}

// echoMux starts a mux for id whose RPC handler echoes one line.
func echoMux(t testing.TB, id string, files *TLSConfig, resolve func(string) string) *mux {
	t.Helper()
	setup, err := loadTLS(files, id)
	if err != nil {
		t.Fatalf("loadTLS(%s) error = %v", id, err)
	}
	cfg := DefaultConfig()
	cfg.DialTimeout = 2 * time.Second
	ln := listen(t, "127.0.0.1:0")
	m := newMux(ln, ln.Addr().String(), id, setup, &cfg, slog.New(slog.DiscardHandler))
	m.resolve = resolve
	m.serveRPC = func(c net.Conn, peer string) {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil {
			_, _ = io.WriteString(c, peer+":"+line)
		}
	}
	m.start()
	t.Cleanup(func() { _ = m.close() })
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
	server := echoMux(t, "n1", tlsFiles(good, "n1"), func(string) string { return "" })
	addr := server.advertise
	tests := []struct {
		name     string
		id       string     // node id the client claims
		files    *TLSConfig // client's CA, certificate and key
		expected string     // node id the client expects at addr
		ok       bool
	}{
		{"cluster peer", "n2", tlsFiles(good, "n2"), "n1", true},
		{"certificate from another CA", "n2", tlsFiles(foreign, "n2"), "n1", false},
		{"claims another node's id", "n3", &TLSConfig{CAFile: filepath.Join(good, "ca.pem"), CertFile: filepath.Join(good, "n2.pem"), KeyFile: filepath.Join(good, "n2-key.pem")}, "n1", false},
		{"server is not the expected node", "n2", tlsFiles(good, "n2"), "n3", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setup, err := loadTLS(&TLSConfig{CAFile: tc.files.CAFile, CertFile: tc.files.CertFile, KeyFile: tc.files.KeyFile}, certName(t, tc.files.CertFile))
			if err != nil {
				t.Fatalf("loadTLS error = %v", err)
			}
			cfg := DefaultConfig()
			cfg.DialTimeout = 2 * time.Second
			client := newMux(listen(t, "127.0.0.1:0"), "", tc.id, setup, &cfg, slog.New(slog.DiscardHandler))
			client.resolve = func(string) string { return "" }
			client.serveRPC = func(net.Conn, string) {}
			client.start()
			defer client.close()

			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := roundTrip(ctx, client, addr, tc.expected)
			if tc.ok {
				if err != nil || got != tc.id+":ping\n" {
					t.Errorf("round trip = %q, %v; want %q", got, err, tc.id+":ping\n")
				}
				return
			}
			if err == nil {
				t.Errorf("round trip = %q, want the connection refused", got)
			}
		})
	}
	if server.refused.Load() < 2 {
		t.Errorf("server refused %d connections, want at least 2", server.refused.Load())
	}
}

// certName is the common name of the certificate in path.
func certName(t testing.TB, path string) string {
	return readCert(t, path).Subject.CommonName
}

func roundTrip(ctx context.Context, m *mux, addr, expected string) (string, error) {
	c, err := m.dial(ctx, connRPC, addr, expected)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// Ensure a cluster runs over mutual TLS with dev certificates: forwarding,
// replication and linearizable reads.
func TestCluster_TLS(t *testing.T) {
	certs := t.TempDir()
	if err := GenerateDevCerts(certs, []string{"n1", "n2", "n3"}, nil); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, func(i int, cfg *Config) { cfg.TLS = tlsFiles(certs, cfg.ID) })
	leader := c.leader()
	follower := c.follower(leader)
	var want []string
	for i := range 5 {
		item := fmt.Sprintf("tls-%d", i)
		c.propose(t.Context(), follower, item)
		want = append(want, item)
	}
	other := 3 - leader - follower
	if err := c.nodes[other].ReadIndex(t.Context()); err != nil {
		t.Fatalf("ReadIndex() error = %v", err)
	}
	if !slices.Equal(c.machines[other].items(), want) {
		t.Errorf("after ReadIndex %s has %q, want %q", c.cfgs[other].ID, c.machines[other].items(), want)
	}
	c.converged(want)
}

// Ensure a node whose certificate comes from another CA is kept out: the
// other two form a cluster without it, and it can neither replicate nor
// forward.
func TestCluster_TLSForeignCA(t *testing.T) {
	certs, foreign := t.TempDir(), t.TempDir()
	if err := GenerateDevCerts(certs, []string{"n1", "n2"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := GenerateDevCerts(foreign, []string{"n3"}, nil); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, func(i int, cfg *Config) {
		cfg.TLS = tlsFiles(certs, cfg.ID)
		if cfg.ID == "n3" {
			cfg.TLS = tlsFiles(foreign, cfg.ID)
		}
		cfg.LeaderWait = 100 * time.Millisecond
	})
	var leader int
	waitFor(t, 10*time.Second, "n1 or n2 to lead", func() bool {
		for i := range 2 {
			if c.nodes[i].IsLeader() {
				leader = i
				return true
			}
		}
		return false
	})
	c.propose(t.Context(), leader, "inside")
	waitFor(t, 10*time.Second, "the cluster to refuse n3", func() bool {
		return c.nodes[0].mux.refused.Load()+c.nodes[1].mux.refused.Load() > 0
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if _, err := c.nodes[2].Propose(ctx, [][]byte{[]byte("outside")}); !errors.Is(err, ErrNoLeader) {
		t.Errorf("Propose via n3 error = %v, want ErrNoLeader", err)
	}
	if got := c.nodes[2].AppliedIndex(); got != 0 {
		t.Errorf("n3 applied up to %d, want nothing", got)
	}
	if c.machines[0].has("outside") || c.machines[1].has("outside") {
		t.Errorf("a proposal from n3 reached the cluster")
	}
}

// Ensure a node with a certificate from the cluster CA that is not a member
// of the cluster is refused: a certificate alone does not let it replicate
// or forward writes.
func TestCluster_TLSNonMember(t *testing.T) {
	certs := t.TempDir()
	if err := GenerateDevCerts(certs, []string{"n1", "n2", "n3", "n9"}, nil); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, func(i int, cfg *Config) { cfg.TLS = tlsFiles(certs, cfg.ID) })
	leader := c.leader()
	c.propose(t.Context(), leader, "member-write")

	setup, err := loadTLS(tlsFiles(certs, "n9"), "n9")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DialTimeout = 2 * time.Second
	outsider := newMux(listen(t, "127.0.0.1:0"), "", "n9", setup, &cfg, slog.New(slog.DiscardHandler))
	outsider.resolve = func(string) string { return "" }
	outsider.serveRPC = func(net.Conn, string) {}
	outsider.start()
	defer outsider.close()

	target := c.nodes[leader]
	before := target.mux.refused.Load()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if got, err := roundTrip(ctx, outsider, c.cfgs[leader].RaftAddr, c.cfgs[leader].ID); err == nil {
		t.Fatalf("non-member n9 got an answer %q from the leader", got)
	}
	if target.mux.refused.Load() <= before {
		t.Errorf("the leader did not count n9's connection as refused")
	}
	c.converged([]string{"member-write"})
}
