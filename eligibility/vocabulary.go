package eligibility

// Product classes, the values of Classification.Class.
const (
	ClassCash             = "cash"
	ClassSecurity         = "security"
	ClassSecurityFuture   = "security_future"
	ClassDigitalCommodity = "digital_commodity"
	ClassCommodity        = "commodity"
	ClassDerivative       = "derivative"
	ClassEventContract    = "event_contract"
	// ClassGaming is the class of a product whose event topic is prohibited; no
	// one may create or hold it.
	ClassGaming = "gaming"
)

// Regulators, the values of Classification.Regulator.
const (
	RegulatorSEC   = "SEC"
	RegulatorCFTC  = "CFTC"
	RegulatorJoint = "joint"
	RegulatorNone  = "none"
)

// Categories, the values of Classification.Category.
const (
	CategoryInvestment   = "investment"
	CategoryGamblingLike = "gambling_like"
	CategoryProhibited   = "prohibited"
)

// Attribute values.
const (
	UnderlyingEnterpriseEquity = "enterprise_equity"
	UnderlyingEnterpriseDebt   = "enterprise_debt"
	UnderlyingFundInterest     = "fund_interest"
	UnderlyingRealEstate       = "real_estate"
	UnderlyingDigitalCommodity = "digital_commodity"
	UnderlyingCommodity        = "commodity"
	UnderlyingFX               = "fx"
	UnderlyingIndex            = "index"
	UnderlyingEvent            = "event"
	UnderlyingCash             = "cash"

	PayoffLinear = "linear"
	PayoffBinary = "binary"
	PayoffOption = "option"

	PurposeCapitalFormation = "capital_formation"
	PurposeHedging          = "hedging"
	PurposePayment          = "payment"
	PurposeNone             = "none"
)

// Gambling-screen indicators, as the rulebook names them.
const (
	IndicatorFixedOrZeroPayout    = "fixed_or_zero_payout"  // payoff binary
	IndicatorShortTerm            = "short_term"            // 1 ≤ expiry_days < short_term_days
	IndicatorNoEconomicPurpose    = "no_economic_purpose"   // economic_purpose none (or unset)
	IndicatorPlatformCounterparty = "platform_counterparty" // counterparty_is_platform
	IndicatorOutcomeControllable  = "outcome_controllable"  // outcome_controllable
)

// The orders below are canonical: lists, lint findings and messages follow them.
var (
	underlyingNames = []string{
		UnderlyingCash, UnderlyingEnterpriseEquity, UnderlyingEnterpriseDebt, UnderlyingFundInterest,
		UnderlyingRealEstate, UnderlyingDigitalCommodity, UnderlyingCommodity, UnderlyingFX,
		UnderlyingIndex, UnderlyingEvent,
	}
	// leverageKeys are the underlyings as leverage rules see them: fx is split
	// into major and other pairs, which carry different caps.
	leverageKeys = []string{
		UnderlyingCash, UnderlyingEnterpriseEquity, UnderlyingEnterpriseDebt, UnderlyingFundInterest,
		UnderlyingRealEstate, UnderlyingDigitalCommodity, UnderlyingCommodity, "fx_major", "fx_other",
		UnderlyingIndex, UnderlyingEvent,
	}
	holdableClasses = []string{
		ClassCash, ClassSecurity, ClassSecurityFuture, ClassDigitalCommodity, ClassCommodity,
		ClassDerivative, ClassEventContract,
	}
	regulatorNames = []string{RegulatorSEC, RegulatorCFTC, RegulatorJoint, RegulatorNone}
	payoffNames    = []string{PayoffLinear, PayoffBinary, PayoffOption}
	purposeNames   = []string{PurposeCapitalFormation, PurposeHedging, PurposePayment, PurposeNone}
	indicatorNames = []string{
		IndicatorFixedOrZeroPayout, IndicatorShortTerm, IndicatorNoEconomicPurpose,
		IndicatorPlatformCounterparty, IndicatorOutcomeControllable,
	}
	statusNames = []string{
		string(StatusRetail), string(StatusAccredited), string(StatusQualifiedPurchaser), string(StatusInstitutional),
	}
)

// leverageKey is the underlying as leverage rules see it.
func leverageKey(underlying string, fxMajor bool) string {
	if underlying != UnderlyingFX {
		return underlying
	}
	if fxMajor {
		return "fx_major"
	}
	return "fx_other"
}

// leverageKeysOf expands an underlying into its leverage keys.
func leverageKeysOf(underlying string) []string {
	if underlying == UnderlyingFX {
		return []string{"fx_major", "fx_other"}
	}
	return []string{underlying}
}
