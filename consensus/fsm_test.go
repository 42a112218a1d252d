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
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: encodeEntry(t, b)}
}

func TestFSM_ApplyBatch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &fakeMachine{}
	f := NewFSM(m)
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(raft.Configuration{})},
		commandLog(2, t0, "a", "b"),
		// A stamp before the previous one is clamped, not applied backwards.
		commandLog(3, t0.Add(-time.Hour), "c"),
		commandLog(4, t0.Add(time.Second), "d"),
	}
	resp := f.ApplyBatch(logs)
	if len(resp) != len(logs) {
		t.Fatalf("ApplyBatch returned %d responses for %d logs", len(resp), len(logs))
	}
	if resp[0] != nil {
		t.Errorf("response for a configuration entry = %v, want nil", resp[0])
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
	m.mu.Lock()
	gotTime := m.records[2].Time
	m.mu.Unlock()
	if !gotTime.Equal(t0) {
		t.Errorf("clamped time = %v, want %v", gotTime, t0)
	}
}

func TestFSM_ApplyBatchPanicsOnGarbage(t *testing.T) {
	f := NewFSM(&fakeMachine{})
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "cannot apply log entry 7") {
			t.Errorf("recover() = %v, want a panic naming entry 7", r)
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
	// A configuration entry after the last command still counts as applied.
	src.ApplyBatch([]*raft.Log{{Index: 4, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(raft.Configuration{})}})
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
	if got := dst.AppliedIndex(); got != 4 {
		t.Errorf("AppliedIndex() after restore = %d, want 4", got)
	}
	if got, want := strings.Join(dstMachine.items(), ","), "x,y"; got != want {
		t.Errorf("restored items = %q, want %q", got, want)
	}
	if err := dst.waitApplied(t.Context(), 4); err != nil {
		t.Errorf("waitApplied(4) after restore = %v", err)
	}

	bad := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"wrong magic", append([]byte("XXXX\x01"), make([]byte, 8)...)},
		{"unknown version", append([]byte("TLSN\x09"), make([]byte, 8)...)},
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
	go func() { done <- f.waitProcessed(t.Context(), 5) }()
	f.noteBarrier(5)
	if err := <-done; err != nil {
		t.Errorf("waitProcessed(5) after a barrier at 5 = %v", err)
	}
	if got := f.AppliedIndex(); got != 0 {
		t.Errorf("a barrier moved AppliedIndex to %d", got)
	}
}
