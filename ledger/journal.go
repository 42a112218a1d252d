package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// ZeroHash is the prev_hash of the first journal entry.
var ZeroHash = strings.Repeat("0", 64)

// Hash versions of a journal entry (DESIGN.md, "The journal").
const (
	// HashV1: sha256(prev_hash hex ‖ the entry's JSON with prev_hash and hash
	// empty). Entries written by schema 2 and earlier keep it.
	HashV1 = 1
	// HashV2: sha256(prev_hash as 32 bytes ‖ seq as 8 bytes big-endian ‖ the
	// entry's canonical binary body), the body being the journal record
	// schema.go documents, built from the served fields alone.
	HashV2 = 2
)

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
	Parties []string `json:"parties,omitempty"`
	Symbols []string `json:"symbols,omitempty"`
	// WrittenOff lists the loans a close_out wrote off; absent for every
	// other entry, so entries written before it render and hash unchanged.
	WrittenOff []transfer.WriteOff `json:"written_off,omitempty"`
	PrevHash   string              `json:"prev_hash"`
	Hash       string              `json:"hash"`
	// HashVersion is HashV2 for entries hashed over their binary body, and
	// absent (0) for HashV1 entries, whose JSON it must not change.
	HashVersion int `json:"hash_version,omitempty"`
	// CorporateAction is the summary of the distribute or split this entry
	// accepted (corpaction_summary.go). It is derived from the state, not
	// part of the entry's hash: the action's corporate_action_done entry
	// commits to its totals and lines.
	CorporateAction *CorporateActionSummary `json:"corporate_action,omitempty"`
}

// ComputeHash recomputes a served journal entry's hash, in hex, by its hash
// version: the auditor's reference. It fails on an unknown version, and on a
// v2 entry whose fields no writer could have produced (a malformed prev_hash,
// a reason that is not the first of its reasons, parties or symbols that are
// not those its instruction names), since no body corresponds to them.
func ComputeHash(e JournalEntry) (string, error) {
	switch e.HashVersion {
	case 0, HashV1:
		return hashV1(e), nil
	case HashV2:
		prev, err := hex.DecodeString(e.PrevHash)
		if err != nil || len(prev) != sha256.Size {
			return "", fmt.Errorf("ledger: journal entry %d: prev_hash is not 32 bytes of hex", e.Seq)
		}
		rec, err := recordOfEntry(&e)
		if err != nil {
			return "", fmt.Errorf("ledger: journal entry %d: %w", e.Seq, err)
		}
		sum := hashV2(nil, [sha256.Size]byte(prev), e.Seq, appendJournalBody(nil, &rec))
		return hex.EncodeToString(sum[:]), nil
	}
	return "", fmt.Errorf("ledger: journal entry %d: unknown hash_version %d", e.Seq, e.HashVersion)
}

// hashV1 is sha256(prev_hash ‖ body) in hex, where body is the journal
// entry's JSON encoding with prev_hash and hash empty.
func hashV1(e JournalEntry) string {
	prev := e.PrevHash
	e.PrevHash, e.Hash, e.HashVersion = "", "", 0
	body, err := json.Marshal(e)
	assert(err == nil, "encode journal entry: %v", err)
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// hashV2 is sha256(prev ‖ seq big-endian ‖ body); buf is scratch space.
func hashV2(buf []byte, prev [sha256.Size]byte, seq uint64, body []byte) [sha256.Size]byte {
	return hashV2Into(&buf, prev, seq, body)
}

// hashV2Into is hashV2 with *buf as its scratch space, left grown for the
// next entry's.
func hashV2Into(buf *[]byte, prev [sha256.Size]byte, seq uint64, body []byte) [sha256.Size]byte {
	b := append((*buf)[:0], prev[:]...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, body...)
	*buf = b
	return sha256.Sum256(b)
}

// recordOfEntry builds the journal record of a served v2 entry: the body its
// hash covers. It is how the writer builds it, from the served fields alone.
func recordOfEntry(e *JournalEntry) (journalRecord, error) {
	rec := journalRecord{
		version: HashV2, index: e.Index, time: e.Time, actor: e.Actor, status: e.Status, reasons: e.Reasons,
		writtenOff: e.WrittenOff,
	}
	switch {
	case e.Reason == nil && len(e.Reasons) == 0:
	case e.Reason != nil && len(e.Reasons) > 0 && *e.Reason == e.Reasons[0]:
	default:
		return journalRecord{}, errors.New("reason is not the first of reasons")
	}
	ins, decoded := decodeServedInstruction(e.Instruction)
	rec.instruction, rec.binary = servedInstructionForm(ins, decoded, e.Instruction)
	parties, symbols := names(e.Actor, ins)
	extraSymbols, ok := extraParties(e.Symbols, symbols)
	if !ok || !sortedOnce(e.Symbols) {
		return journalRecord{}, errors.New("symbols do not list the instruction's names, sorted, once each")
	}
	extra, ok := extraParties(e.Parties, parties)
	if !ok || !sortedOnce(e.Parties) {
		return journalRecord{}, errors.New("parties do not list the instruction's names, sorted, once each")
	}
	rec.extra, rec.extraSymbols = extra, extraSymbols
	return rec, nil
}

// sortedOnce reports whether list is sorted without repeats.
func sortedOnce(list []string) bool {
	for i := 1; i < len(list); i++ {
		if list[i-1] >= list[i] {
			return false
		}
	}
	return true
}

// renderJournalEntry is the served form of the journal record val at seq,
// whose previous record's hash is prev.
func renderJournalEntry(seq uint64, prev [sha256.Size]byte, val []byte) JournalEntry {
	rec, hash := decodeJournalRecord(val)
	e := JournalEntry{
		Seq: seq, Index: rec.index, Time: rec.time, Actor: rec.actor, Status: rec.status,
		Reason: rec.servedReason(), Reasons: rec.reasons, WrittenOff: rec.writtenOff,
		PrevHash: hex.EncodeToString(prev[:]), Hash: hex.EncodeToString(hash[:]),
	}
	if rec.version == HashV2 {
		e.HashVersion = HashV2
	}
	var ins transfer.Instruction
	if rec.binary {
		ins = rec.decodeInstruction()
		e.Instruction = transfer.AppendEncode(nil, ins)
	} else {
		e.Instruction = bytes.Clone(rec.instruction)
		if !rec.namesExplicit {
			ins, _ = decodeServedInstruction(rec.instruction)
		}
	}
	e.Parties, e.Symbols = rec.servedNames(ins)
	return e
}

// servedNames is the parties and symbols the entry of rec serves, sorted,
// once each; ins is rec's instruction (unused when the record lists them).
func (rec *journalRecord) servedNames(ins transfer.Instruction) (parties, symbols []string) {
	if rec.namesExplicit {
		return rec.parties, rec.symbols
	}
	parties, symbols = names(rec.actor, ins)
	if len(rec.extra) > 0 {
		parties = sortedSet(append(parties, rec.extra...))
	}
	if len(rec.extraSymbols) > 0 {
		symbols = sortedSet(append(symbols, rec.extraSymbols...))
	}
	return parties, symbols
}

// names decodes what the record needs to serve its parties and symbols.
func (rec *journalRecord) names() (parties, symbols []string) {
	var ins transfer.Instruction
	switch {
	case rec.namesExplicit:
	case rec.binary:
		ins = rec.decodeInstruction()
	default:
		ins = decodeNamingFields(rec.instruction)
	}
	return rec.servedNames(ins)
}

// decodeNamingFields decodes, of an instruction's JSON, only the fields
// names reads: its parties and symbols. Check and the index build name
// every entry, and decoding the whole of each instruction held as JSON
// (amounts, times, party specs) was most of their cost. TestNamingFields
// holds it to names of the whole instruction.
func decodeNamingFields(raw []byte) transfer.Instruction {
	var f struct {
		PartyID    string `json:"party_id"`
		Symbol     string `json:"symbol"`
		From       string `json:"from"`
		To         string `json:"to"`
		CashSymbol string `json:"cash_symbol"`
		Lender     string `json:"lender"`
		Legs       []struct {
			Symbol string `json:"symbol"`
			From   string `json:"from"`
			To     string `json:"to"`
		} `json:"legs"`
		Party *struct {
			ID        string `json:"id"`
			Custodian string `json:"custodian"`
		} `json:"party"`
		Instrument *struct {
			Symbol string `json:"symbol"`
			Issuer string `json:"issuer"`
		} `json:"instrument"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return transfer.Instruction{}
	}
	ins := transfer.Instruction{PartyID: f.PartyID, Symbol: f.Symbol, From: f.From, To: f.To, CashSymbol: f.CashSymbol, Lender: f.Lender}
	for _, l := range f.Legs {
		ins.Legs = append(ins.Legs, transfer.Leg{Symbol: l.Symbol, From: l.From, To: l.To})
	}
	if f.Party != nil {
		ins.Party = &transfer.PartySpec{ID: f.Party.ID, Custodian: f.Party.Custodian}
	}
	if f.Instrument != nil {
		ins.Instrument = &transfer.InstrumentSpec{Symbol: f.Instrument.Symbol, Issuer: f.Instrument.Issuer}
	}
	return ins
}

// decodeInstruction decodes a record's binary instruction.
func (rec *journalRecord) decodeInstruction() transfer.Instruction {
	ins, err := transfer.DecodeInstructionBinary(rec.instruction)
	if err != nil {
		fail("stored journal instruction: %v", err)
	}
	return ins
}

// servedInstruction is the instruction JSON a record's entry serves.
func (rec *journalRecord) servedInstruction() []byte {
	if rec.binary {
		return transfer.AppendEncode(nil, rec.decodeInstruction())
	}
	return rec.instruction
}

// decodeServedInstruction decodes an instruction as served in the journal,
// leniently: what the writer decoded strictly decodes to the same fields.
func decodeServedInstruction(raw []byte) (transfer.Instruction, bool) {
	var ins transfer.Instruction
	if err := json.Unmarshal(raw, &ins); err != nil {
		return transfer.Instruction{}, false
	}
	return ins, true
}

// servedInstructionForm picks how a journal record holds an instruction whose
// served JSON is served: its binary encoding when that renders back to
// exactly those bytes (every canonical instruction), else the JSON text.
func servedInstructionForm(ins transfer.Instruction, decoded bool, served []byte) ([]byte, bool) {
	if decoded {
		bin := transfer.AppendInstruction(nil, ins)
		if back, err := transfer.DecodeInstructionBinary(bin); err == nil && bytes.Equal(transfer.AppendEncode(nil, back), served) {
			return bin, true
		}
	}
	return served, false
}

// extraParties lists the parties of all that derived (sorted) lacks, and
// whether all holds every one of derived.
func extraParties(all, derived []string) (extra []string, ok bool) {
	n := 0
	for _, p := range all {
		if _, found := slices.BinarySearch(derived, p); found {
			n++
		} else {
			extra = append(extra, p)
		}
	}
	return extra, n == len(derived)
}

// names lists the parties and symbols an instruction refers to, sorted and
// without repeats, so the journal can be filtered by either. The actor is
// always listed; other names only when set.
func names(actor string, ins transfer.Instruction) (parties, symbols []string) {
	return appendNames(make([]string, 0, 8), make([]string, 0, 2), actor, ins)
}

// appendNames is names appended to parties and symbols (Apply's reused
// buffers).
func appendNames(parties, symbols []string, actor string, ins transfer.Instruction) ([]string, []string) {
	parties = append(parties, actor)
	parties = appendSet(parties, ins.PartyID, ins.From, ins.To, ins.Lender)
	symbols = appendSet(symbols, ins.Symbol, ins.CashSymbol)
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

// appendRawJSON appends valid JSON as json.Marshal writes a RawMessage:
// compacted, with <, >, &, U+2028 and U+2029 escaped. Bytes without
// whitespace or any of those come out unchanged, which is every canonical
// instruction the API proposes; others go through encoding/json.
func appendRawJSON(b []byte, raw json.RawMessage) []byte {
	if raw == nil {
		return append(b, "null"...)
	}
	if needsCompact(raw) {
		return append(b, encodeJSON(raw)...)
	}
	return append(b, raw...)
}

// needsCompact reports whether json.Marshal may write raw JSON otherwise
// than as is: when it holds whitespace or what it escapes.
func needsCompact(raw []byte) bool {
	for _, c := range raw {
		if compacted[c] {
			return true
		}
	}
	return false
}

// compacted marks the bytes needsCompact looks for. Every instruction's
// body is scanned twice, and a look-up a byte took a third of the time of
// a switch.
var compacted = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '<': true, '>': true, '&': true, 0xe2: true}
