package eligibility

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/internal/strtab"
)

// Rulebook is a parsed, validated rulebook. It is immutable after Parse and
// safe for concurrent use; the zero value is not usable (use Parse or Default).
type Rulebook struct {
	text    []byte
	version string

	prohibitedTopics []string // normalised, in YAML order
	prohibitedSource string
	// vocabulary and controllable are the classification's vocabularies
	// (topics.go), in YAML order.
	vocabulary         []vocabulary
	controllable       [][]string
	controllableSource string
	underlyings        map[string]underlyingRule // lookup only; never iterated

	screen       screenRule
	holderLimits holderLimitRule

	// regimes finds a regime by name (regime); regimeNames lists them.
	regimes     *strtab.Table[*regime]
	regimeNames []string // sorted

	defaultCap    capValue
	defaultSource string
	leverage      []leverageRule // in YAML order

	// The risk sections (margin.go).
	risk           riskRules
	dualControl    []string // instruction types, sorted
	dualControlTTL period

	// classified memoizes Classify: classifyKey to Classification, at most
	// maxClassified entries (classifiedN counts them).
	classified  sync.Map
	classifiedN atomic.Int64
	// recent holds the last classification in each of a few slots, in
	// front of classified (Classify).
	recent [recentClassified]atomic.Pointer[classified]
	// caps is every answer capFor gives (capTable), built with the
	// rulebook.
	caps *capTable
}

// Version is the rulebook's version string, e.g. "2026-12-default-1".
func (rb *Rulebook) Version() string { return rb.version }

// YAML returns a copy of the text the rulebook was parsed from.
func (rb *Rulebook) YAML() []byte { return bytes.Clone(rb.text) }

// classRule is one classification answer: the class and the regulator.
type classRule struct {
	class     string
	regulator string
}

// underlyingRule is one classification.underlyings entry: how a product on
// the underlying is classified when plain and when derived.
type underlyingRule struct {
	plain   classRule
	derived *classRule // nil: the underlying admits no expiry, non-linear payoff or leverage
	source  string
}

// screenRule is the gambling screen: the products it applies to (by class or
// payoff), the indicators it counts, how many make a product gambling-like,
// and the status needed to hold one.
type screenRule struct {
	classes       []string
	payoffs       []string
	indicators    []string
	shortTermDays int
	minIndicators int
	minStatus     Status
	source        string
}

// holderLimitRule is holder_limits, the holder-count limits that apply to the
// instruments of every regime whose holder_limits is true.
type holderLimitRule struct {
	maxHolders       int
	maxNonAccredited int
	source           string
}

// regime is one offering regime: the classes it admits, who may receive its
// instruments, the holding period each acquisition starts, and whether the
// holder limits apply.
type regime struct {
	name         string
	source       string
	classes      []string     // empty: any class
	receive      *receiveRule // nil: a gap; only the issuer may receive
	lockup       *lockupRule  // nil: no holding period
	holderLimits bool
}

// receiveRule is a regime's receive rule: the status a receiver needs, an
// allowance of non-accredited holders, and a distribution period during which
// some jurisdictions may not receive.
type receiveRule struct {
	minStatus           Status
	nonAccreditedMax    int
	hasNonAccreditedMax bool
	distribution        period
	hasDistribution     bool
	blocked             []string // jurisdictions excluded during the distribution period
	source              string
}

// lockupRule is a regime's holding period: how long a lot is locked, the rule
// a refusal names, and the status that may receive a locked lot anyway.
type lockupRule struct {
	period          period
	rule            string
	exemptMinStatus Status // "": no status exemption
	source          string
}

// capValue is a leverage cap: a decimal, or no cap at all.
type capValue struct {
	capped bool
	max    decimal.Decimal
}

func (c capValue) String() string {
	if !c.capped {
		return "no cap"
	}
	return c.max.String()
}

// stricter reports whether c allows less leverage than d.
func (c capValue) stricter(d capValue) bool {
	if !c.capped {
		return false
	}
	return !d.capped || c.max.LessThan(d.max)
}

// equal reports whether c and d are the same cap.
func (c capValue) equal(d capValue) bool {
	if c.capped != d.capped {
		return false
	}
	return !c.capped || c.max.Equal(d.max)
}

// leverageRule is one leverage rule: the cap for holders of the listed statuses
// in products of the listed classes and underlyings.
type leverageRule struct {
	id          string
	classes     []string
	underlyings []string // leverage keys (fx split into fx_major, fx_other); empty: any
	statuses    []Status
	max         capValue
	source      string
}

// matches reports whether the rule covers a holder of status s in a product of
// this class whose leverage key (leverageKey) is key.
func (lr *leverageRule) matches(s Status, class, key string) bool {
	if !slices.Contains(lr.classes, class) || !slices.Contains(lr.statuses, s) {
		return false
	}
	return len(lr.underlyings) == 0 || slices.Contains(lr.underlyings, key)
}
