//go:build applyceiling

package main

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/ledger"
)

// recordingMachine answers every item with its own body and counts the
// batches it was asked to apply.
type recordingMachine struct{ applied int }

func (r *recordingMachine) Apply(batches []ledger.Batch) [][][]byte {
	out := make([][][]byte, len(batches))
	for i, b := range batches {
		r.applied++
		out[i] = make([][]byte, len(b.Items))
		for j, it := range b.Items {
			out[i][j] = append([]byte(`{"status":"accepted","item":`), it...)
		}
	}
	return out
}
func (r *recordingMachine) Snapshot() (ledger.Snapshot, error) { return nil, nil }
func (r *recordingMachine) Restore(io.Reader) error            { return nil }
func (r *recordingMachine) AppliedIndex() uint64               { return 0 }
func (r *recordingMachine) LastTime() time.Time                { return time.Time{} }

func TestCeilingMachine(t *testing.T) {
	transfer := func(id string) []byte {
		return ledger.InstructionItem("operator", []byte(`{"id":"`+id+`","type":"transfer","legs":[]}`))
	}
	mint := ledger.InstructionItem("operator", []byte(`{"id":"m","type":"mint"}`))
	inner := &recordingMachine{}
	m := &ceilingMachine{Machine: inner}
	steps := []struct {
		name       string
		items      [][]byte
		wantInner  int // batches the ledger has applied after this step
		wantFromT1 bool
	}{
		{"set-up reaches the ledger", [][]byte{mint}, 1, false},
		{"the first transfers reach the ledger", [][]byte{transfer("t1"), transfer("t2")}, 2, true},
		{"later transfers are answered with the first outcome", [][]byte{transfer("t3"), transfer("t4")}, 2, true},
		{"a mixed batch reaches the ledger", [][]byte{transfer("t5"), mint}, 3, false},
	}
	for i, s := range steps {
		res := m.Apply([]ledger.Batch{{Index: uint64(i + 1), Items: s.items}})
		if inner.applied != s.wantInner {
			t.Fatalf("%s: ledger applied %d batches, want %d", s.name, inner.applied, s.wantInner)
		}
		if len(res) != 1 || len(res[0]) != len(s.items) {
			t.Fatalf("%s: got %d results for %d items", s.name, len(res[0]), len(s.items))
		}
		if got := bytes.Contains(res[0][0], []byte(`"t1"`)); got != s.wantFromT1 {
			t.Fatalf("%s: first result %s, from t1 = %v, want %v", s.name, res[0][0], got, s.wantFromT1)
		}
	}
}
