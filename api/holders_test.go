package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
)

// TestHoldersPages checks that a cap table pages in party order through
// next, now and at a seq, that pages of one seq agree whatever was applied
// since, that at=0 is the empty table before the first entry, and that next
// is absent on the last page.
func TestHoldersPages(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("REG", "inv-b", "20"))
	r := e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("REG", "inv-c", "3"))
	var minted struct{ Seq uint64 }
	r.decode(t, &minted)

	pages := func(query string) (all []ledger.Holder, seqs []uint64, supply string) {
		t.Helper()
		after := ""
		for range 10 {
			path := "/v1/instruments/REG/holders?limit=1" + query
			if after != "" {
				path += "&after=" + after
			}
			var page ledger.CapTable
			e.must(http.StatusOK, "iss-1", "GET", path, "").decode(t, &page)
			all, seqs, supply = append(all, page.Holders...), append(seqs, page.Seq), page.Supply.String()
			if page.Next == "" {
				return all, seqs, supply
			}
			after = page.Next
		}
		t.Fatalf("GET holders%s: more than 10 pages of one holder", query)
		return nil, nil, ""
	}
	want := []string{"inv-a:100", "inv-b:20", "inv-c:3"}
	got, _, supply := pages(fmt.Sprintf("&at=%d", minted.Seq))
	if g := lines(got); !slices.Equal(g, want) || supply != "123" {
		t.Errorf("pages at %d = %v supply %s, want %v supply 123", minted.Seq, g, supply, want)
	}
	// Moving shares after the record date changes nothing at it.
	e.must(http.StatusOK, ledger.OperatorID, "POST", "/v1/instructions", ins("force_transfer", map[string]any{
		"legs":            []map[string]any{{"symbol": "REG", "from": "inv-c", "to": "inv-a", "amount": "3"}},
		"legal_reference": "court order 1",
	}))
	got, _, _ = pages(fmt.Sprintf("&at=%d", minted.Seq))
	if g := lines(got); !slices.Equal(g, want) {
		t.Errorf("pages at %d after a later move = %v, want %v", minted.Seq, g, want)
	}
	got, seqs, supply := pages("")
	if g, w := lines(got), []string{"inv-a:103", "inv-b:20"}; !slices.Equal(g, w) || supply != "123" || seqs[0] <= minted.Seq {
		t.Errorf("pages now = %v supply %s at %v, want %v supply 123 after %d", g, supply, seqs, w, minted.Seq)
	}

	var empty ledger.CapTable
	e.must(http.StatusOK, "iss-1", "GET", "/v1/instruments/REG/holders?at=0", "").decode(t, &empty)
	if empty.Seq != 0 || len(empty.Holders) != 0 || !empty.Supply.IsZero() || empty.Next != "" {
		t.Errorf("GET holders?at=0 = %+v, want an empty table at seq 0", empty)
	}
	r = e.as("iss-1", "GET", fmt.Sprintf("/v1/instruments/REG/holders?at=%d", seqs[0]+1), "")
	if r.status != http.StatusBadRequest || r.errorCode() != "INVALID" {
		t.Errorf("GET holders beyond the journal: %d %s, want 400 INVALID", r.status, r.body)
	}
}

func lines(holders []ledger.Holder) []string {
	out := make([]string, 0, len(holders))
	for _, h := range holders {
		out = append(out, h.Party+":"+h.Balance.String())
	}
	return out
}
