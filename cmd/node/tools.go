package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tokenledger/tokenledger/consensus"
	"github.com/tokenledger/tokenledger/eligibility"
)

func runCerts(args []string) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	dir := fs.String("dir", "./data/certs", "directory to write ca.pem and <id>.pem / <id>-key.pem into")
	ids := fs.String("ids", "n1,n2,n3", "comma-separated node ids")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "comma-separated host names and IPs every node certificate carries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := consensus.GenerateDevCerts(*dir, strings.Split(*ids, ","), strings.Split(*hosts, ",")); err != nil {
		return err
	}
	fmt.Printf("wrote a dev CA and certificates for %s to %s\n", *ids, *dir)
	return nil
}

// runRulebook: `rulebook lint [FILE]` prints the findings of Lint; it exits
// non-zero when the file does not parse, not for findings (they resolve).
func runRulebook(args []string) error {
	if len(args) == 0 || args[0] != "lint" {
		return errors.New("usage: node rulebook lint [FILE]")
	}
	rb := eligibility.Default()
	name := "embedded default"
	if len(args) > 1 {
		text, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		if rb, err = eligibility.Parse(text); err != nil {
			return err
		}
		name = args[1]
	}
	findings := eligibility.Lint(rb)
	fmt.Printf("rulebook %s (version %s): %d findings\n", name, rb.Version(), len(findings))
	for _, f := range findings {
		fmt.Printf("- %s: %s\n  rules: %s\n  resolution: %s\n  %s\n", f.Kind, f.Subject, strings.Join(f.Rules, ", "), f.Resolution, f.Message)
	}
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
