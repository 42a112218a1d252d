package ledger

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkCorporateActionAtScale runs a distribute, then a split with cash
// in lieu, over one instrument held by 100,000 (with TOKENLEDGER_BENCH_1M=1
// also 1,000,000) investors, as a node's leader drives them: step items of
// corpBenchStep holders, each followed by a batch of corpBenchTransfers
// transfers (of the instrument while the distribution runs, whose record
// point is history; of cash while the split, which locks its instrument,
// runs). fsync on, committing every 32,768 instructions as a node does. It
// reports the time from the acceptance to the completion (total-s, the
// interleaved transfers and the final commit included), the longest single
// Apply in that time (max-apply-ms: the bound every other write waits at
// most; max-step-ms of a step item's, max-other-ms of the accepting
// instruction's or a batch of transfers', either including the commit it
// may end with), the most CPU time one Apply used (max-apply-cpu-ms, on the
// applying thread, locked to it: on a shared machine the wall time's tail is
// mostly other processes' and fsync's, this is the apply's own, without the
// commits that run beside it), the step items and the holders.
//
//	go test ./ledger -run '^$' -bench BenchmarkCorporateActionAtScale -benchtime 1x -timeout 0
//	TOKENLEDGER_BENCH_1M=1 go test ./ledger -run '^$' -bench 'BenchmarkCorporateActionAtScale/holders=1M' -benchtime 1x -timeout 0
func BenchmarkCorporateActionAtScale(b *testing.B) {
	for _, size := range []scaleSize{scale100k, scale1M} {
		var l *benchLedger
		for _, action := range []string{"distribute", "split"} {
			b.Run(fmt.Sprintf("holders=%s/%s", size.name, action), func(sb *testing.B) {
				skipHuge(sb, size.investors)
				if l == nil {
					l = corpBenchLedger(b, sb, size.investors)
				}
				for range sb.N {
					benchCorporateAction(sb, l, action)
				}
			})
		}
		if l != nil {
			if err := l.s.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

const (
	// corpBenchStep is the holders a step pays: cmd/node's default.
	corpBenchStep = 500
	// corpBenchTransfers is the batch of other writes between two steps:
	// one per ten holders, so the other writes an action's run carries do
	// not depend on the step.
	corpBenchTransfers = corpBenchStep / 10
	// corpBenchTraders are the investors who trade while an action runs.
	corpBenchTraders = 1000
)

// corpBenchLedger sets up the register: investors holding 1 to 9 REG each,
// the first corpBenchTraders also 1,000 USD, and the issuer's cash.
func corpBenchLedger(owner, b *testing.B, investors int) *benchLedger {
	b.Helper()
	l := openBenchLedger(owner, Config{CommitEvery: nodeCommitEvery})
	var items [][]byte
	flush := func() {
		requireAccepted(b, l.apply(items))
		items = nil
	}
	add := func(actor, body string) {
		items = append(items, InstructionItem(actor, []byte(body)))
		if len(items) == scaleSetupBatch {
			flush()
		}
	}
	add(OperatorID, ins("register_party", party("cus-1", "custodian")))
	add(OperatorID, ins("register_party", party("iss-1", "issuer")))
	add(OperatorID, ins("create_instrument", instrument("USD", "unrestricted", "cash", 2, nil)))
	add("iss-1", ins("create_instrument", instrument("REG", "registered", "enterprise_equity", 0, nil)))
	add(OperatorID, mintBody("USD", "iss-1", "100000000000"))
	for i := range investors {
		add("cus-1", ins("register_party", investor(investorID(i), "accredited", "US")))
		add("iss-1", mintBody("REG", investorID(i), fmt.Sprint(1+i%9)))
		if i < corpBenchTraders {
			add(OperatorID, mintBody("USD", investorID(i), "1000"))
		}
	}
	flush()
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
	return l
}

// benchCorporateAction accepts one action and steps it to its end, timing
// every Apply.
func benchCorporateAction(b *testing.B, l *benchLedger, action string) {
	b.Helper()
	in, err := l.s.Instrument("REG")
	if err != nil {
		b.Fatal(err)
	}
	holders := in.HolderCount // the trades may have emptied a few holdings
	l.now = l.now.Add(time.Second)
	id := fmt.Sprintf("ca-%d", l.index)
	body := fmt.Sprintf(`{"id":%q,"type":"distribute","symbol":"REG","cash_symbol":"USD","amount_per_unit":"0.37"}`, id)
	moving := "REG"
	if action == "split" {
		body = fmt.Sprintf(`{"id":%q,"type":"split","symbol":"REG","ratio":"1.5","cash_in_lieu":{"cash_symbol":"USD","price":"3.33"}}`, id)
		moving = "USD"
	}
	var longest, longestStep, longestOther, longestCPU time.Duration
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	timed := func(items ...[]byte) [][]byte {
		cpu0, _ := threadCPU()
		start := time.Now()
		out := l.apply(items)
		took := time.Since(start)
		cpu1, _ := threadCPU()
		longest = max(longest, took)
		longestCPU = max(longestCPU, cpu1-cpu0)
		if len(items) == 1 && items[0][0] == itemCorporateActionStep {
			longestStep = max(longestStep, took)
		} else {
			longestOther = max(longestOther, took)
		}
		return out
	}
	b.ResetTimer()
	start := time.Now()
	requireAccepted(b, timed(InstructionItem("iss-1", []byte(body))))
	steps, trades := 0, 0
	for {
		running, err := l.s.RunningCorporateActions()
		if err != nil {
			b.Fatal(err)
		}
		if len(running) == 0 {
			break
		}
		requireAccepted(b, timed(CorporateActionStepItem(running[0], corpBenchStep)))
		steps++
		batch := make([][]byte, corpBenchTransfers)
		for k := range batch {
			from, to := trades%corpBenchTraders, (trades+1)%corpBenchTraders
			batch[k] = InstructionItem(investorID(from), fmt.Appendf(nil,
				`{"id":"t-%s-%d","type":"transfer","legs":[{"symbol":%q,"from":%q,"to":%q,"amount":"1"}]}`,
				id, trades, moving, investorID(from), investorID(to)))
			trades++
		}
		requireAccepted(b, timed(batch...))
	}
	if err := l.s.Commit(); err != nil {
		b.Fatal(err)
	}
	total := time.Since(start)
	b.StopTimer()
	page, err := l.s.CorporateAction(CorporateActionQuery{ID: id, Limit: 1})
	if err != nil || page.Status != CorporateActionDone || page.Holders != uint64(holders) {
		b.Fatalf("action %s: %+v, %v; want done over %d holders", id, page, err, holders)
	}
	b.ReportMetric(total.Seconds(), "total-s")
	b.ReportMetric(float64(longest.Microseconds())/1000, "max-apply-ms")
	b.ReportMetric(float64(longestStep.Microseconds())/1000, "max-step-ms")
	b.ReportMetric(float64(longestCPU.Microseconds())/1000, "max-apply-cpu-ms")
	b.ReportMetric(float64(longestOther.Microseconds())/1000, "max-other-ms")
	b.ReportMetric(float64(steps), "steps")
	b.ReportMetric(float64(trades), "transfers")
	b.ReportMetric(float64(page.Holders), "holders")
}
