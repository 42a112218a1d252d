package ledger

import (
	"fmt"
	"testing"
)

// BenchmarkRegisterReads measures the reads the indexes serve on
// BenchmarkRegisterMint's ledger of 100,000 investors (with
// TOKENLEDGER_BENCH_1M=1 also 1,000,000) followed by BenchmarkScale's mix,
// 1.3 instructions an investor: 430,000 journal entries (4.3 million), and
// USD held by every investor. Each round reads, at a random party:
//
//   - holders-now: a cap table page of 1,000 holders of USD now;
//   - holders-past: the same at the seq where the set-up ended, before the
//     mix moved any balance (every investor held USD then, so a page skips
//     none);
//   - journal-party: a journal page (100 entries) of iss-1, who minted half
//     the set-up, after a random seq;
//   - journal-symbol: the same for SEC0000's entries;
//   - journal-party-symbol: an investor's USD entries, two index lists
//     intersected.
//
// The ledger is built once per size.
//
//	go test ./ledger -run '^$' -bench BenchmarkRegisterReads -benchtime 200x -timeout 0
func BenchmarkRegisterReads(b *testing.B) {
	for _, size := range []scaleSize{scale100k, scale1M} {
		var l *scaleLedger
		var setupSeq, head uint64
		build := func(sb *testing.B) {
			skipHuge(sb, size.investors)
			if l != nil {
				return
			}
			l, _, _ = registerAndMint(b, sb, size.investors, Config{CommitEvery: nodeCommitEvery, NoSync: true})
			setupSeq = journalHead(sb, l.s)
			for range size.investors * scaleMixedPerTenInvestors / 10 / benchBatch {
				l.applyMixed(l.nextMixed())
			}
			head = journalHead(sb, l.s)
			sb.Logf("%d investors: %d journal entries, the set-up ending at %d", size.investors, head, setupSeq)
		}
		reads := []struct {
			name string
			read func(n int) (int, error)
		}{
			{"holders-now", func(n int) (int, error) {
				t, err := l.s.HoldersPage(HoldersQuery{Symbol: "USD", Now: true, After: investorID(n % size.investors), Limit: DefaultHoldersPage})
				return len(t.Holders), err
			}},
			{"holders-past", func(n int) (int, error) {
				t, err := l.s.HoldersPage(HoldersQuery{Symbol: "USD", At: setupSeq, After: investorID(n % size.investors), Limit: DefaultHoldersPage})
				return len(t.Holders), err
			}},
			{"journal-party", func(n int) (int, error) {
				p, err := l.s.Journal(JournalQuery{Party: "iss-1", After: uint64(n) * 7919 % (setupSeq / 2)})
				return len(p.Entries), err
			}},
			{"journal-symbol", func(n int) (int, error) {
				p, err := l.s.Journal(JournalQuery{Symbol: "SEC0000", After: uint64(n) * 7919 % head})
				return len(p.Entries), err
			}},
			{"journal-party-symbol", func(n int) (int, error) {
				p, err := l.s.Journal(JournalQuery{Party: investorID(n % size.investors), Symbol: "USD"})
				return len(p.Entries), err
			}},
		}
		for _, rd := range reads {
			b.Run(fmt.Sprintf("investors=%s/%s", size.name, rd.name), func(sb *testing.B) {
				build(sb)
				sb.ReportAllocs()
				rows := 0
				sb.ResetTimer()
				for n := range sb.N {
					got, err := rd.read(n * 7919)
					if err != nil {
						sb.Fatal(err)
					}
					rows += got
				}
				sb.StopTimer()
				sb.ReportMetric(sb.Elapsed().Seconds()*1e3/float64(sb.N), "ms/page")
				sb.ReportMetric(float64(rows)/float64(sb.N), "rows/page")
			})
		}
		if l != nil {
			l.remove(b)
		}
	}
}

func journalHead(b *testing.B, s *Store) uint64 {
	b.Helper()
	v, err := s.VerifyJournal()
	if err != nil {
		b.Fatal(err)
	}
	return v.Length
}
