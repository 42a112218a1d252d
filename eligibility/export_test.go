package eligibility

import (
	"bytes"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// The queries below exist for the tests alone: production code reaches the
// same answers through the checks (CheckReceive, CheckAccount,
// CheckLockedSend, SortReasons), so they are not part of the package's API.

// DefaultYAML returns a copy of the embedded default rulebook's text.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Regimes returns the names of the offering regimes, sorted.
func (rb *Rulebook) Regimes() []string { return slices.Clone(rb.regimeNames) }

// MaxLeverage is the cap on leverage (notional ÷ equity) for a holder of status
// s in a product of this class and underlying (fxMajor picks the major-pair cap
// for underlying fx). When several rules cover the case the strictest wins;
// when none does, the rulebook's default_max applies. capped is false when
// there is no cap; a max of 0 forbids holding the product at all. An unknown or
// empty status is treated as retail, the strictest; pass
// Party.EffectiveStatus() for a party.
func (rb *Rulebook) MaxLeverage(s Status, class, underlying string, fxMajor bool) (max decimal.Decimal, capped bool) {
	cv, _ := rb.capFor(s, class, underlying, fxMajor)
	return cv.max, cv.capped
}

// LockupEnd is the exact instant (UTC) a lot of p acquired at acquiredAt frees;
// ok is false when the regime has no holding period.
func (rb *Rulebook) LockupEnd(p Product, acquiredAt time.Time) (end time.Time, ok bool) {
	g, known := rb.regime(p.Regime)
	if !known || g.lockup == nil {
		return time.Time{}, false
	}
	return g.lockup.period.end(acquiredAt), true
}

// Unbounded reports whether the account has exposure and no positive equity:
// its Leverage is reported as -1.
func (m Measure) Unbounded() bool {
	return m.Leverage.Equal(decimal.NewFromInt(-1))
}

// Codes returns every code in precedence order, first first.
func Codes() []Code {
	out := make([]Code, len(codeTable))
	for i, ci := range codeTable {
		out[i] = ci.code
	}
	return out
}

// Valid reports whether c is one of the codes in codes.go.
func (c Code) Valid() bool {
	return c.Precedence() < len(codeTable)
}
