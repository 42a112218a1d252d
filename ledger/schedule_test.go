package ledger

import (
	"bytes"
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// strictRulebook is the default rulebook under another version, with
// registered securities open to accredited investors only: a retail buyer
// the default admits is refused under it.
var strictRulebook = func() string {
	y := eligibility.Default().YAML()
	y = bytes.Replace(y, []byte(`version: "2026-12-default-1"`), []byte(`version: "strict-1"`), 1)
	y = bytes.Replace(y, []byte("min_status: retail # anyone; registered securities trade freely"), []byte("min_status: accredited # strict"), 1)
	if _, err := eligibility.Parse(y); err != nil || !bytes.Contains(y, []byte("# strict")) {
		panic(fmt.Sprintf("strict rulebook: %v", err))
	}
	return string(y)
}()

func setRulebookBody(yaml string, at *time.Time) string {
	f := map[string]any{"rulebook": yaml}
	if at != nil {
		f["effective_at"] = at.UTC().Format(time.RFC3339Nano)
	}
	return ins("set_rulebook", f)
}

// TestScheduledRulebookTakesForceAtItsDate crosses the date: a mint to a
// retail investor is accepted before it and refused after it, the switch
// being made by the first batch at or after the date, and the schedule
// shown until then.
func TestScheduledRulebookTakesForceAtItsDate(t *testing.T) {
	h := newHarness(t)
	h.world()
	at := h.now.Add(24 * time.Hour)
	h.mustAccept(OperatorID, setRulebookBody(strictRulebook, &at))

	sched, err := h.s.ScheduledRulebook()
	if err != nil || sched == nil || sched.Rulebook.Version() != "strict-1" || !sched.EffectiveAt.Equal(at) {
		t.Fatalf("ScheduledRulebook = %+v, %v; want strict-1 at %s", sched, err, at)
	}
	if got := h.s.Rulebook().Version(); got != "2026-12-default-1" {
		t.Fatalf("rulebook in force %s before the date, want the default", got)
	}
	h.now = at.Add(-time.Nanosecond)
	h.mustAccept("iss-1", mintBody("REG", "ret-us", "1"))

	// A dry run at the date answers what a write then gets.
	dry, err := h.s.DryRun("iss-1", mustDecode(t, mintBody("REG", "ret-us", "1")), at)
	if err != nil || dry.Status != StatusRejected {
		t.Errorf("DryRun at the date: %+v, %v; want rejected", dry, err)
	}

	h.now = at
	h.mustReject("iss-1", mintBody("REG", "ret-us", "1"), "INVESTOR_NOT_ELIGIBLE")
	if got := h.s.Rulebook().Version(); got != "strict-1" {
		t.Errorf("rulebook in force %s after the date, want strict-1", got)
	}
	if sched, err := h.s.ScheduledRulebook(); err != nil || sched != nil {
		t.Errorf("ScheduledRulebook after the date = %+v, %v; want none", sched, err)
	}
	// What the old rulebook allowed stays.
	if got := h.balance("ret-us", "REG"); got != "1" {
		t.Errorf("ret-us holds %s REG, want 1", got)
	}
}

// TestScheduledRulebookRefusesPastDate: effective_at must come after the
// batch's time.
func TestScheduledRulebookRefusesPastDate(t *testing.T) {
	h := newHarness(t)
	for _, at := range []time.Time{h.now, h.now.Add(-time.Hour)} {
		h.mustReject(OperatorID, setRulebookBody(strictRulebook, &at), "INVALID_INSTRUCTION")
	}
	if sched, err := h.s.ScheduledRulebook(); err != nil || sched != nil {
		t.Errorf("ScheduledRulebook = %+v, %v; want none", sched, err)
	}
}

// TestScheduledRulebookReplaced: a later set_rulebook replaces a schedule
// not yet in force, whether it is scheduled itself or takes force at once.
func TestScheduledRulebookReplaced(t *testing.T) {
	h := newHarness(t)
	h.world()
	first, second := h.now.Add(time.Hour), h.now.Add(2*time.Hour)
	h.mustAccept(OperatorID, setRulebookBody(strictRulebook, &first))
	h.mustAccept(OperatorID, setRulebookBody(string(eligibility.Default().YAML()), &second))
	sched, err := h.s.ScheduledRulebook()
	if err != nil || sched == nil || !sched.EffectiveAt.Equal(second) || sched.Rulebook.Version() != "2026-12-default-1" {
		t.Fatalf("ScheduledRulebook = %+v, %v; want the default at %s", sched, err, second)
	}
	// Past the first date, the strict rulebook it replaced never takes force.
	h.now = first.Add(time.Minute)
	h.mustAccept("iss-1", mintBody("REG", "ret-us", "1"))

	h.mustAccept(OperatorID, setRulebookBody(strictRulebook, nil))
	if sched, err := h.s.ScheduledRulebook(); err != nil || sched != nil {
		t.Errorf("ScheduledRulebook after a set_rulebook without a date = %+v, %v; want none", sched, err)
	}
	h.now = second.Add(time.Minute)
	h.mustReject("iss-1", mintBody("REG", "ret-us", "1"), "INVESTOR_NOT_ELIGIBLE")
	if got := h.s.Rulebook().Version(); got != "strict-1" {
		t.Errorf("rulebook in force %s, want strict-1 (the dropped schedule must not take force)", got)
	}
}

// TestScheduledRulebookSurvivesRestartAndRestore: the schedule is state, so
// reopening the file, and restoring a snapshot on a fresh store, keep it,
// and both switch at the date.
func TestScheduledRulebookSurvivesRestartAndRestore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(Config{Path: path, StrictChecks: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.world()
	at := h.now.Add(time.Hour)
	h.mustAccept(OperatorID, setRulebookBody(strictRulebook, &at))
	snap := snapshotOf(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	reopened := openStore(t, path, true)
	restored := openStore(t, filepath.Join(dir, "other.db"), true)
	if err := restored.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	mint := mintBody("REG", "ret-us", "1") // one id for both
	for name, s := range map[string]*Store{"reopened": reopened, "restored": restored} {
		sched, err := s.ScheduledRulebook()
		if err != nil || sched == nil || !sched.EffectiveAt.Equal(at) {
			t.Errorf("%s: ScheduledRulebook = %+v, %v; want one at %s", name, sched, err, at)
			continue
		}
		h := &harness{t: t, s: s, index: s.AppliedIndex(), now: at}
		h.mustReject("iss-1", mint, "INVESTOR_NOT_ELIGIBLE")
	}
	if a, b := mustHashes(t, reopened), mustHashes(t, restored); a.Full != b.Full {
		t.Errorf("reopened and restored stores differ after the same batch: %s vs %s", a.Full, b.Full)
	}
}

// TestScheduledRulebookSwitchIsReplayed is a property: the same log, whose
// batch times wander around the date (a lagging leader's stamps included,
// which clamping holds back), applied to fresh stores in differently sized
// Apply calls, switches rulebooks at the same batch and ends in the same
// state. The seed is logged.
func TestScheduledRulebookSwitchIsReplayed(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	for round := range 20 {
		at := epoch.Add(time.Hour)
		log := []Batch{{Index: 1, Term: 1, Time: epoch, Items: [][]byte{KeyItem(OperatorID, hashKey("operator-secret"))}}}
		add := func(tm time.Time, body string, actor string) {
			log = append(log, Batch{Index: uint64(len(log) + 1), Term: 1, Time: tm, Items: [][]byte{InstructionItem(actor, []byte(body))}})
		}
		for _, b := range worldBodies() {
			add(epoch, b.body, b.actor)
		}
		add(epoch, setRulebookBody(strictRulebook, &at), OperatorID)
		// Mints to a retail investor: accepted before the switch, refused after.
		for range 30 {
			tm := at.Add(time.Duration(r.Intn(9)-5) * time.Minute / 3)
			add(tm, mintBody("REG", "ret-us", "1"), "iss-1")
		}
		var want []string
		var wantHash Hashes
		for replica := range 3 {
			s := openStore(t, filepath.Join(t.TempDir(), "state.db"), true)
			var got []string
			for i := 0; i < len(log); {
				n := 1 + r.Intn(4)
				n = min(n, len(log)-i)
				for _, res := range s.Apply(log[i : i+n]) {
					for _, b := range res {
						o, err := DecodeOutcome(b)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, o.Status)
					}
				}
				i += n
			}
			hs := mustHashes(t, s)
			if replica == 0 {
				want, wantHash = got, hs
				continue
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || hs != wantHash {
				t.Fatalf("round %d replica %d: outcomes %v, hashes %+v; replica 0: %v, %+v", round, replica, got, hs, want, wantHash)
			}
		}
		// The switch is the first batch whose clamped time reaches the date.
		last := epoch
		switched := false
		for i, b := range log {
			if b.Time.After(last) {
				last = b.Time
			}
			if i < len(log)-30 {
				continue
			}
			wantStatus := StatusAccepted
			if switched = switched || !last.Before(at); switched {
				wantStatus = StatusRejected
			}
			if got := want[i]; got != wantStatus {
				t.Fatalf("round %d: batch %d at %s (clamped %s): %s, want %s", round, i+1, b.Time, last, got, wantStatus)
			}
		}
	}
}

type actorBody struct{ actor, body string }

// worldBodies is the instructions of harness.world, for logs built by hand.
func worldBodies() []actorBody {
	var out []actorBody
	for _, p := range []struct{ id, role string }{{"cus-1", "custodian"}, {"iss-1", "issuer"}} {
		out = append(out, actorBody{OperatorID, ins("register_party", party(p.id, p.role))})
	}
	out = append(out, actorBody{"cus-1", ins("register_party", investor("ret-us", "retail", "US"))})
	out = append(out, actorBody{"iss-1", ins("create_instrument", instrument("REG", "registered", "enterprise_equity", 0, nil))})
	return out
}

func mustDecode(t testing.TB, body string) transfer.Instruction {
	t.Helper()
	in, err := transfer.Decode([]byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return in
}
