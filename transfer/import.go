package transfer

import "github.com/tokenledger/tokenledger/eligibility"

// canReceiveImport is canReceive for a mint with import: true. The holding
// it records existed before the ledger did, so the rules that govern who may
// newly acquire units (receive rules, holder limits) do not apply to it; a
// frozen account still receives nothing, and an investor's KYC must be
// current, since the ledger may not hold units for a party it cannot
// identify. The party's existence was checked by supplyChange. Each rule
// is judged on its own, as Effect's every other check is.
func (e *effect) canReceiveImport(to Party) {
	if to.Closed {
		e.refuse(eligibility.CodeAccountClosed, "account.closed", "%s was closed by a recover; it receives nothing", to.ID)
	}
	if to.Frozen {
		e.refuse(eligibility.CodeAccountFrozen, "account.frozen", "%s is frozen; it receives nothing until it is unfrozen", to.ID)
	}
	e.refuseAll(e.rb.CheckKYC(to.Eligibility(), e.now))
}
