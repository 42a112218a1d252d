package consensus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/tokenledger/tokenledger/ledger"
)

// fakeMachine is an in-memory, append-only ledger.Machine. Each item's result
// is "<index>:<item>". It starts empty on every Open, so a restarted node
// rebuilds it from raft's snapshot and log replay.
//
// Unlike ledger.Store, which clamps a stamp before its last applied time, it
// panics on one: the FSM passes the leader's stamps through unchanged, and in
// these tests the leader's stamps alone must never go backwards.
type fakeMachine struct {
	mu            sync.Mutex // guards the fields below
	applied       uint64
	last          time.Time
	records       []fakeRecord
	entries       int    // batches (log entries) applied, not skipped
	restores      int    // successful Restore calls
	restoredIndex uint64 // applied index after the last Restore
}

type fakeRecord struct {
	Index uint64
	Time  time.Time
	Item  []byte
}

type fakeState struct {
	Applied uint64
	Last    time.Time
	Records []fakeRecord
}

var _ ledger.Machine = (*fakeMachine)(nil)

func (m *fakeMachine) Apply(batches []ledger.Batch) [][][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][][]byte, len(batches))
	for i, b := range batches {
		if b.Index <= m.applied {
			continue
		}
		if b.Time.Before(m.last) {
			panic(fmt.Sprintf("fake machine: time went backwards at %d: %v < %v", b.Index, b.Time, m.last))
		}
		results := make([][]byte, len(b.Items))
		for j, it := range b.Items {
			m.records = append(m.records, fakeRecord{Index: b.Index, Time: b.Time, Item: bytes.Clone(it)})
			results[j] = fmt.Appendf(nil, "%d:%s", b.Index, it)
		}
		out[i] = results
		m.applied, m.last = b.Index, b.Time
		m.entries++
	}
	return out
}

func (m *fakeMachine) Snapshot() (ledger.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &fakeSnapshot{state: fakeState{Applied: m.applied, Last: m.last, Records: append([]fakeRecord(nil), m.records...)}}, nil
}

func (m *fakeMachine) Restore(r io.Reader) error {
	var s fakeState
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applied, m.last, m.records = s.Applied, s.Last, s.Records
	m.restores++
	m.restoredIndex = s.Applied
	return nil
}

func (m *fakeMachine) AppliedIndex() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applied
}

func (m *fakeMachine) LastTime() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// items returns the applied items in order.
func (m *fakeMachine) items() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.records))
	for i, r := range m.records {
		out[i] = string(r.Item)
	}
	return out
}

// has reports whether item was applied.
func (m *fakeMachine) has(item string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.ContainsFunc(m.records, func(r fakeRecord) bool { return string(r.Item) == item })
}

func (m *fakeMachine) counts() (entries, restores int, restoredIndex uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.entries, m.restores, m.restoredIndex
}

type fakeSnapshot struct{ state fakeState }

func (s *fakeSnapshot) Persist(w io.Writer) error { return json.NewEncoder(w).Encode(s.state) }
func (s *fakeSnapshot) Release()                  {}
