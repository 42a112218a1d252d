package ledger

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// TestDecodedMemoAsDecode reads random party records through the memo, as
// Apply's view does, and checks each against a plain decode of the same
// bytes. The records are written over a few buffers again and again, so a
// slot sees other bytes at the address it was kept for (a record cache's
// reused space) and the same record under other ids: only a record the
// memo kept byte for byte may be answered from it, with the caller's id,
// and a hit's expiry points into the caller's record as a decode's does.
func TestDecodedMemoAsDecode(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	var m decodedMemo
	buffers := make([][]byte, 6)
	for i := range buffers {
		buffers[i] = make([]byte, 0, 512)
	}
	hits := 0
	ids := []string{"inv-1", "inv-2", "inv-10"}
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 20_000 {
		buf := &buffers[r.Intn(len(buffers))]
		id := ids[r.Intn(len(ids))]
		// A few versions of each record, so they repeat; inv-1's and
		// inv-2's are the same bytes.
		p := memoPartyFor(rand.New(rand.NewSource(int64(len(id)*100+r.Intn(3)))), id, base)
		*buf = encodeParty((*buf)[:0], &p)
		raw := *buf
		var want, got partyRecord
		decodePartyInto(&want, id, raw, nil)
		if m.party(raw, id, &got) {
			hits++
		} else {
			decodePartyInto(&got, id, raw, nil)
			m.keepParty(raw, &got)
		}
		if a, b := partyText(&want), partyText(&got); a != b {
			t.Fatalf("read %d: party %s\nwant %s\ngot  %s", i, id, a, b)
		}
		if got.KYCExpiresAt != nil && got.KYCExpiresAt != &got.kycExpiresAt {
			t.Fatalf("read %d: party %s: its expiry points outside its record", i, id)
		}
	}
	// The records repeat often enough to hit, and differ often enough to miss.
	if hits < 2_000 || hits > 18_000 {
		t.Fatalf("%d hits of 20,000 reads: the test exercises too little", hits)
	}
}

// partyText renders every field of p, what its pointers point to included.
func partyText(p *partyRecord) string {
	s := fmt.Sprintf("%+v %v", p.Party, p.kycExpiresAt)
	if p.KYCExpiresAt != nil {
		s += " expires " + p.KYCExpiresAt.String()
	}
	if p.AnnualIncome != nil {
		s += " income " + p.AnnualIncome.String()
	}
	return s
}

func memoPartyFor(r *rand.Rand, id string, base time.Time) transfer.Party {
	p := transfer.Party{ID: id, Role: eligibility.RoleInvestor, Status: eligibility.StatusRetail, Jurisdiction: "US", Custodian: "cus-1", CreatedAt: base}
	if r.Intn(2) == 0 {
		p.Status = eligibility.StatusAccredited
	}
	if r.Intn(2) == 0 {
		exp := base.Add(time.Duration(r.Intn(3)) * 24 * time.Hour)
		p.KYCExpiresAt = &exp
	}
	if r.Intn(3) == 0 {
		d := decimal.New(int64(r.Intn(3))*100_000, 0)
		p.AnnualIncome = &d
	}
	p.Frozen = r.Intn(5) == 0
	if r.Intn(4) == 0 {
		p.AffiliateOf = []string{"ACME"}
	}
	return p
}
