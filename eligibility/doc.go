// Package eligibility owns the rulebook: product classification, offering-regime
// receive rules, holding periods, holder limits, leverage caps, the gambling
// screen and the decision codes every refusal carries.
//
// # What it owns
//
// A Rulebook is data: YAML whose schema SCHEMA.md documents, strictly decoded by
// Parse and validated field by field. The embedded default (default.yaml, built
// from the figures and sources in RULES.md) is returned by Default. Lint reports
// where two rules answer the same case differently (conflicts) and where no rule
// answers a case (gaps), and how each resolves: the strictest answer wins.
//
// The checks are small, separate functions that the transfer and ledger packages
// call on the state after a change: CheckCreate, CheckReceive, CheckKYC,
// CheckSenderKYC, CheckLockedSend, CheckAccount and CheckAffiliateSale (Rule
// 144(e)'s volume for affiliates). The rulebook also says which instruction
// types wait for a second operator's approval (DualControl) and for how long
// (PendingExpiry), and which regimes count non-accredited purchasers
// (CountsPurchasers). Each check returns every refusal it
// finds as a Reason (code, rule, message, ERC-1066 status byte), sorted by the
// precedence stated in codes.go, so the first Reason is the one to report.
//
// # What it must not import
//
// Nothing of ours, and no bbolt, raft or echo: the package sits at the bottom of
// the import graph (cmd/node → api → consensus → ledger → transfer → eligibility).
//
// # Determinism and concurrency
//
// Every function is a pure function of its arguments: no clock (callers pass
// now, which the ledger takes from the Raft entry), no randomness, no map order
// reaching an output, no floating point (amounts and ratios are shopspring
// decimals, never divided with Div), and no I/O once a Rulebook is parsed; the
// only read is the embedded default, parsed once. A *Rulebook is immutable after
// Parse and safe for concurrent use by any number of goroutines; accessors that
// return slices return copies.
//
// # Parties that are not investors
//
// Operators, issuers, custodians, oracles and auditors have no KYC and no
// attested status: for status rules they count as institutional, and an empty
// jurisdiction means "not a US person". A party whose role is not a known role
// is treated as an investor (KYC required), and an investor whose status is not
// a known status as retail: the strictest reading.
package eligibility
