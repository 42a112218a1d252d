package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tokenledger/tokenledger/consensus"
)

// runCerts writes a dev CA, a certificate per node for mutual TLS between
// nodes (<id>.pem), and one per node for its HTTPS API (<id>-api.pem).
func runCerts(args []string) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	dir := fs.String("dir", "./data/certs", "directory to write ca.pem, <id>.pem / <id>-key.pem and <id>-api.pem / <id>-api-key.pem into")
	ids := fs.String("ids", "n1,n2,n3", "comma-separated node ids (default: the --config file's nodes, if given)")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "comma-separated host names and IPs every node and API certificate carries")
	config := fs.String("config", "", "cluster file: its nodes are the default --ids, and each node's API certificate also names the host of its api_addr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	idList := strings.Split(*ids, ",")
	apiHosts := map[string][]string{}
	if *config != "" {
		c, err := loadCluster(*config)
		if err != nil {
			return err
		}
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "ids" })
		if !set {
			idList = nil
		}
		for _, n := range c.Nodes {
			if !set {
				idList = append(idList, n.ID)
			}
			if host, _, err := net.SplitHostPort(n.APIAddr); err == nil && !unspecifiedHost(host) {
				apiHosts[n.ID] = append(apiHosts[n.ID], host)
			}
		}
	}
	for _, id := range idList {
		// <id>-api.pem would be both this node's API certificate and the
		// node certificate of a node named <id>-api.
		if slices.Contains(idList, id+"-api") {
			return fmt.Errorf("certs: node ids %q and %q would share the file %s-api.pem", id, id+"-api", id)
		}
	}
	if err := consensus.GenerateDevCerts(*dir, idList, strings.Split(*hosts, ",")); err != nil {
		return err
	}
	// Each API certificate names the common hosts and the node's own API host.
	apiNames := map[string][]string{}
	for _, id := range idList {
		apiNames[id] = append(strings.Split(*hosts, ","), apiHosts[id]...)
	}
	if err := consensus.GenerateAPICerts(*dir, idList, apiNames); err != nil {
		return err
	}
	fmt.Printf("wrote a dev CA, node certificates and API certificates for %s to %s\n", strings.Join(idList, ","), *dir)
	return nil
}

// runMigrateLog: `migrate-log --data DIR` moves the raft log and stable store
// of the stopped node whose data dir is DIR (serve's --data, or a cluster
// file's data_dir/<id>) from raft.db into a WAL, verified before raft.db is
// renamed aside. Repeating it after an interruption finishes the job.
func runMigrateLog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate-log", flag.ContinueOnError)
	dataDir := fs.String("data", "", "the stopped node's data directory (it holds state.db and raft/)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || fs.NArg() > 0 {
		return errors.New("usage: node migrate-log --data DIR")
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	raftDir := filepath.Join(*dataDir, raftSubdir)
	if err := consensus.MigrateLogStore(ctx, raftDir, log); err != nil {
		return err
	}
	fmt.Printf("%s: the raft log is in a WAL\n", raftDir)
	return nil
}
