package eligibility

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// normalized is Attributes with the unset values filled in: a zero
// embedded_leverage means 1 (unleveraged), an empty payoff means linear, an
// empty economic_purpose means none, and the topic is normalised.
type normalized struct {
	Attributes
	leverage decimal.Decimal
	payoff   string
	purpose  string
	topic    string
}

func normalize(a Attributes) normalized {
	n := normalized{Attributes: a, leverage: a.leverage(), payoff: a.Payoff, purpose: a.EconomicPurpose}
	if n.payoff == "" {
		n.payoff = PayoffLinear
	}
	if n.purpose == "" {
		n.purpose = PurposeNone
	}
	n.topic = normalizeTopic(a.EventTopic)
	return n
}

// leverage is the product's embedded leverage, 1 where none is stated.
func (a Attributes) leverage() decimal.Decimal {
	if a.EmbeddedLeverage.IsZero() {
		return unitLeverage
	}
	return a.EmbeddedLeverage
}

// unitLeverage is 1: decimals are values, never changed in place, so one
// serves every product without leverage.
var unitLeverage = decimal.NewFromInt(1)

// normalizeTopic lower-cases a topic and joins its words with "_", so
// "Unlawful Activity" and "unlawful-activity" both read unlawful_activity.
// Free text is searched for the terms of each topic's vocabulary apart
// (topics.go).
func normalizeTopic(t string) string {
	f := strings.FieldsFunc(strings.ToLower(t), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t'
	})
	return strings.Join(f, "_")
}

// attributeProblems lists what is wrong with a's values, if anything.
func attributeProblems(a Attributes) []string {
	var out []string
	if !slices.Contains(underlyingNames, a.Underlying) {
		out = append(out, fmt.Sprintf("underlying %q is not one of %s", a.Underlying, strings.Join(underlyingNames, ", ")))
	}
	if a.Payoff != "" && !slices.Contains(payoffNames, a.Payoff) {
		out = append(out, fmt.Sprintf("payoff %q is not one of %s", a.Payoff, strings.Join(payoffNames, ", ")))
	}
	if !a.EmbeddedLeverage.IsZero() {
		if a.EmbeddedLeverage.LessThan(decimal.NewFromInt(1)) {
			out = append(out, fmt.Sprintf("embedded_leverage %s is below 1", a.EmbeddedLeverage))
		}
		if a.EmbeddedLeverage.GreaterThan(decimal.NewFromInt(MaxEmbeddedLeverage)) {
			out = append(out, fmt.Sprintf("embedded_leverage %s is above the limit of %d", a.EmbeddedLeverage, MaxEmbeddedLeverage))
		}
	}
	if a.ExpiryDays < 0 || a.ExpiryDays > MaxExpiryDays {
		out = append(out, fmt.Sprintf("expiry_days %d is not in 0..%d (0 means no expiry)", a.ExpiryDays, MaxExpiryDays))
	}
	if a.EconomicPurpose != "" && !slices.Contains(purposeNames, a.EconomicPurpose) {
		out = append(out, fmt.Sprintf("economic_purpose %q is not one of %s", a.EconomicPurpose, strings.Join(purposeNames, ", ")))
	}
	if len(a.EventTopic) > MaxTopicBytes {
		out = append(out, fmt.Sprintf("event_topic is %d bytes, above the limit of %d", len(a.EventTopic), MaxTopicBytes))
	}
	if a.FXMajor && a.Underlying != UnderlyingFX {
		out = append(out, fmt.Sprintf("fx_major applies only to underlying fx, not %q", a.Underlying))
	}
	if a.Perpetual && a.ExpiryDays != 0 {
		out = append(out, fmt.Sprintf("perpetual has no expiry: expiry_days must be 0, not %d", a.ExpiryDays))
	}
	return out
}

// derivedFeatures lists what makes a product more than the plain underlying:
// an expiry, a non-linear payoff, embedded leverage.
func derivedFeatures(n normalized) []string {
	var out []string
	if n.ExpiryDays > 0 {
		out = append(out, fmt.Sprintf("expiry in %d days", n.ExpiryDays))
	}
	if n.Perpetual {
		out = append(out, "a perpetual contract")
	}
	if n.payoff != PayoffLinear {
		out = append(out, n.payoff+" payoff")
	}
	if n.leverage.GreaterThan(decimal.NewFromInt(1)) {
		out = append(out, fmt.Sprintf("embedded leverage %sx", n.leverage))
	}
	return out
}

// indicators lists the gambling-screen indicators a product shows, in the
// rulebook's order.
func (rb *Rulebook) indicators(n normalized) []string {
	var out []string
	for _, ind := range rb.screen.indicators {
		var on bool
		switch ind {
		case IndicatorFixedOrZeroPayout:
			on = n.payoff == PayoffBinary
		case IndicatorShortTerm:
			on = n.ExpiryDays >= 1 && n.ExpiryDays < rb.screen.shortTermDays
		case IndicatorNoEconomicPurpose:
			on = n.purpose == PurposeNone
		case IndicatorPlatformCounterparty:
			on = n.CounterpartyIsPlatform
		case IndicatorOutcomeControllable:
			// Declared, or read from the topic: an athlete's injury or
			// conduct, or officiating, is in one person's hands.
			_, named := rb.controllableTerm(n.EventTopic)
			on = n.OutcomeControllable || named
		default:
			assert(false, "indicator %q passed validation", ind)
		}
		if on {
			out = append(out, ind)
		}
	}
	return out
}

// screened reports whether the gambling screen applies to a product of this
// class and payoff.
func (rb *Rulebook) screened(class, payoff string) bool {
	return slices.Contains(rb.screen.classes, class) || slices.Contains(rb.screen.payoffs, payoff)
}

// Classify derives a product's class, regulator and category from its
// attributes, with the reasons that decided them.
//
// Unset attributes read as the plain case: a zero embedded_leverage is 1, an
// empty payoff linear, an empty economic_purpose none. When the attributes are
// invalid (an unknown underlying, leverage below 1, ...) Class, Regulator and
// Category are empty, Allowed is false and Reasons say what is wrong; CheckCreate
// turns that into INVALID_INSTRUCTION. A prohibited event topic gives class
// gaming, regulator none, category prohibited. An event contract or a binary
// payoff (as the rulebook's gambling_screen says) showing min_indicators or more
// indicators is gambling_like; everything else is investment. Reasons is never
// nil.
func (rb *Rulebook) Classify(a Attributes) Classification {
	// Every leg of every transfer classifies its instrument: remember the
	// answers for the attributes seen, which are few (one set per kind of
	// instrument). The memo is bounded, so arbitrary attributes sent to
	// POST /v1/classify cannot grow it without end.
	// The leverage's coefficient and exponent key it with no string made
	// (a string was an allocation a leg for a leveraged product); one of
	// more than 18 digits by its string. Two forms of one value (2, 2.0)
	// are two keys, each remembering the same answer.
	k := classifyKey{a: a}
	if lev := a.EmbeddedLeverage; lev.NumDigits() <= 18 {
		k.coef, k.exp = lev.CoefficientInt64(), lev.Exponent()
	} else {
		k.leverage = lev.String()
	}
	k.a.EmbeddedLeverage = decimal.Decimal{}
	// The few attribute sets in use answer from a small table compared
	// field by field: the map's hash of the whole key (five strings,
	// through an interface) was most of a classification.
	slot := &rb.recent[k.slot()]
	if e := slot.Load(); e != nil && e.k == k {
		return e.c
	}
	var c Classification
	if m, ok := rb.classified.Load(k); ok {
		c = m.(Classification)
	} else {
		c = rb.classify(a)
		c.Reasons = slices.Clip(c.Reasons) // shared: an append must copy
		if rb.classifiedN.Load() < maxClassified {
			if _, loaded := rb.classified.LoadOrStore(k, c); !loaded {
				rb.classifiedN.Add(1)
			}
		}
	}
	slot.Store(&classified{k: k, c: c})
	return c
}

// recentClassified is the size of Rulebook.recent.
const recentClassified = 8

// classified is an entry of Rulebook.recent.
type classified struct {
	k classifyKey
	c Classification
}

// slot picks k's entry in Rulebook.recent from its cheapest fields.
func (k *classifyKey) slot() int {
	h := uint(len(k.a.Underlying)) + 3*uint(len(k.a.Payoff)) + 5*uint(len(k.a.EconomicPurpose)) +
		7*uint(len(k.a.EventTopic)) + 11*uint(k.a.ExpiryDays) + 13*uint(k.coef) + 17*uint(k.exp) + 19*uint(len(k.leverage))
	for i, b := range [...]bool{k.a.CounterpartyIsPlatform, k.a.OutcomeControllable, k.a.FXMajor, k.a.Perpetual} {
		if b {
			h += 23 << i
		}
	}
	return int(h % recentClassified)
}

// maxClassified bounds Rulebook.classified.
const maxClassified = 4096

// classifyKey is Attributes in comparable form: the leverage as its
// coefficient and exponent, or its decimal string when the coefficient
// has more than 18 digits (decimal.Decimal holds a pointer), a zero
// Decimal in its place.
type classifyKey struct {
	a        Attributes
	coef     int64
	exp      int32
	leverage string
}

func (rb *Rulebook) classify(a Attributes) Classification {
	if probs := attributeProblems(a); len(probs) > 0 {
		return Classification{Reasons: probs}
	}
	n := normalize(a)
	if topic, term, ok := rb.prohibitedMatch(a.EventTopic); ok {
		why := fmt.Sprintf("event topic %q is prohibited (%s): refused for everyone", topic, rb.prohibitedSource)
		if term != "" {
			why = fmt.Sprintf("event topic %q names %q, a term of the prohibited topic %s (%s): refused for everyone",
				n.topic, term, topic, rb.prohibitedSource)
		}
		return Classification{
			Class:     ClassGaming,
			Regulator: RegulatorNone,
			Category:  CategoryProhibited,
			Allowed:   false,
			Reasons:   []string{why},
		}
	}
	row, ok := rb.underlyings[a.Underlying]
	if !ok {
		fail("underlying %q validated but has no classification row", a.Underlying)
	}
	features := derivedFeatures(n)
	var cr classRule
	var reasons []string
	if len(features) == 0 {
		cr = row.plain
		reasons = append(reasons, fmt.Sprintf("underlying %s, linear payoff, no expiry, no embedded leverage: %s (%s)",
			a.Underlying, cr.class, cr.regulator))
	} else {
		if row.derived == nil {
			return Classification{Reasons: []string{fmt.Sprintf(
				"underlying %s admits no %s: this rulebook classifies it only as a plain %s",
				a.Underlying, strings.Join(features, ", "), row.plain.class)}}
		}
		cr = *row.derived
		reasons = append(reasons, fmt.Sprintf("underlying %s with %s: %s (%s)",
			a.Underlying, strings.Join(features, ", "), cr.class, cr.regulator))
	}
	if row.source != "" {
		reasons[0] += " per " + row.source
	}
	c := Classification{Class: cr.class, Regulator: cr.regulator, Category: CategoryInvestment, Allowed: true}
	if rb.screened(cr.class, n.payoff) {
		inds := rb.indicators(n)
		verdict := "investment"
		if len(inds) >= rb.screen.minIndicators {
			c.Category = CategoryGamblingLike
			verdict = fmt.Sprintf("gambling-like: only %s may hold it", rb.screen.minStatus.orBetter())
		}
		reasons = append(reasons, fmt.Sprintf("gambling screen: %d of %d indicators (%s); %d or more make a product gambling-like (%s): %s",
			len(inds), len(rb.screen.indicators), listOrNone(inds), rb.screen.minIndicators, rb.screen.source, verdict))
	}
	c.Reasons = reasons
	return c
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// decisionClass is the classification the checks act on. Attributes are
// classified under this rulebook, so a new rulebook (set_rulebook) applies to
// instruments created under an older one; p.Classification is used only when
// the product carries no attributes (Underlying empty). ok is false when
// neither gives a class.
func (rb *Rulebook) decisionClass(p Product) (c Classification, ok bool) {
	if p.Attributes.Underlying != "" {
		c = rb.Classify(p.Attributes)
	} else {
		c = p.Classification
	}
	return c, c.Class != ""
}

// CheckCreate decides whether an instrument with this product may be created:
// its attributes must be valid (INVALID_INSTRUCTION, rule "attributes"), its
// event topic not prohibited (GAMING_PRODUCT, rule "prohibited_topic"), its
// regime defined (INVALID_INSTRUCTION, rule "regime"), its class one the regime
// admits (INVALID_INSTRUCTION, rule "<regime>.classes"), and a regime that
// counts a distribution period from the offering date needs one
// (INVALID_INSTRUCTION, rule "<regime>.offering_date"). The attributes are
// classified afresh; p.Classification is not read. Reasons are sorted by
// precedence; nil means creatable.
func (rb *Rulebook) CheckCreate(p Product) []Reason {
	var out []Reason
	c := rb.Classify(p.Attributes)
	switch c.Class {
	case "":
		out = append(out, NewReason(CodeInvalidInstruction, "attributes",
			fmt.Sprintf("instrument %s has invalid product attributes: %s", p.Symbol, strings.Join(c.Reasons, "; "))))
	case ClassGaming:
		out = append(out, NewReason(CodeGamingProduct, "prohibited_topic",
			fmt.Sprintf("instrument %s: %s; it cannot be created", p.Symbol, c.Reasons[0])))
	}
	g, ok := rb.regime(p.Regime)
	if !ok {
		out = append(out, unknownRegime(p, rb.regimeNames))
		SortReasons(out)
		return out
	}
	if c.Class != "" && c.Class != ClassGaming && len(g.classes) > 0 && !slices.Contains(g.classes, c.Class) {
		out = append(out, NewReason(CodeInvalidInstruction, g.name+".classes",
			fmt.Sprintf("instrument %s is a %s; regime %s admits only %s: choose a regime that admits %s",
				p.Symbol, c.Class, g.name, strings.Join(g.classes, ", "), c.Class)))
	}
	if g.receive != nil && g.receive.hasDistribution && p.OfferingDate.IsZero() {
		out = append(out, NewReason(CodeInvalidInstruction, g.name+".offering_date",
			fmt.Sprintf("instrument %s: regime %s counts its %s distribution compliance period from the offering date; set offering_date",
				p.Symbol, g.name, g.receive.distribution)))
	}
	SortReasons(out)
	return out
}

func unknownRegime(p Product, names []string) Reason {
	return NewReason(CodeInvalidInstruction, "regime",
		fmt.Sprintf("instrument %s names regime %q, which this rulebook does not define; it defines %s",
			p.Symbol, p.Regime, strings.Join(names, ", ")))
}
