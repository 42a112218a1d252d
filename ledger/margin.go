package ledger

import (
	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// setMargin fills the holdings' leverage and maintenance figures from m.
// An account without equity has no meaningful leverage: it reports its
// deficit instead of a sentinel.
func (h *Holdings) setMargin(m eligibility.Measure) {
	if m.Exposure.Sign() <= 0 || m.Equity.Sign() > 0 {
		lev := m.Leverage
		h.Leverage = &lev
	}
	h.MaintenanceRequirement = m.Maintenance
	h.MarginCall = m.InMarginCall()
	h.Deficit = m.Deficit()
}

// MarginLoan is one loan of an account in a margin call.
type MarginLoan struct {
	Lender string          `json:"lender"`
	Cash   string          `json:"cash_symbol"`
	Amount decimal.Decimal `json:"amount"`
}

// MarginAccount is one account in a margin call (GET /v1/margin-calls).
type MarginAccount struct {
	Party                  string          `json:"party"`
	Custodian              string          `json:"custodian"`
	Equity                 decimal.Decimal `json:"equity"`
	MaintenanceRequirement decimal.Decimal `json:"maintenance_requirement"`
	Deficit                decimal.Decimal `json:"deficit"`
	Loans                  []MarginLoan    `json:"loans"`
}

// MarginCalls lists, by party id, every investor account whose equity is
// below its maintenance requirement now, at the latest prices. It measures
// every investor rather than keeping a list that each set_price would have
// to update: the answer is then current after every apply by construction.
func (s *Store) MarginCalls() (out []MarginAccount, err error) {
	err = s.view(func(tx *kv.Tx) error {
		rb := s.Rulebook()
		v := newTxView(tx, rb)
		out = []MarginAccount{}
		return tx.Bucket(bucketParties).ForEach(func(k, val []byte) error {
			p := decodeParty(k, val)
			if p.Role != eligibility.RoleInvestor {
				return nil
			}
			m := transfer.MarginOf(v, *p)
			if !m.InMarginCall() {
				return nil
			}
			a := MarginAccount{Party: p.ID, Custodian: p.Custodian, Equity: m.Equity,
				MaintenanceRequirement: m.Maintenance, Deficit: m.Deficit(), Loans: []MarginLoan{}}
			for _, l := range v.Loans(p.ID) {
				if l.Amount.Sign() > 0 {
					a.Loans = append(a.Loans, MarginLoan{Lender: l.Lender, Cash: l.Cash, Amount: l.Amount})
				}
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}
