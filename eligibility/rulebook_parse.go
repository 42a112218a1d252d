package eligibility

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"

	"github.com/tokenledger/tokenledger/internal/strtab"
)

// Limits on a rulebook. Parse refuses anything larger; a test asserts the
// relations between them.
const (
	// MaxRulebookBytes bounds the YAML text; the default is about 15 KiB.
	MaxRulebookBytes = 1 << 20
	// MaxRegimes bounds the regimes list.
	MaxRegimes = 100
	// MaxLeverageRules bounds the leverage rules list.
	MaxLeverageRules = 1_000
	// MaxListItems bounds every other list (topics, statuses, classes, ...).
	MaxListItems = 100
	// MaxSourceBytes bounds a source citation.
	MaxSourceBytes = 1_000
	// MaxTopicBytes bounds an event topic, in the rulebook and in attributes.
	MaxTopicBytes = 200
	// MaxPeriodDays bounds a period written in days (100 years).
	MaxPeriodDays = 36_500
	// MaxPeriodMonths bounds a period written in months or years (100 years).
	MaxPeriodMonths = 1_200
	// MaxExpiryDays bounds a product's expiry_days (100 years).
	MaxExpiryDays = 36_500
	// MaxHolderLimit bounds the holder-count limits.
	MaxHolderLimit = 1_000_000_000
	// MaxLeverageCap bounds a leverage cap (1000:1); caps are decimals with at
	// most four fraction digits.
	MaxLeverageCap = 1_000
	// MaxEmbeddedLeverage bounds a product's embedded_leverage.
	MaxEmbeddedLeverage = 1_000
	// maxReportedErrors bounds how many problems one Parse error lists.
	maxReportedErrors = 20
)

// ErrInvalidRulebook is wrapped by every error Parse returns: the text is not a
// rulebook this package accepts. The wrapped message names the bad field. The
// ledger answers set_rulebook with CodeRulebookInvalid when it sees it.
var ErrInvalidRulebook = errors.New("eligibility: invalid rulebook")

//go:embed default.yaml
var defaultYAML []byte

// defaultRulebook parses the embedded default once. The embedded text is part
// of the binary and a test parses it, so a failure here is a build defect.
var defaultRulebook = sync.OnceValue(func() *Rulebook {
	rb, err := Parse(defaultYAML)
	assert(err == nil, "embedded default rulebook does not parse: %v", err)
	return rb
})

// Default returns the embedded default rulebook (default.yaml), parsed once and
// shared; it is immutable (its classification memo aside, which changes no
// answer).
func Default() *Rulebook { return defaultRulebook() }

// The grammars the validator holds names, versions, caps and jurisdictions to.
// yamlTypeSuffix matches the Go type names yaml.v3 puts in its messages, which
// mean nothing to the operator who wrote the YAML.
var (
	versionPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	namePattern         = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	ruleNamePattern     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63}){0,3}$`)
	jurisdictionPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	capPattern          = regexp.MustCompile(`^(0|[1-9][0-9]{0,3})(\.[0-9]{1,4})?$`)
	yamlTypeSuffix      = regexp.MustCompile(` in type eligibility\.[A-Za-z]+`)
)

// Parse decodes and validates a rulebook. Decoding is strict (unknown fields,
// duplicate keys, wrong types and extra documents are errors) and every field is
// checked; the error wraps ErrInvalidRulebook and names each bad field by its
// path (e.g. "leverage.rules[3].max"). The returned Rulebook keeps a copy of
// text, which YAML returns.
func Parse(text []byte) (*Rulebook, error) {
	if len(text) == 0 {
		return nil, fmt.Errorf("%w: empty text", ErrInvalidRulebook)
	}
	if len(text) > MaxRulebookBytes {
		return nil, fmt.Errorf("%w: %d bytes, above the limit of %d", ErrInvalidRulebook, len(text), MaxRulebookBytes)
	}
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrInvalidRulebook)
	}
	var f fileYAML
	if err := decodeStrict(text, &f); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidRulebook, err)
	}
	v := &validator{}
	rb := v.build(&f)
	if len(v.problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidRulebook, v.summary())
	}
	rb.text = bytes.Clone(text)
	return rb, nil
}

// decodeStrict decodes exactly one YAML document into out, refusing unknown
// fields. A panic inside the YAML library is turned into an error: set_rulebook
// carries operator-supplied text through the replicated log, and a decoder
// crash on odd input would stop every node on the same entry, whereas an error
// is an ordinary, identical rejection everywhere.
func decodeStrict(text []byte, out *fileYAML) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml decoder failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("no YAML document")
		}
		return errors.New(yamlTypeSuffix.ReplaceAllString(err.Error(), ""))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// validator checks a decoded fileYAML and compiles it into a Rulebook (build),
// collecting every problem, each prefixed with the field's path.
type validator struct {
	problems []string
}

func (v *validator) fail(path, format string, args ...any) {
	v.problems = append(v.problems, path+": "+fmt.Sprintf(format, args...))
}

func (v *validator) summary() string {
	ps := v.problems
	more := ""
	if len(ps) > maxReportedErrors {
		more = fmt.Sprintf("; and %d more", len(ps)-maxReportedErrors)
		ps = ps[:maxReportedErrors]
	}
	return strings.Join(ps, "; ") + more
}

func (v *validator) source(path, s string) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		v.fail(path, "is required: cite the rule or figure's source")
	case len(s) > MaxSourceBytes:
		v.fail(path, "is %d bytes, above the limit of %d", len(s), MaxSourceBytes)
	}
	return s
}

func (v *validator) listLen(path string, n int) bool {
	if n > MaxListItems {
		v.fail(path, "has %d items, above the limit of %d", n, MaxListItems)
		return false
	}
	return true
}

// words checks a list of names drawn from known (or any name when known is
// nil), refusing duplicates.
func (v *validator) words(path string, list []string, known []string) []string {
	if !v.listLen(path, len(list)) {
		return nil
	}
	var out []string
	for i, w := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case known != nil && !slices.Contains(known, w):
			v.fail(p, "%q is not one of %s", w, strings.Join(known, ", "))
		case known == nil && !namePattern.MatchString(w):
			v.fail(p, "%q is not a lower-case name (a-z, 0-9, _)", w)
		case slices.Contains(out, w):
			v.fail(p, "%q is listed twice", w)
		default:
			out = append(out, w)
		}
	}
	return out
}

func (v *validator) status(path, s string) Status {
	st := Status(s)
	if !st.Valid() {
		v.fail(path, "%q is not one of retail, accredited, qualified_purchaser, institutional", s)
		return StatusInstitutional // strictest placeholder; the rulebook is refused anyway
	}
	return st
}

func (v *validator) period(path, s string) period {
	p, err := parsePeriod(s)
	if err != nil {
		v.fail(path, "%v", err)
	}
	return p
}

func (v *validator) capValue(path, s string) capValue {
	if s == "none" {
		return capValue{capped: false}
	}
	if !capPattern.MatchString(s) {
		v.fail(path, "%q is not a decimal cap (e.g. \"2\", \"6.67\") or none", s)
		return capValue{capped: true}
	}
	d := decimal.RequireFromString(s) // Cannot fail: the grammar was checked above.
	if d.GreaterThan(decimal.NewFromInt(MaxLeverageCap)) {
		v.fail(path, "%s is above the limit of %d", s, MaxLeverageCap)
	}
	return capValue{capped: true, max: d}
}

func (v *validator) build(f *fileYAML) *Rulebook {
	rb := &Rulebook{
		underlyings: map[string]underlyingRule{},
	}
	if f.Schema != SchemaVersion {
		v.fail("schema", "is %d; this build reads schema %d", f.Schema, SchemaVersion)
	}
	if !versionPattern.MatchString(f.Version) {
		v.fail("version", "%q must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit", f.Version)
	}
	rb.version = f.Version
	v.classification(rb, f.Classification)
	v.vocabularies(rb, f.Classification)
	v.screen(rb, f.GamblingScreen)
	v.holderLimits(rb, f.HolderLimits)
	v.regimes(rb, f.Regimes)
	v.leverage(rb, f.Leverage)
	rb.buildCaps()
	v.risk(rb, f)
	v.dualControl(rb, f)
	return rb
}

func (v *validator) classification(rb *Rulebook, c *classificationYAML) {
	if c == nil {
		v.fail("classification", "is required")
		return
	}
	if v.listLen("classification.prohibited_topics", len(c.ProhibitedTopics)) {
		for i, t := range c.ProhibitedTopics {
			p := fmt.Sprintf("classification.prohibited_topics[%d]", i)
			n := normalizeTopic(t)
			switch {
			case n == "" || len(t) > MaxTopicBytes:
				v.fail(p, "%q must be a topic of 1-%d bytes", t, MaxTopicBytes)
			case slices.Contains(rb.prohibitedTopics, n):
				v.fail(p, "%q is listed twice", t)
			default:
				rb.prohibitedTopics = append(rb.prohibitedTopics, n)
			}
		}
	}
	if len(c.ProhibitedTopics) > 0 {
		rb.prohibitedSource = v.source("classification.prohibited_source", c.ProhibitedSource)
	}
	if !v.listLen("classification.underlyings", len(c.Underlyings)) {
		return
	}
	for i, u := range c.Underlyings {
		p := fmt.Sprintf("classification.underlyings[%d]", i)
		if !slices.Contains(underlyingNames, u.Underlying) {
			v.fail(p+".underlying", "%q is not one of %s", u.Underlying, strings.Join(underlyingNames, ", "))
			continue
		}
		if _, dup := rb.underlyings[u.Underlying]; dup {
			v.fail(p+".underlying", "%q is listed twice", u.Underlying)
			continue
		}
		ur := underlyingRule{source: strings.TrimSpace(u.Source)}
		if u.Plain == nil {
			v.fail(p+".plain", "is required")
		} else {
			ur.plain = v.classRule(p+".plain", u.Plain)
		}
		if u.Derived != nil {
			d := v.classRule(p+".derived", u.Derived)
			ur.derived = &d
		}
		rb.underlyings[u.Underlying] = ur
	}
	for _, name := range underlyingNames {
		if _, ok := rb.underlyings[name]; !ok {
			v.fail("classification.underlyings", "has no entry for underlying %q", name)
		}
	}
}

func (v *validator) classRule(path string, c *classYAML) classRule {
	if !slices.Contains(holdableClasses, c.Class) {
		v.fail(path+".class", "%q is not one of %s (gaming comes only from prohibited_topics)", c.Class, strings.Join(holdableClasses, ", "))
	}
	if !slices.Contains(regulatorNames, c.Regulator) {
		v.fail(path+".regulator", "%q is not one of %s", c.Regulator, strings.Join(regulatorNames, ", "))
	}
	return classRule{class: c.Class, regulator: c.Regulator}
}

func (v *validator) screen(rb *Rulebook, s *screenYAML) {
	if s == nil {
		v.fail("gambling_screen", "is required")
		return
	}
	const p = "gambling_screen"
	rb.screen.classes = v.words(p+".classes", s.Classes, holdableClasses)
	rb.screen.payoffs = v.words(p+".payoffs", s.Payoffs, payoffNames)
	if len(s.Classes) == 0 && len(s.Payoffs) == 0 {
		v.fail(p, "needs classes or payoffs to apply to")
	}
	rb.screen.indicators = v.words(p+".indicators", s.Indicators, indicatorNames)
	if len(s.Indicators) == 0 {
		v.fail(p+".indicators", "is required")
	}
	if s.ShortTermDays < 1 || s.ShortTermDays > MaxExpiryDays {
		v.fail(p+".short_term_days", "%d is not in 1..%d", s.ShortTermDays, MaxExpiryDays)
	}
	rb.screen.shortTermDays = s.ShortTermDays
	if s.MinIndicators < 1 || s.MinIndicators > len(s.Indicators) {
		v.fail(p+".min_indicators", "%d is not in 1..%d (the number of indicators)", s.MinIndicators, len(s.Indicators))
	}
	rb.screen.minIndicators = s.MinIndicators
	rb.screen.minStatus = v.status(p+".min_status", s.MinStatus)
	rb.screen.source = v.source(p+".source", s.Source)
}

func (v *validator) holderLimits(rb *Rulebook, h *holderLimitsYAML) {
	if h == nil {
		v.fail("holder_limits", "is required")
		return
	}
	if h.MaxHolders < 1 || h.MaxHolders > MaxHolderLimit {
		v.fail("holder_limits.max_holders", "%d is not in 1..%d", h.MaxHolders, MaxHolderLimit)
	}
	if h.MaxNonAccreditedHolders < 0 || h.MaxNonAccreditedHolders > h.MaxHolders {
		v.fail("holder_limits.max_non_accredited_holders", "%d is not in 0..%d (max_holders)", h.MaxNonAccreditedHolders, h.MaxHolders)
	}
	rb.holderLimits = holderLimitRule{
		maxHolders:       h.MaxHolders,
		maxNonAccredited: h.MaxNonAccreditedHolders,
		source:           v.source("holder_limits.source", h.Source),
	}
}

func (v *validator) regimes(rb *Rulebook, rs []regimeYAML) {
	byName := map[string]*regime{}
	// Whatever is valid goes in the table, so later checks of a rulebook
	// that fails here still find its regimes.
	defer func() { rb.regimes = strtab.New(byName) }()
	if len(rs) == 0 {
		v.fail("regimes", "is required: at least one regime")
		return
	}
	if len(rs) > MaxRegimes {
		v.fail("regimes", "has %d regimes, above the limit of %d", len(rs), MaxRegimes)
		return
	}
	for i, r := range rs {
		p := fmt.Sprintf("regimes[%d]", i)
		if !namePattern.MatchString(r.Name) {
			v.fail(p+".name", "%q is not a lower-case name (a-z, 0-9, _)", r.Name)
			continue
		}
		if _, dup := byName[r.Name]; dup {
			v.fail(p+".name", "%q is defined twice", r.Name)
			continue
		}
		p = fmt.Sprintf("regimes[%d] (%s)", i, r.Name)
		g := &regime{
			name:    r.Name,
			source:  v.source(p+".source", r.Source),
			classes: v.words(p+".classes", r.Classes, holdableClasses),
		}
		if r.Receive != nil {
			g.receive = v.receive(p+".receive", r.Receive)
		}
		if r.Lockup != nil {
			g.lockup = v.lockup(p+".lockup", r.Lockup)
		}
		if r.HolderLimits == nil {
			v.fail(p+".holder_limits", "is required (true or false)")
		} else {
			g.holderLimits = *r.HolderLimits
		}
		byName[r.Name] = g
		rb.regimeNames = append(rb.regimeNames, r.Name)
	}
	slices.Sort(rb.regimeNames)
}

func (v *validator) receive(p string, r *receiveYAML) *receiveRule {
	rr := &receiveRule{
		minStatus: v.status(p+".min_status", r.MinStatus),
		source:    v.source(p+".source", r.Source),
	}
	if r.NonAccreditedMaxHolders != nil {
		n := *r.NonAccreditedMaxHolders
		if n < 0 || n > MaxHolderLimit {
			v.fail(p+".non_accredited_max_holders", "%d is not in 0..%d", n, MaxHolderLimit)
		}
		rr.nonAccreditedMax, rr.hasNonAccreditedMax = n, true
	}
	if r.DistributionPeriod != "" {
		rr.distribution, rr.hasDistribution = v.period(p+".distribution_period", r.DistributionPeriod), true
	}
	if v.listLen(p+".blocked_jurisdictions", len(r.BlockedJurisdictions)) {
		for i, j := range r.BlockedJurisdictions {
			jp := fmt.Sprintf("%s.blocked_jurisdictions[%d]", p, i)
			switch {
			case !jurisdictionPattern.MatchString(j):
				v.fail(jp, "%q is not an ISO 3166-1 alpha-2 code in capitals", j)
			case slices.Contains(rr.blocked, j):
				v.fail(jp, "%q is listed twice", j)
			default:
				rr.blocked = append(rr.blocked, j)
			}
		}
	}
	if rr.hasDistribution != (len(r.BlockedJurisdictions) > 0) {
		v.fail(p, "distribution_period and blocked_jurisdictions go together: give both or neither")
	}
	return rr
}

func (v *validator) lockup(p string, l *lockupYAML) *lockupRule {
	lr := &lockupRule{
		period: v.period(p+".period", l.Period),
		source: v.source(p+".source", l.Source),
	}
	if !ruleNamePattern.MatchString(l.Rule) {
		v.fail(p+".rule", "%q is not a rule name such as rule_144.holding_period", l.Rule)
	}
	lr.rule = l.Rule
	if l.ExemptMinStatus != "" {
		lr.exemptMinStatus = v.status(p+".exempt_min_status", l.ExemptMinStatus)
	}
	return lr
}

func (v *validator) leverage(rb *Rulebook, l *leverageYAML) {
	if l == nil {
		v.fail("leverage", "is required")
		return
	}
	rb.defaultCap = v.capValue("leverage.default_max", l.DefaultMax)
	rb.defaultSource = v.source("leverage.default_source", l.DefaultSource)
	if len(l.Rules) > MaxLeverageRules {
		v.fail("leverage.rules", "has %d rules, above the limit of %d", len(l.Rules), MaxLeverageRules)
		return
	}
	seen := map[string]bool{}
	for i, r := range l.Rules {
		p := fmt.Sprintf("leverage.rules[%d]", i)
		if !namePattern.MatchString(r.ID) {
			v.fail(p+".id", "%q is not a lower-case name (a-z, 0-9, _)", r.ID)
		} else if seen[r.ID] {
			v.fail(p+".id", "%q is used twice", r.ID)
		}
		seen[r.ID] = true
		p = fmt.Sprintf("leverage.rules[%d] (%s)", i, r.ID)
		lr := leverageRule{
			id:          r.ID,
			classes:     v.words(p+".classes", r.Classes, holdableClasses),
			underlyings: v.words(p+".underlyings", r.Underlyings, leverageKeys),
			max:         v.capValue(p+".max", r.Max),
			source:      v.source(p+".source", r.Source),
		}
		if len(r.Classes) == 0 {
			v.fail(p+".classes", "is required")
		}
		if len(r.Statuses) == 0 {
			v.fail(p+".statuses", "is required")
		}
		for _, s := range v.words(p+".statuses", r.Statuses, statusNames) {
			lr.statuses = append(lr.statuses, Status(s))
		}
		rb.leverage = append(rb.leverage, lr)
	}
}
