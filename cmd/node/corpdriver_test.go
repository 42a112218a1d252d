package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tokenledger/tokenledger/ledger"
)

// fakeLedger stands in for the raft node and the ledger: each running action
// has holders left, and a step item pays up to its count of them.
type fakeLedger struct {
	mu      sync.Mutex
	leader  bool
	left    map[uint64]int // seq -> holders not yet paid
	fail    int            // proposals to fail before succeeding
	items   int            // step items applied
	counts  []int          // the holder count of every item
	drained chan struct{}  // closed once nothing runs
}

func newFakeLedger(left map[uint64]int) *fakeLedger {
	return &fakeLedger{leader: true, left: left, drained: make(chan struct{})}
}

func (f *fakeLedger) IsLeader() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader
}

func (f *fakeLedger) RunningCorporateActions() ([]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uint64
	for seq, n := range f.left {
		if n > 0 {
			out = append(out, seq)
		}
	}
	return out, nil
}

func (f *fakeLedger) Propose(ctx context.Context, items [][]byte) ([][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return nil, errors.New("no quorum")
	}
	out := make([][]byte, len(items))
	for i, it := range items {
		if it[0] != 'C' {
			return nil, fmt.Errorf("item kind %q, want a corporate action step", it[0])
		}
		seq, w := binary.Uvarint(it[1:])
		n, _ := binary.Uvarint(it[1+w:])
		f.items++
		f.counts = append(f.counts, int(n))
		if f.left[seq] == 0 {
			out[i] = ledger.EncodeOutcome(ledger.Outcome{Error: &ledger.OpError{Code: ledger.ErrCodeNotFound, Message: "done"}})
			continue
		}
		f.left[seq] = max(0, f.left[seq]-int(n))
		out[i] = ledger.EncodeOutcome(ledger.Outcome{Status: ledger.StatusAccepted, Seq: seq})
	}
	running := false
	for _, n := range f.left {
		running = running || n > 0
	}
	if !running {
		select {
		case <-f.drained:
		default:
			close(f.drained)
		}
	}
	return out, nil
}

func TestCorpDriverSteps(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name    string
		left    map[uint64]int
		holders int
		fail    int
		items   int // step items it takes at most
	}{
		{name: "one action", left: map[uint64]int{7: 2500}, holders: 1000, items: 3},
		{name: "two instruments", left: map[uint64]int{7: 250, 9: 1000}, holders: 100, items: 10 + 10},
		{name: "after failed proposals", left: map[uint64]int{3: 10}, holders: 4, fail: 2, items: 3 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLedger(tc.left)
			f.fail = tc.fail
			d := newCorpDriver(f, f, tc.holders, log)
			d.idle = 1 // the failed proposals' retries need not wait
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); d.run(ctx) }()
			<-f.drained
			cancel()
			<-done
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.items > tc.items {
				t.Errorf("%d step items, want at most %d", f.items, tc.items)
			}
			for _, n := range f.counts {
				if n != tc.holders {
					t.Fatalf("a step asked for %d holders, want %d", n, tc.holders)
				}
			}
		})
	}
}

// A follower proposes nothing, and a cancelled driver returns.
func TestCorpDriverFollowerAndCancel(t *testing.T) {
	f := newFakeLedger(map[uint64]int{5: 10})
	f.leader = false
	d := newCorpDriver(f, f, 1000, slog.New(slog.DiscardHandler))
	if d.once(t.Context()) {
		t.Fatal("a follower proposed steps")
	}
	if f.items != 0 {
		t.Fatalf("a follower proposed %d items", f.items)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d.run(ctx) // returns at once
}

func TestCorporateActionStepConfig(t *testing.T) {
	const nodes = `
data_dir: data
nodes:
  - {id: n1, raft_addr: "127.0.0.1:7001", api_addr: "127.0.0.1:8081"}
`
	for _, tc := range []struct {
		line    string
		want    int
		wantErr bool
	}{
		{line: "", want: 0},
		{line: "corporate_action_step: 100", want: 100},
		{line: "corporate_action_step: -1", wantErr: true},
		{line: fmt.Sprintf("corporate_action_step: %d", ledger.MaxStepHolders+1), wantErr: true},
	} {
		t.Run(tc.line, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cluster.yaml")
			if err := os.WriteFile(path, []byte(nodes+tc.line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadCluster(path)
			if tc.wantErr {
				if err == nil {
					t.Fatal("loaded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.CorporateActionStep != tc.want {
				t.Fatalf("corporate_action_step %d, want %d", c.CorporateActionStep, tc.want)
			}
		})
	}
}
