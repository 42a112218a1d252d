package transfer_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/transfer"
)

// imported is a mint with import: true, acquired at.
func imported(ins transfer.Instruction) transfer.Instruction {
	ins.Import = true
	return acquiredAt(ins, ago(30))
}

// importCases: a mint with import: true brings an existing holding in, so
// the receive rules of new issuance do not apply; KYC, existence, freezes,
// pauses and the supply cap do, and only the operator may import.
var importCases = []effectCase{
	accepted("a retail holder of a Reg D 506(c) offering", "op", imported(mintOf("LOCK", "ret-us", "5")),
		writes(instrumentAs("LOCK", supply("35"), holders(2), nonAccredited(1)), holdings(oneLot("ret-us", "LOCK", "5", ago(30))))),
	refused("by the issuer", "iss", imported(mintOf("LOCK", "ret-us", "5")), "NOT_AUTHORIZED authorization.mint"),
	refused("a holder whose KYC lapsed", "op", imported(mintOf("REG", "lapsed", "1")), "KYC_EXPIRED kyc"),
	refused("a holder not registered", "op", imported(mintOf("REG", "ghost", "1")), "UNKNOWN_PARTY party.exists"),
	refused("a frozen holder", "op", imported(mintOf("REG", "frz", "1")), "ACCOUNT_FROZEN account.frozen"),
	refused("paused", "op", imported(mintOf("PAUSED", "acc-de", "1")), "INSTRUMENT_PAUSED instrument.paused"),
	refused("above max supply", "op", imported(mintOf("REG", "acc-de", "895.01")), "SUPPLY_CAP instrument.max_supply"),
}

func TestEffectImport(t *testing.T) {
	runEffect(t, transfer.TypeMint, importCases)
}

// TestImportNeedsAcquiredAt checks Validate: an import states when the
// holding was acquired, and import is a field of mint only.
func TestImportNeedsAcquiredAt(t *testing.T) {
	tests := []struct {
		name string
		ins  transfer.Instruction
		ok   bool
	}{
		{"with acquired_at", imported(mintOf("REG", "acc-de", "1")), true},
		{"without acquired_at", transfer.Instruction{ID: "x", Type: transfer.TypeMint, Symbol: "REG", To: "acc-de", Amount: amt("1"), Import: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.ins.ID = "imp-1"
			err := tc.ins.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate(%+v) = %v, want ok %v", tc.ins, err, tc.ok)
			}
		})
	}
}

// TestImportOnlyOnMint checks that decoding refuses import on another type.
func TestImportOnlyOnMint(t *testing.T) {
	_, err := transfer.Decode([]byte(`{"id":"x","type":"burn","symbol":"REG","from":"acc-de","amount":"1","import":true}`))
	if err == nil {
		t.Errorf("Decode(burn with import) = nil error, want one")
	}
	ins, err := transfer.Decode([]byte(`{"id":"x","type":"mint","symbol":"REG","to":"acc-de","amount":"1","acquired_at":"2025-01-01T00:00:00Z","import":true}`))
	if err != nil || !ins.Import {
		t.Errorf("Decode(mint with import) = %+v, %v; want Import", ins, err)
	}
	back, err := transfer.DecodeInstructionBinary(transfer.AppendInstruction(nil, ins))
	if err != nil || !back.Import {
		t.Errorf("binary round trip of an import = %+v, %v; want Import", back, err)
	}
}
