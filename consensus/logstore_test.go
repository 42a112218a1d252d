package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	walsegment "github.com/hashicorp/raft-wal/segment"
)

// raftState is what a log store holds that raft must never lose: the term,
// the vote, the log, and the peers heard.
type raftState struct {
	currentTerm, lastVoteTerm uint64
	lastVoteCand              string
	heard                     []string
	logs                      []string // "index/term/type/data/appended-at" per log entry
}

// readRaftState opens dir's log store as a node would (the configured store
// only if dir has none) and reads everything in it.
func readRaftState(t testing.TB, dir string, want LogStore) (raftState, LogStore) {
	t.Helper()
	store, kind, err := openLogStore(dir, want, discardHCLog(), 0)
	if err != nil {
		t.Fatalf("openLogStore(%s) error = %v", dir, err)
	}
	defer store.Close()
	var st raftState
	if st.currentTerm, err = store.GetUint64([]byte("CurrentTerm")); err != nil {
		t.Fatal(err)
	}
	if st.lastVoteTerm, err = store.GetUint64([]byte("LastVoteTerm")); err != nil {
		t.Fatal(err)
	}
	cand, err := store.Get([]byte("LastVoteCand"))
	if err != nil {
		t.Fatal(err)
	}
	st.lastVoteCand = string(cand)
	for i := range 5 {
		id := fmt.Sprintf("n%d", i+1)
		if v, err := store.Get([]byte(heardKeyPrefix + id)); err == nil && len(v) > 0 {
			st.heard = append(st.heard, id)
		}
	}
	first, last, err := logBounds(store)
	if err != nil {
		t.Fatal(err)
	}
	for i := first; last > 0 && i <= last; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			t.Fatalf("GetLog(%d) error = %v", i, err)
		}
		st.logs = append(st.logs, fmt.Sprintf("%d/%d/%v/%x/%d", l.Index, l.Term, l.Type, l.Data, l.AppendedAt.UnixNano()))
	}
	return st, kind
}

func (s raftState) equal(o raftState) bool {
	return s.currentTerm == o.currentTerm && s.lastVoteTerm == o.lastVoteTerm && s.lastVoteCand == o.lastVoteCand &&
		slices.Equal(s.heard, o.heard) && slices.Equal(s.logs, o.logs)
}

func (s raftState) String() string {
	return fmt.Sprintf("{term %d, voted %q in %d, heard %v, %d log entries}", s.currentTerm, s.lastVoteCand, s.lastVoteTerm, s.heard, len(s.logs))
}

// TestCluster_UpgradeKeepsBoltStore: a cluster written with raft-boltdb is
// reopened with the WAL configured. Each data dir keeps its raft.db, with its
// term, vote, peers heard and log intact, except the one migrated with
// MigrateLogStore, whose WAL holds the same; the three then serve together.
func TestCluster_UpgradeKeepsBoltStore(t *testing.T) {
	c := newStoppedCluster(t, 3, func(_ int, cfg *Config) { cfg.LogStore = LogStoreBolt })
	for i := range 3 {
		c.start(i)
	}
	items := []string{"a", "b", "c"}
	for _, item := range items {
		c.propose(t.Context(), c.leader(), item)
	}
	c.converged(items)
	before := make([]raftState, 3)
	for i := range 3 {
		c.stop(i, true)
		var kind LogStore
		before[i], kind = readRaftState(t, c.cfgs[i].DataDir, LogStoreWAL)
		if kind != LogStoreBolt || before[i].currentTerm == 0 || len(before[i].heard) == 0 || len(before[i].logs) < len(items) {
			t.Fatalf("%s before the upgrade: %v in %s, want a term, peers heard and the items in boltdb", c.cfgs[i].ID, before[i], kind)
		}
	}

	const migrated = 2
	if err := MigrateLogStore(t.Context(), c.cfgs[migrated].DataDir, testLogger("migrate")); err != nil {
		t.Fatalf("MigrateLogStore() error = %v", err)
	}
	for i := range 3 {
		wantKind := LogStoreBolt
		if i == migrated {
			wantKind = LogStoreWAL
		}
		got, kind := readRaftState(t, c.cfgs[i].DataDir, LogStoreWAL)
		if kind != wantKind || !got.equal(before[i]) {
			t.Errorf("%s after the upgrade: %v in %s, want %v in %s", c.cfgs[i].ID, got, kind, before[i], wantKind)
		}
	}

	for i := range 3 {
		c.cfgs[i].LogStore = LogStoreWAL
		c.start(i)
	}
	c.converged(items)
	c.propose(t.Context(), c.leader(), "d")
	c.converged(append(items, "d"))
	for i := range 3 {
		hasBolt, err := exists(filepath.Join(c.cfgs[i].DataDir, boltFile))
		if err != nil {
			t.Fatal(err)
		}
		if want := i != migrated; hasBolt != want {
			t.Errorf("%s: raft.db present = %v, want %v", c.cfgs[i].ID, hasBolt, want)
		}
	}
}

// writeBoltDir fills dir/raft.db as a node on raft-boltdb would: log
// entries of every kind from index 5 on (the earlier ones snapshotted
// away), a term and vote, and peers heard.
func writeBoltDir(t testing.TB, dir string) raftState {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := openBolt(filepath.Join(dir, boltFile), false)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logs []*raft.Log
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for i := uint64(5); i < 5+3*migrateBatchEntries/2; i++ {
		l := &raft.Log{Index: i, Term: 2 + i/100, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("entry-%d", i)), AppendedAt: at.Add(time.Duration(i) * time.Millisecond)}
		switch i % 50 {
		case 0:
			l.Type, l.Data = raft.LogNoop, nil
		case 7:
			l.Type = raft.LogConfiguration
		}
		logs = append(logs, l)
	}
	if err := store.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	// Terms above 255 tell a byte-order mix-up apart.
	for key, v := range map[string]uint64{"CurrentTerm": 0x1_0203, "LastVoteTerm": 0x1_0202} {
		if err := store.SetUint64([]byte(key), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Set([]byte("LastVoteCand"), []byte("127.0.0.1:7002")); err != nil {
		t.Fatal(err)
	}
	heard := newHeardPeers(store)
	for _, id := range []string{"n2", "n3"} {
		if err := heard.record(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := readRaftState(t, dir, LogStoreBolt)
	return st
}

// TestMigrateLogStore copies raft.db into a WAL, verifies it, and can be
// repeated from wherever an earlier call stopped. It never retires raft.db
// for a copy that differs, and it refuses what it cannot copy faithfully.
func TestMigrateLogStore(t *testing.T) {
	tests := []struct {
		name string
		// interrupt leaves dir (holding raft.db) as a failed call might.
		interrupt func(t *testing.T, dir string)
		wantErr   error // nil: the migration completes
	}{
		{"fresh", func(*testing.T, string) {}, nil},
		{"partial copy left behind", func(t *testing.T, dir string) {
			w, err := openWAL(dir, walCopyDir, discardHCLog(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.StoreLogs([]*raft.Log{{Index: 1, Term: 9, Data: []byte("stale")}}); err != nil {
				t.Fatal(err)
			}
			if err := w.SetUint64([]byte("CurrentTerm"), 9); err != nil {
				t.Fatal(err)
			}
			_ = w.Close()
		}, nil},
		{"stopped between the renames", func(t *testing.T, dir string) {
			if err := copyToWAL(t.Context(), dir, discardHCLog(), slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := DataDirLogStore(dir); !errors.Is(err, ErrLogStoreConflict) {
				t.Fatalf("DataDirLogStore() with raft.db and wal/ error = %v, want ErrLogStoreConflict", err)
			}
		}, nil},
		{"wal differs from raft.db", func(t *testing.T, dir string) {
			w, err := openWAL(dir, walDir, discardHCLog(), 0)
			if err != nil {
				t.Fatal(err)
			}
			_ = w.Close()
		}, errCopyDiffers},
		{"unknown stable-store key", func(t *testing.T, dir string) {
			store, err := openBolt(filepath.Join(dir, boltFile), false)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if err := store.SetUint64([]byte("SomethingNew"), 7); err != nil {
				t.Fatal(err)
			}
		}, errUnknownStableKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want := writeBoltDir(t, dir)
			tc.interrupt(t, dir)
			err := MigrateLogStore(t.Context(), dir, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("MigrateLogStore() error = %v, want %v", err, tc.wantErr)
				}
				// raft.db stays in use.
				if got, kind := readRaftStateAllowingConflict(t, dir); kind != LogStoreBolt || !got.equal(want) {
					t.Errorf("after a refused migration: %v in %s, want %v in boltdb", got, kind, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("MigrateLogStore() error = %v", err)
			}
			for range 2 { // a second call finds the work done
				got, kind := readRaftState(t, dir, LogStoreBolt)
				if kind != LogStoreWAL || !got.equal(want) {
					t.Fatalf("after MigrateLogStore: %v in %s, want %v in wal", got, kind, want)
				}
				if err := MigrateLogStore(t.Context(), dir, nil); err != nil {
					t.Fatalf("MigrateLogStore() again error = %v", err)
				}
			}
			for name, want := range map[string]bool{boltFile: false, boltRetired: true, walDir: true, walCopyDir: false} {
				if got, err := exists(filepath.Join(dir, name)); err != nil || got != want {
					t.Errorf("%s present = %v (%v), want %v", name, got, err, want)
				}
			}
		})
	}
}

// readRaftStateAllowingConflict reads raft.db even when a wal/ sits beside
// it, as it does after a refused migration.
func readRaftStateAllowingConflict(t testing.TB, dir string) (raftState, LogStore) {
	t.Helper()
	side := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(dir, boltFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(side, boltFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return readRaftState(t, side, LogStoreWAL)
}

// TestMigrateLogStore_Refuses: a dir with no raft state, or whose raft.db a
// running node holds, is left alone.
func TestMigrateLogStore_Refuses(t *testing.T) {
	t.Run("no raft state", func(t *testing.T) {
		if err := MigrateLogStore(t.Context(), t.TempDir(), nil); err == nil {
			t.Error("MigrateLogStore(empty dir) = nil, want an error")
		}
	})
	t.Run("node running", func(t *testing.T) {
		dir := t.TempDir()
		writeBoltDir(t, dir)
		store, err := openBolt(filepath.Join(dir, boltFile), false)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		if err := MigrateLogStore(t.Context(), dir, nil); err == nil || !strings.Contains(err.Error(), "running") {
			t.Errorf("MigrateLogStore(dir in use) = %v, want an error naming a running node", err)
		}
		if ok, _ := exists(filepath.Join(dir, walDir)); ok {
			t.Error("wal/ created beside a raft.db in use")
		}
	})
}

// TestOpenLogStore_Exclusive: a second opener of a WAL fails within
// boltOpenTimeout instead of waiting for the first forever, and once the
// first closes, the WAL opens again in the same process with what it holds.
func TestOpenLogStore_Exclusive(t *testing.T) {
	dir := t.TempDir()
	hcl := discardHCLog()
	first, _, err := openLogStore(dir, LogStoreWAL, hcl, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if second, _, err := openLogStore(dir, LogStoreWAL, hcl, 0); err == nil {
		_ = second.Close()
		t.Fatal("second openLogStore of an open WAL = nil error, want a lock timeout")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, kind, err := openLogStore(dir, LogStoreBolt, hcl, 0)
	if err != nil {
		t.Fatalf("openLogStore after Close error = %v", err)
	}
	defer again.Close()
	if term, err := again.GetUint64([]byte("CurrentTerm")); kind != LogStoreWAL || err != nil || term != 7 {
		t.Errorf("reopened %s: CurrentTerm = %d, %v; want 7 in wal", kind, term, err)
	}
}

// Ensure the largest log entry the config allows, with its index, term and
// time, fits in one raft-wal record.
func TestConfig_EntryFitsWALRecord(t *testing.T) {
	const recordOverhead = 64 // frame header and the codec's varints and time
	if maxEntryBytesLimit+recordOverhead > walsegment.MaxEntrySize {
		t.Errorf("maxEntryBytesLimit %d leaves no room under raft-wal's record limit %d", maxEntryBytesLimit, walsegment.MaxEntrySize)
	}
}

func discardHCLog() *hclogAdapter { return newHCLogAdapter(slog.New(slog.DiscardHandler)) }

// TestMigrateLogStore_Gap: raft-boltdb keeps the entries before a snapshot
// a follower installed, with a gap after them; the WAL takes none. The
// migration leaves them out only when a snapshot covers them.
func TestMigrateLogStore_Gap(t *testing.T) {
	for _, snapshotted := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", snapshotted), func(t *testing.T) {
			dir := t.TempDir()
			store, err := openBolt(filepath.Join(dir, boltFile), false)
			if err != nil {
				t.Fatal(err)
			}
			var logs []*raft.Log
			for _, i := range []uint64{1, 2, 3, 21, 22, 23} {
				logs = append(logs, &raft.Log{Index: i, Term: 2, Type: raft.LogCommand, Data: []byte{byte(i)}})
			}
			if err := store.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
			if err := store.SetUint64([]byte("CurrentTerm"), 2); err != nil {
				t.Fatal(err)
			}
			_ = store.Close()
			if snapshotted {
				snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, snapshotsRetained, discardHCLog())
				if err != nil {
					t.Fatal(err)
				}
				sink, err := snaps.Create(raft.SnapshotVersionMax, 20, 2, raft.Configuration{}, 1, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := sink.Write([]byte("state")); err != nil {
					t.Fatal(err)
				}
				if err := sink.Close(); err != nil {
					t.Fatal(err)
				}
			}
			err = MigrateLogStore(t.Context(), dir, nil)
			if !snapshotted {
				if err == nil {
					t.Fatal("MigrateLogStore() of a log with an uncovered gap = nil, want an error")
				}
				if kind, _, _ := DataDirLogStore(dir); kind != LogStoreBolt {
					t.Errorf("after a refused migration the dir uses %q, want boltdb", kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("MigrateLogStore() error = %v", err)
			}
			got, kind := readRaftState(t, dir, LogStoreBolt)
			if kind != LogStoreWAL || got.currentTerm != 2 || len(got.logs) != 3 || !strings.HasPrefix(got.logs[0], "21/") {
				t.Errorf("after MigrateLogStore: %v in %s with logs %v, want term 2 and entries 21..23 in wal", got, kind, got.logs)
			}
		})
	}
}

// TestWAL_SuffixTruncationSurvivesRestart: a follower clears a conflicting
// log suffix and appends the leader's entries, then restarts; every entry
// still reads back. raft-wal v0.4.0 sealed the old tail segment without its
// index block here, and the restarted node could read none of its older
// entries (hashicorp/raft-wal#31, fixed in v0.4.1).
func TestWAL_SuffixTruncationSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	entries := func(from, to, term uint64) []*raft.Log {
		var out []*raft.Log
		for i := from; i <= to; i++ {
			out = append(out, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte{byte(i)}})
		}
		return out
	}
	store, _, err := openLogStore(dir, LogStoreWAL, discardHCLog(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.StoreLogs(entries(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	if err := store.StoreLogs(entries(8, 12, 2)); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := readRaftState(t, dir, LogStoreWAL)
	if len(st.logs) != 12 || !strings.HasPrefix(st.logs[6], "7/1/") || !strings.HasPrefix(st.logs[7], "8/2/") {
		t.Errorf("after a suffix truncation and a restart the log reads %v, want 1..7 in term 1 and 8..12 in term 2", st.logs)
	}
}
