package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/consensus/internal/transport"
)

func tlsFiles(dir, id string) *TLSConfig {
	return &TLSConfig{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, id+".pem"),
		KeyFile:  filepath.Join(dir, id+"-key.pem"),
	}
}

// Ensure GenerateDevCerts refuses a node id that Config.Validate would refuse,
// as a configuration error, and writes nothing for it.
func TestGenerateDevCerts_RefusesBadIDs(t *testing.T) {
	for _, bad := range []string{"", "a b", string(make([]byte, MaxNodeIDBytes+1))} {
		dir := t.TempDir()
		if err := GenerateDevCerts(dir, []string{bad}, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("GenerateDevCerts(%q) error = %v, want ErrConfig", bad, err)
		}
		if written, _ := os.ReadDir(dir); len(written) != 0 {
			t.Errorf("GenerateDevCerts(%q) wrote %d files", bad, len(written))
		}
	}
	dir := t.TempDir()
	if err := GenerateDevCerts(dir, []string{"n1"}, nil); err != nil {
		t.Fatalf("GenerateDevCerts(n1) error = %v", err)
	}
	if _, err := transport.LoadTLS(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "n1.pem"), filepath.Join(dir, "n1-key.pem"), "n1"); err != nil {
		t.Errorf("LoadTLS(n1) error = %v", err)
	}
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
		return c.nodes[0].mux.Refused()+c.nodes[1].mux.Refused() > 0
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

	files := tlsFiles(certs, "n9")
	setup, err := transport.LoadTLS(files.CAFile, files.CertFile, files.KeyFile, "n9")
	if err != nil {
		t.Fatal(err)
	}
	outsider := transport.NewMux(transport.Config{
		Listener:    listen(t, "127.0.0.1:0"),
		LocalID:     "n9",
		TLS:         setup,
		DialTimeout: 2 * time.Second,
		MaxConns:    1,
		Resolve:     func(string) string { return "" },
		Handle:      func(string, byte, []byte) (byte, []byte) { return statusError, nil },
	})
	defer outsider.Close()
	client := transport.NewClient(outsider, 1, 1<<10)
	defer client.Close()

	target := c.nodes[leader]
	before := target.mux.Refused()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// A read index request: a member would get an answer.
	body := binary.BigEndian.AppendUint64(nil, uint64(time.Second))
	if status, resp, _, err := client.Call(ctx, c.cfgs[leader].RaftAddr, c.cfgs[leader].ID, rpcReadIndex, body); err == nil {
		t.Fatalf("non-member n9 got an answer (status %d, %q) from the leader", status, resp)
	}
	if target.mux.Refused() <= before {
		t.Errorf("the leader did not count n9's connection as refused")
	}
	c.converged([]string{"member-write"})
}
