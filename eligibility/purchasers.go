package eligibility

// CountsPurchasers reports whether p's regime limits its non-accredited
// purchasers (reg_d_506b's 35), so the ledger keeps count of them. Purchases
// made while the rulebook in force set no such limit are not counted.
func (rb *Rulebook) CountsPurchasers(p Product) bool {
	g, ok := rb.regime(p.Regime)
	return ok && g.receive != nil && g.receive.hasNonAccreditedMax
}
