package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
)

// TestOutcomeBodyJSON holds what writeOutcome writes without reflection
// (ledger.EncodeOutcome) to json.Marshal of the outcome body, over random
// bodies with plain strings and strings encoding/json escapes: where
// writeOutcome takes that path, the bytes must be the same.
func TestOutcomeBodyJSON(t *testing.T) {
	pick := func(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }
	reason := eligibility.NewReason(eligibility.CodeAccountFrozen, "account.frozen", "frozen")
	hand := 0
	for seed := range uint64(3000) {
		r := rand.New(rand.NewPCG(seed, 2))
		b := outcomeBody{
			ID:     pick(r, "t-1", "a.b:c_d-9", "x<y", `q"q`, "é", "tab\t", ""),
			Status: pick(r, "accepted", "rejected", "error"),
			Index:  []uint64{0, 1, 42, 1<<64 - 1}[r.IntN(4)],
			Seq:    []uint64{0, 7, 1 << 40}[r.IntN(3)],
		}
		if r.IntN(5) == 0 {
			b.Reason = &reason
		}
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if b.Reason != nil || b.ID == "" {
			continue // writeOutcome hands these to encoding/json
		}
		hand++
		got := ledger.EncodeOutcome(ledger.Outcome{ID: b.ID, Status: b.Status, Index: b.Index, Seq: b.Seq})
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: hand %s, encoding/json %s", seed, got, want)
		}
	}
	if hand == 0 {
		t.Fatal("no body took the hand path")
	}
}
