package eligibility

// SchemaVersion is the only value of the rulebook's `schema` field Parse
// accepts. A change that old rulebooks cannot be read under gets a new one.
const SchemaVersion = 1

// fileYAML is a rulebook as decoded, before validation. It and the types below
// mirror the YAML schema that SCHEMA.md documents, one field per key, and the
// validator (rulebook_parse.go) compiles them into a Rulebook. Numbers that
// must keep their exact decimal spelling (caps) and periods are read as
// strings and validated there, so an error can name the field.
type fileYAML struct {
	Schema         int                 `yaml:"schema"`
	Version        string              `yaml:"version"`
	Classification *classificationYAML `yaml:"classification"`
	GamblingScreen *screenYAML         `yaml:"gambling_screen"`
	HolderLimits   *holderLimitsYAML   `yaml:"holder_limits"`
	Regimes        []regimeYAML        `yaml:"regimes"`
	Leverage       *leverageYAML       `yaml:"leverage"`
	// The risk sections (margin_yaml.go).
	BaseCurrency              string                `yaml:"base_currency"`
	Maintenance               *maintenanceYAML      `yaml:"maintenance"`
	NegativeBalanceProtection *negativeBalanceYAML  `yaml:"negative_balance_protection"`
	PositionLimits            []positionLimitYAML   `yaml:"position_limits"`
	InvestmentLimits          []investmentLimitYAML `yaml:"investment_limits"`
	DualControl               []string              `yaml:"dual_control"`
	DualControlTTL            string                `yaml:"dual_control_ttl"`
}

// classificationYAML is the classification section.
type classificationYAML struct {
	ProhibitedTopics []string         `yaml:"prohibited_topics"`
	ProhibitedSource string           `yaml:"prohibited_source"`
	Underlyings      []underlyingYAML `yaml:"underlyings"`
	// The vocabularies (topics.go).
	ProhibitedVocabulary          []prohibitedVocabularyYAML  `yaml:"prohibited_vocabulary"`
	OutcomeControllableVocabulary *controllableVocabularyYAML `yaml:"outcome_controllable_vocabulary"`
}

// underlyingYAML is one classification.underlyings entry.
type underlyingYAML struct {
	Underlying string     `yaml:"underlying"`
	Plain      *classYAML `yaml:"plain"`
	Derived    *classYAML `yaml:"derived"`
	Source     string     `yaml:"source"`
}

// classYAML is an underlying's plain or derived class.
type classYAML struct {
	Class     string `yaml:"class"`
	Regulator string `yaml:"regulator"`
}

// screenYAML is the gambling_screen section.
type screenYAML struct {
	Classes       []string `yaml:"classes"`
	Payoffs       []string `yaml:"payoffs"`
	Indicators    []string `yaml:"indicators"`
	ShortTermDays int      `yaml:"short_term_days"`
	MinIndicators int      `yaml:"min_indicators"`
	MinStatus     string   `yaml:"min_status"`
	Source        string   `yaml:"source"`
}

// holderLimitsYAML is the holder_limits section.
type holderLimitsYAML struct {
	MaxHolders              int    `yaml:"max_holders"`
	MaxNonAccreditedHolders int    `yaml:"max_non_accredited_holders"`
	Source                  string `yaml:"source"`
}

// regimeYAML is one regimes entry. HolderLimits is a pointer so that a missing
// key can be told from false: the schema requires it.
type regimeYAML struct {
	Name         string       `yaml:"name"`
	Source       string       `yaml:"source"`
	Classes      []string     `yaml:"classes"`
	Receive      *receiveYAML `yaml:"receive"`
	Lockup       *lockupYAML  `yaml:"lockup"`
	HolderLimits *bool        `yaml:"holder_limits"`
}

// receiveYAML is a regime's receive rule.
type receiveYAML struct {
	MinStatus               string   `yaml:"min_status"`
	NonAccreditedMaxHolders *int     `yaml:"non_accredited_max_holders"`
	DistributionPeriod      string   `yaml:"distribution_period"`
	BlockedJurisdictions    []string `yaml:"blocked_jurisdictions"`
	Source                  string   `yaml:"source"`
}

// lockupYAML is a regime's holding period.
type lockupYAML struct {
	Period          string `yaml:"period"`
	Rule            string `yaml:"rule"`
	ExemptMinStatus string `yaml:"exempt_min_status"`
	Source          string `yaml:"source"`
}

// leverageYAML is the leverage section.
type leverageYAML struct {
	DefaultMax    string             `yaml:"default_max"`
	DefaultSource string             `yaml:"default_source"`
	Rules         []leverageRuleYAML `yaml:"rules"`
}

// leverageRuleYAML is one leverage.rules entry.
type leverageRuleYAML struct {
	ID          string   `yaml:"id"`
	Classes     []string `yaml:"classes"`
	Underlyings []string `yaml:"underlyings"`
	Statuses    []string `yaml:"statuses"`
	Max         string   `yaml:"max"`
	Source      string   `yaml:"source"`
}
