package eligibility

import (
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// MaxInvestmentLimits bounds the investment_limits list.
const MaxInvestmentLimits = 100

// maxInvestmentWindowDays bounds window_days: ten years.
const maxInvestmentWindowDays = 3650

// Scopes of an investment limit: what its investments are summed over.
const (
	// ScopeRegime sums the investments in every instrument of the regime
	// (Reg CF's limit across all offerings).
	ScopeRegime = "regime"
	// ScopeOffering sums the investments in the one instrument (Reg A
	// Tier 2's limit per offering).
	ScopeOffering = "offering"
)

// investmentLimit caps what investors of the listed statuses may invest in
// primary sales of a regime's instruments (SCHEMA.md, investment_limits).
// With g the greater of annual income and net worth, the limit is
// fraction × g, at most max; when below is set and either figure is below
// it, the limit is instead the greater of belowMin and belowFraction × g.
type investmentLimit struct {
	regime        string
	statuses      []Status
	scope         string
	window        time.Duration // 0: every investment ever made counts
	fraction      decimal.Decimal
	max           *decimal.Decimal
	below         *decimal.Decimal
	belowFraction decimal.Decimal
	belowMin      decimal.Decimal
	unlessListed  bool
	source        string
}

// rule is the name a refusal under l gives.
func (l *investmentLimit) rule() string { return l.regime + ".investment_limit" }

// allowance is the total the investor may have invested under l.
func (l *investmentLimit) allowance(p Party) decimal.Decimal {
	g := decimal.Max(p.AnnualIncome, p.NetWorth)
	if l.below != nil && (p.AnnualIncome.LessThan(*l.below) || p.NetWorth.LessThan(*l.below)) {
		return decimal.Max(l.belowMin, g.Mul(l.belowFraction)).RoundDown(requirementPlaces)
	}
	a := g.Mul(l.fraction)
	if l.max != nil && a.GreaterThan(*l.max) {
		a = *l.max
	}
	return a.RoundDown(requirementPlaces)
}

// Investment is one investment an investor made: value, in the base
// currency, paid for units of symbol (of regime) received from its issuer
// at time.
type Investment struct {
	Symbol string
	Regime string
	Time   time.Time
	Value  decimal.Decimal
}

// InvestmentLimited reports whether an investment limit of the rulebook
// covers party p receiving product from its issuer: the ledger then records
// the investment and checks it (CheckInvestment).
func (rb *Rulebook) InvestmentLimited(p Party, product Product) bool {
	return rb.investmentLimitFor(p, product) != nil
}

func (rb *Rulebook) investmentLimitFor(p Party, product Product) *investmentLimit {
	if p.Role != RoleInvestor || isIssuer(p, product) {
		return nil
	}
	status := p.EffectiveStatus()
	for i := range rb.risk.investmentLimits {
		l := &rb.risk.investmentLimits[i]
		if l.regime != product.Regime || !slices.Contains(l.statuses, status) {
			continue
		}
		if l.unlessListed && product.Listed {
			return nil
		}
		return l
	}
	return nil
}

// InvestmentChange is one investment being made: units of Product that
// Party receives from its issuer at Now, worth Value (the instruction's
// consideration, or units × price; Priced false when there is neither),
// against the party's investments before it (Past, this instruction's
// earlier ones included).
type InvestmentChange struct {
	Now     time.Time
	Party   Party
	Product Product
	Value   decimal.Decimal
	Priced  bool
	Past    []Investment
}

// CheckInvestment refuses an investment that would take the party past the
// investment limit covering it (INVESTMENT_LIMIT, rule
// <regime>.investment_limit, the message giving what remains of the
// allowance), or that has no value where a limit applies
// (PRICE_UNAVAILABLE).
func (rb *Rulebook) CheckInvestment(c InvestmentChange) []Reason {
	l := rb.investmentLimitFor(c.Party, c.Product)
	if l == nil {
		return nil
	}
	if !c.Priced {
		return []Reason{NewReason(CodePriceUnavailable, l.rule(),
			fmt.Sprintf("%s has no price and the instruction names no consideration; %s caps what %s may invest, so the investment needs a value", c.Product.Symbol, l.rule(), c.Party.ID))}
	}
	since := time.Time{}
	if l.window > 0 {
		since = c.Now.Add(-l.window)
	}
	spent := decimal.Zero
	for _, inv := range c.Past {
		if l.window > 0 && inv.Time.Before(since) { // the window includes its first instant: the stricter reading
			continue
		}
		if l.scope == ScopeOffering && inv.Symbol != c.Product.Symbol || l.scope == ScopeRegime && inv.Regime != l.regime {
			continue
		}
		spent = spent.Add(inv.Value)
	}
	allowance := l.allowance(c.Party)
	if !spent.Add(c.Value).GreaterThan(allowance) {
		return nil
	}
	remaining := allowance.Sub(spent)
	if remaining.Sign() < 0 {
		remaining = decimal.Zero
	}
	over := "across all " + l.regime + " offerings"
	if l.scope == ScopeOffering {
		over = "in the offering of " + c.Product.Symbol
	}
	if l.window > 0 {
		over += fmt.Sprintf(" over %d days", int(l.window/(24*time.Hour)))
	}
	return []Reason{NewReason(CodeInvestmentLimit, l.rule(),
		fmt.Sprintf("%s may invest at most %s %s (%s); it has invested %s, so %s remains, less than this investment of %s",
			c.Party.ID, show(allowance), over, l.source, show(spent), show(remaining), show(c.Value)))}
}

// investmentLimitYAML is one investment_limits entry.
type investmentLimitYAML struct {
	Regime        string   `yaml:"regime"`
	Statuses      []string `yaml:"statuses"`
	Scope         string   `yaml:"scope"`
	WindowDays    int      `yaml:"window_days"`
	Fraction      string   `yaml:"fraction"`
	Max           string   `yaml:"max"`
	Below         string   `yaml:"below"`
	BelowFraction string   `yaml:"below_fraction"`
	BelowMin      string   `yaml:"below_min"`
	UnlessListed  bool     `yaml:"unless_listed"`
	Source        string   `yaml:"source"`
}

// investmentLimits validates the investment_limits section.
func (v *validator) investmentLimits(rb *Rulebook, list []investmentLimitYAML) {
	if len(list) > MaxInvestmentLimits {
		v.fail("investment_limits", "has %d limits, above the limit of %d", len(list), MaxInvestmentLimits)
		return
	}
	seen := map[string]bool{}
	for i, r := range list {
		p := fmt.Sprintf("investment_limits[%d]", i)
		l := investmentLimit{regime: r.Regime, scope: r.Scope, unlessListed: r.UnlessListed, source: v.source(p+".source", r.Source)}
		if _, known := rb.regime(r.Regime); !known {
			v.fail(p+".regime", "%q is not a regime of this rulebook", r.Regime)
		}
		if len(r.Statuses) == 0 {
			v.fail(p+".statuses", "is required")
		}
		for _, s := range v.words(p+".statuses", r.Statuses, statusNames) {
			if seen[r.Regime+"/"+s] {
				v.fail(p+".statuses", "%q has an investment limit under %s already", s, r.Regime)
			}
			seen[r.Regime+"/"+s] = true
			l.statuses = append(l.statuses, Status(s))
		}
		if r.Scope != ScopeRegime && r.Scope != ScopeOffering {
			v.fail(p+".scope", "%q is not one of %s, %s", r.Scope, ScopeRegime, ScopeOffering)
		}
		if r.WindowDays < 0 || r.WindowDays > maxInvestmentWindowDays {
			v.fail(p+".window_days", "%d is not from 0 to %d", r.WindowDays, maxInvestmentWindowDays)
		}
		l.window = time.Duration(r.WindowDays) * 24 * time.Hour
		l.fraction = v.investmentFraction(p+".fraction", r.Fraction)
		if r.Max != "" {
			m := v.investmentFigure(p+".max", r.Max)
			l.max = &m
		}
		if r.Below != "" {
			b := v.investmentFigure(p+".below", r.Below)
			l.below = &b
			l.belowFraction = v.investmentFraction(p+".below_fraction", r.BelowFraction)
			l.belowMin = v.investmentFigure(p+".below_min", r.BelowMin)
		} else if r.BelowFraction != "" || r.BelowMin != "" {
			v.fail(p+".below", "is required with below_fraction and below_min")
		}
		rb.risk.investmentLimits = append(rb.risk.investmentLimits, l)
	}
}

// investmentFraction is a fraction of income or net worth: 0 to 1, at most
// 4 places.
func (v *validator) investmentFraction(path, s string) decimal.Decimal {
	if !fractionPattern.MatchString(s) || decimal.RequireFromString(s).GreaterThan(decimal.NewFromInt(1)) {
		v.fail(path, "%q is not a decimal from 0 to 1 with at most 4 places", s)
		return decimal.Zero
	}
	return decimal.RequireFromString(s)
}

// investmentFigure is an amount in the base currency.
func (v *validator) investmentFigure(path, s string) decimal.Decimal {
	if !limitPattern.MatchString(s) {
		v.fail(path, "%q is not a plain decimal", s)
		return decimal.Zero
	}
	return decimal.RequireFromString(s)
}
