//go:build applyceiling

package main

import (
	"bytes"
	"log/slog"

	"github.com/tokenledger/tokenledger/ledger"
)

// stateMachine is what raft applies to. This file is compiled only with the
// applyceiling tag (machine.go has the production stateMachine, the ledger
// itself), so no production build carries the stand-in below.
//
// A build with the tag measures the throughput ceiling of everything but the ledger:
// HTTP, authentication, admission, coalescing, raft and its log. Once the
// ledger has accepted one transfer, it stops applying batches made only of
// transfers and answers each with that first outcome, so `node bench` drives
// the same requests through the same stack with a free state machine. Every
// other batch (set-up, keys, membership) is applied as usual. Such a node's
// state no longer matches what it acknowledged: it is for benchmarks only,
// and says so in its log.
//
//	go build -tags applyceiling -o /tmp/tlnode-ceiling ./cmd/node
func stateMachine(store *ledger.Store, log *slog.Logger) ledger.Machine {
	log.Warn("this build skips the ledger for transfer-only batches: for measuring the stack's ceiling only, never for real data")
	return &ceilingMachine{Machine: store}
}

type ceilingMachine struct {
	ledger.Machine
	outcome []byte // the first accepted transfer's outcome, returned for every later one
}

var (
	transferType    = []byte(`"type":"transfer"`)
	acceptedOutcome = []byte(`"status":"accepted"`)
)

func (m *ceilingMachine) Apply(batches []ledger.Batch) [][][]byte {
	transfers := onlyTransfers(batches)
	if m.outcome == nil || !transfers {
		results := m.Machine.Apply(batches)
		if m.outcome == nil && transfers {
			m.outcome = firstAccepted(results)
		}
		return results
	}
	results := make([][][]byte, len(batches))
	for i, b := range batches {
		r := make([][]byte, len(b.Items))
		for j := range r {
			r[j] = m.outcome
		}
		results[i] = r
	}
	return results
}

// firstAccepted returns the first accepted outcome among results, or nil.
func firstAccepted(results [][][]byte) []byte {
	for _, r := range results {
		for _, o := range r {
			if bytes.Contains(o, acceptedOutcome) {
				return o
			}
		}
	}
	return nil
}

func onlyTransfers(batches []ledger.Batch) bool {
	for _, b := range batches {
		for _, it := range b.Items {
			if !bytes.Contains(it, transferType) {
				return false
			}
		}
	}
	return len(batches) > 0
}
