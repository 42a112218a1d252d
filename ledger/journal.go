package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// ZeroHash is the prev_hash of the first journal entry.
var ZeroHash = strings.Repeat("0", 64)

// JournalEntry is one decided instruction in the journal, accepted or
// rejected. It is served to auditors as is, so its JSON field names are API.
type JournalEntry struct {
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

// ComputeHash is sha256(prev_hash ‖ body) in hex, where body is the journal
// entry's JSON encoding with prev_hash and hash empty. An auditor recomputes
// it from the served journal entry alone.
func (e JournalEntry) ComputeHash() string {
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
// without repeats, so the journal can be filtered by either. The actor is
// always listed; other names only when set.
func names(actor string, ins transfer.Instruction) (parties, symbols []string) {
	parties = make([]string, 0, 8)
	parties = append(parties, actor)
	parties = appendSet(parties, ins.PartyID, ins.From, ins.To, ins.Lender)
	symbols = appendSet(make([]string, 0, 2), ins.Symbol, ins.CashSymbol)
	for _, l := range ins.Legs {
		parties = appendSet(parties, l.From, l.To)
		symbols = appendSet(symbols, l.Symbol)
	}
	if ins.Party != nil {
		parties = appendSet(parties, ins.Party.ID, ins.Party.Custodian)
	}
	if ins.Instrument != nil {
		parties = appendSet(parties, ins.Instrument.Issuer)
		symbols = appendSet(symbols, ins.Instrument.Symbol)
	}
	return sortedSet(parties), sortedSet(symbols)
}

// appendSet appends the non-empty values.
func appendSet(list []string, vals ...string) []string {
	for _, v := range vals {
		if v != "" {
			list = append(list, v)
		}
	}
	return list
}

// sortedSet sorts list and drops repeats, in place.
func sortedSet(list []string) []string {
	slices.Sort(list)
	return slices.Compact(list)
}

// The state machine encodes each journal entry once, by hand, instead of
// twice with encoding/json (once with empty hashes for ComputeHash, once to
// store). The bytes are exactly json.Marshal's: fields in struct order,
// omitempty as tagged, strings escaped as encoding/json escapes them (HTML
// included), the instruction compacted; anything outside the plain cases goes
// through encoding/json itself. TestJournalEntryJSONMatchesEncodingJSON holds
// it to that.

// hashSuffixEmpty closes a journal entry whose prev_hash and hash are empty:
// the body ComputeHash hashes.
const hashSuffixEmpty = `"prev_hash":"","hash":""}`

// appendJournalEntryHead appends e's JSON up to, not including, "prev_hash".
func appendJournalEntryHead(b []byte, e *JournalEntry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = append(b, `,"time":`...)
	t, err := e.Time.MarshalJSON()
	if err != nil {
		fail("encode journal time: %v", err)
	}
	b = append(b, t...)
	b = append(b, `,"actor":`...)
	b = appendJSONString(b, e.Actor)
	b = append(b, `,"instruction":`...)
	b = appendRawJSON(b, e.Instruction)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, e.Status)
	b = append(b, ',')
	if e.Reason != nil {
		b = append(b, `"reason":`...)
		b = append(b, encodeJSON(e.Reason)...)
		b = append(b, ',')
	}
	if len(e.Reasons) > 0 {
		b = append(b, `"reasons":`...)
		b = append(b, encodeJSON(e.Reasons)...)
		b = append(b, ',')
	}
	if len(e.Parties) > 0 {
		b = append(b, `"parties":`...)
		b = appendJSONStrings(b, e.Parties)
		b = append(b, ',')
	}
	if len(e.Symbols) > 0 {
		b = append(b, `"symbols":`...)
		b = appendJSONStrings(b, e.Symbols)
		b = append(b, ',')
	}
	return b
}

// sealJournalEntry computes the hash of a journal entry whose JSON head
// (appendJournalEntryHead) is head, sets e.Hash, and appends the stored JSON
// to dst: ComputeHash and json.Marshal(e) in one pass over the fields.
func sealJournalEntry(dst, head []byte, e *JournalEntry) []byte {
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write(head)
	h.Write([]byte(hashSuffixEmpty))
	var sum [sha256.Size]byte
	e.Hash = hex.EncodeToString(h.Sum(sum[:0]))
	dst = append(dst, head...)
	dst = append(dst, `"prev_hash":`...)
	dst = appendJSONString(dst, e.PrevHash)
	dst = append(dst, `,"hash":`...)
	dst = appendJSONString(dst, e.Hash)
	return append(dst, '}')
}

// jsonPlain reports whether encoding/json writes s as is between quotes:
// printable ASCII without the characters it escapes (quote, backslash, and
// the HTML-sensitive <, > and &).
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func appendJSONString(b []byte, s string) []byte {
	if !jsonPlain(s) {
		return append(b, encodeJSON(s)...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendJSONStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendRawJSON appends valid JSON as json.Marshal writes a RawMessage:
// compacted, with <, >, &, U+2028 and U+2029 escaped. Bytes without
// whitespace or any of those come out unchanged, which is every canonical
// instruction the API proposes; others go through encoding/json.
func appendRawJSON(b []byte, raw json.RawMessage) []byte {
	if raw == nil {
		return append(b, "null"...)
	}
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xe2:
			return append(b, encodeJSON(raw)...)
		}
	}
	return append(b, raw...)
}
