package client_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// operatorKey bootstraps the test node, as $TOKENLEDGER_BOOTSTRAP_KEY would.
const operatorKey = "tl_client-test-operator-key"

// clock is the single node's leader time: later than every date the tests
// write, so acquired_at and KYC dates read as past and future as meant.
var clock = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// single is a one-node cluster: every proposal applies at once to a real
// store, as consensus would after commit.
type single struct {
	store *ledger.Store
	mu    sync.Mutex
}

var _ api.Replicator = (*single)(nil)

func (s *single) apply(items [][]byte) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	index := s.store.AppliedIndex() + 1
	return s.store.Apply([]ledger.Batch{{Index: index, Term: 1, Time: clock, Items: items}})[0]
}

func (s *single) outcomes(res [][]byte) ([]ledger.Outcome, error) {
	out := make([]ledger.Outcome, len(res))
	for i, r := range res {
		var err error
		if out[i], err = ledger.DecodeOutcome(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *single) Submit(_ context.Context, actor, keyID string, inss []transfer.Instruction) ([]ledger.Outcome, error) {
	items := make([][]byte, len(inss))
	for i, ins := range inss {
		items[i] = ledger.KeyedInstructionItem(actor, keyID, transfer.Encode(ins))
	}
	return s.outcomes(s.apply(items))
}

func (s *single) CreateKey(_ context.Context, req ledger.KeyRequest) (ledger.Outcome, error) {
	out, err := s.outcomes(s.apply([][]byte{ledger.KeyRequestItem(req)}))
	if err != nil {
		return ledger.Outcome{}, err
	}
	return out[0], nil
}

func (s *single) RevokeKey(_ context.Context, actor, keyID string) (ledger.Outcome, error) {
	out, err := s.outcomes(s.apply([][]byte{ledger.RevokeKeyItem(actor, keyID)}))
	if err != nil {
		return ledger.Outcome{}, err
	}
	return out[0], nil
}

func (s *single) AddNode(context.Context, ledger.NodeInfo) error { return api.ErrNotLeader }
func (s *single) RemoveNode(context.Context, string) error       { return api.ErrNotLeader }
func (s *single) ReadIndex(ctx context.Context) error            { return ctx.Err() }
func (s *single) Status() api.ClusterStatus {
	return api.ClusterStatus{ID: "n1", State: "Leader", Leader: "n1", Term: 1,
		Nodes: []api.NodeStatus{{ID: "n1", State: "Leader", Voter: true}}}
}
func (s *single) Ready() bool    { return true }
func (s *single) CaughtUp() bool { return true }
func (s *single) Failing() bool  { return false }

// startNode serves the API of a single node over a store in dir and
// returns its URL and a function that stops it.
func startNode(dir string) (url string, stop func(), err error) {
	store, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "state.db"), NoSync: true, StrictChecks: true})
	if err != nil {
		return "", nil, err
	}
	repl := &single{store: store}
	srv, err := api.New(api.Config{Reader: store, Replicator: repl, Now: func() time.Time { return clock }})
	if err != nil {
		store.Close()
		return "", nil, err
	}
	repl.apply([][]byte{ledger.KeyItem(ledger.OperatorID, api.HashKey(operatorKey))})
	hs := httptest.NewServer(srv.Handler())
	return hs.URL, func() {
		hs.CloseClientConnections()
		hs.Close()
		store.Close()
	}, nil
}

// newNode starts a node for a test.
func newNode(t testing.TB) string {
	t.Helper()
	url, stop, err := startNode(t.TempDir())
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(stop)
	return url
}

// exampleNode starts a node for an Example, which has no t.TempDir.
func exampleNode() (string, func()) {
	dir, err := os.MkdirTemp("", "client-example-")
	if err != nil {
		panic(err)
	}
	url, stop, err := startNode(dir)
	if err != nil {
		panic(err)
	}
	return url, func() { stop(); os.RemoveAll(dir) }
}
