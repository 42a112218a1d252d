//go:build !applyceiling

package main

import (
	"log/slog"

	"github.com/tokenledger/tokenledger/ledger"
)

// stateMachine is what raft applies to: the ledger itself. A build with the
// applyceiling tag replaces it with a stand-in for benchmarks (ceiling.go).
func stateMachine(store *ledger.Store, _ *slog.Logger) ledger.Machine { return store }
