package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/ledger/kv"
)

// restoreTarget opens a store at a new path, as a node's, holding the world
// and a committed mint of 100 REG to acc-us, and records the faults it
// reports. It has no StrictChecks: a state that fails its checks must reach
// the check that runs beside Apply.
func restoreTarget(t *testing.T) (s *Store, h *harness, path string, faults chan error) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "state.db")
	faults = make(chan error, 4)
	s, err := Open(Config{Path: path, NoSync: true, CommitEvery: 1 << 20, OnFault: func(err error) { faults <- err }})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	h = &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	h.mustAccept("iss-1", mintBody("REG", "acc-us", "100"))
	return s, h, path, faults
}

func checkUnverifiedMark(t *testing.T, path string, want bool) {
	t.Helper()
	got, err := isUnverified(path)
	if err != nil {
		t.Fatalf("isUnverified: %v", err)
	}
	if got != want {
		t.Errorf("state marked unchecked = %v, want %v", got, want)
	}
}

// TestRestoreChecksBesideApply checks that a restore returns before the
// check of the restored state, that Apply goes on while it runs, and that
// the state is unverified, and marked so on disk, until it passes.
func TestRestoreChecksBesideApply(t *testing.T) {
	src := restoreSource(t)
	want := mustHashes(t, src.s)
	snap := snapshotOf(t, src.s)

	s, h, path, faults := restoreTarget(t)
	// Over a budget of 0 the check lets go of the file's pages at once:
	// the release must reach the restored file, renamed since it opened.
	s.releaseBudget = 0
	release := make(chan struct{})
	s.beforeRestoreCheck = func(*atomic.Bool) { <-release }
	if err := s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if s.Verified() {
		t.Error("Verified = true before the restored state was checked")
	}
	checkUnverifiedMark(t, path, true)
	if got := mustHashes(t, s); got != want {
		t.Errorf("restored hashes %+v, want the snapshot's %+v", got, want)
	}
	// The check is held; Apply does not wait for it, nor does a commit
	// that grows the file well past its size, which the file's room to
	// grow keeps from remapping it (a remap would wait for the check's
	// transactions: this would hang).
	h.mustAccept("iss-1", mintBody("REG", "inst-us", "3"))
	var regs [][]byte
	for i := range 3000 {
		regs = append(regs, InstructionItem("cus-1", []byte(ins("register_party", investor(fmt.Sprintf("grow-%d", i), "accredited", "US")))))
	}
	for _, o := range h.apply(regs...) {
		if o.Status != StatusAccepted {
			t.Fatalf("register: %+v", o)
		}
	}
	committed := make(chan error, 1)
	go func() { committed <- s.Commit() }()
	select {
	case err := <-committed:
		if err != nil {
			t.Fatalf("Commit while the check is held: %v", err)
		}
	case <-time.After(time.Minute):
		t.Error("Commit waited for the held check: bbolt remapped the restored file")
		close(release)
		<-committed
		release = make(chan struct{})
	}
	if got := h.balance("inst-us", "REG"); got != "10" {
		t.Errorf("inst-us REG = %s, want 10 (the snapshot's 7 and 3)", got)
	}
	close(release)
	if err := s.awaitRestoreCheck(); err != nil {
		t.Fatalf("the check of a sound snapshot: %v", err)
	}
	if !s.Verified() {
		t.Error("Verified = false after the check passed")
	}
	if runtime.GOOS == "linux" && s.restoreCheck.releases == 0 {
		t.Error("the check never let go of the restored file's pages, over a budget of 0")
	}
	checkUnverifiedMark(t, path, false)
	select {
	case err := <-faults:
		t.Errorf("a sound restore reported a fault: %v", err)
	default:
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Errorf("Check: %v", errs)
	}
	checkReopens(t, s, path, mustHashes(t, s))
}

// unsoundSnapshots are snapshots that arrive whole (their checksum is
// right) but do not hold a sound ledger.
func unsoundSnapshots(t *testing.T) map[string][]byte {
	good := snapshotOf(t, restoreSource(t).s)
	return map[string][]byte{
		"fails the checks": editSnapshot(t, good, func(tx *kv.Tx) error {
			// inst-us holds REG: its holding now names an unknown party.
			return tx.Bucket(bucketParties).Delete([]byte("inst-us"))
		}),
		"a record that does not decode": editSnapshot(t, good, func(tx *kv.Tx) error {
			// A journal record whose tag is wrong: its reader panics.
			return tx.Bucket(bucketJournal).Put(seqKey(1), []byte("not a journal record"))
		}),
	}
}

// TestRestoredStateFailingItsChecksStops checks that a restored state that
// fails its checks stops the store as a storage fault does (reads fail,
// OnFault hears of it once, with step "check"), and that the file stays
// marked, so the next Open refuses it instead of serving it.
func TestRestoredStateFailingItsChecksStops(t *testing.T) {
	for name, snap := range unsoundSnapshots(t) {
		t.Run(name, func(t *testing.T) {
			s, _, path, faults := restoreTarget(t)
			if err := s.Restore(bytes.NewReader(snap)); err != nil {
				t.Fatalf("Restore = %v; the stream is whole, so the check comes after the swap", err)
			}
			if err := s.awaitRestoreCheck(); err == nil {
				t.Fatal("the check of an unsound snapshot found nothing")
			}
			select {
			case err := <-faults:
				var fe *FaultError
				if !errors.As(err, &fe) || fe.Step != "check" || !errors.Is(err, ErrStateUnsound) ||
					errors.Is(err, ErrStorageFault) || strings.Contains(err.Error(), "storage fault") {
					t.Errorf("fault = %v, want a FaultError of step check, ErrStateUnsound, not a storage fault", err)
				}
			default:
				t.Fatal("OnFault was not told of the failed check")
			}
			if s.Verified() {
				t.Error("Verified = true after the check failed")
			}
			if _, err := s.Hashes(); !errors.Is(err, ErrStateUnsound) {
				t.Errorf("Hashes after the failed check = %v, want ErrStateUnsound", err)
			}
			checkUnverifiedMark(t, path, true)
			if err := s.Close(); err != nil {
				t.Logf("Close: %v", err)
			}
			_, err := Open(Config{Path: path, NoSync: true})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "fails its checks") {
				t.Fatalf("Open of the unsound restored state = %v, want ErrDamaged naming the failed checks", err)
			}
			checkUnverifiedMark(t, path, true)
		})
	}
}

// waitCalledOff is a beforeRestoreCheck that holds the check until it is
// called off. The wait is bounded: a check never called off fails the
// test instead of hanging it.
func waitCalledOff(t *testing.T) func(stop *atomic.Bool) {
	return func(stop *atomic.Bool) {
		deadline := time.Now().Add(time.Minute)
		for !stop.Load() {
			if time.Now().After(deadline) {
				t.Error("the check was never called off")
				return
			}
			runtime.Gosched()
		}
	}
}

// restoreHeld restores snap into s with its check held until it is
// called off; the restores after it are checked as usual.
func restoreHeld(t *testing.T, s *Store, snap []byte) {
	t.Helper()
	s.beforeRestoreCheck = waitCalledOff(t)
	if err := s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("first Restore: %v", err)
	}
	s.beforeRestoreCheck = nil
}

// checkPasses waits for the check of the state s restored last and
// checks that it passed: the state verified, the mark gone, the hashes
// want.
func checkPasses(t *testing.T, s *Store, path string, want Hashes) {
	t.Helper()
	if err := s.awaitRestoreCheck(); err != nil {
		t.Fatalf("the check: %v", err)
	}
	if !s.Verified() {
		t.Error("Verified = false after the check passed")
	}
	checkUnverifiedMark(t, path, false)
	if got := mustHashes(t, s); got != want {
		t.Errorf("hashes %+v, want the snapshot's %+v", got, want)
	}
}

// TestCloseCallsOffTheRestoreCheck checks that Close ends a check still
// running, and that the next Open runs it before it serves the state.
func TestCloseCallsOffTheRestoreCheck(t *testing.T) {
	src := restoreSource(t)
	want := mustHashes(t, src.s)
	s, _, path, _ := restoreTarget(t)
	s.beforeRestoreCheck = waitCalledOff(t)
	if err := s.Restore(bytes.NewReader(snapshotOf(t, src.s))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkUnverifiedMark(t, path, true)
	reopened := openStore(t, path, false)
	checkUnverifiedMark(t, path, false)
	if !reopened.Verified() {
		t.Error("Verified = false after Open checked the state")
	}
	if got := mustHashes(t, reopened); got != want {
		t.Errorf("reopened hashes %+v, want the snapshot's %+v", got, want)
	}
}

// TestRestoreCallsOffAnEarlierCheck checks that a second restore, arriving
// while the first one's state is being checked, ends that check and checks
// its own state.
func TestRestoreCallsOffAnEarlierCheck(t *testing.T) {
	src := restoreSource(t)
	first := snapshotOf(t, src.s)
	src.mustAccept("iss-1", mintBody("REG", "inst-us", "5"))
	want := mustHashes(t, src.s)
	second := snapshotOf(t, src.s)

	s, h, path, faults := restoreTarget(t)
	restoreHeld(t, s, first)
	if err := s.Restore(bytes.NewReader(second)); err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	checkPasses(t, s, path, want)
	if got := h.balance("inst-us", "REG"); got != "12" {
		t.Errorf("inst-us REG = %s, want 12", got)
	}
	if len(faults) > 0 {
		t.Errorf("a fault was reported: %v", <-faults)
	}
}

// TestFailedSwapKeepsAnUncheckedStateChecked checks that a restore whose
// swap fails after it called off the check of an earlier restore starts
// that check again: the state it keeps still has to pass.
func TestFailedSwapKeepsAnUncheckedStateChecked(t *testing.T) {
	src := restoreSource(t)
	want := mustHashes(t, src.s)
	snap := snapshotOf(t, src.s)

	s, _, path, _ := restoreTarget(t)
	restoreHeld(t, s, snap)
	s.rename = func(string, string) error { return errors.New("injected rename failure") }
	if err := s.Restore(bytes.NewReader(snap)); err == nil {
		t.Fatal("second Restore succeeded, want the rename's error")
	}
	checkRestoreFileGone(t, path)
	checkPasses(t, s, path, want)
}

// TestRestoreSyncsTheDirectory checks that a restore makes its rename
// durable by syncing the state file's directory, and that a directory it
// cannot sync stops the node as a storage fault: the file under the name
// is the restored one, but a crash could bring the old one back.
func TestRestoreSyncsTheDirectory(t *testing.T) {
	src := restoreSource(t)
	snap := snapshotOf(t, src.s)

	s, _, path, faults := restoreTarget(t)
	var synced []string
	s.syncDir = func(dir string) error {
		synced = append(synced, dir)
		return syncDir(dir)
	}
	if err := s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if !slices.Contains(synced, filepath.Dir(path)) {
		t.Errorf("directories synced %q, want the state file's %s", synced, filepath.Dir(path))
	}
	if err := s.awaitRestoreCheck(); err != nil {
		t.Fatal(err)
	}

	s2, _, _, faults2 := restoreTarget(t)
	errDir := errors.New("directory sync failed")
	s2.syncDir = func(string) error { return errDir }
	err := s2.Restore(bytes.NewReader(snap))
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Step != "restore" || !errors.Is(err, ErrStorageFault) || !errors.Is(err, errDir) {
		t.Fatalf("Restore with a directory that cannot be synced = %v, want a storage fault of step restore", err)
	}
	select {
	case f := <-faults2:
		if !errors.Is(f, errDir) {
			t.Errorf("OnFault told %v, want the directory's error", f)
		}
	default:
		t.Error("OnFault was not told of the failed directory sync")
	}
	if _, err := s2.Hashes(); !errors.Is(err, ErrStorageFault) {
		t.Errorf("Hashes after the fault = %v, want ErrStorageFault", err)
	}
	_ = s2.awaitRestoreCheck() // its check may run on; the store is stopping
	select {
	case f := <-faults:
		t.Errorf("the first store, whose directory synced, was told of a fault: %v", f)
	default:
	}
}
