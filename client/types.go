package client

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// Instruction types of API.md.
const (
	TypeRegisterParty    = "register_party"
	TypeUpdateParty      = "update_party"
	TypeCreateInstrument = "create_instrument"
	TypeMint             = "mint"
	TypeBurn             = "burn"
	TypeTransfer         = "transfer"
	TypeForceTransfer    = "force_transfer"
	TypeFreeze           = "freeze"
	TypeUnfreeze         = "unfreeze"
	TypePause            = "pause"
	TypeUnpause          = "unpause"
	TypeRecover          = "recover"
	TypeSetPrice         = "set_price"
	TypeBorrow           = "borrow"
	TypeRepay            = "repay"
	TypeDistribute       = "distribute"
	TypeSplit            = "split"
	TypeSetRulebook      = "set_rulebook"
)

// Outcome statuses.
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
	StatusPending  = "pending"
	StatusError    = "error"
)

// Instruction is one instruction of POST /v1/instructions. ID and Type are
// always required; the other fields are those API.md lists for the type.
// Optional amounts are pointers so an absent one is not sent as "0".
type Instruction struct {
	ID   string `json:"id"`
	Type string `json:"type"`

	Party      *PartySpec      `json:"party,omitempty"`
	Instrument *InstrumentSpec `json:"instrument,omitempty"`

	PartyID      string     `json:"party_id,omitempty"`
	Status       string     `json:"status,omitempty"`
	Jurisdiction string     `json:"jurisdiction,omitempty"`
	KYCExpiresAt *time.Time `json:"kyc_expires_at,omitempty"`

	Symbol     string           `json:"symbol,omitempty"`
	From       string           `json:"from,omitempty"`
	To         string           `json:"to,omitempty"`
	Amount     *decimal.Decimal `json:"amount,omitempty"`
	AcquiredAt *time.Time       `json:"acquired_at,omitempty"`
	// Import marks a mint that brings an existing register in (operator
	// only, with AcquiredAt): receive rules and holder limits do not apply.
	Import bool `json:"import,omitempty"`

	Legs           []Leg  `json:"legs,omitempty"`
	LegalReference string `json:"legal_reference,omitempty"`

	Price         *decimal.Decimal `json:"price,omitempty"`
	CashSymbol    string           `json:"cash_symbol,omitempty"`
	Lender        string           `json:"lender,omitempty"`
	AmountPerUnit *decimal.Decimal `json:"amount_per_unit,omitempty"`
	Ratio         *decimal.Decimal `json:"ratio,omitempty"`
	Rulebook      string           `json:"rulebook,omitempty"`
	EffectiveAt   *time.Time       `json:"effective_at,omitempty"`
}

// Leg is one movement of a transfer.
type Leg struct {
	Symbol string          `json:"symbol"`
	From   string          `json:"from"`
	To     string          `json:"to"`
	Amount decimal.Decimal `json:"amount"`
}

// PartySpec is the party of a register_party.
type PartySpec struct {
	ID           string     `json:"id"`
	Role         string     `json:"role"`
	Status       string     `json:"status,omitempty"`
	Jurisdiction string     `json:"jurisdiction,omitempty"`
	KYCExpiresAt *time.Time `json:"kyc_expires_at,omitempty"`
	Custodian    string     `json:"custodian,omitempty"`
}

// InstrumentSpec is the instrument of a create_instrument.
type InstrumentSpec struct {
	Symbol       string           `json:"symbol"`
	Name         string           `json:"name"`
	Issuer       string           `json:"issuer"`
	Decimals     int32            `json:"decimals"`
	MaxSupply    *decimal.Decimal `json:"max_supply,omitempty"`
	Regime       string           `json:"regime"`
	OfferingDate *time.Time       `json:"offering_date,omitempty"`
	Attributes   Attributes       `json:"attributes"`
}

// Attributes are a product's classification attributes (RULES.md).
type Attributes struct {
	Underlying             string           `json:"underlying"`
	Payoff                 string           `json:"payoff"`
	EmbeddedLeverage       *decimal.Decimal `json:"embedded_leverage,omitempty"`
	ExpiryDays             int              `json:"expiry_days"`
	EconomicPurpose        string           `json:"economic_purpose"`
	EventTopic             string           `json:"event_topic,omitempty"`
	CounterpartyIsPlatform bool             `json:"counterparty_is_platform,omitempty"`
	OutcomeControllable    bool             `json:"outcome_controllable,omitempty"`
	FXMajor                bool             `json:"fx_major,omitempty"`
}

// Reason is one rule that refused an instruction.
type Reason struct {
	Code    Code   `json:"code"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	ERC1066 string `json:"erc1066"`
}

// ErrorDetail is the error object of an error answer or of a batch result.
type ErrorDetail struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Outcome is an instruction's outcome. Index and Seq are zero for a dry run
// (Check); Error is set on a batch result that was not decided.
type Outcome struct {
	ID      string       `json:"id"`
	Status  string       `json:"status"`
	Index   uint64       `json:"index,omitempty"`
	Seq     uint64       `json:"seq,omitempty"`
	Reason  *Reason      `json:"reason,omitempty"`
	Reasons []Reason     `json:"reasons,omitempty"`
	Error   *ErrorDetail `json:"error,omitempty"`
}

// allReasons is Reason followed by Reasons, each once.
func (o Outcome) allReasons() []Reason {
	out := append([]Reason(nil), o.Reasons...)
	if o.Reason != nil && len(out) == 0 {
		out = append(out, *o.Reason)
	}
	return out
}

// Err is the outcome as an error: nil when accepted or pending, a
// *RejectedError when rejected, an *APIError for a batch result that was
// not decided.
func (o Outcome) Err() error {
	switch o.Status {
	case StatusRejected:
		return &RejectedError{Outcome: o}
	case StatusError:
		d := ErrorDetail{Code: ErrInternal}
		if o.Error != nil {
			d = *o.Error
		}
		return &APIError{Status: statusOfCode(d.Code), Code: d.Code, Message: d.Message}
	}
	return nil
}

// Party is GET /v1/parties/{id}.
type Party struct {
	ID           string     `json:"id"`
	Role         string     `json:"role"`
	Status       string     `json:"status,omitempty"`
	Jurisdiction string     `json:"jurisdiction,omitempty"`
	KYCExpiresAt *time.Time `json:"kyc_expires_at,omitempty"`
	Custodian    string     `json:"custodian,omitempty"`
	Frozen       bool       `json:"frozen"`
	CreatedAt    time.Time  `json:"created_at"`
}

// Holdings is GET /v1/parties/{id}/holdings.
type Holdings struct {
	Party       string          `json:"party"`
	Holdings    []Holding       `json:"holdings"`
	Loan        decimal.Decimal `json:"loan"`
	Equity      decimal.Decimal `json:"equity"`
	Requirement decimal.Decimal `json:"requirement"`
	Leverage    decimal.Decimal `json:"leverage"`
}

// Holding is one line of Holdings.
type Holding struct {
	Symbol  string          `json:"symbol"`
	Balance decimal.Decimal `json:"balance"`
	Frozen  decimal.Decimal `json:"frozen"`
	Locked  decimal.Decimal `json:"locked"`
}

// Instrument is GET /v1/instruments/{symbol}.
type Instrument struct {
	Symbol                string           `json:"symbol"`
	Name                  string           `json:"name"`
	Issuer                string           `json:"issuer"`
	Decimals              int32            `json:"decimals"`
	MaxSupply             *decimal.Decimal `json:"max_supply,omitempty"`
	Regime                string           `json:"regime"`
	OfferingDate          time.Time        `json:"offering_date"`
	Attributes            json.RawMessage  `json:"attributes"`
	Class                 string           `json:"class"`
	Regulator             string           `json:"regulator"`
	Category              string           `json:"category"`
	ClassificationReasons []string         `json:"classification_reasons"`
	Paused                bool             `json:"paused"`
	Supply                decimal.Decimal  `json:"supply"`
	HolderCount           int              `json:"holder_count"`
	CreatedAt             time.Time        `json:"created_at"`
}

// Holder is one line of a cap table.
type Holder struct {
	Party   string          `json:"party"`
	Balance decimal.Decimal `json:"balance"`
}

// capTablePage is one page of GET /v1/instruments/{symbol}/holders.
type capTablePage struct {
	Symbol  string          `json:"symbol"`
	Seq     uint64          `json:"seq"`
	Supply  decimal.Decimal `json:"supply"`
	Holders []Holder        `json:"holders"`
	Next    string          `json:"next,omitempty"`
}

// Price is GET /v1/prices/{symbol}.
type Price struct {
	Symbol string          `json:"symbol"`
	Price  decimal.Decimal `json:"price"`
	Time   time.Time       `json:"time"`
}

// JournalEntry is one entry of the journal.
type JournalEntry struct {
	Seq         uint64          `json:"seq"`
	Index       uint64          `json:"index"`
	Time        time.Time       `json:"time"`
	Actor       string          `json:"actor"`
	Instruction json.RawMessage `json:"instruction"`
	Status      string          `json:"status"`
	Reason      *Reason         `json:"reason,omitempty"`
	Reasons     []Reason        `json:"reasons,omitempty"`
	Parties     []string        `json:"parties,omitempty"`
	Symbols     []string        `json:"symbols,omitempty"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
	HashVersion int             `json:"hash_version,omitempty"`
}

// journalPage is one page of GET /v1/journal.
type journalPage struct {
	Entries []JournalEntry `json:"entries"`
	Next    uint64         `json:"next,omitempty"`
}

// JournalFilter narrows a journal read; zero fields do not filter.
type JournalFilter struct {
	// After is the seq to read after (0: from the start).
	After  uint64
	Party  string
	Symbol string
}

// Verification is GET /v1/journal/verify.
type Verification struct {
	OK       bool   `json:"ok"`
	Length   uint64 `json:"length"`
	Head     string `json:"head"`
	FirstBad uint64 `json:"first_bad,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Classification is POST /v1/classify.
type Classification struct {
	Class     string          `json:"class"`
	Regulator string          `json:"regulator"`
	Category  string          `json:"category"`
	Allowed   bool            `json:"allowed"`
	Reasons   json.RawMessage `json:"reasons"`
}

// Rulebook is GET /v1/rulebook.
type Rulebook struct {
	Version   string          `json:"version"`
	YAML      string          `json:"yaml"`
	Scheduled json.RawMessage `json:"scheduled,omitempty"`
}

// Lint is POST /v1/rulebook/lint: the rulebook's findings and what it would
// put out of compliance.
type Lint struct {
	Findings []json.RawMessage `json:"findings"`
	Impact   []json.RawMessage `json:"impact"`
}

// Key is a key as POST /v1/keys answers it (Key holds the secret) or as
// GET /v1/keys lists it (no secret).
type Key struct {
	PartyID   string     `json:"party_id"`
	KeyID     string     `json:"key_id,omitempty"`
	Key       string     `json:"key,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// ClusterStatus is GET /v1/cluster.
type ClusterStatus struct {
	ID           string       `json:"id,omitempty"`
	State        string       `json:"state,omitempty"`
	Leader       string       `json:"leader"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	Nodes        []NodeStatus `json:"nodes"`
}

// NodeStatus is one member of the cluster.
type NodeStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
	State    string `json:"state"`
	Voter    bool   `json:"voter"`
}

// Node is the body of POST /v1/cluster/nodes.
type Node struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
}

// Checkpoint is GET /v1/journal/checkpoint.
type Checkpoint struct {
	Size uint64 `json:"size"`
	Root string `json:"root"`
	Note string `json:"note"`
}

// Proof is GET /v1/journal/proof/{seq}.
type Proof struct {
	Seq   uint64   `json:"seq"`
	Size  uint64   `json:"size"`
	Proof []string `json:"proof"`
}

// Consistency is GET /v1/journal/consistency.
type Consistency struct {
	From  uint64   `json:"from"`
	To    uint64   `json:"to"`
	Proof []string `json:"proof"`
}
