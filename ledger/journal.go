package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// ZeroHash is the prev_hash of the first journal entry.
var ZeroHash = strings.Repeat("0", 64)

// Entry is one decided instruction in the journal, accepted or rejected.
type Entry struct {
	Seq         uint64               `json:"seq"`
	Index       uint64               `json:"index"`
	Time        time.Time            `json:"time"`
	Actor       string               `json:"actor"`
	Instruction json.RawMessage      `json:"instruction"`
	Status      string               `json:"status"`
	Reason      *eligibility.Reason  `json:"reason,omitempty"`
	Reasons     []eligibility.Reason `json:"reasons,omitempty"`
	// Parties and Symbols the instruction names, for filtered journal reads.
	Parties  []string `json:"parties,omitempty"`
	Symbols  []string `json:"symbols,omitempty"`
	PrevHash string   `json:"prev_hash"`
	Hash     string   `json:"hash"`
}

// ComputeHash is sha256(prev_hash ‖ body) in hex, where body is the entry's
// JSON encoding with prev_hash and hash empty. An auditor recomputes it from
// the served entry alone.
func (e Entry) ComputeHash() string {
	prev := e.PrevHash
	e.PrevHash, e.Hash = "", ""
	body, err := json.Marshal(e)
	assert(err == nil, "encode journal entry: %v", err)
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// names lists the parties and symbols an instruction refers to, sorted and
// without repeats, so the journal can be filtered by either.
func names(actor string, ins transfer.Instruction) (parties, symbols []string) {
	ps := map[string]bool{actor: true}
	ss := map[string]bool{}
	add := func(m map[string]bool, vals ...string) {
		for _, v := range vals {
			if v != "" {
				m[v] = true
			}
		}
	}
	add(ps, ins.PartyID, ins.From, ins.To, ins.Lender)
	add(ss, ins.Symbol, ins.CashSymbol)
	for _, l := range ins.Legs {
		add(ps, l.From, l.To)
		add(ss, l.Symbol)
	}
	if ins.Party != nil {
		add(ps, ins.Party.ID, ins.Party.Custodian)
	}
	if ins.Instrument != nil {
		add(ps, ins.Instrument.Issuer)
		add(ss, ins.Instrument.Symbol)
	}
	return sortedKeys(ps), sortedKeys(ss)
}
