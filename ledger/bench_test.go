package ledger

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

const (
	benchInvestors   = 100_000
	benchInstruments = 1_000
	benchBatch       = 1_000
)

// benchStore builds a store holding 100,000 investors and 1,000 instruments,
// each investor funded with cash and holding a few instruments.
func benchStore(b *testing.B, noSync bool, commitEvery int) (*Store, uint64, time.Time) {
	b.Helper()
	l, _, _ := registerAndMint(b, b, benchInvestors, Config{NoSync: true})
	l.s.Close()
	// Reopen with the sync setting under test.
	s, err := Open(Config{Path: l.s.cfg.Path, NoSync: noSync, CommitEvery: commitEvery, stageFrom: scaleStageFrom})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, l.index, l.now
}

// benchLedger is a store in the benchmark's temp dir, its operator key
// applied, fed one batch at a time at its own index and clock.
type benchLedger struct {
	s     *Store
	index uint64
	now   time.Time
}

// openBenchLedger opens it with cfg (its Path is set here).
func openBenchLedger(b *testing.B, cfg Config) *benchLedger {
	b.Helper()
	cfg.Path = filepath.Join(b.TempDir(), "bench.db")
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	l := &benchLedger{s: s, now: epoch}
	l.apply([][]byte{KeyItem(OperatorID, hashKey("k"))})
	return l
}

// apply applies items as the next batch and returns their results.
func (l *benchLedger) apply(items [][]byte) [][]byte {
	l.index++
	return l.s.Apply([]Batch{{Index: l.index, Term: 1, Time: l.now, Items: items}})[0]
}

// BenchmarkApply measures the state machine alone: batches of 1,000 mixed
// instructions (60% transfers, 20% delivery-versus-payment, 20% mints), each
// decoded, authorized, eligibility-checked and journaled. "commit-every-batch"
// commits one bbolt transaction per batch; "commit-every-20k" keeps the
// transaction open for 20 batches, as a node does (CommitEvery), and the
// timed loop ends with the final commit. "apply-only" commits once, after
// the timed loop: what Apply costs and allocates itself, apart from the
// bbolt transactions that commit its writes.
//
//	go test ./ledger -run '^$' -bench BenchmarkApply -benchmem -benchtime 40x
func BenchmarkApply(b *testing.B) {
	for _, bc := range []struct {
		name        string
		noSync      bool
		commitEvery int
	}{
		{"fsync/commit-every-batch", false, 0},
		{"nosync/commit-every-batch", true, 0},
		{"fsync/commit-every-20k", false, 20_000},
		{"apply-only", false, math.MaxInt32},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, index, now := benchStore(b, bc.noSync, bc.commitEvery)
			r := rand.New(rand.NewSource(1))
			batches := make([][][]byte, b.N)
			for n := range batches {
				items := make([][]byte, benchBatch)
				for i := range items {
					items[i] = benchInstruction(r, n, i)
				}
				batches[n] = items
			}
			runtime.GC() // the setup's garbage is not the batch's cost
			b.ReportAllocs()
			b.ResetTimer()
			cpuBefore, canCountCPU := processCPU()
			for n := 0; n < b.N; n++ {
				index++
				now = now.Add(time.Second)
				s.Apply([]Batch{{Index: index, Term: 1, Time: now, Items: batches[n]}})
			}
			applyOnly := bc.commitEvery == math.MaxInt32
			if applyOnly {
				b.StopTimer()
			}
			// CPU time (GC included) varies less than the wall time on a
			// shared machine, so before/after comparisons quote it too.
			cpuAfter, _ := processCPU()
			if err := s.Commit(); err != nil {
				b.Fatal(err)
			}
			if !applyOnly {
				cpuAfter, _ = processCPU()
			}
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "instr/s")
			if canCountCPU {
				b.ReportMetric(float64((cpuAfter-cpuBefore).Microseconds())/float64(b.N*benchBatch), "cpu-µs/instr")
			}
			st := s.db.Stats().TxStats
			b.ReportMetric(float64(st.GetWrite())/float64(b.N), "pagewrites/op")
			b.ReportMetric(float64(st.GetWriteTime().Milliseconds())/float64(b.N), "writems/op")
			b.ReportMetric(float64(st.GetSpillTime().Milliseconds())/float64(b.N), "spillms/op")
		})
	}
}

func benchInstruction(r *rand.Rand, n, i int) []byte {
	return mixInstruction(r, fmt.Sprintf("b-%d-%d", n, i), benchInvestors)
}

// BenchmarkApplyEntries is the shape a node's state machine sees under
// concurrent single-instruction requests: log entries of one-leg cash
// transfers among 1,000 investors, the state committed every 32,768
// instructions as a node does. "1-per-entry" is one client at a time, where
// what a call costs beyond its instructions is the whole of the apply's
// share of the latency; "50-per-entry" is many clients sharing entries;
// "1000-per-entry" the batch endpoint's requests of 1,000 (`node bench
// --batch 1000`): a twentieth of 50-per-entry's -benchtime applies as many
// instructions.
//
//	go test ./ledger -run '^$' -bench BenchmarkApplyEntries -benchmem
func BenchmarkApplyEntries(b *testing.B) {
	for _, perEntry := range []int{1, 50, 1000} {
		b.Run(fmt.Sprintf("%d-per-entry", perEntry), func(b *testing.B) { benchApplyEntries(b, perEntry, 0) })
	}
	// A batch, then a single instruction, in turn: what a node sees when
	// batch requests and single ones share it. An op is the pair.
	b.Run("1000-then-1", func(b *testing.B) { benchApplyEntries(b, 1000, 1) })
}

// benchApplyEntries applies b.N entries of perEntry transfers each; with
// then > 0, each is followed by one of then transfers.
func benchApplyEntries(b *testing.B, perEntry, then int) {
	const accounts = 1000
	l := openBenchLedger(b, Config{CommitEvery: nodeCommitEvery, stageFrom: scaleStageFrom})
	setup := [][]byte{
		InstructionItem(OperatorID, []byte(ins("register_party", party("cus-1", "custodian")))),
		InstructionItem(OperatorID, []byte(ins("register_party", party("iss-1", "issuer")))),
		InstructionItem(OperatorID, []byte(ins("create_instrument", instrument("USD", "unrestricted", "cash", 2, nil)))),
	}
	for i := 0; i < accounts; i++ {
		setup = append(setup, InstructionItem("cus-1", []byte(ins("register_party", investor(fmt.Sprintf("inv-%d", i), "retail", "US")))))
	}
	for i := 0; i < accounts; i++ {
		setup = append(setup, InstructionItem(OperatorID, []byte(mintBody("USD", fmt.Sprintf("inv-%d", i), "1000000"))))
	}
	requireAccepted(b, l.apply(setup))
	step := 1
	if then > 0 {
		step = 2
	}
	entries := make([][][]byte, step*b.N)
	for n := range entries {
		items := make([][]byte, perEntry)
		if n%2 == 1 && then > 0 {
			items = items[:then]
		}
		for i := range items {
			a := (n*perEntry + i) % accounts
			c := (a + 1 + n%(accounts-1)) % accounts
			body := fmt.Sprintf(`{"id":"t-%d-%d","type":"transfer","legs":[{"symbol":"USD","from":"inv-%d","to":"inv-%d","amount":"0.01"}]}`, n, i, a, c)
			items[i] = InstructionItem(OperatorID, []byte(body))
		}
		entries[n] = items
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var last [][]byte
	for n := range entries {
		l.now = l.now.Add(time.Millisecond)
		last = l.apply(entries[n])
	}
	b.StopTimer()
	requireAccepted(b, last)
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*(perEntry+then))/b.Elapsed().Seconds(), "instr/s")
}

func requireAccepted(b *testing.B, results [][]byte) {
	b.Helper()
	for i, r := range results {
		if !bytes.Contains(r, []byte(`"status":"accepted"`)) {
			b.Fatalf("item %d: %s", i, r)
		}
	}
}
