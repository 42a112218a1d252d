package ledger

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// serveInstrument gives a read instrument its control book and counts its
// holders of record, the issuer left out.
func serveInstrument(v transfer.View, in *transfer.Instrument) {
	book := transfer.ControlBookOf(v, *in)
	in.HolderCount = transfer.HoldersOfRecord(v, *in)
	in.ControlBook = &book
}

// LockedLot is a lot still in its holding period, and when it frees up.
type LockedLot struct {
	Symbol     string          `json:"symbol"`
	Amount     decimal.Decimal `json:"amount"`
	AcquiredAt time.Time       `json:"acquired_at"`
	UnlocksAt  time.Time       `json:"unlocks_at"`
}

// ControlBookAt is an instrument's control book as of a journal seq.
type ControlBookAt struct {
	Symbol string `json:"symbol"`
	Seq    uint64 `json:"seq"`
	transfer.ControlBook
	// HoldersOfRecord counts the parties other than the issuer with units.
	HoldersOfRecord int `json:"holders_of_record"`
	// NonAccreditedHolders counts those of them that are non-accredited,
	// by each party's status at the seq.
	NonAccreditedHolders int `json:"non_accredited_holders"`
	// Reconciled says the holdings sum to the issued units.
	Reconciled bool `json:"reconciled"`
}

// ControlBook returns symbol's control book just after journal entry at,
// or now when now is set. Issued and every holding at a past seq come from
// the supplies and balances indexes; authorized and each holder's status
// from the max_supply and status histories (books_terms.go), one seek each.
// A store written before those histories were kept has no key for an
// instrument or party it has not changed since: for those, today's
// max_supply or status is the answer at every seq.
func (s *Store) ControlBook(symbol string, at uint64, now bool) (out ControlBookAt, err error) {
	// Every page of one table: the first fixes the seq the rest read at.
	q := HoldersQuery{Symbol: symbol, At: at, Now: now, Limit: MaxHoldersPage}
	table, err := s.HoldersPage(q)
	for err == nil && table.Next != "" {
		q.At, q.Now, q.After = table.Seq, false, table.Next
		var page CapTable
		if page, err = s.HoldersPage(q); err == nil {
			table.Holders, table.Next = append(table.Holders, page.Holders...), page.Next
		}
	}
	if err != nil {
		return out, err
	}
	err = s.viewCommitted(func(tx *kv.Tx) error {
		v := newTxView(tx, s.Rulebook())
		in, ok := v.Instrument(symbol)
		if !ok {
			return ErrNotFound
		}
		out = ControlBookAt{Symbol: symbol, Seq: table.Seq}
		out.Authorized, out.Issued, out.Treasury = in.MaxSupply, table.Supply, decimal.Zero
		caps, statuses := tx.Bucket(bucketMaxSupplyHistory).Cursor(), tx.Bucket(bucketStatusHistory).Cursor()
		if !now {
			out.Authorized = authorizedAt(caps, symbol, table.Seq, in.MaxSupply)
		}
		sum := decimal.Zero
		for _, h := range table.Holders {
			sum = sum.Add(h.Balance)
			if h.Party == in.Issuer {
				out.Treasury = h.Balance
				continue
			}
			out.HoldersOfRecord++
			if p, ok := v.Party(h.Party); ok {
				if !now {
					p.Status = statusAt(statuses, h.Party, table.Seq, p.Status)
				}
				if p.NonAccredited() {
					out.NonAccreditedHolders++
				}
			}
		}
		if now {
			// Cash a running distribution holds for its holders is issued
			// and in no holding until its steps pay it.
			sum = sum.Add(escrowOf(corpEscrow(tx), symbol))
		}
		out.Outstanding = out.Issued.Sub(out.Treasury)
		out.Reconciled = sum.Equal(out.Issued)
		return nil
	})
	return out, err
}
