package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// The journal encoder of schema 2, kept to write the journal entries of
// schema-2 stores (TestMigrateSchema2) and to show that the binary records
// render byte for byte the JSON it stored and served.

// Schema 2's state machine encoded each journal entry once, by hand, instead of
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
