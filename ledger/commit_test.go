package ledger

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCommitBesideApply holds a commit of the state file in flight and
// checks that Apply goes on meanwhile (the commit is off the apply path),
// that reads see what was applied, that Commit waits for the file, and that
// the file, reopened, holds every applied call once the commits end.
func TestCommitBesideApply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(Config{Path: path, NoSync: true, CommitEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	s.commitTx = func(tx *bolt.Tx) error {
		entered <- struct{}{}
		<-release
		return tx.Commit()
	}
	batch := func(index uint64, items ...[]byte) []Batch {
		return []Batch{{Index: index, Term: 1, Time: epoch.Add(time.Duration(index) * time.Second), Items: items}}
	}
	s.Apply(batch(1, KeyItem(OperatorID, hashKey("k")), InstructionItem(OperatorID, []byte(ins("register_party", party("aud-0", "auditor"))))))
	<-entered // the first layer's commit is now held

	// Apply goes on, several layers' worth, while that commit is held.
	const more = 5
	for i := 1; i <= more; i++ {
		res := s.Apply(batch(uint64(1+i), InstructionItem(OperatorID, []byte(ins("register_party", party(fmt.Sprintf("aud-%d", i), "auditor"))))))
		if !strings.Contains(string(res[0][0]), `"accepted"`) {
			t.Fatalf("batch %d: %s", 1+i, res[0][0])
		}
	}
	if got := s.AppliedIndex(); got != 1+more {
		t.Fatalf("applied %d while a commit was held, want %d", got, 1+more)
	}
	for i := 0; i <= more; i++ {
		if _, err := s.Party(fmt.Sprintf("aud-%d", i)); err != nil {
			t.Errorf("party aud-%d not readable while its layer is uncommitted: %v", i, err)
		}
	}
	// A journal page by seq reads through the layers too: it does not wait
	// for the held commit (a journal stream polls it).
	page, err := s.Journal(JournalQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	// The operator's key, then the auditors.
	if n := len(page.Entries); n != 2+more {
		t.Errorf("journal page while a commit is held: %d entries, want %d", n, 2+more)
	}
	committed := make(chan error, 1)
	go func() { committed <- s.Commit() }()
	select {
	case err := <-committed:
		t.Fatalf("Commit returned (%v) while the file's commit was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := s2.AppliedIndex(); got != 1+more {
		t.Errorf("reopened at applied index %d, want %d", got, 1+more)
	}
	for i := 0; i <= more; i++ {
		if _, err := s2.Party(fmt.Sprintf("aud-%d", i)); err != nil {
			t.Errorf("party aud-%d lost: %v", i, err)
		}
	}
	if errs := s2.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
}

// TestCommitFaultBesideApply fails a commit that runs beside Apply: the
// fault is reported, the next Apply never answers, and reads fail with
// ErrStorageFault.
func TestCommitFaultBesideApply(t *testing.T) {
	faults := make(chan error, 4)
	s, err := Open(Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true, CommitEvery: 2,
		OnFault: func(err error) { faults <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	failCommits(s)
	batch := func(index uint64, items ...[]byte) []Batch {
		return []Batch{{Index: index, Term: 1, Time: epoch.Add(time.Duration(index) * time.Second), Items: items}}
	}
	s.Apply(batch(1, KeyItem(OperatorID, hashKey("k")), InstructionItem(OperatorID, []byte(ins("register_party", party("aud", "auditor"))))))
	var fault error
	select {
	case fault = <-faults:
	case <-time.After(10 * time.Second):
		t.Fatal("no fault reported after a failed commit")
	}
	if !errors.Is(fault, ErrStorageFault) || !errors.Is(fault, errDiskFull) {
		t.Errorf("fault %v: want ErrStorageFault wrapping the cause", fault)
	}
	if _, err := s.Party("aud"); !errors.Is(err, ErrStorageFault) {
		t.Errorf("read after the fault: %v, want ErrStorageFault", err)
	}
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		s.Apply(batch(2, InstructionItem(OperatorID, []byte(ins("register_party", party("aud-2", "auditor"))))))
	}()
	select {
	case <-returned:
		t.Error("Apply returned after a failed commit")
	case <-time.After(100 * time.Millisecond):
	}
}
