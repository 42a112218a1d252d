package ledger

// The ledger at scale: BenchmarkApply's mix on 10,000 to 1,000,000
// investors, registering and minting them, and what the state file of such a
// ledger costs to snapshot, restore, reopen and verify. Each figure the
// README gives for them comes from these benchmarks. The 1,000,000-investor
// sizes take minutes each (BenchmarkStateAtScale about 8 on a 2-core VM),
// about 12 GB of disk and 4 GB of memory, so they run only when
// TOKENLEDGER_BENCH_1M=1:
//
//	go test ./ledger -run '^$' -bench BenchmarkScale -benchtime 40x -timeout 0
//	go test ./ledger -run '^$' -bench 'BenchmarkRegisterMint|BenchmarkStateAtScale' -benchtime 1x -timeout 0
//	TOKENLEDGER_BENCH_1M=1 go test ./ledger -run '^$' -bench 'BenchmarkScale/investors=1M' -benchtime 40x -timeout 0

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/transfer"
	bolt "go.etcd.io/bbolt"
)

const (
	// scaleHugeEnv set to 1 enables the sizes of scaleHugeInvestors and up.
	scaleHugeEnv       = "TOKENLEDGER_BENCH_1M"
	scaleHugeInvestors = 1_000_000
	// scaleRandomIDsEnv set to "random" gives every instruction of the
	// set-up and the mix a random id, as clients that make UUIDs send,
	// instead of ids that sort by when they were made: the ids bucket is
	// keyed by id, so random ones land on random pages of it.
	scaleRandomIDsEnv = "TOKENLEDGER_BENCH_IDS"
	// scaleSetupBatch is the set-up's instructions per batch: consensus's
	// default MaxBatchItems, the most one log entry carries.
	scaleSetupBatch = 10_000
	// scaleMixedPerTenInvestors: the state benchmarks apply 1.3 mixed
	// instructions an investor after the set-up's 3 (a registration and two
	// mints), for 4.3 journal entries an investor.
	scaleMixedPerTenInvestors = 13
)

// nodeCommitEvery is cmd/node's default --commit-every: these benchmarks
// commit the state file as a node does. TOKENLEDGER_BENCH_COMMIT_EVERY
// sets another, to compare.
var nodeCommitEvery = func() int {
	if v, err := strconv.Atoi(os.Getenv("TOKENLEDGER_BENCH_COMMIT_EVERY")); err == nil && v > 0 {
		return v
	}
	return 32768
}()

// scaleStageFrom is the state file size from which the scale benchmarks'
// commits, and BenchmarkApply's and BenchmarkApplyEntries', stage layers:
// TOKENLEDGER_BENCH_STAGE_FROM, in bytes (1: every commit that may; a size
// past the file's: never), or the store's default.
var scaleStageFrom = func() int64 {
	v, _ := strconv.ParseInt(os.Getenv("TOKENLEDGER_BENCH_STAGE_FROM"), 10, 64)
	return max(v, 0)
}()

// scaleSizes is BenchmarkScale's sizes: TOKENLEDGER_BENCH_INVESTORS=N runs
// N investors alone, to measure a register between the usual sizes.
func scaleSizes() []scaleSize {
	if n, err := strconv.Atoi(os.Getenv("TOKENLEDGER_BENCH_INVESTORS")); err == nil && n > 0 {
		return []scaleSize{{strconv.Itoa(n), n}}
	}
	return []scaleSize{scale10k, scale100k, scale1M}
}

type scaleSize struct {
	name      string
	investors int
}

var (
	scale10k  = scaleSize{"10k", 10_000}
	scale100k = scaleSize{"100k", 100_000}
	scale1M   = scaleSize{"1M", scaleHugeInvestors}
)

// skipHuge skips sizes that need scaleHugeEnv, saying how to run them.
func skipHuge(b *testing.B, investors int) {
	b.Helper()
	if investors >= scaleHugeInvestors && os.Getenv(scaleHugeEnv) != "1" {
		b.Skipf("%d investors take minutes and up to 12 GB of disk; set %s=1 to run them", investors, scaleHugeEnv)
	}
}

// BenchmarkScale is BenchmarkApply's mix (batches of 1,000: 60% cash
// transfers, 20% delivery-versus-payment, 20% mints, over 1,000 instruments)
// at 10,000, 100,000 and 1,000,000 investors, fsync on and committing every
// 32,768 instructions as a node does; the timed loop ends with the final
// commit. It reports µs/instr, instr/s, allocs/instr, the bytes this process
// passed to write calls per instruction (wB/instr, Linux only; the state
// file is the only thing written), the CPU time the process used per
// instruction on all its threads (cpu-µs/instr, Unix only; on a shared
// machine it moves less than the wall time) and the share of instructions
// rejected.
// Each size's ledger is set up once per run of the benchmark and kept for
// its later rounds, whose instruction ids differ. Instruction ids sort by
// when they were made unless TOKENLEDGER_BENCH_IDS=random makes them random,
// as UUIDs are.
//
//	go test ./ledger -run '^$' -bench BenchmarkScale -benchtime 40x -timeout 0
func BenchmarkScale(b *testing.B) {
	for _, size := range scaleSizes() {
		var l *scaleLedger
		b.Run("investors="+size.name, func(sb *testing.B) {
			skipHuge(sb, size.investors)
			if l == nil {
				l, _, _ = registerAndMint(b, sb, size.investors, Config{CommitEvery: nodeCommitEvery, stageFrom: scaleStageFrom})
			}
			benchMixed(sb, l)
		})
		if l != nil {
			l.remove(b) // the next size needs the disk and memory
		}
	}
}

func benchMixed(b *testing.B, l *scaleLedger) {
	batches := make([][][]byte, b.N)
	for n := range batches {
		batches[n] = l.nextMixed()
	}
	results := make([][][]byte, b.N)
	// What the set-up or an earlier round left pending is not this round's.
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
	runtime.GC() // the set-up's garbage is not the batch's cost
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	wroteBefore, canCountWrites := writtenBytes()
	cpuBefore, canCountCPU := processCPU()
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		results[n] = l.applyMixed(batches[n])
	}
	layerBytes, layerInstr := l.s.liveLayerSize()
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	wroteAfter, _ := writtenBytes()
	cpuAfter, _ := processCPU()

	instr := float64(b.N * benchBatch)
	b.ReportMetric(b.Elapsed().Seconds()*1e6/instr, "µs/instr")
	b.ReportMetric(instr/b.Elapsed().Seconds(), "instr/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/instr, "allocs/instr")
	if canCountWrites {
		b.ReportMetric(float64(wroteAfter-wroteBefore)/instr, "wB/instr")
	}
	if canCountCPU {
		b.ReportMetric((cpuAfter-cpuBefore).Seconds()*1e6/instr, "cpu-µs/instr")
	}
	if layerInstr > 0 {
		// The memory a pending instruction holds until its layer commits.
		b.ReportMetric(float64(layerBytes)/float64(layerInstr), "layer-B/instr")
	}
	rejected := 0
	for _, res := range results {
		rejected += countRejected(res)
	}
	b.ReportMetric(float64(rejected)/instr, "rejected/instr")
}

// BenchmarkRegisterMint sets up a ledger of 100,000 (or, with
// TOKENLEDGER_BENCH_1M=1, 1,000,000) investors as BenchmarkScale does:
// registering each and minting it cash and one instrument, in batches of
// 10,000, fsync on, committing every 32,768 instructions. µs/instr and
// instr/s count the time in Apply and the final commit; ns/op is a whole
// set-up, making the instructions included, as is cpu-µs/instr, the
// process's CPU time per instruction.
//
//	go test ./ledger -run '^$' -bench BenchmarkRegisterMint -benchtime 1x -timeout 0
func BenchmarkRegisterMint(b *testing.B) {
	for _, size := range []scaleSize{scale100k, scale1M} {
		b.Run("investors="+size.name, func(b *testing.B) {
			skipHuge(b, size.investors)
			var took time.Duration
			count := 0
			cpuBefore, canCountCPU := processCPU()
			for range b.N {
				l, t, n := registerAndMint(b, b, size.investors, Config{CommitEvery: nodeCommitEvery})
				took += t
				count += n
				l.remove(b)
			}
			b.ReportMetric(took.Seconds()*1e6/float64(count), "µs/instr")
			b.ReportMetric(float64(count)/took.Seconds(), "instr/s")
			if cpuAfter, _ := processCPU(); canCountCPU {
				b.ReportMetric((cpuAfter-cpuBefore).Seconds()*1e6/float64(count), "cpu-µs/instr")
			}
		})
	}
}

// BenchmarkStateAtScale builds a ledger of 100,000 investors and 430,000
// journal entries (with TOKENLEDGER_BENCH_1M=1 also 1,000,000 and 4.3
// million): BenchmarkRegisterMint's set-up, then BenchmarkScale's mix. Each
// round then
//   - snapshots it as raft does, Snapshot and Persist into a file that is
//     synced (snapshot-s);
//   - closes it, so that the peak memory of the restore is the restore's;
//   - restores the snapshot into a second, empty store (restore-s: until
//     the store applies on it; restore-write-s, -open-s and -load-s its
//     steps), then waits for the check of the restored state, which runs
//     beside Apply (restore-check-s; restore-checked-s is both), resetting
//     the process's peak resident size (VmHWM) first through
//     /proc/self/clear_refs and reading it after the check
//     (restore-VmHWM-B, next to pre-restore-VmRSS-B, what was resident
//     before). Where the peak cannot be reset it reports the process's
//     VmHWM and its rise during the restore instead, and on systems
//     without /proc/self/status neither;
//   - opens the state file again (reopen-s counts the close too), and
//     waits for the id filter's scan of it (id-filter-ready-s, from the
//     open) and for the id index's scan of the journal, which Apply waits
//     for (id-index-ready-s, from the open);
//   - verifies the journal (verify-µs/entry, verify-entries/s).
//
// It reports the state file's size (state-B, B/investor, B/entry), the
// snapshot's, and the journal's length. The ledger is built once per run.
//
//	go test ./ledger -run '^$' -bench BenchmarkStateAtScale -benchtime 1x -timeout 0
func BenchmarkStateAtScale(b *testing.B) {
	for _, size := range []scaleSize{scale100k, scale1M} {
		var l *scaleLedger
		b.Run("investors="+size.name, func(sb *testing.B) {
			skipHuge(sb, size.investors)
			if l == nil {
				l = buildJournal(b, sb, size.investors)
			}
			benchState(sb, l)
		})
		if l != nil {
			l.remove(b)
		}
	}
}

// buildJournal sets up investors as registerAndMint does and applies
// BenchmarkScale's mix to it until the journal holds about 4.3 entries an
// investor.
func buildJournal(owner, b *testing.B, investors int) *scaleLedger {
	b.Helper()
	l, _, _ := registerAndMint(owner, b, investors, Config{CommitEvery: nodeCommitEvery})
	mixed := investors * scaleMixedPerTenInvestors / 10
	for range (mixed + benchBatch - 1) / benchBatch {
		l.applyMixed(l.nextMixed())
	}
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
	return l
}

func benchState(b *testing.B, l *scaleLedger) {
	path := l.s.cfg.Path
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	var snapshotTook, restoreTook, checkTook, reopenTook, idScanTook, idIndexTook, verifyTook time.Duration
	var steps restoreTimes
	var snapshotBytes int64
	var entries uint64
	var rss procMemory
	b.ResetTimer()
	for range b.N {
		dir := b.TempDir()
		snapPath := filepath.Join(dir, "snapshot")
		start := time.Now()
		snapshotBytes = snapshotToFile(b, l.s, snapPath)
		snapped := time.Since(start)
		snapshotTook += snapped

		applied := l.s.AppliedIndex()
		start = time.Now()
		if err := l.s.Close(); err != nil {
			b.Fatal(err)
		}
		closeTook := time.Since(start)

		var took, checked time.Duration
		var step restoreTimes
		took, checked, step, rss = restoreFromFile(b, snapPath, filepath.Join(dir, "restored.db"), applied)
		restoreTook += took
		checkTook += checked
		// Each round's figures, as the metrics below are their means.
		b.Logf("round: snapshot %v, restore %v (write %v, open %v, load %v), check beside Apply %v, VmRSS before %d MB, VmHWM %d MB",
			snapped, took, step.write, step.open, step.load, checked, rss.rssBefore>>20, rss.hwmAfter>>20)
		steps.write += step.write
		steps.open += step.open
		steps.load += step.load

		start = time.Now()
		s, err := Open(l.s.cfg)
		if err != nil {
			b.Fatal(err)
		}
		reopenTook += closeTook + time.Since(start)
		// The id filter's scan runs beside Apply after the open; until it
		// ends, Apply asks the file for every id.
		<-s.ids.done
		idScanTook += time.Since(start)
		// Apply waits for the id index's scan of the journal.
		s.idx.wait()
		idIndexTook += time.Since(start)
		l.s = s
		l.owner.Cleanup(func() { s.Close() })

		start = time.Now()
		v, err := s.VerifyJournal()
		verifyTook += time.Since(start)
		if err != nil || !v.OK {
			b.Fatalf("VerifyJournal = %+v, %v; want OK", v, err)
		}
		entries = v.Length
	}
	b.StopTimer()

	rounds := float64(b.N)
	b.ReportMetric(float64(info.Size()), "state-B")
	b.ReportMetric(float64(info.Size())/float64(l.investors), "B/investor")
	b.ReportMetric(float64(info.Size())/float64(entries), "B/entry")
	b.ReportMetric(float64(entries), "entries")
	b.ReportMetric(float64(snapshotBytes), "snapshot-B")
	b.ReportMetric(snapshotTook.Seconds()/rounds, "snapshot-s")
	b.ReportMetric(restoreTook.Seconds()/rounds, "restore-s")
	b.ReportMetric(idScanTook.Seconds()/rounds, "id-filter-ready-s")
	b.ReportMetric(idIndexTook.Seconds()/rounds, "id-index-ready-s")
	b.ReportMetric(steps.write.Seconds()/rounds, "restore-write-s")
	b.ReportMetric(checkTook.Seconds()/rounds, "restore-check-s")
	b.ReportMetric((restoreTook+checkTook).Seconds()/rounds, "restore-checked-s")
	b.ReportMetric(steps.open.Seconds()/rounds, "restore-open-s")
	b.ReportMetric(steps.load.Seconds()/rounds, "restore-load-s")
	b.ReportMetric(reopenTook.Seconds()/rounds, "reopen-s")
	b.ReportMetric(verifyTook.Seconds()*1e6/rounds/float64(entries), "verify-µs/entry")
	b.ReportMetric(float64(entries)*rounds/verifyTook.Seconds(), "verify-entries/s")
	rss.report(b)
	reportBuckets(b, l.s, l.investors)
	reportUpgrade(b, l)
}

// reportUpgrade times the open that upgrades the register of l from schema
// 11: its packed buckets are unpacked (kv.Unpack) and the schema recorded
// as 11, then Open packs them again.
func reportUpgrade(b *testing.B, l *scaleLedger) {
	b.Helper()
	cfg := l.s.cfg
	if err := l.s.Close(); err != nil {
		b.Fatal(err)
	}
	unpackFile(b, cfg.Path, schemaPlainHoldings)
	start := time.Now()
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "upgrade-open-s")
	l.s = s
	l.owner.Cleanup(func() { s.Close() })
}

// reportBuckets reports the bytes of pages each bucket of s holds (branch
// and leaf pages allocated, bbolt's bucket statistics) and the free pages,
// per investor: where the state file's size goes.
func reportBuckets(b *testing.B, s *Store, investors int) {
	b.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			st := bk.Stats()
			b.ReportMetric(float64(st.BranchAlloc+st.LeafAlloc)/float64(investors), string(name)+"-B/investor")
			return nil
		}); err != nil {
			return err
		}
		st := s.db.Stats()
		b.ReportMetric(float64((st.FreePageN+st.PendingPageN)*tx.DB().Info().PageSize)/float64(investors), "free-B/investor")
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// snapshotToFile writes a snapshot of s to path as raft's file snapshot
// store does, synced, and returns its size.
func snapshotToFile(b *testing.B, s *Store, path string) int64 {
	b.Helper()
	sn, err := s.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	defer sn.Release()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := sn.Persist(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return info.Size()
}

// restoreFromFile restores the snapshot at snapPath into a new store at
// path, checks it holds the state up to applied, removes both files and
// returns how long Restore took, each of its steps as it logs them, and the
// process's resident memory around it.
func restoreFromFile(b *testing.B, snapPath, path string, applied uint64) (took, checked time.Duration, _ restoreTimes, _ procMemory) {
	b.Helper()
	var steps restoreLog
	s, err := Open(Config{Path: path, CommitEvery: nodeCommitEvery, Logger: slog.New(&steps)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f, err := os.Open(snapPath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	// The heap the set-up left is returned to the system, so what is resident
	// before the restore is little more than the process itself.
	runtime.GC()
	debug.FreeOSMemory()
	m := procMemory{reset: resetPeakRSS() == nil}
	m.hwmBefore, m.ok = procStatusBytes("VmHWM")
	m.rssBefore, _ = procStatusBytes("VmRSS")
	minBefore, majBefore, _ := processFaults()
	sysBefore, _ := processSystemCPU()
	cpuBefore, _ := processCPU()
	start := time.Now()
	if err := s.Restore(f); err != nil {
		b.Fatal(err)
	}
	took = time.Since(start)
	// The check runs beside Apply; the figures that follow cover it.
	if err := s.awaitRestoreCheck(); err != nil {
		b.Fatal(err)
	}
	checked = time.Since(start) - took
	minAfter, majAfter, _ := processFaults()
	sysAfter, _ := processSystemCPU()
	cpuAfter, _ := processCPU()
	m.minorFaults, m.majorFaults = minAfter-minBefore, majAfter-majBefore
	m.cpu, m.sys = cpuAfter-cpuBefore, sysAfter-sysBefore
	m.hwmAfter, _ = procStatusBytes("VmHWM")
	if got := s.AppliedIndex(); got != applied {
		b.Fatalf("restored AppliedIndex = %d, want %d", got, applied)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	// The snapshot and the restored file would otherwise stay on disk until
	// the sub-benchmark ends: at 1,000,000 investors, 4 GB each a round.
	for _, p := range []string{snapPath, path} {
		if err := os.Remove(p); err != nil {
			b.Fatal(err)
		}
	}
	if !steps.seen {
		b.Fatal("the restore logged no steps")
	}
	return took, checked, steps.took, m
}

// restoreLog is a slog handler that keeps the steps of the restore the
// store logs.
type restoreLog struct {
	seen bool
	took restoreTimes
}

func (l *restoreLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *restoreLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *restoreLog) WithGroup(string) slog.Handler            { return l }
func (l *restoreLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "restored a snapshot") {
		return nil
	}
	l.seen = true
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "write":
			l.took.write = a.Value.Duration()
		case "open":
			l.took.open = a.Value.Duration()
		case "load":
			l.took.load = a.Value.Duration()
		}
		return true
	})
	return nil
}

// procMemory is the process's resident memory around a restore, from
// /proc/self/status.
type procMemory struct {
	ok    bool // /proc/self/status was read
	reset bool // VmHWM was reset just before the restore
	// The restore's page faults and CPU time (all threads; sys: the
	// kernel's share, faults included), from getrusage.
	minorFaults, majorFaults int64
	cpu, sys                 time.Duration
	rssBefore, hwmBefore     int64
	hwmAfter                 int64
}

func (m procMemory) report(b *testing.B) {
	if m.cpu > 0 {
		b.ReportMetric(m.cpu.Seconds(), "restore-cpu-s")
		b.ReportMetric(m.sys.Seconds(), "restore-sys-s")
		b.ReportMetric(float64(m.minorFaults), "restore-minflt")
		b.ReportMetric(float64(m.majorFaults), "restore-majflt")
	}
	switch {
	case !m.ok:
		b.Log("no /proc/self/status: peak memory not measured")
	case m.reset:
		b.ReportMetric(float64(m.hwmAfter), "restore-VmHWM-B")
		b.ReportMetric(float64(m.rssBefore), "pre-restore-VmRSS-B")
	default:
		// VmHWM only grows: the set-up's peak may hide the restore's.
		b.Log("VmHWM could not be reset: reporting the process's peak and its rise during the restore")
		b.ReportMetric(float64(m.hwmAfter), "VmHWM-B")
		b.ReportMetric(float64(m.hwmAfter-m.hwmBefore), "VmHWM-rise-B")
	}
}

// resetPeakRSS sets VmHWM to the current resident size (Linux 4.0 and up).
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// procStatusBytes reads a "kB" field of /proc/self/status, in bytes.
func procStatusBytes(field string) (int64, bool) {
	v, ok := procField("/proc/self/status", field)
	if !ok {
		return 0, false
	}
	kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
	return kb << 10, err == nil
}

// writtenBytes is how many bytes this process has passed to write calls
// (wchar of /proc/self/io).
func writtenBytes() (int64, bool) {
	v, ok := procField("/proc/self/io", "wchar")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// procField returns the value of a "name: value" line of a /proc file.
func procField(path, name string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if found && k == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// scaleLedger is a benchLedger set up by registerAndMint with investors
// investors, and the source of its mixed batches. owner is the benchmark
// whose temp dir holds it, so sub-benchmarks can share it.
type scaleLedger struct {
	*benchLedger
	owner     *testing.B
	investors int
	r         *rand.Rand
	batches   int // mixed batches made so far; they number instruction ids
	// ids makes random instruction ids (scaleRandomIDsEnv); nil: ids in
	// the order they are made.
	ids *rand.Rand
}

// id is the instruction id for ordered, or a random one of 32 hex digits
// when the ledger makes random ids.
func (l *scaleLedger) id(ordered string) string {
	if l.ids == nil {
		return ordered
	}
	return fmt.Sprintf("%016x%016x", l.ids.Uint64(), l.ids.Uint64())
}

// registerAndMint opens a ledger with cfg in owner's temp dir and sets it up
// as benchStore does, with investors in place of 100,000: a custodian, an
// issuer, cash and 1,000 instruments, each investor registered and minted
// 1,000,000 of cash and 1,000 of one instrument. b reports failures (it is
// owner or one of its sub-benchmarks). It returns the ledger, the time spent
// applying and committing (making the instructions excluded) and how many
// instructions it applied.
func registerAndMint(owner, b *testing.B, investors int, cfg Config) (*scaleLedger, time.Duration, int) {
	b.Helper()
	l := &scaleLedger{
		benchLedger: openBenchLedger(owner, cfg),
		owner:       owner,
		investors:   investors,
		r:           rand.New(rand.NewSource(1)),
	}
	if os.Getenv(scaleRandomIDsEnv) == "random" {
		l.ids = rand.New(rand.NewSource(2))
	}
	var took time.Duration
	count := 0
	var items [][]byte
	flush := func() {
		start := time.Now()
		results := l.apply(items)
		took += time.Since(start)
		requireAccepted(b, results)
		count += len(items)
		items = nil
	}
	add := func(actor, body string) {
		// A node receives what the API proposes: the canonical encoding of
		// what it decoded, which the journal keeps in binary.
		decoded, err := transfer.Decode([]byte(body))
		if err != nil {
			b.Fatalf("%s: %v", body, err)
		}
		decoded.ID = l.id(decoded.ID)
		items = append(items, InstructionItem(actor, transfer.Encode(decoded)))
		if len(items) == scaleSetupBatch {
			flush()
		}
	}
	add(OperatorID, ins("register_party", party("cus-1", "custodian")))
	add(OperatorID, ins("register_party", party("iss-1", "issuer")))
	add(OperatorID, ins("create_instrument", instrument("USD", "unrestricted", "cash", 2, nil)))
	statuses := []string{"retail", "accredited", "institutional"}
	for i := range investors {
		add("cus-1", ins("register_party", investor(investorID(i), statuses[i%3], "US")))
	}
	for i := range benchInstruments {
		add("iss-1", ins("create_instrument", instrument(fmt.Sprintf("SEC%04d", i), "registered", "enterprise_equity", 2, nil)))
	}
	for i := range investors {
		add(OperatorID, mintBody("USD", investorID(i), "1000000"))
		add("iss-1", mintBody(fmt.Sprintf("SEC%04d", i%benchInstruments), investorID(i), "1000"))
	}
	if len(items) > 0 {
		flush()
	}
	start := time.Now()
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
	took += time.Since(start)
	return l, took, count
}

// nextMixed makes the next batch of benchBatch instructions of the mix.
func (l *scaleLedger) nextMixed() [][]byte {
	items := make([][]byte, benchBatch)
	for i := range items {
		items[i] = mixInstruction(l.r, l.id(fmt.Sprintf("m-%d-%d", l.batches, i)), l.investors)
	}
	l.batches++
	return items
}

// applyMixed applies a batch a second after the last, as BenchmarkApply does.
func (l *scaleLedger) applyMixed(items [][]byte) [][]byte {
	l.now = l.now.Add(time.Second)
	return l.apply(items)
}

// remove closes the ledger and deletes its state file, which would otherwise
// stay on disk until owner ends.
func (l *scaleLedger) remove(b *testing.B) {
	b.Helper()
	if err := l.s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Remove(l.s.cfg.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		b.Fatal(err)
	}
}

func investorID(i int) string { return fmt.Sprintf("inv-%06d", i) }

// mixInstruction is an instruction of BenchmarkApply's mix among the first
// investors investors: 60% one-leg cash transfers between two of them, 20%
// deliveries of an instrument against cash, 20% mints by the issuer. It
// draws from r as benchInstruction does, which makes the same mix among
// 100,000.
func mixInstruction(r *rand.Rand, id string, investors int) []byte {
	inv := func() int { return r.Intn(investors) }
	pair := func() (int, int) {
		a, c := inv(), inv()
		for c == a {
			c = inv()
		}
		return a, c
	}
	switch k := r.Intn(10); {
	case k < 6:
		a, c := pair()
		from := investorID(a)
		body := fmt.Sprintf(`{"id":"%s","type":"transfer","legs":[{"symbol":"USD","from":"%s","to":"%s","amount":"1.25"}]}`, id, from, investorID(c))
		return InstructionItem(from, []byte(body))
	case k < 8:
		a, c := pair()
		body := fmt.Sprintf(`{"id":"%s","type":"transfer","legs":[{"symbol":"SEC%04d","from":"%s","to":"%s","amount":"1"},{"symbol":"USD","from":"%s","to":"%s","amount":"10"}]}`,
			id, a%benchInstruments, investorID(a), investorID(c), investorID(c), investorID(a))
		return InstructionItem(OperatorID, []byte(body))
	default:
		body := fmt.Sprintf(`{"id":"%s","type":"mint","symbol":"SEC%04d","to":"%s","amount":"5"}`, id, r.Intn(benchInstruments), investorID(inv()))
		return InstructionItem("iss-1", []byte(body))
	}
}

func countRejected(results [][]byte) int {
	n := 0
	for _, r := range results {
		if !bytes.Contains(r, []byte(`"status":"accepted"`)) {
			n++
		}
	}
	return n
}

// BenchmarkMixInstructions is BenchmarkScale's mix sized to count machine
// instructions under valgrind, where the wall clock of a shared machine is
// too noisy to compare two builds: 10,000 investors registered and minted,
// then TOKENLEDGER_MIX_BATCHES batches of 1,000 (default 0), committed
// every 5,000 instructions without fsync. The count with 10 batches less
// the count with 0 is the mix's; the README gives the commands.
// TOKENLEDGER_MIX_REOPEN=1 closes and reopens the store before the batches,
// as a restarted node finds it: the cache as Open warms it, not as the
// set-up's writes left it.
func BenchmarkMixInstructions(b *testing.B) {
	batches := 0
	if v := os.Getenv("TOKENLEDGER_MIX_BATCHES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("TOKENLEDGER_MIX_BATCHES=%q: %v", v, err)
		}
		batches = n
	}
	cfg := Config{NoSync: true, CommitEvery: 5000}
	l, _, _ := registerAndMint(b, b, 10_000, cfg)
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
	if os.Getenv("TOKENLEDGER_MIX_REOPEN") == "1" {
		cfg.Path = l.s.cfg.Path
		if err := l.s.Close(); err != nil {
			b.Fatal(err)
		}
		s, err := Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		l.s = s
	}
	for range batches {
		l.applyMixed(l.nextMixed())
	}
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
}
