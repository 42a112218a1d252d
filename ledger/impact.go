package ledger

import (
	"bytes"
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// MaxImpact bounds an impact report: past it the report says it was cut
// short, and a rulebook that puts that much out of compliance needs no
// longer list to be reconsidered.
const MaxImpact = 10_000

// ImpactItem is one holding or account that a rulebook would not allow as
// it stands today: the reason the eligibility layer gives.
type ImpactItem struct {
	Party string `json:"party"`
	// Symbol is the instrument held, or for an account's leverage the cash
	// of its first loan ("" when it has none).
	Symbol  string           `json:"symbol"`
	Code    eligibility.Code `json:"code"`
	Rule    string           `json:"rule"`
	Message string           `json:"message"`
}

// Impact is the report of Store.Impact.
type Impact struct {
	Items []ImpactItem
	// Truncated says Items stopped at MaxImpact.
	Truncated bool
}

// Impact lists what rb would put out of compliance at now, with the
// eligibility layer's checks of a change applied to the state as it stands:
//
//   - every holding with a positive balance, other than its issuer's, is
//     checked as if its holder were receiving the instrument today
//     (CheckReceive, not as a new holder: holder limits bind new holders
//     only), so a holder whose status, jurisdiction or KYC the rules no
//     longer admit for the instrument's regime is listed;
//   - every investor account with a loan or a leveraged holding is measured
//     against the rules' caps (CheckAccount against an empty account), so
//     a loan the new caps no longer cover is listed.
//
// The ledger holds no pending instructions, so there are none to list.
// Items come in party, symbol, rule order. It reads a committed
// transaction: it scans every holding.
func (s *Store) Impact(rb *eligibility.Rulebook, now time.Time) (out Impact, err error) {
	assert(rb != nil, "impact of no rulebook")
	err = s.viewCommitted(func(tx *kv.Tx) error {
		v := newTxView(tx, rb)
		accounts := map[string]bool{} // investors whose leverage is measured
		c := tx.Bucket(bucketHolders).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			sep := bytes.IndexByte(k, 0)
			// Not assert, whose boxed arguments would cost each holder
			// three allocations.
			if sep <= 0 {
				fail("holders key %q", k)
			}
			symbol, partyID := string(k[:sep]), string(k[sep+1:])
			in, ok := v.Instrument(symbol)
			if !ok {
				fail("holder of unknown instrument %s", symbol)
			}
			p, ok := v.Party(partyID)
			if !ok {
				fail("holding of unknown party %s", partyID)
			}
			if p.Role == eligibility.RoleInvestor && in.Attributes.EmbeddedLeverage.GreaterThan(decimal.NewFromInt(1)) {
				accounts[partyID] = true
			}
			r := eligibility.Receive{
				Now: now, To: p.Eligibility(), Product: in.Product(),
				HoldersAfter: in.HolderCount, NonAccreditedHoldersAfter: in.NonAccreditedHolders,
			}
			for _, reason := range rb.CheckReceive(r) {
				out.add(partyID, symbol, reason)
			}
		}
		_ = tx.Bucket(bucketLoans).ForEach(func(k, _ []byte) error {
			accounts[string(k[:bytes.IndexByte(k, 0)])] = true
			return nil
		})
		for _, partyID := range slices.Sorted(maps.Keys(accounts)) {
			p, ok := v.Party(partyID)
			if !ok || p.Role != eligibility.RoleInvestor {
				continue
			}
			symbol := ""
			if loans := v.Loans(partyID); len(loans) > 0 {
				symbol = loans[0].Cash
			}
			empty := eligibility.Account{Party: p.Eligibility(), Loan: decimal.Zero}
			for _, reason := range rb.CheckAccount(empty, transfer.AccountOf(v, p)) {
				out.add(partyID, symbol, reason)
			}
		}
		return nil
	})
	slices.SortStableFunc(out.Items, func(a, b ImpactItem) int {
		return cmp.Or(cmp.Compare(a.Party, b.Party), cmp.Compare(a.Symbol, b.Symbol), cmp.Compare(a.Rule, b.Rule))
	})
	return out, err
}

func (im *Impact) add(party, symbol string, r eligibility.Reason) {
	if len(im.Items) >= MaxImpact {
		im.Truncated = true
		return
	}
	im.Items = append(im.Items, ImpactItem{Party: party, Symbol: symbol, Code: r.Code, Rule: r.Rule, Message: r.Message})
}
