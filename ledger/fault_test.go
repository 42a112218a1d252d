package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// errDiskFull stands in for what a full disk makes a commit return.
var errDiskFull = errors.New("write state.db: no space left on device")

// failCommits makes every later commit of s's state file fail as a full
// disk does.
func failCommits(s *Store) {
	s.commitTx = func(tx *bolt.Tx) error {
		_ = tx.Rollback()
		return errDiskFull
	}
}

// TestCommitFault checks what a failed commit of the state file does: the
// fault is reported once, naming the file; every later read fails with
// ErrStorageFault instead of serving a state the file does not hold; Apply
// never answers; and the file, reopened, holds the last committed state, from
// which raft's log replays the rest.
func TestCommitFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	faults := make(chan error, 4)
	s, err := Open(Config{Path: path, NoSync: true, OnFault: func(err error) { faults <- err }})
	if err != nil {
		t.Fatal(err)
	}
	keyItem := KeyItem(OperatorID, hashKey("operator-secret"))
	batch := func(index uint64, items ...[]byte) []Batch {
		return []Batch{{Index: index, Term: 1, Time: epoch.Add(time.Duration(index) * time.Second), Items: items}}
	}
	s.Apply(batch(1, keyItem))
	if got := s.AppliedIndex(); got != 1 {
		t.Fatalf("applied %d, want 1", got)
	}

	failCommits(s)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		s.Apply(batch(2, InstructionItem(OperatorID, []byte(ins("register_party", party("aud", "auditor"))))))
	}()
	var fault error
	select {
	case fault = <-faults:
	case <-time.After(10 * time.Second):
		t.Fatal("no fault reported after a failed commit")
	}
	if !errors.Is(fault, ErrStorageFault) || !errors.Is(fault, errDiskFull) || !strings.Contains(fault.Error(), path) {
		t.Errorf("fault %v: want ErrStorageFault wrapping the cause, naming %s", fault, path)
	}
	for name, read := range map[string]func() error{
		"Party":    func() error { _, err := s.Party(OperatorID); return err },
		"Journal":  func() error { _, err := s.Journal(JournalQuery{Limit: 10}); return err },
		"KeyParty": func() error { _, err := s.KeyParty(hashKey("operator-secret")); return err },
	} {
		if err := read(); !errors.Is(err, ErrStorageFault) {
			t.Errorf("%s after the fault: %v, want ErrStorageFault", name, err)
		}
	}
	select {
	case <-returned:
		t.Error("Apply returned after a failed commit; its outcomes would come from a state the file does not hold")
	case <-time.After(100 * time.Millisecond):
	}
	select {
	case err := <-faults:
		t.Errorf("a second fault was reported: %v", err)
	default:
	}
	if err := s.Close(); err != nil {
		t.Logf("close after the fault: %v", err)
	}

	// The file holds what the last good commit wrote; the rest replays.
	s2, err := Open(Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatalf("reopen after the fault: %v", err)
	}
	defer s2.Close()
	if got := s2.AppliedIndex(); got != 1 {
		t.Errorf("reopened at applied index %d, want 1", got)
	}
	res := s2.Apply(batch(2, InstructionItem(OperatorID, []byte(ins("register_party", party("aud", "auditor"))))))
	if !strings.Contains(string(res[0][0]), `"accepted"`) {
		t.Errorf("replayed batch: %s", res[0][0])
	}
	if errs := s2.Check(); len(errs) > 0 {
		t.Errorf("Check after replay: %v", errs)
	}
}

// TestCommitFaultWithoutHandler checks that a store with no OnFault panics
// on a failed commit, as before, rather than carrying on.
func TestCommitFaultWithoutHandler(t *testing.T) {
	s, err := Open(Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	failCommits(s)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "no space left") {
			t.Errorf("Apply after a failed commit: recovered %v, want a panic naming the cause", r)
		}
	}()
	s.Apply([]Batch{{Index: 1, Term: 1, Time: epoch, Items: [][]byte{KeyItem(OperatorID, hashKey("k"))}}})
}

// TestOpenRefusesDamagedState checks that a state file cut short or with
// corrupt meta pages is refused at open with ErrDamaged, naming the file,
// instead of being served (or, cut short, killing the process with SIGBUS
// when bbolt maps pages past its end).
func TestOpenRefusesDamagedState(t *testing.T) {
	build := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "state.db")
		s, err := Open(Config{Path: path, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		items := [][]byte{KeyItem(OperatorID, hashKey("k"))}
		for i := range 300 {
			items = append(items, InstructionItem(OperatorID, []byte(ins("register_party", party(fmt.Sprintf("aud-%d", i), "auditor")))))
		}
		s.Apply([]Batch{{Index: 1, Term: 1, Time: epoch, Items: items}})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"cut short", func(t *testing.T, path string) {
			// The meta pages survive; the pages they count do not.
			if err := os.Truncate(path, 4*int64(os.Getpagesize())); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta pages overwritten", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Both meta pages (pages 0 and 1) lose their checksummed fields.
			garbage := bytes.Repeat([]byte{0xA5}, 64)
			for _, off := range []int64{16, int64(os.Getpagesize()) + 16} {
				if _, err := f.WriteAt(garbage, off); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := build(t)
			tc.damage(t, path)
			s, err := Open(Config{Path: path, NoSync: true})
			if err == nil {
				s.Close()
				t.Fatal("a damaged state file opened")
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
				t.Errorf("open: %v; want ErrDamaged naming %s", err, path)
			}
		})
	}
	t.Run("whole", func(t *testing.T) {
		s, err := Open(Config{Path: build(t), NoSync: true})
		if err != nil {
			t.Fatalf("a whole state file: %v", err)
		}
		s.Close()
	})
}
