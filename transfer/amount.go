package transfer

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
	"github.com/tokenledger/tokenledger/internal/fixed"
)

// MaxDecimals is the largest scale an instrument may have.
const MaxDecimals = 18

// plainAmount is the only amount grammar accepted: no sign, no exponent, no
// leading zeros, at most 31 integer digits (10^30 itself has 31) and 18
// fraction digits. Checking it before decimal.NewFromString keeps "1e999999999"
// from ever reaching the big-integer code. plainDecimal checks it by hand, a
// tenth of the regexp's cost; TestPlainDecimalMatchesRegexp holds the two
// equal.
const plainAmount = `^(0|[1-9][0-9]{0,30})(\.[0-9]{1,18})?$`

// plainDecimal reports whether s matches plainAmount.
func plainDecimal[T string | []byte](s T) bool {
	n, i := len(s), 0
	switch {
	case n == 0:
		return false
	case s[0] == '0':
		i = 1
	case s[0] >= '1' && s[0] <= '9':
		for i = 1; i < n && isDigit(s[i]); i++ {
		}
		if i > 31 {
			return false
		}
	default:
		return false
	}
	if i == n {
		return true
	}
	if s[i] != '.' {
		return false
	}
	i++
	if frac := n - i; frac < 1 || frac > 18 {
		return false
	}
	for ; i < n; i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// maxAmount: API.md refuses values above 10^30.
var maxAmount = decimal.New(1, 30)

// ErrBadAmount is returned for an amount that is not a plain decimal string
// within bounds and within the instrument's scale.
var ErrBadAmount = errors.New("transfer: bad amount")

// Amount is a decimal as it travels in JSON: a string of plain digits. Its
// grammar is checked when decoded; its scale is checked against the instrument
// when the instruction is applied, because only then is the instrument known.
type Amount string

// UnmarshalJSON accepts only a JSON string in the plain grammar.
func (a *Amount) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("%w: must be a JSON string like \"1250.5\"", ErrBadAmount)
	}
	s := b[1 : len(b)-1]
	if bytes.IndexByte(s, '\\') >= 0 || !plainDecimal(s) {
		return fmt.Errorf("%w: %.40q is not a plain decimal", ErrBadAmount, s)
	}
	*a = Amount(s)
	return nil
}

// Decimal parses the amount at most `decimals` fraction digits.
func (a Amount) Decimal(decimals int32) (decimal.Decimal, error) {
	return ParseAmount(string(a), decimals)
}

// ParseAmount parses a plain decimal string with at most `decimals` fraction
// digits and no more than 10^30.
func ParseAmount(s string, decimals int32) (decimal.Decimal, error) {
	if !plainDecimal(s) {
		return decimal.Decimal{}, fmt.Errorf("%w: %.40q is not a plain decimal", ErrBadAmount, s)
	}
	d := decimal.RequireFromString(s) // Cannot fail: the grammar was checked above.
	if d.GreaterThan(maxAmount) {
		return decimal.Decimal{}, fmt.Errorf("%w: %.40q is above 10^30", ErrBadAmount, s)
	}
	if !d.Truncate(decimals).Equal(d) {
		return decimal.Decimal{}, fmt.Errorf("%w: %.40q has more than %d fraction digits", ErrBadAmount, s, decimals)
	}
	return d, nil
}

// ParsePositive is ParseAmount that also refuses zero.
func ParsePositive(s string, decimals int32) (decimal.Decimal, error) {
	d, err := ParseAmount(s, decimals)
	if err != nil {
		return d, err
	}
	if d.Sign() <= 0 {
		return decimal.Decimal{}, fmt.Errorf("%w: must be greater than zero", ErrBadAmount)
	}
	return d, nil
}

// ParsePositiveFixed is ParsePositive giving a fixed decimal: the same
// answers and errors, and no allocation for an amount of at most 18 digits.
func ParsePositiveFixed(s string, decimals int32) (fixed.Decimal, error) {
	if c, frac, ok := plainDigits(s); ok && c > 0 {
		// Trailing zeros beyond the scale are accepted, as ParseAmount's
		// Truncate test accepts them.
		for frac > decimals && c%10 == 0 {
			c, frac = c/10, frac-1
		}
		if frac <= decimals {
			return fixed.New(c, -frac), nil
		}
	}
	d, err := ParsePositive(s, decimals)
	if err != nil {
		return fixed.Decimal{}, err
	}
	return fixed.From(d), nil
}

// plainDigits reads a plainAmount of at most 18 digits as c × 10^-frac (ok);
// anything else is left to ParseAmount.
func plainDigits(s string) (c int64, frac int32, ok bool) {
	if !plainDecimal(s) {
		return 0, 0, false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '.':
			frac = int32(len(s) - i - 1)
		default:
			digits++
			c = c*10 + int64(s[i]-'0')
		}
		if digits > 18 {
			return 0, 0, false
		}
	}
	return c, frac, true
}

// CheckAmounts refuses the amounts Effect would refuse as BAD_AMOUNT: zero
// where a positive amount is needed, or more fraction digits than the
// instrument's decimals, where the instrument exists in v (one that does not
// is left to Effect, which names it). The API runs it before proposing, so
// API.md's "refused with 400" holds instead of a journaled 422;
// TestCheckAmountsMatchesEffect (ledger) holds the two to the same answers.
func CheckAmounts(v View, ins Instruction) error {
	scale := func(symbol string) int32 {
		if in, ok := v.Instrument(symbol); ok {
			return in.Decimals
		}
		return MaxDecimals
	}
	check := func(field string, a *Amount, decimals int32) error {
		if a == nil {
			return nil
		}
		if _, err := ParsePositive(string(*a), decimals); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		return nil
	}
	switch ins.Type {
	case TypeMint, TypeBurn, TypeFreeze, TypeUnfreeze:
		return check("amount", ins.Amount, scale(ins.Symbol))
	case TypeTransfer, TypeForceTransfer:
		for i := range ins.Legs {
			l := &ins.Legs[i]
			if err := check(fmt.Sprintf("legs[%d].amount", i), &l.Amount, scale(l.Symbol)); err != nil {
				return err
			}
		}
	case TypeBorrow, TypeRepay:
		return check("amount", ins.Amount, scale(ins.CashSymbol))
	case TypeSetPrice:
		return check("price", ins.Price, MaxDecimals)
	case TypeDistribute:
		return check("amount_per_unit", ins.AmountPerUnit, MaxDecimals)
	case TypeSplit:
		return check("ratio", ins.Ratio, MaxDecimals)
	}
	return nil
}
