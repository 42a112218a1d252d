// Command node runs a tokenledger node and its client tools.
//
//	node                                      the embedded default: a single-node ledger in ./data
//	node serve --config cluster.yaml --id n1  one node of a cluster
//	node certs --dir DIR --config FILE        a dev CA, node certificates for mutual TLS and API certificates for HTTPS
//	node rulebook lint [--strict] [--impact --url URL --key KEY] [FILE]
//	                                          conflicts and gaps of a rulebook (default: the embedded one),
//	                                          and what it would put out of compliance on a node
//	node bench [flags]                        load a running cluster through its HTTP(S) API
//	node migrate-log --data DIR               move a stopped node's raft log from raft.db into a WAL
//	node verify --entry E --proof P --checkpoint C --key K
//	                                          check offline that a journal entry is in a signed checkpoint
//	node verify --consistency P --old C1 --new C2 --key K
//	                                          check offline that a signed checkpoint extends an earlier one
//	node help                                 every command: the node's own, and the client commands by role
//	                                          (party, key, instrument, mint, burn, transfer, dvp, freeze, pause,
//	                                          holdings, captable, control-book, journal --follow, verify chain|proof,
//	                                          classify, rulebook show|lint|set, cluster, import, export)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// A command's flag set printed its --help.
			os.Exit(exitAccepted)
		}
		fmt.Fprintln(os.Stderr, "node:", err)
		// A storage fault has its own status (exitStorageFault), so a
		// supervisor can tell a disk to fix from a crash to restart.
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) {
			os.Exit(coded.ExitCode())
		}
		os.Exit(exitOther)
	}
}
