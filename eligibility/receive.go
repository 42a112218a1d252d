package eligibility

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Receive describes a party coming to hold (more of) an instrument: a mint, a
// transfer leg, a force_transfer, a recover or a distribution.
type Receive struct {
	// Now is the time of the change (the Raft entry's time stamp).
	Now time.Time
	// To is the receiver.
	To Party
	// Product is the instrument received.
	Product Product
	// NewHolder is true when To held none of the instrument before the change.
	NewHolder bool
	// HoldersAfter is the number of distinct parties with a balance above zero
	// after the change.
	HoldersAfter int
	// NonAccreditedHoldersAfter is how many of those are investors whose
	// status is retail.
	NonAccreditedHoldersAfter int
	// FromIssuer is true when the units come from the instrument's issuer
	// (a purchase in the offering).
	FromIssuer bool
	// NewPurchaser is true when this purchase from the issuer makes To a
	// non-accredited purchaser it was not before.
	NewPurchaser bool
	// PurchasersAfter is how many non-accredited parties have ever bought
	// from the issuer, this purchase included: the count of a limit on
	// non-accredited purchasers (Rule 506(b)(2)(i)), which a sale never
	// lowers.
	PurchasersAfter int
}

// CheckReceive decides whether r.To may come to hold r.Product, and returns
// every refusal, sorted by precedence (nil: allowed). It checks, for every
// receiver but the instrument's own issuer (which may always hold its own
// instrument, as treasury):
//
//   - the product: a prohibited topic is GAMING_PRODUCT (rule
//     "prohibited_topic"); invalid attributes or an unknown regime are
//     INVALID_INSTRUCTION;
//   - the receiver's KYC (CheckKYC): KYC_EXPIRED;
//   - the regime's receive rule: JURISDICTION_BLOCKED (rule
//     "<regime>.distribution_period"; an investor with no jurisdiction on
//     record counts as blocked), INVESTOR_NOT_ELIGIBLE (rule
//     "<regime>.receive"), or HOLDER_LIMIT for a new non-accredited holder
//     beyond the regime's allowance (rule "<regime>.non_accredited_limit");
//     a regime with no receive rule admits no one but the issuer;
//   - the gambling screen: a gambling_like product held below the screen's
//     min_status is INVESTOR_NOT_ELIGIBLE (rule "gambling_screen");
//   - the product's leverage: embedded leverage above the receiver's cap for
//     the class and underlying is LEVERAGE_EXCEEDED (rule "product_leverage");
//   - holder limits, where the regime has them and the change adds a holder:
//     HOLDER_LIMIT (rule "section_12g").
//
// Non-investors count as institutional and have no KYC. The account-level
// leverage of the receiver is CheckAccount's business, not this function's.
func (rb *Rulebook) CheckReceive(r Receive) []Reason {
	p := r.Product
	if isIssuer(r.To, p) {
		return nil
	}
	var out []Reason
	c, ok := rb.decisionClass(p)
	switch {
	case !ok:
		out = append(out, NewReason(CodeInvalidInstruction, "attributes",
			fmt.Sprintf("instrument %s has invalid product attributes: %s", p.Symbol, strings.Join(c.Reasons, "; "))))
	case c.Class == ClassGaming:
		out = append(out, NewReason(CodeGamingProduct, "prohibited_topic",
			fmt.Sprintf("instrument %s is a prohibited product; no one may hold it", p.Symbol)))
	}
	out = append(out, rb.CheckKYC(r.To, r.Now)...)
	g, known := rb.regime(p.Regime)
	if !known {
		out = append(out, unknownRegime(p, rb.regimeNames))
	} else {
		out = append(out, rb.regimeReceive(g, r)...)
	}
	if ok && c.Class != ClassGaming {
		out = append(out, rb.gamblingScreen(c, r)...)
		out = append(out, rb.productLeverage(c, r)...)
	}
	if known && g.holderLimits {
		out = append(out, rb.holderLimit(r)...)
	}
	SortReasons(out)
	return out
}

// isIssuer reports whether the party is the product's issuer.
func isIssuer(to Party, p Product) bool {
	return p.Issuer != "" && to.ID == p.Issuer
}

func (rb *Rulebook) regimeReceive(g *regime, r Receive) []Reason {
	rr := g.receive
	to, p := r.To, r.Product
	if rr == nil {
		return []Reason{NewReason(CodeInvestorNotEligible, g.name+".receive",
			fmt.Sprintf("regime %s has no receive rule, so only the issuer may hold %s; the operator must add one to the rulebook",
				g.name, p.Symbol))}
	}
	var out []Reason
	if rr.hasDistribution {
		end := rr.distribution.end(p.OfferingDate)
		if r.Now.Before(end) && blockedJurisdiction(rr.blocked, to) {
			where := "is in jurisdiction " + strings.ToUpper(to.Jurisdiction)
			if to.Jurisdiction == "" {
				where = "has no jurisdiction on record"
			}
			out = append(out, NewReason(CodeJurisdictionBlocked, g.name+".distribution_period",
				fmt.Sprintf("%s %s; %s is in its %s %s distribution compliance period until %s (%s) and may go only to parties shown to be outside %s before then",
					to.ID, where, p.Symbol, rr.distribution, g.name, when(end), rr.source,
					strings.Join(rr.blocked, ", "))))
		}
	}
	status := to.EffectiveStatus()
	switch {
	case status == StatusRetail && rr.hasNonAccreditedMax:
		if r.NewHolder && r.NonAccreditedHoldersAfter > rr.nonAccreditedMax {
			out = append(out, NewReason(CodeHolderLimit, g.name+".non_accredited_limit",
				fmt.Sprintf("%s; %s would have %d non-accredited holders, and regime %s admits at most %d (%s); only accredited investors or better may become new holders",
					to.describe(), p.Symbol, r.NonAccreditedHoldersAfter, g.name, rr.nonAccreditedMax, rr.source)))
		}
		if r.FromIssuer && r.NewPurchaser && r.PurchasersAfter > rr.nonAccreditedMax {
			out = append(out, NewReason(CodeHolderLimit, g.name+".non_accredited_limit",
				fmt.Sprintf("%s; %s would have had %d non-accredited purchasers in its offering, counted for good even after they sell, and regime %s admits at most %d (%s)",
					to.describe(), p.Symbol, r.PurchasersAfter, g.name, rr.nonAccreditedMax, rr.source)))
		}
	case !status.AtLeast(rr.minStatus):
		out = append(out, NewReason(CodeInvestorNotEligible, g.name+".receive",
			fmt.Sprintf("%s; %s offerings may be held only by %s (%s)",
				to.describe(), g.name, rr.minStatus.orBetter(), rr.source)))
	}
	return out
}

// blockedJurisdiction reports whether the party's jurisdiction is blocked. An
// investor with no jurisdiction on record is treated as blocked (it has not
// been shown to be outside); other roles may have none, which means not a US
// person.
func blockedJurisdiction(blocked []string, p Party) bool {
	if p.Jurisdiction == "" {
		return p.IsInvestor()
	}
	return slices.Contains(blocked, strings.ToUpper(p.Jurisdiction))
}

func (rb *Rulebook) gamblingScreen(c Classification, r Receive) []Reason {
	if c.Category != CategoryGamblingLike {
		return nil
	}
	status := r.To.EffectiveStatus()
	if status.AtLeast(rb.screen.minStatus) {
		return nil
	}
	detail := ""
	if r.Product.Attributes.Underlying != "" {
		inds := rb.indicators(normalize(r.Product.Attributes))
		detail = fmt.Sprintf(" (%d of %d indicators: %s)", len(inds), len(rb.screen.indicators), listOrNone(inds))
	}
	return []Reason{NewReason(CodeInvestorNotEligible, "gambling_screen",
		fmt.Sprintf("%s is gambling-like%s; %s, and only %s may hold it (%s)",
			r.Product.Symbol, detail, r.To.describe(), rb.screen.minStatus.orBetter(), rb.screen.source))}
}

func (rb *Rulebook) productLeverage(c Classification, r Receive) []Reason {
	a := r.Product.Attributes
	lev := a.leverage() // not all of normalize: its topic is a lower-casing and a join
	status := r.To.EffectiveStatus()
	cv, decider := rb.capFor(status, c.Class, a.Underlying, a.FXMajor)
	if !cv.capped || !lev.GreaterThan(cv.max) {
		return nil
	}
	on := c.Class
	if a.Underlying != "" {
		on = fmt.Sprintf("%s on %s", c.Class, leverageKey(a.Underlying, a.FXMajor))
	}
	limit := fmt.Sprintf("may hold at most %sx", cv.max)
	if cv.max.IsZero() {
		limit = "may not hold it at all"
	}
	return []Reason{NewReason(CodeLeverageExceeded, "product_leverage",
		fmt.Sprintf("%s embeds %sx leverage (%s); %s and %s (%s), whatever cash it holds",
			r.Product.Symbol, lev, on, r.To.describe(), limit, rb.capSource(decider)))}
}

func (rb *Rulebook) holderLimit(r Receive) []Reason {
	if !r.NewHolder {
		return nil
	}
	hl := rb.holderLimits
	var out []Reason
	if r.HoldersAfter > hl.maxHolders {
		out = append(out, NewReason(CodeHolderLimit, "section_12g",
			fmt.Sprintf("%s would have %d holders; at most %d are allowed (%s), so %s may not become a new holder",
				r.Product.Symbol, r.HoldersAfter, hl.maxHolders, hl.source, r.To.ID)))
	}
	if r.To.EffectiveStatus() == StatusRetail && r.NonAccreditedHoldersAfter > hl.maxNonAccredited {
		out = append(out, NewReason(CodeHolderLimit, "section_12g",
			fmt.Sprintf("%s would have %d non-accredited holders; at most %d are allowed (%s), so %s, a non-accredited investor, may not become a new holder",
				r.Product.Symbol, r.NonAccreditedHoldersAfter, hl.maxNonAccredited, hl.source, r.To.ID)))
	}
	return out
}

// CheckKYC checks the party's KYC at now. Only investors (and parties with an
// unknown role) have KYC; for every other role it returns nil. A missing
// (zero) or expired KYCExpiresAt is KYC_EXPIRED (rule "kyc"); KYC is current
// until the instant it expires. Sends back to the issuer are exempt: use
// CheckSenderKYC for a sender.
func (rb *Rulebook) CheckKYC(p Party, now time.Time) []Reason {
	if !p.IsInvestor() {
		return nil
	}
	if p.KYCExpiresAt.IsZero() {
		return []Reason{NewReason(CodeKYCExpired, "kyc",
			fmt.Sprintf("%s has no KYC on record; its custodian must record KYC before %s can receive or send (sending back to the issuer stays open)",
				p.ID, p.ID))}
	}
	if !now.Before(p.KYCExpiresAt) {
		return []Reason{NewReason(CodeKYCExpired, "kyc",
			fmt.Sprintf("%s's KYC expired on %s; its custodian must renew it before %s can receive or send (sending back to the issuer stays open)",
				p.ID, when(p.KYCExpiresAt), p.ID))}
	}
	return nil
}

// CheckSenderKYC checks the KYC of a party sending product to to: nil when to is
// the product's issuer, so a lapse never traps a holder's assets, and CheckKYC
// otherwise. Whether force_transfer and recover (actions of the operator, not of
// the holder) check the sender at all is the caller's decision; RULES.md lets a
// lapsed holder be recovered.
func (rb *Rulebook) CheckSenderKYC(from, to Party, p Product, now time.Time) []Reason {
	if isIssuer(to, p) {
		return nil
	}
	return rb.CheckKYC(from, now)
}

// HoldingPeriod is the lock-up each acquisition of this product starts, from its
// regime: 0 when the regime has none or is unknown. A period written in days is
// exact; one in months or years is an upper bound (31 days a month), because
// calendar months vary: use it to find the lots that may still be locked, and
// let CheckLockedSend decide on the exact calendar date.
func (rb *Rulebook) HoldingPeriod(p Product) time.Duration {
	g, ok := rb.regime(p.Regime)
	if !ok || g.lockup == nil {
		return 0
	}
	return g.lockup.period.upperBound()
}

// LockedSend describes a lot that would move to To: acquired by From at
// AcquiredAt.
type LockedSend struct {
	Now        time.Time
	AcquiredAt time.Time
	From       Party
	To         Party
	Product    Product
	// Forced is true for force_transfer and recover, which may move locked lots.
	Forced bool
}

// CheckLockedSend decides whether a lot may move while inside its holding
// period. It returns nil when the period is over (or the regime has none), the
// move is forced, To is the issuer, or To's status meets the regime's
// exempt_min_status (Reg CF: accredited investors or better). Otherwise it
// returns LOCKUP_ACTIVE with the regime's lock-up rule (e.g.
// "rule_144.holding_period", "reg_cf.resale") and a message naming the date the
// lot frees.
func (rb *Rulebook) CheckLockedSend(s LockedSend) []Reason {
	g, ok := rb.regime(s.Product.Regime)
	if !ok || g.lockup == nil {
		return nil
	}
	lk := g.lockup
	end := lk.period.end(s.AcquiredAt)
	switch {
	case !s.Now.Before(end), s.Forced, isIssuer(s.To, s.Product):
		return nil
	case isIssuer(s.From, s.Product):
		// A holding period restricts resales; the issuer placing its own
		// units is the offering itself (Rule 144 governs persons other than
		// the issuer), and the buyer's period starts at the sale.
		return nil
	case lk.exemptMinStatus != "" && s.To.EffectiveStatus().AtLeast(lk.exemptMinStatus):
		return nil
	}
	may := "back to the issuer"
	if lk.exemptMinStatus != "" {
		may += " or to " + lk.exemptMinStatus.orBetter()
	}
	return []Reason{NewReason(CodeLockupActive, lk.rule,
		fmt.Sprintf("%s's lot of %s acquired on %s is in its %s holding period (%s) until %s; before then it may go only %s, or by force_transfer",
			s.From.ID, s.Product.Symbol, when(s.AcquiredAt), lk.period, lk.source, when(end), may))}
}

// regime returns the rule of the regime name.
func (rb *Rulebook) regime(name string) (*regime, bool) { return rb.regimes.Get(name) }
