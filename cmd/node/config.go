package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tokenledger/tokenledger/consensus"
	"github.com/tokenledger/tokenledger/ledger"
)

// clusterFile is cluster.yaml: the members of a cluster, where each keeps its
// data, and the TLS files nodes use between themselves.
type clusterFile struct {
	// DataDir holds one directory per node, named by its id.
	DataDir string `yaml:"data_dir"`
	// Rulebook is a YAML rulebook file proposed once, when the cluster is
	// first bootstrapped; empty keeps the embedded default.
	Rulebook string `yaml:"rulebook"`
	// LogStore is the raft log store a node's new data dir gets: "wal" or
	// "boltdb"; empty keeps the built-in default. A data dir that already
	// holds raft state keeps its store (node migrate-log moves it).
	LogStore string `yaml:"log_store"`
	// TLS enables mutual TLS between nodes; {id} in a path is the node id.
	TLS *tlsFiles `yaml:"tls"`
	// APITLS makes each node serve its API over HTTPS; {id} in a path is
	// the node id.
	APITLS *apiTLSFiles `yaml:"api_tls"`
	Nodes  []nodeSpec   `yaml:"nodes"`
	// CorporateActionStep is how many holders each step of a large
	// corporate action pays (0: the default, 500); the leader's value
	// travels in the step, so nodes may differ.
	CorporateActionStep int `yaml:"corporate_action_step"`
}

// apiTLSFiles are the PEM files of a node's HTTPS API (apitls.go).
type apiTLSFiles struct {
	// Cert and Key are the API's server certificate (with its chain) and
	// key; `node certs` writes them as <id>-api.pem and <id>-api-key.pem.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA, if set, makes every API client present a certificate
	// signed by it, on top of its bearer key.
	ClientCA string `yaml:"client_ca"`
}

type tlsFiles struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

type nodeSpec struct {
	ID       string `yaml:"id"`
	RaftAddr string `yaml:"raft_addr"`
	// RaftBind is where the node listens for raft when its peers reach it
	// at raft_addr through NAT, a port forward or a proxy; empty: raft_addr.
	RaftBind string `yaml:"raft_bind"`
	APIAddr  string `yaml:"api_addr"`
}

// loadCluster reads cluster.yaml strictly: an unknown field is an error, so a
// typo never silently falls back to a default.
func loadCluster(path string) (*clusterFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cluster config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var c clusterFile
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("cluster config %s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("cluster config %s: %w", path, err)
	}
	// Relative paths are relative to the file, so the cluster starts from any directory.
	base := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	c.DataDir, c.Rulebook = rel(c.DataDir), rel(c.Rulebook)
	if c.TLS != nil {
		c.TLS.CA, c.TLS.Cert, c.TLS.Key = rel(c.TLS.CA), rel(c.TLS.Cert), rel(c.TLS.Key)
	}
	if a := c.APITLS; a != nil {
		a.Cert, a.Key, a.ClientCA = rel(a.Cert), rel(a.Key), rel(a.ClientCA)
	}
	return &c, nil
}

func (c *clusterFile) validate() error {
	if c.DataDir == "" {
		return errors.New("data_dir is required")
	}
	if len(c.Nodes) == 0 {
		return errors.New("nodes: at least one node is required")
	}
	seen := map[string]bool{}
	for i, n := range c.Nodes {
		switch {
		case n.ID == "" || n.RaftAddr == "" || n.APIAddr == "":
			return fmt.Errorf("nodes[%d]: id, raft_addr and api_addr are required", i)
		case seen[n.ID] || seen["raft "+n.RaftAddr] || seen["api "+n.APIAddr]:
			return fmt.Errorf("nodes[%d]: id or address repeats another node's", i)
		}
		seen[n.ID], seen["raft "+n.RaftAddr], seen["api "+n.APIAddr] = true, true, true
	}
	switch consensus.LogStore(c.LogStore) {
	case "", consensus.LogStoreWAL, consensus.LogStoreBolt:
	default:
		return fmt.Errorf("log_store: %q is neither %q nor %q", c.LogStore, consensus.LogStoreWAL, consensus.LogStoreBolt)
	}
	if err := validStepHolders(c.CorporateActionStep, true); err != nil {
		return fmt.Errorf("corporate_action_step: %w", err)
	}
	if c.TLS != nil && (c.TLS.CA == "" || c.TLS.Cert == "" || c.TLS.Key == "") {
		return errors.New("tls: ca, cert and key are all required when tls is set")
	}
	if a := c.APITLS; a != nil && (a.Cert == "" || a.Key == "") {
		return errors.New("api_tls: cert and key are both required when api_tls is set (client_ca is optional)")
	}
	return nil
}

// forNode returns the node's own files: {id} replaced by its id.
func (a *apiTLSFiles) forNode(id string) *apiTLSFiles {
	if a == nil {
		return nil
	}
	return &apiTLSFiles{Cert: forNode(a.Cert, id), Key: forNode(a.Key, id), ClientCA: forNode(a.ClientCA, id)}
}

func (c *clusterFile) node(id string) (nodeSpec, error) {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n, nil
		}
	}
	return nodeSpec{}, fmt.Errorf("node %q is not in the cluster config", id)
}

func forNode(path, id string) string { return strings.ReplaceAll(path, "{id}", id) }

// validStepHolders checks a step's holder count (0 stands for the default
// where zero is allowed).
func validStepHolders(n int, zeroOK bool) error {
	if (n == 0 && zeroOK) || (n >= 1 && n <= ledger.MaxStepHolders) {
		return nil
	}
	return fmt.Errorf("%d is not between 1 and %d", n, ledger.MaxStepHolders)
}
