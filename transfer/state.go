package transfer

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

// Party is a registered party.
type Party struct {
	ID           string             `json:"id"`
	Role         eligibility.Role   `json:"role"`
	Status       eligibility.Status `json:"status,omitempty"`
	Jurisdiction string             `json:"jurisdiction,omitempty"`
	KYCExpiresAt *time.Time         `json:"kyc_expires_at,omitempty"`
	Custodian    string             `json:"custodian,omitempty"`
	Frozen       bool               `json:"frozen"`
	CreatedAt    time.Time          `json:"created_at"`
	// AnnualIncome and NetWorth size an investor's investment limits, in
	// the base currency; nil: unknown, which counts as 0.
	AnnualIncome *decimal.Decimal `json:"annual_income,omitempty"`
	NetWorth     *decimal.Decimal `json:"net_worth,omitempty"`
	// FrozenBy is who placed the party's freeze: only it or the operator
	// lifts it (separation of duties). Empty while not frozen.
	FrozenBy string `json:"frozen_by,omitempty"`
	// AffiliateOf lists, sorted, the symbols whose issuer the party controls
	// or is controlled by (Rule 144(a)(1)).
	AffiliateOf []string `json:"affiliate_of,omitempty"`
	// Closed is set by recover on the lost party: it neither sends nor
	// receives again, and its keys no longer authenticate.
	Closed bool `json:"closed,omitempty"`
}

// Eligibility gives the eligibility view of the party.
func (p Party) Eligibility() eligibility.Party {
	e := eligibility.Party{ID: p.ID, Role: p.Role, Status: p.Status, Jurisdiction: p.Jurisdiction}
	if p.KYCExpiresAt != nil {
		e.KYCExpiresAt = *p.KYCExpiresAt
	}
	if p.AnnualIncome != nil {
		e.AnnualIncome = *p.AnnualIncome
	}
	if p.NetWorth != nil {
		e.NetWorth = *p.NetWorth
	}
	return e
}

// NonAccredited reports whether the party counts toward non-accredited holder
// limits and Instrument.NonAccreditedHolders: a retail investor. The ledger's
// Check counts by it too, so the count and its verification cannot disagree.
func (p Party) NonAccredited() bool {
	return p.Role == eligibility.RoleInvestor && p.Status == eligibility.StatusRetail
}

// Instrument is a token: its terms, classification and running totals.
type Instrument struct {
	Symbol                string                 `json:"symbol"`
	Name                  string                 `json:"name"`
	Issuer                string                 `json:"issuer"`
	Decimals              int32                  `json:"decimals"`
	MaxSupply             *decimal.Decimal       `json:"max_supply,omitempty"`
	Regime                string                 `json:"regime"`
	OfferingDate          time.Time              `json:"offering_date"`
	Attributes            eligibility.Attributes `json:"attributes"`
	Class                 string                 `json:"class"`
	Regulator             string                 `json:"regulator"`
	Category              string                 `json:"category"`
	ClassificationReasons []string               `json:"classification_reasons"`
	Paused                bool                   `json:"paused"`
	Supply                decimal.Decimal        `json:"supply"`
	HolderCount           int                    `json:"holder_count"`
	NonAccreditedHolders  int                    `json:"non_accredited_holders"`
	CreatedAt             time.Time              `json:"created_at"`
	// Currency is a cash instrument's ISO 4217 currency; empty: the base
	// currency, whatever the rulebook names.
	Currency string `json:"currency,omitempty"`
	// Listed marks an instrument listed on a national exchange.
	Listed bool `json:"listed,omitempty"`
	// NonAccreditedPurchasers counts the holdings marked Purchased: every
	// non-accredited party that ever bought from the issuer.
	NonAccreditedPurchasers int `json:"non_accredited_purchasers,omitempty"`
	// ControlBook is set by reads only (ledger's Instrument and
	// Instruments): the state never holds it, so its fields are served and
	// never stored. Served, HolderCount counts holders other than the issuer.
	*ControlBook
}

// IsCash reports whether the instrument settles money.
func (in Instrument) IsCash() bool { return in.Class == "cash" }

// IsBaseCash reports whether the instrument is cash in the base currency
// base, worth 1 per unit with no price: cash that names no currency is.
func (in Instrument) IsBaseCash(base string) bool {
	return in.IsCash() && (in.Currency == "" || in.Currency == base)
}

// Product gives the eligibility view of the instrument.
func (in Instrument) Product() eligibility.Product {
	return eligibility.Product{
		Symbol:       in.Symbol,
		Issuer:       in.Issuer,
		Regime:       in.Regime,
		OfferingDate: in.OfferingDate,
		Attributes:   in.Attributes,
		Listed:       in.Listed,
		Classification: eligibility.Classification{
			Class: in.Class, Regulator: in.Regulator, Category: in.Category,
			Allowed: in.Category != "prohibited", Reasons: in.ClassificationReasons,
		},
	}
}

// Lot is one acquisition, tracked for holding periods.
type Lot struct {
	Amount     fixed.Decimal `json:"amount"`
	AcquiredAt time.Time     `json:"acquired_at"`
}

// Holding is a party's position in one instrument.
type Holding struct {
	Party   string        `json:"party"`
	Symbol  string        `json:"symbol"`
	Balance fixed.Decimal `json:"balance"`
	Frozen  fixed.Decimal `json:"frozen"`
	Lots    []Lot         `json:"lots,omitempty"`
	// FrozenBy is who placed the frozen amount: only it or the operator
	// lifts it. Empty while nothing is frozen.
	FrozenBy string `json:"frozen_by,omitempty"`
	// Purchased marks a non-accredited party that bought from the issuer:
	// it holds one of the offering's places for non-accredited purchasers
	// for good, so the holding stays on record at a zero balance.
	Purchased bool `json:"purchased,omitempty"`
	// Sales are an affiliate's sales of the last AffiliateVolumeWindow,
	// oldest first, for Rule 144(e)'s volume limit. A holding with sales is
	// kept on record though its balance is zero.
	Sales []Lot `json:"sales,omitempty"`
}

// Available is what may move: the balance less the frozen amount.
func (h Holding) Available() fixed.Decimal { return h.Balance.Sub(h.Frozen) }

// IsHolder reports whether the holding makes its party a holder of the
// instrument: a positive balance. Holder counts, the limits on holders, View
// Holders and the ledger's holders index all count by it; a frozen amount
// alone never makes a holder, as it never exceeds the balance.
func (h Holding) IsHolder() bool { return h.Balance.Sign() > 0 }

// Loan is a margin loan in a cash instrument owed by Party to Lender.
type Loan struct {
	Party  string          `json:"party"`
	Cash   string          `json:"cash_symbol"`
	Lender string          `json:"lender"`
	Amount decimal.Decimal `json:"amount"`
}

// Price is the last mark of an instrument in the cash instrument.
type Price struct {
	Symbol string          `json:"symbol"`
	Price  decimal.Decimal `json:"price"`
	Time   time.Time       `json:"time"`
}

// View is the read side of the state that Effect decides against. ledger
// implements it over bbolt; tests use a map. Lists are sorted by key.
type View interface {
	Party(id string) (Party, bool)
	Instrument(symbol string) (Instrument, bool)
	Holding(party, symbol string) (Holding, bool)
	// PartyHoldings lists the party's holdings (balance or frozen non-zero), by symbol.
	PartyHoldings(party string) []Holding
	// Holders lists the parties with a positive balance of symbol, by id.
	Holders(symbol string) []string
	Price(symbol string) (Price, bool)
	// Loans lists the party's open loans, by cash symbol then lender.
	Loans(party string) []Loan
	// Investments lists the party's investments under investment limits,
	// by symbol then time (investment.go).
	Investments(party string) []Investment
	Rulebook() *eligibility.Rulebook
}

// InstrumentRefView is a View that also hands out its instruments by
// reference, which Delta prefers: an instrument is some 400 bytes, copied at
// each read. The instrument is the view's, for reading only, and stays as it
// is while a Delta over the view lives.
type InstrumentRefView interface {
	View
	InstrumentRef(symbol string) (*Instrument, bool)
}

// assert panics when a condition that the code guarantees does not hold.
//
// Its arguments are evaluated, and boxed, even when cond holds: on hot paths
// test the condition first and call fail.
func assert(cond bool, format string, args ...any) {
	if !cond {
		fail(format, args...)
	}
}

// fail panics as a failed assertion.
func fail(format string, args ...any) {
	panic(fmt.Sprintf("transfer: assertion failed: "+format, args...))
}
