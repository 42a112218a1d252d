package consensus

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// TestCheckBoltFile checks that a raft log file cut short or with corrupt
// meta pages is refused as ErrDamaged before raft opens it, and that a
// missing, empty or whole one passes.
func TestCheckBoltFile(t *testing.T) {
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "raft.db")
		store, err := raftboltdb.New(raftboltdb.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		logs := make([]*raft.Log, 500)
		for i := range logs {
			logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: bytes.Repeat([]byte{byte(i)}, 200)}
		}
		if err := store.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		if err := store.SetUint64([]byte("CurrentTerm"), 7); err != nil {
			t.Fatal(err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	page := int64(os.Getpagesize())
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		damaged bool
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "raft.db") }, false},
		{"empty", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "raft.db")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}, false},
		{"whole", build, false},
		{"cut short", func(t *testing.T) string {
			path := build(t)
			if err := os.Truncate(path, 4*page); err != nil {
				t.Fatal(err)
			}
			return path
		}, true},
		{"meta pages overwritten", func(t *testing.T) string {
			path := build(t)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, off := range []int64{16, page + 16} {
				if _, err := f.WriteAt(bytes.Repeat([]byte{0x5A}, 64), off); err != nil {
					t.Fatal(err)
				}
			}
			return path
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			err := checkBoltFile(path)
			if got := errors.Is(err, ErrDamaged); got != tc.damaged {
				t.Errorf("checkBoltFile: %v; damaged %v, want %v", err, got, tc.damaged)
			}
			if !tc.damaged && err != nil {
				t.Errorf("checkBoltFile on a usable file: %v", err)
			}
		})
	}
}

// failingLogStore fails every write, as a full disk does.
type failingLogStore struct{ *raft.InmemStore }

var errNoSpace = errors.New("no space left on device")

func (failingLogStore) StoreLog(*raft.Log) error      { return errNoSpace }
func (failingLogStore) StoreLogs([]*raft.Log) error   { return errNoSpace }
func (failingLogStore) DeleteRange(_, _ uint64) error { return errNoSpace }
func (failingLogStore) Set(_, _ []byte) error         { return errNoSpace }
func (failingLogStore) SetUint64([]byte, uint64) error {
	return errNoSpace
}

// failingSnapshots creates sinks whose writes fail.
type failingSnapshots struct{ raft.SnapshotStore }

func (failingSnapshots) Create(raft.SnapshotVersion, uint64, uint64, raft.Configuration, uint64, raft.Transport) (raft.SnapshotSink, error) {
	return failingSink{}, nil
}

type failingSink struct{ raft.SnapshotSink }

func (failingSink) Write([]byte) (int, error) { return 0, errNoSpace }
func (failingSink) Close() error              { return errNoSpace }

// TestFaultWrappers checks that every failed write to raft's storage is
// reported with its file and kind, that the error still reaches raft, and
// that a failed term or vote write is held (never returned to raft, which
// would panic) once reported.
func TestFaultWrappers(t *testing.T) {
	var got []*StorageFault
	f := faults{report: func(sf *StorageFault) { got = append(got, sf) }}
	held := 0
	store := failingLogStore{raft.NewInmemStore()}
	logs := faultLogStore{LogStore: store, file: "raft.db", f: f}
	stable := faultStableStore{StableStore: store, file: "raft.db", f: f, hold: func() { held++ }}
	snaps := faultSnapshotStore{SnapshotStore: failingSnapshots{}, dir: "snapshots", f: f}

	if err := logs.StoreLogs([]*raft.Log{{Index: 1}}); !errors.Is(err, errNoSpace) {
		t.Errorf("StoreLogs: %v, want the store's error", err)
	}
	if err := logs.DeleteRange(1, 2); !errors.Is(err, errNoSpace) {
		t.Errorf("DeleteRange: %v", err)
	}
	_ = stable.SetUint64([]byte("CurrentTerm"), 2)
	sink, err := snaps.Create(raft.SnapshotVersionMax, 10, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte("x")); !errors.Is(err, errNoSpace) {
		t.Errorf("sink Write: %v", err)
	}
	want := []struct{ file, kind string }{{"raft.db", "log"}, {"raft.db", "log"}, {"raft.db", "stable"}, {"snapshots", "snapshot"}}
	if len(got) != len(want) {
		t.Fatalf("reported %d faults, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].File != w.file || got[i].Kind != w.kind || !errors.Is(got[i], errNoSpace) {
			t.Errorf("fault %d: %v, want %s %s", i, got[i], w.kind, w.file)
		}
	}
	if held != 1 {
		t.Errorf("a failed term write was held %d times, want 1", held)
	}
	// Writes that succeed report nothing.
	ok := faultLogStore{LogStore: raft.NewInmemStore(), file: "raft.db", f: f}
	if err := ok.StoreLogs([]*raft.Log{{Index: 1}}); err != nil || len(got) != len(want) {
		t.Errorf("a good write: %v, %d faults", err, len(got))
	}
}

// monotonicStore is a log store that, like raft-wal, refuses gaps.
type monotonicStore struct{ *raft.InmemStore }

func (monotonicStore) IsMonotonic() bool { return true }

// TestFaultLogStoreKeepsMonotonic checks that wrapping a store that refuses
// gaps keeps raft told so, through its log cache too: otherwise raft leaves
// a gap after installing a snapshot and the next append fails.
func TestFaultLogStoreKeepsMonotonic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		inner raft.LogStore
		want  bool
	}{
		{"monotonic", monotonicStore{raft.NewInmemStore()}, true},
		{"gaps allowed", raft.NewInmemStore(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wrapped := faultLogStore{LogStore: tc.inner, file: "wal", f: faults{report: func(*StorageFault) {}}}
			cache, err := raft.NewLogCache(16, wrapped)
			if err != nil {
				t.Fatal(err)
			}
			if got := cache.IsMonotonic(); got != tc.want {
				t.Errorf("IsMonotonic through the wrapper and the cache = %v, want %v", got, tc.want)
			}
		})
	}
}
