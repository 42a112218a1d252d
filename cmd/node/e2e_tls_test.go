//go:build unix

package main_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// e2eProbeWait is how long a probe of the raft port waits for the node to
// close a connection it refuses; one it admits stays open past it.
const e2eProbeWait = 2 * time.Second

// TestE2E_MutualTLS runs the production shape: three real processes with
// the certificates `node certs` makes, mutual TLS between them. A write
// through a follower is acknowledged; under load the leader is killed, the
// survivors keep deciding writes, and it restarts and catches up, all over
// TLS. On a node's raft port, a client without a certificate, with a
// member's id from another CA, or with a certificate of this CA for an id
// outside the cluster, is closed at the handshake, while a member's own
// certificate is admitted. No acknowledged write is lost or applied twice.
func TestE2E_MutualTLS(t *testing.T) {
	c := newClusterWith(t, clusterOpts{tlsIDs: []string{"n1", "n2", "n3", "outsider"}})
	leader, h := c.begin()
	follower := c.others(leader)[0]
	c.mustSubmit(h, transferOp(newRand(21), "tls-via-follower"), follower, "accepted")

	// Who may open a raft connection: probed while the cluster runs.
	other := filepath.Join(t.TempDir(), "other-ca")
	if out, err := exec.Command(e2eBinary, "certs", "--dir", other, "--ids", "n2").CombinedOutput(); err != nil {
		t.Fatalf("node certs: %v\n%s", err, out)
	}
	target := c.procs[leader].raftAddr
	probes := []struct {
		name     string
		certDir  string // "" sends no certificate
		certID   string
		claim    string
		plain    bool // no TLS at all
		admitted bool
	}{
		{"member certificate", c.certs, c.procs[follower].id, c.procs[follower].id, false, true},
		{"plain TCP", "", "", "n2", true, false},
		{"no certificate", "", "", "n2", false, false},
		{"member id from another CA", other, "n2", "n2", false, false},
		{"this CA, id outside the cluster", c.certs, "outsider", "outsider", false, false},
		{"this CA, claiming another member's id", c.certs, "outsider", c.procs[follower].id, false, false},
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			var certs []tls.Certificate
			if p.certDir != "" {
				cert, err := tls.LoadX509KeyPair(filepath.Join(p.certDir, p.certID+".pem"), filepath.Join(p.certDir, p.certID+"-key.pem"))
				if err != nil {
					t.Fatal(err)
				}
				certs = []tls.Certificate{cert}
			}
			admitted, detail := probeRaftPort(t, target, certs, p.claim, p.plain)
			if admitted != p.admitted {
				t.Errorf("admitted = %v (%s), want %v", admitted, detail, p.admitted)
			}
		})
	}

	w := c.startWriters(h, "tls", e2eWriters, e2eWriterMaxOps, uint64(time.Now().UnixNano()))
	w.waitDecided(20, e2eProgressWait, "writes over TLS")
	c.killLeaderAndRecover(w, leader, 20)
	w.halt()
	c.checkHistory(h, c.all())
}

// probeRaftPort opens a raft connection to addr the way a node does (TLS
// 1.3 unless plain, then the kind byte, the id's length and the id) and
// reports whether the node kept it open past e2eProbeWait (admitted) or
// closed it, with what the probe saw.
func probeRaftPort(t *testing.T, addr string, certs []tls.Certificate, claim string, plain bool) (bool, string) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, e2eProbeWait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer raw.Close()
	if err := raw.SetDeadline(time.Now().Add(e2eProbeWait)); err != nil {
		t.Fatal(err)
	}
	var conn net.Conn = raw
	if !plain {
		// The probe judges the node's answer, not the node's certificate,
		// so it does not verify the server.
		tc := tls.Client(raw, &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			return false, "handshake: " + err.Error()
		}
		conn = tc
	}
	header := append([]byte{1, byte(len(claim))}, claim...)
	if plain {
		// What a node without TLS sends next: the start of raft's first
		// request. A TLS server reads a 5-byte record header first.
		header = append(header, make([]byte, 8)...)
	}
	if _, err := conn.Write(header); err != nil {
		return false, "write: " + err.Error()
	}
	// A refused connection is closed (after a TLS alert, perhaps); an
	// admitted one waits for raft's first request until the deadline.
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true, "held open"
	}
	return false, "closed: " + errString(err)
}

func errString(err error) string {
	if err == nil {
		return "EOF"
	}
	return err.Error()
}
