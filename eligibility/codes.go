package eligibility

import (
	"cmp"
	"slices"
)

// Code is a decision code: why an instruction was refused. Codes are public API
// (clients branch on them, the journal stores them): add new ones, never rename
// or reuse one.
//
// # Precedence
//
// When one instruction breaks several rules, every refusal is reported, sorted
// by the precedence below (SortReasons), and the first is the one an API shows
// as the outcome. The order runs from "the instruction cannot be understood"
// through "the state forbids it" to "the eligibility rules forbid it", so the
// reason a client sees first is the one it must fix first:
//
//  1. INVALID_INSTRUCTION, BAD_AMOUNT, RULEBOOK_INVALID: malformed input;
//  2. NOT_AUTHORIZED: the actor may not do this at all;
//  3. UNKNOWN_PARTY, UNKNOWN_INSTRUMENT, ALREADY_EXISTS: references;
//  4. GAMING_PRODUCT: the product is prohibited for everyone;
//  5. INSTRUMENT_PAUSED, ACCOUNT_FROZEN, ACCOUNT_CLOSED: nothing may move;
//  6. NO_LOAN, INSUFFICIENT_BALANCE, SUPPLY_CAP: amounts;
//  7. KYC_EXPIRED, JURISDICTION_BLOCKED, INVESTOR_NOT_ELIGIBLE, LOCKUP_ACTIVE,
//     HOLDER_LIMIT, VOLUME_LIMIT: who may hold and sell;
//  8. PRICE_UNAVAILABLE, LEVERAGE_EXCEEDED: how much risk the account carries;
//  9. NOT_IN_MARGIN_CALL, CLOSE_OUT_EXCEEDS_LOAN, POSITION_LIMIT,
//     INVESTMENT_LIMIT: the risk rules added later, after the older codes so
//     that no existing code changes its place.
//
// Code.Precedence gives each code its place in this order.
type Code string

const (
	// CodeInvalidInstruction: the instruction is malformed or names something the
	// rulebook does not define (an unknown regime, product attributes outside
	// their ranges, a class the regime does not admit). Fix the instruction.
	CodeInvalidInstruction Code = "INVALID_INSTRUCTION"
	// CodeBadAmount: an amount is not a plain positive decimal within bounds, or
	// has more fraction digits than the instrument's decimals.
	CodeBadAmount Code = "BAD_AMOUNT"
	// CodeRulebookInvalid: set_rulebook carried YAML that Parse rejects; the
	// message names the bad field. The rulebook in force is unchanged.
	CodeRulebookInvalid Code = "RULEBOOK_INVALID"
	// CodeNotAuthorized: the actor's role or relationship does not permit the
	// instruction (an investor minting, a custodian moving another custodian's
	// investor).
	CodeNotAuthorized Code = "NOT_AUTHORIZED"
	// CodeUnknownParty: a party the instruction names is not registered.
	CodeUnknownParty Code = "UNKNOWN_PARTY"
	// CodeUnknownInstrument: a symbol the instruction names does not exist.
	CodeUnknownInstrument Code = "UNKNOWN_INSTRUMENT"
	// CodeAlreadyExists: register_party or create_instrument names an id or
	// symbol already in use.
	CodeAlreadyExists Code = "ALREADY_EXISTS"
	// CodeGamingProduct: the product's event topic is one the CEA 5c(c)(5)(C) and
	// Rule 40.11 exclude (terrorism, assassination, war, gaming, unlawful
	// activity); it may not be created or held by anyone.
	CodeGamingProduct Code = "GAMING_PRODUCT"
	// CodeInstrumentPaused: the instrument is paused; nothing moves until it is
	// unpaused.
	CodeInstrumentPaused Code = "INSTRUMENT_PAUSED"
	// CodeAccountFrozen: the party, or the amount it would move, is frozen; not
	// even force_transfer moves it until it is unfrozen.
	CodeAccountFrozen Code = "ACCOUNT_FROZEN"
	// CodeAccountClosed: the party was closed by a recover (its holdings moved
	// to a new account); it neither sends nor receives again.
	CodeAccountClosed Code = "ACCOUNT_CLOSED"
	// CodeNoLoan: repay names a party, lender or cash instrument with no loan
	// outstanding.
	CodeNoLoan Code = "NO_LOAN"
	// CodeInsufficientBalance: the change would take a balance (net of frozen
	// amounts) below zero.
	CodeInsufficientBalance Code = "INSUFFICIENT_BALANCE"
	// CodeSupplyCap: a mint would take the supply above the instrument's
	// max_supply.
	CodeSupplyCap Code = "SUPPLY_CAP"
	// CodeKYCExpired: an investor's KYC is missing or expired, so it may neither
	// receive nor send (except sending back to the issuer). Its custodian must
	// renew it.
	CodeKYCExpired Code = "KYC_EXPIRED"
	// CodeJurisdictionBlocked: the regime excludes the receiver's jurisdiction
	// (Reg S: no US person during the distribution compliance period).
	CodeJurisdictionBlocked Code = "JURISDICTION_BLOCKED"
	// CodeInvestorNotEligible: the receiver's status is below what the regime or
	// the gambling screen requires; the rule names which.
	CodeInvestorNotEligible Code = "INVESTOR_NOT_ELIGIBLE"
	// CodeLockupActive: the lot's holding period has not ended; the rule names
	// the regime's lock-up and the message the date the lot frees.
	CodeLockupActive Code = "LOCKUP_ACTIVE"
	// CodeHolderLimit: the change would add a holder beyond a holder-count limit
	// (Exchange Act 12(g), or Reg D 506(b)'s 35 non-accredited purchasers).
	CodeHolderLimit Code = "HOLDER_LIMIT"
	// CodeVolumeLimit: an affiliate of the issuer would sell more than Rule
	// 144(e)'s volume allowance (1% of the outstanding units in 90 days).
	CodeVolumeLimit Code = "VOLUME_LIMIT"
	// CodePriceUnavailable: the account has a loan or a leveraged product and a
	// holding with no price, so its leverage cannot be measured; the oracle must
	// mark the listed symbols first.
	CodePriceUnavailable Code = "PRICE_UNAVAILABLE"
	// CodeLeverageExceeded: a product's embedded leverage exceeds the receiver's
	// cap (rule product_leverage), or the account's equity would be below its
	// margin requirement after a change that added risk (rule account_leverage).
	CodeLeverageExceeded Code = "LEVERAGE_EXCEEDED"
	// CodeNotInMarginCall: a close_out of an account whose equity is at or
	// above its maintenance requirement; a lender may close out only while
	// the account is in a margin call.
	CodeNotInMarginCall Code = "NOT_IN_MARGIN_CALL"
	// CodeCloseOutExceedsLoan: a close_out whose units are worth more than
	// the loan it repays; close out fewer units.
	CodeCloseOutExceedsLoan Code = "CLOSE_OUT_EXCEEDS_LOAN"
	// CodePositionLimit: the change would leave the party's position above a
	// position limit of the rulebook; the rule names the limit.
	CodePositionLimit Code = "POSITION_LIMIT"
	// CodeInvestmentLimit: a non-accredited investor's investment would pass
	// its limit under the regime; the message gives the remaining allowance.
	CodeInvestmentLimit Code = "INVESTMENT_LIMIT"
	// CodeCorporateActionRunning: a split of the instrument is running, so
	// its holdings do not change until it completes; or a distribution's
	// record point falls inside that split. Retry once it is done.
	CodeCorporateActionRunning Code = "CORPORATE_ACTION_RUNNING"
)

// codeInfo is a code's place in the precedence and its ERC-1066 status byte.
type codeInfo struct {
	code    Code
	erc1066 string
}

// codeTable is the single source of the precedence order and the ERC-1066
// mapping. ERC-1066 (eips.ethereum.org/EIPS/eip-1066) gives a byte per
// condition; several of our codes share one, because it is coarser.
var codeTable = [...]codeInfo{
	{CodeInvalidInstruction, "0x00"},     // Failure
	{CodeBadAmount, "0x20"},              // Not Found, Unequal, or Out of Range
	{CodeRulebookInvalid, "0x00"},        // Failure
	{CodeNotAuthorized, "0x10"},          // Disallowed or Stop
	{CodeUnknownParty, "0x20"},           // Not Found
	{CodeUnknownInstrument, "0x20"},      // Not Found
	{CodeAlreadyExists, "0x28"},          // Duplicate, Conflict, or Collision
	{CodeGamingProduct, "0x16"},          // Revoked or Banned
	{CodeInstrumentPaused, "0x42"},       // Paused
	{CodeAccountFrozen, "0x16"},          // Revoked or Banned
	{CodeAccountClosed, "0x16"},          // Revoked or Banned
	{CodeNoLoan, "0x58"},                 // Funds Not Required
	{CodeInsufficientBalance, "0x54"},    // Insufficient Funds
	{CodeSupplyCap, "0x06"},              // Upper Limit
	{CodeKYCExpired, "0x46"},             // Expired
	{CodeJurisdictionBlocked, "0x10"},    // Disallowed or Stop
	{CodeInvestorNotEligible, "0x10"},    // Disallowed or Stop
	{CodeLockupActive, "0x44"},           // Not Available Yet
	{CodeHolderLimit, "0x06"},            // Upper Limit
	{CodeVolumeLimit, "0x06"},            // Upper Limit
	{CodePriceUnavailable, "0x40"},       // Unavailable
	{CodeLeverageExceeded, "0x06"},       // Upper Limit
	{CodeNotInMarginCall, "0x10"},        // Disallowed or Stop
	{CodeCloseOutExceedsLoan, "0x06"},    // Upper Limit
	{CodePositionLimit, "0x06"},          // Upper Limit
	{CodeInvestmentLimit, "0x06"},        // Upper Limit
	{CodeCorporateActionRunning, "0x44"}, // Not Available Yet
}

// erc1066Failure is ERC-1066's generic failure byte, for codes we do not know.
const erc1066Failure = "0x00"

// Precedence is c's place in the precedence order (0 is reported first). An
// unknown code sorts after every known one.
func (c Code) Precedence() int {
	i := slices.IndexFunc(codeTable[:], func(ci codeInfo) bool { return ci.code == c })
	if i < 0 {
		return len(codeTable)
	}
	return i
}

// ERC1066 returns the ERC-1066 status byte for c as "0x" and two hex digits
// ("0x54" insufficient funds, "0x42" paused, "0x10" disallowed). An unknown code
// maps to "0x00", generic failure.
func ERC1066(c Code) string {
	if i := c.Precedence(); i < len(codeTable) {
		return codeTable[i].erc1066
	}
	return erc1066Failure
}

// NewReason builds a refusal, filling the ERC-1066 byte from the code.
func NewReason(c Code, rule, message string) Reason {
	return Reason{Code: c, Rule: rule, Message: message, ERC1066: ERC1066(c)}
}

// SortReasons orders reasons by their code's precedence, keeping the given
// order among reasons with the same code. Every Check function returns its
// reasons sorted this way.
func SortReasons(rs []Reason) {
	slices.SortStableFunc(rs, func(a, b Reason) int {
		return cmp.Compare(a.Code.Precedence(), b.Code.Precedence())
	})
}

// String returns the code itself.
func (c Code) String() string { return string(c) }
