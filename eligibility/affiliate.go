package eligibility

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Rule 144(e)(1)(i): an affiliate of the issuer may sell, in any three
// months, at most 1% of the class outstanding. Three months are counted as
// 90 days, as Rule 144(e) is read in practice; the alternative measure (the
// average weekly trading volume) needs market data the ledger lacks.
var (
	AffiliateVolumeShare  = decimal.New(1, -2)
	AffiliateVolumeWindow = 90 * 24 * time.Hour
)

// AffiliateSale is a sale by an affiliate of the instrument's issuer.
type AffiliateSale struct {
	Seller  Party
	Product Product
	// SoldInWindow is what the seller sold in the window before this sale.
	SoldInWindow decimal.Decimal
	// Amount is this sale.
	Amount decimal.Decimal
	// Outstanding is the instrument's units outside the issuer's treasury.
	Outstanding decimal.Decimal
}

// CheckAffiliateSale refuses an affiliate's sale that takes its sales in
// the window above AffiliateVolumeShare of the outstanding units:
// VOLUME_LIMIT, rule "rule_144.volume_limit".
func (rb *Rulebook) CheckAffiliateSale(s AffiliateSale) []Reason {
	limit := s.Outstanding.Mul(AffiliateVolumeShare)
	if total := s.SoldInWindow.Add(s.Amount); total.LessThanOrEqual(limit) {
		return nil
	}
	return []Reason{NewReason(CodeVolumeLimit, "rule_144.volume_limit", fmt.Sprintf(
		"%s is an affiliate of %s's issuer and has sold %s in the last 90 days; %s more would exceed 1%% of the %s outstanding (%s) (Rule 144(e)(1)(i))",
		s.Seller.ID, s.Product.Symbol, s.SoldInWindow, s.Amount, s.Outstanding, limit))}
}
