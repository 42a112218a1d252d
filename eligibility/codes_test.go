package eligibility_test

import (
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/eligibility"
)

// Ensure that every code has its wire value, its ERC-1066 byte and a place in
// the precedence.
func TestCodes(t *testing.T) {
	tests := []struct {
		code    eligibility.Code
		wire    string
		erc1066 string
	}{
		{eligibility.CodeInvalidInstruction, "INVALID_INSTRUCTION", "0x00"},
		{eligibility.CodeBadAmount, "BAD_AMOUNT", "0x20"},
		{eligibility.CodeRulebookInvalid, "RULEBOOK_INVALID", "0x00"},
		{eligibility.CodeNotAuthorized, "NOT_AUTHORIZED", "0x10"},
		{eligibility.CodeUnknownParty, "UNKNOWN_PARTY", "0x20"},
		{eligibility.CodeUnknownInstrument, "UNKNOWN_INSTRUMENT", "0x20"},
		{eligibility.CodeAlreadyExists, "ALREADY_EXISTS", "0x28"},
		{eligibility.CodeGamingProduct, "GAMING_PRODUCT", "0x16"},
		{eligibility.CodeInstrumentPaused, "INSTRUMENT_PAUSED", "0x42"},
		{eligibility.CodeAccountFrozen, "ACCOUNT_FROZEN", "0x16"},
		{eligibility.CodeAccountClosed, "ACCOUNT_CLOSED", "0x16"},
		{eligibility.CodeNoLoan, "NO_LOAN", "0x58"},
		{eligibility.CodeInsufficientBalance, "INSUFFICIENT_BALANCE", "0x54"},
		{eligibility.CodeSupplyCap, "SUPPLY_CAP", "0x06"},
		{eligibility.CodeKYCExpired, "KYC_EXPIRED", "0x46"},
		{eligibility.CodeJurisdictionBlocked, "JURISDICTION_BLOCKED", "0x10"},
		{eligibility.CodeInvestorNotEligible, "INVESTOR_NOT_ELIGIBLE", "0x10"},
		{eligibility.CodeLockupActive, "LOCKUP_ACTIVE", "0x44"},
		{eligibility.CodeHolderLimit, "HOLDER_LIMIT", "0x06"},
		{eligibility.CodeVolumeLimit, "VOLUME_LIMIT", "0x06"},
		{eligibility.CodePriceUnavailable, "PRICE_UNAVAILABLE", "0x40"},
		{eligibility.CodeLeverageExceeded, "LEVERAGE_EXCEEDED", "0x06"},
		{eligibility.CodeNotInMarginCall, "NOT_IN_MARGIN_CALL", "0x10"},
		{eligibility.CodeCloseOutExceedsLoan, "CLOSE_OUT_EXCEEDS_LOAN", "0x06"},
		{eligibility.CodePositionLimit, "POSITION_LIMIT", "0x06"},
		{eligibility.CodeInvestmentLimit, "INVESTMENT_LIMIT", "0x06"},
		{eligibility.CodeCorporateActionRunning, "CORPORATE_ACTION_RUNNING", "0x44"},
	}
	all := eligibility.Codes()
	if len(all) != len(tests) {
		t.Errorf("Codes() has %d codes, want %d", len(all), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.wire, func(t *testing.T) {
			if string(tc.code) != tc.wire || tc.code.String() != tc.wire {
				t.Errorf("code = %q, want %q", tc.code, tc.wire)
			}
			if got := eligibility.ERC1066(tc.code); got != tc.erc1066 {
				t.Errorf("ERC1066(%s) = %s, want %s", tc.code, got, tc.erc1066)
			}
			if got := tc.code.Precedence(); got != i {
				t.Errorf("%s.Precedence() = %d, want %d", tc.code, got, i)
			}
			if !tc.code.Valid() {
				t.Errorf("%s.Valid() = false", tc.code)
			}
			r := eligibility.NewReason(tc.code, "some_rule", "why")
			if r.Code != tc.code || r.Rule != "some_rule" || r.Message != "why" || r.ERC1066 != tc.erc1066 {
				t.Errorf("NewReason(%s) = %+v", tc.code, r)
			}
		})
	}
	unknown := eligibility.Code("NOT_A_CODE")
	if unknown.Valid() || eligibility.ERC1066(unknown) != "0x00" || unknown.Precedence() != len(all) {
		t.Errorf("unknown code: Valid() = %v, ERC1066 = %s, Precedence = %d", unknown.Valid(), eligibility.ERC1066(unknown), unknown.Precedence())
	}
}

// Ensure that SortReasons orders by precedence and keeps the given order among
// equal codes.
func TestSortReasons(t *testing.T) {
	rs := []eligibility.Reason{
		eligibility.NewReason(eligibility.CodeLeverageExceeded, "product_leverage", ""),
		eligibility.NewReason(eligibility.CodeHolderLimit, "b", ""),
		eligibility.NewReason(eligibility.CodeKYCExpired, "kyc", ""),
		eligibility.NewReason(eligibility.CodeHolderLimit, "a", ""),
		eligibility.NewReason(eligibility.CodeGamingProduct, "prohibited_topic", ""),
	}
	eligibility.SortReasons(rs)
	want := []string{"GAMING_PRODUCT prohibited_topic", "KYC_EXPIRED kyc", "HOLDER_LIMIT b", "HOLDER_LIMIT a", "LEVERAGE_EXCEEDED product_leverage"}
	if got := codes(rs); !slices.Equal(got, want) {
		t.Errorf("SortReasons() = %v, want %v", got, want)
	}
}
