package eligibility

// The YAML of the risk sections (SCHEMA.md: base_currency, maintenance,
// negative_balance_protection, position_limits), kept apart from
// rulebook_yaml.go so each line of work adds its own file.

// maintenanceYAML is the maintenance section: the fraction of the initial
// requirement an account must keep, by class.
type maintenanceYAML struct {
	Rules []maintenanceRuleYAML `yaml:"rules"`
}

// maintenanceRuleYAML is one maintenance.rules entry.
type maintenanceRuleYAML struct {
	Classes  []string `yaml:"classes"`
	Fraction string   `yaml:"fraction"`
	Source   string   `yaml:"source"`
}

// negativeBalanceYAML is the negative_balance_protection section.
type negativeBalanceYAML struct {
	Statuses []string `yaml:"statuses"`
	Source   string   `yaml:"source"`
}

// positionLimitYAML is one position_limits entry; exactly one of the three
// limits is set.
type positionLimitYAML struct {
	ID               string   `yaml:"id"`
	Classes          []string `yaml:"classes"`
	Statuses         []string `yaml:"statuses"`
	MaxShareOfSupply string   `yaml:"max_share_of_supply"`
	MaxUnits         string   `yaml:"max_units"`
	MaxValue         string   `yaml:"max_value"`
	Source           string   `yaml:"source"`
}
