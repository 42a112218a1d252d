package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Validity of the certificates GenerateDevCerts writes.
const (
	devCAValidity   = 5 * 365 * 24 * time.Hour
	devCertValidity = 2 * 365 * 24 * time.Hour
)

// errPeerIdentity is returned when a peer's certificate does not name the node
// id it claims or is expected to have.
var errPeerIdentity = errors.New("transport: peer certificate does not match node id")

// errNotMember is returned when a peer with a valid certificate is not a
// member of the cluster: a certificate from the cluster CA alone does not let
// a node replicate or forward writes.
var errNotMember = errors.New("transport: peer is not a member of the cluster")

// TLS holds a node's loaded key pair and the cluster CA.
type TLS struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// LoadTLS loads the cluster CA from caFile and the node's key pair from
// certFile and keyFile (PEM), and checks that the node's own certificate is
// signed by the CA and names id, so a misconfigured node fails at start
// rather than being refused by every peer.
func LoadTLS(caFile, certFile, keyFile, id string) (*TLS, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("transport: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("transport: no certificate in CA file %s", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("transport: load key pair: %w", err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("transport: parse certificate %s: %w", certFile, err)
		}
		cert.Leaf = leaf
	}
	s := &TLS{cert: cert, pool: pool}
	if err := s.verifyChain(cert.Certificate, x509.ExtKeyUsageServerAuth); err != nil {
		return nil, fmt.Errorf("transport: certificate %s: %w", certFile, err)
	}
	if err := s.verifyChain(cert.Certificate, x509.ExtKeyUsageClientAuth); err != nil {
		return nil, fmt.Errorf("transport: certificate %s: %w", certFile, err)
	}
	if !certMatchesID(leaf, id) {
		return nil, fmt.Errorf("transport: certificate %s does not name node %q", certFile, id)
	}
	return s, nil
}

// serverConfig is used for inbound connections: the client must present a
// certificate signed by the cluster CA. Its identity is checked against the
// node id it claims in the connection header, after the handshake.
func (s *TLS) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates:           []tls.Certificate{s.cert},
		ClientCAs:              s.pool,
		ClientAuth:             tls.RequireAndVerifyClientCert,
		MinVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true,
	}
}

// clientConfig is used to dial the node expectedID.
func (s *TLS) clientConfig(expectedID string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{s.cert},
		MinVersion:   tls.VersionTLS13,
		// Node certificates name node ids, and nodes are dialled by address,
		// so Go's host name check does not apply. VerifyConnection does the
		// whole check instead: chain to the cluster CA, then the id.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			raw := make([][]byte, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				raw[i] = c.Raw
			}
			if err := s.verifyChain(raw, x509.ExtKeyUsageServerAuth); err != nil {
				return err
			}
			if !certMatchesID(cs.PeerCertificates[0], expectedID) {
				return fmt.Errorf("%w: want %q", errPeerIdentity, expectedID)
			}
			return nil
		},
	}
}

// verifyChain checks that chain[0] chains to the cluster CA for usage.
func (s *TLS) verifyChain(chain [][]byte, usage x509.ExtKeyUsage) error {
	if len(chain) == 0 {
		return errors.New("transport: peer presented no certificate")
	}
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("transport: parse peer certificate: %w", err)
		}
		certs[i] = c
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         s.pool,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return fmt.Errorf("transport: peer certificate: %w", err)
	}
	return nil
}

// certMatchesID reports whether cert names the node id, as its common name or
// one of its DNS SANs.
func certMatchesID(cert *x509.Certificate, id string) bool {
	if id == "" {
		return false
	}
	return cert.Subject.CommonName == id || slices.Contains(cert.DNSNames, id)
}

// GenerateDevCerts writes a development CA and one certificate per node into
// dir: ca.pem, ca-key.pem, <id>.pem and <id>-key.pem. Keys are ECDSA P-256.
// Each node certificate has the id as common name and DNS SAN, plus localhost,
// 127.0.0.1, ::1 and every entry of hosts (names or IP addresses), and is valid
// for both server and client authentication. An existing ca.pem/ca-key.pem
// pair is reused, so nodes can be added to a dev cluster later. Not for
// production: the CA key sits next to the certificates.
func GenerateDevCerts(dir string, nodeIDs []string, hosts []string) error {
	if len(nodeIDs) == 0 {
		return errors.New("transport: generate certs: no node ids")
	}
	for _, id := range nodeIDs {
		if err := CheckID(id); err != nil {
			return fmt.Errorf("transport: generate certs: node id %q %w", id, err)
		}
		if strings.ContainsAny(id, `/\`) || id == "ca" || id == "." || id == ".." {
			return fmt.Errorf("transport: generate certs: %q cannot name a file", id)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("transport: generate certs: %w", err)
	}
	ca, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return err
	}
	for _, id := range nodeIDs {
		if err := writeNodeCert(dir, id, hosts, ca, caKey); err != nil {
			return err
		}
	}
	return nil
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("transport: %s is not an ECDSA key", keyPath)
		}
		ca, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, nil, fmt.Errorf("transport: parse %s: %w", certPath, err)
		}
		return ca, key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("transport: load dev CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "tokenledger dev CA", Organization: []string{"tokenledger"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(devCAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: parse CA certificate: %w", err)
	}
	if err := writePEM(keyPath, key, nil); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certPath, nil, der); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

func writeNodeCert(dir, id string, hosts []string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	return writeLeafCert(dir, leafCert{
		file: id, commonName: id, dns: []string{id}, hosts: hosts, validity: devCertValidity,
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, ca, caKey)
}

// leafCert is one certificate the dev CA signs: written as <file>.pem and
// <file>-key.pem, naming localhost, 127.0.0.1, ::1, dns and hosts.
type leafCert struct {
	file, commonName string
	dns, hosts       []string
	usages           []x509.ExtKeyUsage
	validity         time.Duration
}

func writeLeafCert(dir string, c leafCert, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("transport: generate key for %s: %w", c.file, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	dns := append(slices.Clone(c.dns), "localhost")
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, h := range c.hosts {
		ip := net.ParseIP(h)
		switch {
		case ip != nil && !slices.ContainsFunc(ips, ip.Equal):
			ips = append(ips, ip)
		case ip == nil && h != "" && !slices.Contains(dns, h):
			dns = append(dns, h)
		}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: c.commonName, Organization: []string{"tokenledger"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(c.validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  c.usages,
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("transport: create certificate for %s: %w", c.file, err)
	}
	if err := writePEM(filepath.Join(dir, c.file+"-key.pem"), key, nil); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, c.file+".pem"), nil, der)
}

// APICertFiles are the names of a node's API certificate and key in the
// certificate directory: apart from its node certificate (<id>.pem), which
// also authenticates it as a client to its peers and should not be handed
// to whatever terminates HTTPS.
func APICertFiles(dir, id string) (cert, key string) {
	return filepath.Join(dir, id+"-api.pem"), filepath.Join(dir, id+"-api-key.pem")
}

// GenerateAPICerts writes an HTTPS server certificate for each node's API
// (APICertFiles), signed by the dev CA in dir, which GenerateDevCerts made
// (or makes now). Each names localhost, 127.0.0.1, ::1 and the hosts listed
// for its id, and serves server authentication only. A dev tool, like
// GenerateDevCerts.
func GenerateAPICerts(dir string, ids []string, hostsByID map[string][]string) error {
	ca, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return err
	}
	for _, id := range ids {
		c := leafCert{
			file: id + "-api", commonName: id + " API", hosts: hostsByID[id], validity: devCertValidity,
			usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		if err := writeLeafCert(dir, c, ca, caKey); err != nil {
			return err
		}
	}
	return nil
}

// writePEM writes either a private key (mode 0600) or a certificate (0644),
// through a temporary file and a rename so a reader never sees half a file.
func writePEM(path string, key *ecdsa.PrivateKey, certDER []byte) error {
	block, mode := &pem.Block{Type: "CERTIFICATE", Bytes: certDER}, os.FileMode(0o644)
	if key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return fmt.Errorf("transport: marshal key: %w", err)
		}
		block, mode = &pem.Block{Type: "PRIVATE KEY", Bytes: der}, 0o600
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(block), mode); err != nil {
		return fmt.Errorf("transport: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("transport: write %s: %w", path, err)
	}
	return nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("transport: certificate serial: %w", err)
	}
	return serial, nil
}
