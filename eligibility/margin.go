package eligibility

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// DefaultBaseCurrency is the base currency of a rulebook that names none:
// every cash unit counted as one US dollar before rulebooks named one.
const DefaultBaseCurrency = "USD"

// MaxPositionLimits bounds the position_limits list.
const MaxPositionLimits = 1_000

var (
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	// fractionPattern is a maintenance fraction: 0 to 1, at most 4 places.
	fractionPattern = regexp.MustCompile(`^(0|1)(\.[0-9]{1,4})?$`)
	// limitPattern is a position limit's figure: a plain decimal.
	limitPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,29})(\.[0-9]{1,18})?$`)
)

// riskRules are the rulebook's risk sections: the base currency, the
// maintenance fractions, who is protected from negative balances, and the
// position limits.
type riskRules struct {
	baseCurrency   string
	maintenance    []maintenanceRule // in YAML order; the first that names a class wins
	protected      []Status
	positionLimits []positionLimit // in YAML order
	// investmentLimits in YAML order (investment.go); at most one covers
	// a regime and a status.
	investmentLimits []investmentLimit
}

// maintenanceRule is the fraction of the initial requirement the accounts
// holding the listed classes must keep.
type maintenanceRule struct {
	classes  []string
	fraction decimal.Decimal
	source   string
}

// positionLimit caps the position of holders of the listed statuses in
// products of the listed classes; exactly one kind of limit is set.
type positionLimit struct {
	id       string
	classes  []string
	statuses []Status
	kind     string // "max_share_of_supply", "max_units" or "max_value"
	max      decimal.Decimal
	source   string
}

// BaseCurrency is the ISO 4217 code every price, equity, requirement and
// limit is in.
func (rb *Rulebook) BaseCurrency() string { return rb.risk.baseCurrency }

// MaintenanceFraction is the fraction of the initial requirement that an
// account holding class must keep, and whether the rulebook names one. A
// class without one keeps its whole requirement: the strictest reading.
func (rb *Rulebook) MaintenanceFraction(class string) (decimal.Decimal, bool) {
	for _, m := range rb.risk.maintenance {
		if slices.Contains(m.classes, class) {
			return m.fraction, true
		}
	}
	return decimal.NewFromInt(1), false
}

// ProtectsFromNegative reports whether the rulebook writes off what is left
// of a loan to a party of status s that a close-out leaves with nothing.
func (rb *Rulebook) ProtectsFromNegative(s Status) bool {
	return slices.Contains(rb.risk.protected, s)
}

// InMarginCall reports whether an account measured m is in a margin call:
// equity below the maintenance requirement.
func (m Measure) InMarginCall() bool { return m.Equity.LessThan(m.Maintenance) }

// Deficit is maintenance requirement − equity when positive, else 0.
func (m Measure) Deficit() decimal.Decimal {
	if d := m.Maintenance.Sub(m.Equity); d.Sign() > 0 {
		return d
	}
	return decimal.Zero
}

// PositionChange is one party's position in one product before and after a
// change, with what a limit measures it against.
type PositionChange struct {
	Party       Party
	Product     Product
	Before      decimal.Decimal // units
	After       decimal.Decimal // units
	SupplyAfter decimal.Decimal
	Price       decimal.Decimal // base units per unit
	Priced      bool
}

// CheckPosition refuses a change that leaves the position above a position
// limit (POSITION_LIMIT, rule = the limit's id), unless it did not grow the
// position. The issuer is exempt. A max_value limit needs a price: without
// one the change is PRICE_UNAVAILABLE.
func (rb *Rulebook) CheckPosition(c PositionChange) []Reason {
	if !c.After.GreaterThan(c.Before) || !rb.PositionLimited(c.Party, c.Product) {
		return nil
	}
	cl, _ := rb.decisionClass(c.Product)
	status := c.Party.EffectiveStatus()
	var out []Reason
	for i := range rb.risk.positionLimits {
		pl := &rb.risk.positionLimits[i]
		if !slices.Contains(pl.classes, cl.Class) || !slices.Contains(pl.statuses, status) {
			continue
		}
		var have decimal.Decimal
		switch pl.kind {
		case "max_share_of_supply":
			if c.SupplyAfter.Sign() <= 0 {
				continue
			}
			have = c.After.DivRound(c.SupplyAfter, requirementPlaces)
		case "max_units":
			have = c.After
		case "max_value":
			if !c.Priced {
				out = append(out, NewReason(CodePriceUnavailable, pl.id,
					fmt.Sprintf("%s has no price, and limit %s caps the value of a position in it; the oracle must set a price first", c.Product.Symbol, pl.id)))
				continue
			}
			have = c.After.Mul(c.Price)
		}
		if have.GreaterThan(pl.max) {
			out = append(out, NewReason(CodePositionLimit, pl.id,
				fmt.Sprintf("%s would hold %s %s (%s %s), above limit %s of %s for %s %s holders (%s); only a change that reduces the position passes",
					c.Party.describe(), c.After, c.Product.Symbol, strings.ReplaceAll(pl.kind, "_", " "), show(have), pl.id, pl.max, status, cl.Class, pl.source)))
		}
	}
	SortReasons(out)
	return out
}

// PositionLimited reports whether a position limit applies to the party's
// positions in the product: when it does not, CheckPosition refuses no
// change of them, so a caller may skip building the change (its decimals,
// a position's price). CheckPosition asks it too.
func (rb *Rulebook) PositionLimited(party Party, p Product) bool {
	if len(rb.risk.positionLimits) == 0 || isIssuer(party, p) {
		return false
	}
	cl, ok := rb.decisionClass(p)
	if !ok {
		return false
	}
	status := party.EffectiveStatus()
	for i := range rb.risk.positionLimits {
		pl := &rb.risk.positionLimits[i]
		if slices.Contains(pl.classes, cl.Class) && slices.Contains(pl.statuses, status) {
			return true
		}
	}
	return false
}

// risk validates and compiles the risk sections. Every one may be absent:
// the default then keeps the answers of a rulebook written before them (no
// maintenance fraction: the whole requirement; no protection; no limits).
func (v *validator) risk(rb *Rulebook, f *fileYAML) {
	rb.risk.baseCurrency = DefaultBaseCurrency
	if f.BaseCurrency != "" {
		if !currencyPattern.MatchString(f.BaseCurrency) {
			v.fail("base_currency", "%q is not an ISO 4217 code like USD", f.BaseCurrency)
		}
		rb.risk.baseCurrency = f.BaseCurrency
	}
	if m := f.Maintenance; m != nil && v.listLen("maintenance.rules", len(m.Rules)) {
		seen := map[string]bool{}
		for i, r := range m.Rules {
			p := fmt.Sprintf("maintenance.rules[%d]", i)
			mr := maintenanceRule{classes: v.words(p+".classes", r.Classes, holdableClasses), source: v.source(p+".source", r.Source)}
			if len(r.Classes) == 0 {
				v.fail(p+".classes", "is required")
			}
			for _, c := range mr.classes {
				if seen[c] {
					v.fail(p+".classes", "%q has a fraction already", c)
				}
				seen[c] = true
			}
			if !fractionPattern.MatchString(r.Fraction) || decimal.RequireFromString(r.Fraction).GreaterThan(decimal.NewFromInt(1)) {
				v.fail(p+".fraction", "%q is not a decimal from 0 to 1 with at most 4 places", r.Fraction)
			} else {
				mr.fraction = decimal.RequireFromString(r.Fraction)
			}
			rb.risk.maintenance = append(rb.risk.maintenance, mr)
		}
	}
	if n := f.NegativeBalanceProtection; n != nil {
		for _, s := range v.words("negative_balance_protection.statuses", n.Statuses, statusNames) {
			rb.risk.protected = append(rb.risk.protected, Status(s))
		}
		v.source("negative_balance_protection.source", n.Source)
	}
	if len(f.PositionLimits) > MaxPositionLimits {
		v.fail("position_limits", "has %d limits, above the limit of %d", len(f.PositionLimits), MaxPositionLimits)
		return
	}
	ids := map[string]bool{}
	for i, r := range f.PositionLimits {
		p := fmt.Sprintf("position_limits[%d]", i)
		if !namePattern.MatchString(r.ID) {
			v.fail(p+".id", "%q is not a lower-case name (a-z, 0-9, _)", r.ID)
		} else if ids[r.ID] {
			v.fail(p+".id", "%q is used twice", r.ID)
		}
		ids[r.ID] = true
		p = fmt.Sprintf("position_limits[%d] (%s)", i, r.ID)
		pl := positionLimit{id: r.ID, classes: v.words(p+".classes", r.Classes, holdableClasses), source: v.source(p+".source", r.Source)}
		if len(r.Classes) == 0 {
			v.fail(p+".classes", "is required")
		}
		if len(r.Statuses) == 0 {
			v.fail(p+".statuses", "is required")
		}
		for _, s := range v.words(p+".statuses", r.Statuses, statusNames) {
			pl.statuses = append(pl.statuses, Status(s))
		}
		set := 0
		for _, k := range []struct{ name, val string }{
			{"max_share_of_supply", r.MaxShareOfSupply}, {"max_units", r.MaxUnits}, {"max_value", r.MaxValue},
		} {
			if k.val == "" {
				continue
			}
			set++
			pl.kind = k.name
			if !limitPattern.MatchString(k.val) {
				v.fail(p+"."+k.name, "%q is not a plain decimal", k.val)
				continue
			}
			pl.max = decimal.RequireFromString(k.val)
			if k.name == "max_share_of_supply" && pl.max.GreaterThan(decimal.NewFromInt(1)) {
				v.fail(p+"."+k.name, "%s is above 1 (the whole supply)", k.val)
			}
		}
		if set != 1 {
			v.fail(p, "needs exactly one of max_share_of_supply, max_units, max_value")
		}
		rb.risk.positionLimits = append(rb.risk.positionLimits, pl)
	}
	v.investmentLimits(rb, f.InvestmentLimits)
}
