package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// apiCertValidity is how long the API certificates `node certs` writes are
// valid, like the node certificates beside them.
const apiCertValidity = 2 * 365 * 24 * time.Hour

// apiCertFiles are the names of a node's API certificate and key in the
// certificate directory: apart from its node certificate (<id>.pem), which
// also authenticates it as a client to its peers and should not be handed
// to whatever terminates HTTPS.
func apiCertFiles(dir, id string) (cert, key string) {
	return filepath.Join(dir, id+"-api.pem"), filepath.Join(dir, id+"-api-key.pem")
}

// writeAPICerts writes an HTTPS server certificate for each node's API,
// signed by the dev CA in dir (ca.pem, ca-key.pem, which GenerateDevCerts
// has made or reused). Each names localhost, 127.0.0.1, ::1, every entry of
// hosts, and the node's own API hosts (apiHosts[id]). It serves server
// authentication only. A dev tool: the CA key sits beside it.
func writeAPICerts(dir string, ids, hosts []string, apiHosts map[string][]string) error {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return fmt.Errorf("certs: load dev CA: %w", err)
	}
	caKey, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("certs: %s is not an ECDSA key", filepath.Join(dir, "ca-key.pem"))
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("certs: parse dev CA: %w", err)
	}
	for _, id := range ids {
		if err := writeAPICert(dir, id, append(slices.Clone(hosts), apiHosts[id]...), ca, caKey); err != nil {
			return err
		}
	}
	return nil
}

func writeAPICert(dir, id string, hosts []string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("certs: generate API key for %s: %w", id, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("certs: serial: %w", err)
	}
	dns := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, h := range hosts {
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
		Subject:      pkix.Name{CommonName: id + " API", Organization: []string{"tokenledger"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(apiCertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certs: create API certificate for %s: %w", id, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("certs: marshal API key for %s: %w", id, err)
	}
	certPath, keyPath := apiCertFiles(dir, id)
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileAtomic writes through a temporary file and a rename, so a node
// starting meanwhile never reads half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	return nil
}
