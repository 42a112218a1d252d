package consensus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func commandLog(index uint64, t time.Time, items ...string) *raft.Log {
	b := make([][]byte, len(items))
	for i, it := range items {
		b[i] = []byte(it)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: encodeLogEntry(t, b)}
}

func TestFSM_ApplyBatch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &fakeMachine{}
	f := NewFSM(m)
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(raft.Configuration{})},
		commandLog(2, t0, "a", "b"),
		commandLog(3, t0.Add(time.Second), "c"),
		commandLog(4, t0.Add(time.Second), "d"),
	}
	resp := f.ApplyBatch(logs)
	if len(resp) != len(logs) {
		t.Fatalf("ApplyBatch returned %d responses for %d logs", len(resp), len(logs))
	}
	if resp[0] != nil {
		t.Errorf("response for a configuration log entry = %v, want nil", resp[0])
	}
	want := [][]string{nil, {"2:a", "2:b"}, {"3:c"}, {"4:d"}}
	for i := 1; i < len(logs); i++ {
		got, ok := resp[i].([][]byte)
		if !ok || len(got) != len(want[i]) {
			t.Fatalf("response %d = %#v, want %q", i, resp[i], want[i])
		}
		for j := range got {
			if string(got[j]) != want[i][j] {
				t.Errorf("response %d item %d = %q, want %q", i, j, got[j], want[i][j])
			}
		}
	}
	if got := f.AppliedIndex(); got != 4 {
		t.Errorf("AppliedIndex() = %d, want 4", got)
	}
	// The FSM hands the leader's stamps to the Machine as they are: keeping
	// time monotonic is the Machine's job.
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, want := range []time.Time{t0, t0, t0.Add(time.Second), t0.Add(time.Second)} {
		if got := m.records[i].Time; !got.Equal(want) {
			t.Errorf("record %d time = %v, want %v", i, got, want)
		}
	}
}

func TestFSM_ApplyBatchPanicsOnGarbage(t *testing.T) {
	f := NewFSM(&fakeMachine{})
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "cannot apply log entry 7") {
			t.Errorf("recover() = %v, want a panic naming log entry 7", r)
		}
	}()
	f.ApplyBatch([]*raft.Log{{Index: 7, Type: raft.LogCommand, Data: []byte{9, 9}}})
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func TestFSM_SnapshotRestore(t *testing.T) {
	src := NewFSM(&fakeMachine{})
	src.ApplyBatch([]*raft.Log{commandLog(3, time.Unix(10, 0), "x", "y")})
	// A configuration log entry never reaches the Machine, so it does not move
	// the applied index.
	src.ApplyBatch([]*raft.Log{{Index: 4, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(raft.Configuration{})}})
	if got := src.AppliedIndex(); got != 3 {
		t.Errorf("AppliedIndex() after a configuration log entry = %d, want 3", got)
	}
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot() error = %v", err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatalf("Persist() error = %v", err)
	}
	snap.Release()

	dstMachine := &fakeMachine{}
	dst := NewFSM(dstMachine)
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatalf("Restore() error = %v", err)
	}
	if got := dst.AppliedIndex(); got != 3 {
		t.Errorf("AppliedIndex() after restore = %d, want 3", got)
	}
	if got, want := strings.Join(dstMachine.items(), ","), "x,y"; got != want {
		t.Errorf("restored items = %q, want %q", got, want)
	}
	if err := dst.waitApplied(t.Context(), 3); err != nil {
		t.Errorf("waitApplied(3) after restore = %v", err)
	}

	bad := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"wrong magic", append([]byte("XXXX\x01"), make([]byte, 8)...)},
		{"unknown version", append([]byte("TLSN\x09"), make([]byte, 8)...)},
		// The header says index 2, but the Machine's state reflects 3.
		{"header behind state", append([]byte("TLSN\x01\x00\x00\x00\x00\x00\x00\x00\x02"), sink.Bytes()[snapshotHeader:]...)},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := NewFSM(&fakeMachine{}).Restore(io.NopCloser(bytes.NewReader(tc.data))); err == nil {
				t.Errorf("Restore(%q) succeeded, want an error", tc.data)
			}
		})
	}
}

func TestFSM_Wait(t *testing.T) {
	f := NewFSM(&fakeMachine{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.waitApplied(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("waitApplied on a cancelled context = %v, want context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() { done <- f.waitApplied(t.Context(), 5) }()
	f.ApplyBatch([]*raft.Log{commandLog(5, time.Unix(10, 0), "x")})
	if err := <-done; err != nil {
		t.Errorf("waitApplied(5) after applying 5 = %v", err)
	}
}
