package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/ledger"
)

// corpWorldStep is one instruction of corpWorldBodies: its actor and body.
type corpWorldStep struct{ actor, body string }

// corpWorldBodies sets up a register: a custodian, the issuer iss-1 of USD
// (cash, 2 decimals) and REG, n investors holding 1 to 9 REG each, and
// cash for the issuer to pay them.
func corpWorldBodies(n int, cash string) []corpWorldStep {
	attrs := `"attributes":{"underlying":"%s","payoff":"linear","embedded_leverage":"1","expiry_days":0,"economic_purpose":"capital_formation"}`
	out := []corpWorldStep{
		{ledger.OperatorID, `{"id":"w-cus","type":"register_party","party":{"id":"cus-1","role":"custodian"}}`},
		{ledger.OperatorID, `{"id":"w-iss","type":"register_party","party":{"id":"iss-1","role":"issuer"}}`},
		{ledger.OperatorID, `{"id":"w-usd","type":"create_instrument","instrument":{"symbol":"USD","name":"USD token","issuer":"iss-1","decimals":2,"regime":"unrestricted",` + fmt.Sprintf(attrs, "cash") + `}}`},
		{"iss-1", `{"id":"w-reg","type":"create_instrument","instrument":{"symbol":"REG","name":"REG token","issuer":"iss-1","decimals":0,"regime":"registered",` + fmt.Sprintf(attrs, "enterprise_equity") + `}}`},
		{"iss-1", `{"id":"w-cash","type":"mint","symbol":"USD","to":"iss-1","amount":"` + cash + `"}`},
	}
	for i := range n {
		id := corpInvestor(i)
		out = append(out,
			corpWorldStep{"cus-1", `{"id":"w-p-` + id + `","type":"register_party","party":{"id":"` + id + `","role":"investor","status":"accredited","jurisdiction":"US","kyc_expires_at":"2030-01-01T00:00:00Z","custodian":"cus-1"}}`},
			corpWorldStep{"iss-1", fmt.Sprintf(`{"id":"w-m-%s","type":"mint","symbol":"REG","to":"%s","amount":"%d"}`, id, id, corpUnits(i))})
	}
	return out
}

func corpInvestor(i int) string { return fmt.Sprintf("inv-%05d", i) }

// corpUnits is what investor i holds: 1 to 9 REG.
func corpUnits(i int) int { return 1 + i%9 }

// TestVerifyLine checks `node verify --line`: a holder's line of a
// distribution verifies against the completion entry and a checkpoint, and
// a tampered line, root or entry does not.
func TestVerifyLine(t *testing.T) {
	f := newJournalFixture(t)
	for _, s := range corpWorldBodies(5, "1000") {
		f.apply(ledger.InstructionItem(s.actor, []byte(s.body)))
	}
	f.apply(ledger.InstructionItem("iss-1", []byte(`{"id":"div-1","type":"distribute","symbol":"REG","cash_symbol":"USD","amount_per_unit":"0.25"}`)))
	f.grow(2)
	p, err := f.store.CorporateActionProof("div-1", corpInvestor(2))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	line := f.marshal(p)
	files := map[string]string{
		"line": write("line.json", line), "entry": write("entry.json", f.entry(p.DoneSeq)),
		"proof": write("proof.json", f.proof(p.DoneSeq, 0)), "checkpoint": write("checkpoint.json", f.checkpoint()),
		"other-entry": write("other-entry.json", f.entry(p.DoneSeq-1)), "other-proof": write("other-proof.json", f.proof(p.DoneSeq-1, 0)),
		"more":        write("more.json", edit(t, line, func(m map[string]any) { m["line"].(map[string]any)["amount"] = "0.76" })),
		"other-party": write("other-party.json", edit(t, line, func(m map[string]any) { m["line"].(map[string]any)["party"] = corpInvestor(3) })),
		"root":        write("root.json", edit(t, line, func(m map[string]any) { m["root"] = strings.Repeat("0", 64) })),
		"bad-entry": write("bad-entry.json", edit(t, f.entry(p.DoneSeq), func(m map[string]any) {
			m["instruction"].(map[string]any)["lines_root"] = p.Root[:63] + "0"
		})),
	}
	args := func(line, entry, proof string) []string {
		return []string{"--line", files[line], "--entry", files[entry], "--proof", files[proof], "--checkpoint", files["checkpoint"], "--key", f.vkey}
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantOut string // "" when it must fail
	}{
		{"line", args("line", "entry", "proof"), fmt.Sprintf("ok: %s's line of corporate action div-1 (units 3, amount 0.75) is line 2 of 5", corpInvestor(2))},
		{"a larger amount", args("more", "entry", "proof"), ""},
		{"another party's line", args("other-party", "entry", "proof"), ""},
		{"another root", args("root", "entry", "proof"), ""},
		{"a changed completion entry", args("line", "bad-entry", "proof"), ""},
		{"the accepting entry instead", args("line", "other-entry", "other-proof"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runVerify(tc.args, &out)
			switch {
			case tc.wantOut == "" && err == nil:
				t.Errorf("node verify %v passed: %s", tc.args, out.String())
			case tc.wantOut != "" && (err != nil || !strings.HasPrefix(out.String(), tc.wantOut)):
				t.Errorf("node verify = %q, %v; want %q", out.String(), err, tc.wantOut)
			}
		})
	}
}
