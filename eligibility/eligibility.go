package eligibility

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Role is a party's role.
type Role string

const (
	RoleOperator  Role = "operator"
	RoleIssuer    Role = "issuer"
	RoleCustodian Role = "custodian"
	RoleInvestor  Role = "investor"
	RoleAuditor   Role = "auditor"
	RoleOracle    Role = "oracle"
)

// Status is an investor's attested status, ordered retail < accredited <
// qualified_purchaser < institutional.
type Status string

const (
	StatusRetail             Status = "retail"
	StatusAccredited         Status = "accredited"
	StatusQualifiedPurchaser Status = "qualified_purchaser"
	StatusInstitutional      Status = "institutional"
)

// Attributes describe a product; classification derives class and regulator from them.
type Attributes struct {
	Underlying             string          `json:"underlying" yaml:"underlying"`
	Payoff                 string          `json:"payoff" yaml:"payoff"`
	EmbeddedLeverage       decimal.Decimal `json:"embedded_leverage" yaml:"embedded_leverage"`
	ExpiryDays             int             `json:"expiry_days" yaml:"expiry_days"`
	EconomicPurpose        string          `json:"economic_purpose" yaml:"economic_purpose"`
	EventTopic             string          `json:"event_topic,omitempty" yaml:"event_topic,omitempty"`
	CounterpartyIsPlatform bool            `json:"counterparty_is_platform,omitempty" yaml:"counterparty_is_platform,omitempty"`
	OutcomeControllable    bool            `json:"outcome_controllable,omitempty" yaml:"outcome_controllable,omitempty"`
	// FXMajor marks an fx underlying as a major pair (higher cap); an extension.
	FXMajor bool `json:"fx_major,omitempty" yaml:"fx_major,omitempty"`
	// Perpetual marks a funded contract with no expiry that tracks its
	// underlying (a perpetual future): a derivative, never plain.
	Perpetual bool `json:"perpetual,omitempty" yaml:"perpetual,omitempty"`
}

// Classification is what the rulebook derives from Attributes (Rulebook.Classify).
// Class, Regulator and Category are empty when the attributes are invalid, and
// Reasons then say why; Reasons is never nil.
type Classification struct {
	Class     string   `json:"class"`     // cash, security, security_future, digital_commodity, commodity, derivative, event_contract, gaming
	Regulator string   `json:"regulator"` // SEC, CFTC, joint, none
	Category  string   `json:"category"`  // investment, gambling_like, prohibited
	Allowed   bool     `json:"allowed"`   // false for prohibited products
	Reasons   []string `json:"reasons"`
}

// Reason is one rule's refusal: the code (codes.go), the rule that decided, a
// message a person can act on, and the code's ERC-1066 status byte. Build one
// with NewReason so ERC1066 is filled.
type Reason struct {
	Code    Code   `json:"code"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	ERC1066 string `json:"erc1066"`
}

// Party is the eligibility view of a party. Only investors have a Status and
// KYC; every other role counts as institutional (EffectiveStatus) and needs no
// KYC.
type Party struct {
	ID           string
	Role         Role
	Status       Status    // investors only
	Jurisdiction string    // ISO 3166-1 alpha-2; "US" makes a US person. Non-investors may leave it empty.
	KYCExpiresAt time.Time // investors only; zero means none recorded. KYC is current until this instant.
	// AnnualIncome and NetWorth, in the base currency, size an investor's
	// investment limits; zero means unknown, which counts as 0.
	AnnualIncome decimal.Decimal
	NetWorth     decimal.Decimal
}

// Product is the eligibility view of an instrument. The checks classify
// Attributes under the rulebook in force; Classification (what Classify gave at
// creation) is read only when Attributes.Underlying is empty.
type Product struct {
	Symbol         string
	Issuer         string
	Regime         string
	OfferingDate   time.Time
	Attributes     Attributes
	Classification Classification
	// Listed marks an instrument listed on a national exchange, which some
	// investment limits exempt.
	Listed bool
}

// Valid reports whether r is one of the six roles.
func (r Role) Valid() bool {
	switch r {
	case RoleOperator, RoleIssuer, RoleCustodian, RoleInvestor, RoleAuditor, RoleOracle:
		return true
	}
	return false
}

// Valid reports whether s is one of the four investor statuses.
func (s Status) Valid() bool {
	return s.Rank() >= 0
}

// Rank orders the statuses: retail 0, accredited 1, qualified_purchaser 2,
// institutional 3. It is -1 for anything else, so an unknown status is below
// every rule's minimum.
func (s Status) Rank() int {
	switch s {
	case StatusRetail:
		return 0
	case StatusAccredited:
		return 1
	case StatusQualifiedPurchaser:
		return 2
	case StatusInstitutional:
		return 3
	}
	return -1
}

// AtLeast reports whether s ranks at or above min. An unknown s never does.
func (s Status) AtLeast(min Status) bool {
	return s.Valid() && s.Rank() >= min.Rank()
}

// Statuses returns the four statuses in rank order.
func Statuses() []Status {
	return []Status{StatusRetail, StatusAccredited, StatusQualifiedPurchaser, StatusInstitutional}
}

// plural names the holders of a status in a message ("accredited investors").
func (s Status) plural() string {
	switch s {
	case StatusRetail:
		return "retail investors"
	case StatusAccredited:
		return "accredited investors"
	case StatusQualifiedPurchaser:
		return "qualified purchasers"
	case StatusInstitutional:
		return "institutional investors"
	}
	return fmt.Sprintf("%q investors", string(s))
}

// orBetter names everyone at or above s in a message.
func (s Status) orBetter() string {
	if s == StatusInstitutional {
		return s.plural()
	}
	return s.plural() + " or better"
}

// IsInvestor reports whether the party is subject to KYC and to its attested
// status. A party with an unknown role counts as an investor: the strictest
// reading.
func (p Party) IsInvestor() bool {
	return p.Role == RoleInvestor || !p.Role.Valid()
}

// EffectiveStatus is the status the status rules apply to p: the attested status
// of an investor (retail when it is missing or unknown, the strictest reading),
// and institutional for every other role, which has no attested status.
func (p Party) EffectiveStatus() Status {
	if !p.IsInvestor() {
		return StatusInstitutional
	}
	if !p.Status.Valid() {
		return StatusRetail
	}
	return p.Status
}

// describe names the party and its status for a message ("inv-7 is retail").
func (p Party) describe() string {
	if !p.IsInvestor() {
		return fmt.Sprintf("%s is a %s (counted as institutional)", p.ID, p.Role)
	}
	if !p.Status.Valid() {
		return fmt.Sprintf("%s has no recognised status (counted as retail)", p.ID)
	}
	return fmt.Sprintf("%s is %s", p.ID, p.Status)
}
