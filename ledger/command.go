package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/transfer"
)

// An Item is one unit of work inside a Batch. Its first byte says its kind.
const (
	itemInstruction byte = 'I' // uvarint actor length, actor, canonical instruction JSON
	// itemKeyedInstruction is an instruction as the API proposes it, with
	// the id of the key that authenticated it: uvarint actor length, actor,
	// uvarint key id length, key id, canonical instruction JSON. The state
	// machine refuses it if that key is revoked or expired when it applies.
	itemKeyedInstruction byte = 'J'
	itemKey              byte = 'K' // JSON keyItem
	itemNode             byte = 'N' // JSON NodeInfo
	itemRevokeKey        byte = 'X' // JSON revokeKeyItem
	// itemCorporateActionStep is a step of a running corporate action
	// (corpaction.go): uvarint seq of its accepted entry, uvarint holders.
	itemCorporateActionStep byte = 'C'
)

// ErrBadItem is returned by DecodeItem for bytes that are no item.
var ErrBadItem = errors.New("ledger: malformed item")

// InstructionItem encodes an instruction submitted by actor. body must be the
// canonical encoding (transfer.Encode): idempotency compares these bytes.
func InstructionItem(actor string, body []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(actor)+len(body))
	b = append(b, itemInstruction)
	b = binary.AppendUvarint(b, uint64(len(actor)))
	b = append(b, actor...)
	return append(b, body...)
}

// KeyedInstructionItem encodes an instruction submitted by actor through
// the API key whose id (KeyID) is keyID. body must be the canonical encoding
// (transfer.Encode); idempotency compares actor and body, not the key, so a
// retry through another key of the same party finds the first outcome.
func KeyedInstructionItem(actor, keyID string, body []byte) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(actor)+len(keyID)+len(body))
	b = append(b, itemKeyedInstruction)
	b = binary.AppendUvarint(b, uint64(len(actor)))
	b = append(b, actor...)
	b = binary.AppendUvarint(b, uint64(len(keyID)))
	b = append(b, keyID...)
	return append(b, body...)
}

// NodeInfo is a cluster member's addresses, replicated so every node can tell
// clients where the others are.
type NodeInfo struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
	// Removed marks a node taken out of the cluster; its record stays, and
	// its id is never added again.
	Removed bool `json:"removed,omitempty"`
	// Active is set by the node itself once it serves: it has run, so it
	// holds raft state the cluster relies on (consensus.Config.Remembers).
	// POST /v1/cluster/nodes records a node before it has run, without it.
	Active bool `json:"active,omitempty"`
	// NoteKey is the verifier key (golang.org/x/mod/sumdb/note format) of
	// the key the node signs its journal checkpoints with, published by the
	// node itself. A record without it keeps the one known before.
	NoteKey string `json:"note_key,omitempty"`
}

// NodeItem encodes a node's addresses (or its removal).
func NodeItem(n NodeInfo) []byte {
	b, _ := json.Marshal(n)
	return append([]byte{itemNode}, b...)
}

// decodeInstructionItem reads an instruction item of either kind; keyID is
// empty for an itemInstruction (proposed by a node itself, not through a key).
// Its strings are in arena's text when arena is set.
func decodeInstructionItem(item []byte, arena *transfer.DecodeArena) (actor, keyID string, body []byte, err error) {
	rest := item[1:]
	field := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > 128 || uint64(len(rest)-w) < n {
			return "", false
		}
		var s string
		if arena != nil {
			s = arena.String(rest[w : w+int(n)])
		} else {
			s = string(rest[w : w+int(n)])
		}
		rest = rest[w+int(n):]
		return s, true
	}
	var ok bool
	if actor, ok = field(); !ok {
		return "", "", nil, ErrBadItem
	}
	if item[0] == itemKeyedInstruction {
		if keyID, ok = field(); !ok || !ValidKeyID(keyID) {
			return "", "", nil, ErrBadItem
		}
	}
	return actor, keyID, rest, nil
}

// Outcome is the result of one item, as the API returns it.
type Outcome struct {
	ID      string               `json:"id,omitempty"`
	Status  string               `json:"status,omitempty"` // accepted | rejected; empty with Error
	Index   uint64               `json:"index,omitempty"`
	Seq     uint64               `json:"seq,omitempty"`
	Reason  *eligibility.Reason  `json:"reason,omitempty"`
	Reasons []eligibility.Reason `json:"reasons,omitempty"`
	// Error is set when the item was not decided at all: an id reused with
	// another body (ID_REUSED), or an item that does not decode (MALFORMED).
	Error *OpError `json:"error,omitempty"`
	// WrittenOff lists the loans a close_out wrote off under the rulebook's
	// negative-balance protection; absent otherwise, so every other outcome
	// keeps its bytes.
	WrittenOff []transfer.WriteOff `json:"written_off,omitempty"`
	// CorporateAction summarises an accepted distribute or split
	// (corpaction_summary.go).
	CorporateAction *CorporateActionSummary `json:"corporate_action,omitempty"`
}

// Outcome statuses.
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
)

// OpError is an error that is not a rule decision.
type OpError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Codes of OpError.
const (
	ErrCodeIDReused  = "ID_REUSED"
	ErrCodeMalformed = "MALFORMED"
	ErrCodeNotFound  = "NOT_FOUND"
	// ErrCodeNotAuthorized: a key item whose actor may not do it (a party
	// revoking another's key), which the API should have refused.
	ErrCodeNotAuthorized = "NOT_AUTHORIZED"
	// ErrCodeUnauthenticated: an instruction whose key was revoked, expired
	// or unknown when it applied.
	ErrCodeUnauthenticated = "UNAUTHENTICATED"
)

func opError(code, format string, args ...any) Outcome {
	return Outcome{Error: &OpError{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// DecodeOutcome parses an item result.
func DecodeOutcome(b []byte) (Outcome, error) {
	if o, ok := decodePlainOutcome(b); ok {
		return o, nil
	}
	var o Outcome
	err := json.Unmarshal(b, &o)
	return o, err
}

// decodePlainOutcome reads, without reflection, exactly what EncodeOutcome
// writes for an outcome with no reason and no error: {"id":..,"status":..,
// "index":..,"seq":..}, each field optional, strings needing no escapes,
// numbers without leading zeros. ok is false for anything else, which
// encoding/json then decides. FuzzDecodeOutcome holds the two together.
func decodePlainOutcome(b []byte) (o Outcome, ok bool) {
	p := plainReader{b: b}
	if !p.lit("{") {
		return Outcome{}, false
	}
	first := true
	// next consumes the key of an optional field, if it comes next.
	next := func(key string) bool {
		prefix := `"` + key + `":`
		if !first {
			prefix = "," + prefix
		}
		if !p.lit(prefix) {
			return false
		}
		first = false
		return true
	}
	if next("id") {
		if o.ID, ok = p.str(); !ok {
			return Outcome{}, false
		}
	}
	if next("status") {
		if o.Status, ok = p.str(); !ok {
			return Outcome{}, false
		}
	}
	if next("index") {
		if o.Index, ok = p.uint(); !ok {
			return Outcome{}, false
		}
	}
	if next("seq") {
		if o.Seq, ok = p.uint(); !ok {
			return Outcome{}, false
		}
	}
	if !p.lit("}") || len(p.b) != 0 {
		return Outcome{}, false
	}
	return o, true
}

// plainReader consumes a byte slice from the front.
type plainReader struct{ b []byte }

func (p *plainReader) lit(s string) bool {
	if len(p.b) < len(s) || string(p.b[:len(s)]) != s {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

// str reads a quoted string that encoding/json would write as is.
func (p *plainReader) str() (string, bool) {
	if !p.lit(`"`) {
		return "", false
	}
	end := bytes.IndexByte(p.b, '"')
	if end < 0 || !jsonPlain(string(p.b[:end])) {
		return "", false
	}
	s := string(p.b[:end])
	p.b = p.b[end+1:]
	return s, true
}

// uint reads a positive decimal number without a leading zero that fits 64 bits.
func (p *plainReader) uint() (uint64, bool) {
	n := 0
	for n < len(p.b) && p.b[n] >= '0' && p.b[n] <= '9' {
		n++
	}
	if n == 0 || p.b[0] == '0' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[:n]), 10, 64)
	if err != nil {
		return 0, false
	}
	p.b = p.b[n:]
	return v, true
}
