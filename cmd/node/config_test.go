package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/consensus"
)

// The cluster files the README tells users to start from load as written.
func TestShippedClusterFiles(t *testing.T) {
	for _, name := range []string{"cluster.yaml", "cluster-tls.yaml"} {
		t.Run(name, func(t *testing.T) {
			c, err := loadCluster(filepath.Join("..", "..", name))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Nodes) != 3 {
				t.Fatalf("%d nodes, want 3", len(c.Nodes))
			}
			for i, n := range c.Nodes {
				if want := "n" + string(rune('1'+i)); n.ID != want || !strings.HasPrefix(n.RaftAddr, "127.0.0.1:") || !strings.HasPrefix(n.APIAddr, "127.0.0.1:") {
					t.Errorf("node %d = %+v, want %s on 127.0.0.1", i, n, want)
				}
			}
			if !filepath.IsAbs(c.DataDir) && !strings.HasPrefix(c.DataDir, filepath.Join("..", "..")) {
				t.Errorf("data_dir %q is not resolved against the file's directory", c.DataDir)
			}
			if name == "cluster-tls.yaml" {
				if c.TLS == nil {
					t.Fatal("no tls section")
				}
				if got := forNode(c.TLS.Cert, "n2"); !strings.HasSuffix(got, filepath.Join("data", "certs", "n2.pem")) {
					t.Errorf("n2's certificate resolves to %q", got)
				}
				// Production serves the API over HTTPS, with the files `node certs` writes.
				if c.APITLS == nil {
					t.Fatal("no api_tls section")
				}
				a := c.APITLS.forNode("n2")
				wantCert, wantKey := consensus.APICertFiles(filepath.Join("data", "certs"), "n2")
				if !strings.HasSuffix(a.Cert, wantCert) || !strings.HasSuffix(a.Key, wantKey) || a.ClientCA != "" {
					t.Errorf("n2's API files resolve to %+v, want %s and %s", a, wantCert, wantKey)
				}
			} else if c.APITLS != nil {
				t.Errorf("%s: the first-run cluster file serves HTTPS; it needs no certificates", name)
			}
		})
	}
}

// A cluster file is read strictly: every mistake is named, none falls back
// to a default.
func TestLoadClusterRefuses(t *testing.T) {
	const nodes = `
nodes:
  - {id: n1, raft_addr: "127.0.0.1:7001", api_addr: "127.0.0.1:8081"}
  - {id: n2, raft_addr: "127.0.0.1:7002", api_addr: "127.0.0.1:8082", raft_bind: "0.0.0.0:7002"}
`
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"valid, with a bind address", "data_dir: d\n" + nodes, ""},
		{"valid, with HTTPS and client certificates", "data_dir: d\napi_tls: {cert: \"{id}-api.pem\", key: \"/etc/tl/{id}-api-key.pem\", client_ca: clients.pem}\n" + nodes, ""},
		{"valid, with a log store", "data_dir: d\nlog_store: boltdb\n" + nodes, ""},
		{"unknown log store", "data_dir: d\nlog_store: rocksdb\n" + nodes, "log_store"},
		{"unknown field", "data_dir: d\nrulebok: x\n" + nodes, "rulebok"},
		{"misspelt node field", "data_dir: d\nnodes:\n  - {id: n1, raft_adr: \"127.0.0.1:7001\", api_addr: \"127.0.0.1:8081\"}\n", "raft_adr"},
		{"no data_dir", nodes, "data_dir"},
		{"no nodes", "data_dir: d\n", "at least one node"},
		{"node without api_addr", "data_dir: d\nnodes:\n  - {id: n1, raft_addr: \"127.0.0.1:7001\"}\n", "api_addr"},
		{"repeated id", "data_dir: d\nnodes:\n  - {id: n1, raft_addr: \"127.0.0.1:7001\", api_addr: \"127.0.0.1:8081\"}\n  - {id: n1, raft_addr: \"127.0.0.1:7002\", api_addr: \"127.0.0.1:8082\"}\n", "repeats"},
		{"repeated raft address", "data_dir: d\nnodes:\n  - {id: n1, raft_addr: \"127.0.0.1:7001\", api_addr: \"127.0.0.1:8081\"}\n  - {id: n2, raft_addr: \"127.0.0.1:7001\", api_addr: \"127.0.0.1:8082\"}\n", "repeats"},
		{"half a tls section", "data_dir: d\ntls: {ca: ca.pem}\n" + nodes, "tls"},
		{"api_tls without a key", "data_dir: d\napi_tls: {cert: c.pem}\n" + nodes, "api_tls: cert and key"},
		{"api_tls with only a client_ca", "data_dir: d\napi_tls: {client_ca: ca.pem}\n" + nodes, "api_tls: cert and key"},
		{"misspelt api_tls field", "data_dir: d\napi_tls: {cert: c.pem, key: k.pem, client_cert: x}\n" + nodes, "client_cert"},
		{"not yaml", "data_dir: [\n", "cluster config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cluster.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadCluster(path)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("loadCluster() = %v, want no error", err)
			case tc.wantErr == "":
				if c.Nodes[1].RaftBind != "0.0.0.0:7002" || c.DataDir != filepath.Join(filepath.Dir(path), "d") {
					t.Errorf("loaded %+v", c)
				}
				if tc.name == "valid, with HTTPS and client certificates" {
					dir := filepath.Dir(path)
					want := apiTLSFiles{Cert: filepath.Join(dir, "n2-api.pem"), Key: "/etc/tl/n2-api-key.pem", ClientCA: filepath.Join(dir, "clients.pem")}
					if got := c.APITLS.forNode("n2"); *got != want {
						t.Errorf("n2's api_tls = %+v, want %+v", *got, want)
					}
				}
			case err == nil || !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("loadCluster() = %v, want an error naming %q", err, tc.wantErr)
			}
		})
	}
}

// TestServeRefusesJoinWithoutConfig: a joining node must know the cluster's
// nodes to ask whether its id was ever a member, and is refused before it
// touches its data directory.
func TestServeRefusesJoinWithoutConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	err := runServe(context.Background(), []string{"--join", "--id", "n4", "--data", dir, "--raft-addr", "127.0.0.1:7004", "--api-addr", "127.0.0.1:8084"})
	if err == nil || !strings.Contains(err.Error(), "--join needs --config") {
		t.Fatalf("serve --join without --config: %v", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("data dir was touched: %v", statErr)
	}
}

// TestMigrateLogRefuses: migrate-log names its usage, and leaves a directory
// without raft state as it found it.
func TestMigrateLogRefuses(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no data dir", nil, "usage"},
		{"extra argument", []string{"--data", empty, "x"}, "usage"},
		{"no raft state", []string{"--data", empty}, "not a raft data dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), append([]string{"migrate-log"}, tc.args...))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("migrate-log %v = %v, want an error naming %q", tc.args, err, tc.wantErr)
			}
		})
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("migrate-log touched %s: %v %v", empty, entries, err)
	}
}
