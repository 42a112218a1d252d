package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger/kv"
	"github.com/tokenledger/tokenledger/transfer"
)

// API keys. The keys bucket maps a key's hash to its party, as it always
// has: authentication is one lookup. Beside it, keyinfo holds each key's
// record under its public id (KeyID), and partykeys lists a party's key ids,
// so listing, revoking and expiry never need the hash, and the journal never
// sees it.

// Journal entry types of key events. Their journal entries carry, as the
// instruction, {"type", "key_id", "party_id", "expires_at"?}: no id, and
// never the key or its hash.
const (
	JournalCreateKey = "create_key"
	JournalRevokeKey = "revoke_key"
)

// keyIDPrefix starts every key id, so it never reads as a key (whose prefix
// is the API's "tl_") or an instruction id a client chose.
const keyIDPrefix = "k_"

// KeyID is the public id of the key whose hash (HashKey's hex) is keyHash:
// "k_" and 16 hex characters of a hash of the key hash. It names a key in
// listings, revocations and the journal, and reveals neither the key nor
// its hash.
func KeyID(keyHash string) string {
	sum := sha256.Sum256([]byte("tokenledger key id\x00" + keyHash))
	return keyIDPrefix + hex.EncodeToString(sum[:8])
}

// ValidKeyID reports whether s has the form KeyID gives.
func ValidKeyID(s string) bool {
	if len(s) != len(keyIDPrefix)+16 || s[:len(keyIDPrefix)] != keyIDPrefix {
		return false
	}
	for _, c := range []byte(s[len(keyIDPrefix):]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// KeyInfo is an API key as GET /v1/keys lists it.
type KeyInfo struct {
	KeyID   string `json:"key_id"`
	PartyID string `json:"party_id"`
	// CreatedAt is the time of the batch that registered the key; null for
	// a key registered before keys were dated.
	CreatedAt *time.Time `json:"created_at"`
	// ExpiresAt is when the key stops authenticating; null: never.
	ExpiresAt *time.Time `json:"expires_at"`
	Revoked   bool       `json:"revoked"`
	// RevokedAt is the time of the batch that revoked it.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// ExpiredAt reports whether the key no longer authenticates at now because
// its expires_at has come.
func (k KeyInfo) ExpiredAt(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// keyRecord is a keyinfo value: KeyInfo less the id (the bucket key), plus
// the hash, which links it to its entry in the keys bucket.
type keyRecord struct {
	hash string
	info KeyInfo
}

const tagKey byte = 'K'

func encodeKeyRecord(dst []byte, r *keyRecord) []byte {
	w := newRecordWriter(dst, tagKey)
	w.Str(r.hash)
	w.Str(r.info.PartyID)
	w.OptTime(r.info.CreatedAt)
	w.OptTime(r.info.ExpiresAt)
	w.Bool(r.info.Revoked)
	w.OptTime(r.info.RevokedAt)
	return w.B
}

func decodeKeyRecord(id, val []byte) keyRecord {
	r := newRecordReader(val, tagKey, "key")
	var k keyRecord
	k.hash = r.Str()
	k.info.KeyID = string(id)
	k.info.PartyID = r.Str()
	k.info.CreatedAt = r.OptTime()
	k.info.ExpiresAt = r.OptTime()
	k.info.Revoked = r.Bool()
	k.info.RevokedAt = r.OptTime()
	r.done()
	return k
}

// keyMemo holds the key records Apply decoded last, each with the bytes it
// was decoded from: nearly every instruction names its key, most of them
// one of a few, and decoding its record (an allocation for each of its
// strings and times) was about 4% of a follower's apply. A record
// whose bytes changed (a revocation) is decoded afresh, so the memo
// changes what a check costs, never its answer.
type keyMemo struct {
	ents [4]keyMemoEntry
	next int
}

type keyMemoEntry struct {
	id  string
	raw []byte // nil: unused
	rec keyRecord
}

// record returns decodeKeyRecord(id, raw), from m when it holds it. A nil
// memo decodes every time. The record is shared: callers only read it.
func (m *keyMemo) record(id string, raw []byte) keyRecord {
	if m == nil {
		return decodeKeyRecord([]byte(id), raw)
	}
	for i := range m.ents {
		if e := &m.ents[i]; e.raw != nil && e.id == id && bytes.Equal(e.raw, raw) {
			return e.rec
		}
	}
	rec := decodeKeyRecord([]byte(id), raw)
	// Copies: raw is bbolt's, valid only in its transaction.
	m.ents[m.next] = keyMemoEntry{id: strings.Clone(id), raw: bytes.Clone(raw), rec: rec}
	m.next = (m.next + 1) % len(m.ents)
	return rec
}

// KeyRequest is the registration of an API key, by its hash only.
type KeyRequest struct {
	// Actor registers the key; empty means the operator (the bootstrap key,
	// and items written before key registrations named their actor).
	Actor   string
	PartyID string
	KeyHash string
	// ExpiresAt, if set, must be after the time of the batch that applies it.
	ExpiresAt *time.Time
}

type keyItem struct {
	PartyID   string     `json:"party_id"`
	KeyHash   string     `json:"key_hash"`
	Actor     string     `json:"actor,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// KeyItem encodes the registration of an API key, by its hash only, by the
// operator and without expiry.
func KeyItem(partyID, keyHash string) []byte {
	return KeyRequestItem(KeyRequest{PartyID: partyID, KeyHash: keyHash})
}

// KeyRequestItem encodes the registration of an API key.
func KeyRequestItem(r KeyRequest) []byte {
	k := keyItem{PartyID: r.PartyID, KeyHash: r.KeyHash, Actor: r.Actor, ExpiresAt: r.ExpiresAt}
	if k.ExpiresAt != nil {
		t := k.ExpiresAt.UTC()
		k.ExpiresAt = &t
	}
	b, _ := json.Marshal(k)
	return append([]byte{itemKey}, b...)
}

type revokeKeyItem struct {
	Actor string `json:"actor"`
	KeyID string `json:"key_id"`
}

// RevokeKeyItem encodes the revocation of key keyID by actor.
func RevokeKeyItem(actor, keyID string) []byte {
	b, _ := json.Marshal(revokeKeyItem{Actor: actor, KeyID: keyID})
	return append([]byte{itemRevokeKey}, b...)
}

// keyEvent is the instruction a key event's journal entry carries.
type keyEvent struct {
	Type      string     `json:"type"`
	KeyID     string     `json:"key_id"`
	PartyID   string     `json:"party_id"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// createKey applies a key registration. Registering a hash already
// registered to the same party changes nothing, so the bootstrap key can be
// proposed on every start, and a revoked key stays revoked.
func (a *applier) createKey(index uint64, now time.Time, item []byte) Outcome {
	var k keyItem
	if err := json.Unmarshal(item[1:], &k); err != nil || len(k.KeyHash) != 64 || !transfer.ValidID(k.PartyID) {
		return opError(ErrCodeMalformed, "malformed key item")
	}
	if k.Actor == "" {
		k.Actor = OperatorID
	}
	if !transfer.ValidID(k.Actor) {
		return opError(ErrCodeMalformed, "malformed key item")
	}
	keys := a.tx.Bucket(bucketKeys)
	if owner := keys.Get([]byte(k.KeyHash)); owner != nil {
		if string(owner) != k.PartyID {
			return opError(ErrCodeIDReused, "the key is registered to another party")
		}
		return Outcome{Status: StatusAccepted, Index: index}
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
		return opError(ErrCodeMalformed, "expires_at %s is not after the time of the batch, %s",
			k.ExpiresAt.UTC().Format(time.RFC3339), now.Format(time.RFC3339))
	}
	id := KeyID(k.KeyHash)
	infos := a.tx.Bucket(bucketKeyInfo)
	if infos.Get([]byte(id)) != nil {
		// Two hashes whose ids collide (one in 2^64): the new key is refused,
		// and the API makes another.
		return opError(ErrCodeIDReused, "key id %s is taken; make another key", id)
	}
	// Only the operator registers keys. The API checked it; the state
	// machine checks again against the state it applies to. The bootstrap
	// key is the operator's own, before its party exists.
	if actor, ok := a.view.Party(k.Actor); ok && actor.Role != eligibility.RoleOperator || !ok && !(k.Actor == OperatorID && k.PartyID == OperatorID) {
		return opError(ErrCodeNotAuthorized, "only the operator registers keys")
	}
	if _, ok := a.view.Party(k.PartyID); !ok {
		if k.PartyID != OperatorID {
			return opError(ErrCodeNotFound, "party %s is not registered", k.PartyID)
		}
		// The first key of a new ledger creates the operator party it belongs to.
		op := transfer.Party{ID: OperatorID, Role: eligibility.RoleOperator, CreatedAt: now}
		a.view.commit(transfer.Changes{Parties: []transfer.Party{op}}, a.seq)
	}
	created := now
	rec := keyRecord{hash: k.KeyHash, info: KeyInfo{KeyID: id, PartyID: k.PartyID, CreatedAt: &created, ExpiresAt: k.ExpiresAt}}
	if k.ExpiresAt != nil {
		t := k.ExpiresAt.UTC()
		rec.info.ExpiresAt = &t
	}
	mustPut(keys, []byte(k.KeyHash), []byte(k.PartyID), "key")
	putKeyRecord(a.tx, &rec)
	mustPut(a.tx.Bucket(bucketPartyKeys), join(k.PartyID, id), present, "party key")
	return a.journalKeyEvent(index, now, k.Actor, keyEvent{Type: JournalCreateKey, KeyID: id, PartyID: k.PartyID, ExpiresAt: rec.info.ExpiresAt})
}

// revokeKey applies a key revocation. The API checked who may revoke before
// proposing; the state machine checks again against the state it applies
// to, by the actor's party: the operator revokes any key, any other party
// its own. Instructions carry the key that authenticated them
// (KeyedInstructionItem), and keyRefuses turns away any that applies after
// its key's revocation, wherever it was authenticated. Revoking a revoked
// key changes nothing.
func (a *applier) revokeKey(index uint64, now time.Time, item []byte) Outcome {
	var r revokeKeyItem
	if err := json.Unmarshal(item[1:], &r); err != nil || !ValidKeyID(r.KeyID) || !transfer.ValidID(r.Actor) {
		return opError(ErrCodeMalformed, "malformed key revocation item")
	}
	infos := a.tx.Bucket(bucketKeyInfo)
	raw := infos.Get([]byte(r.KeyID))
	if raw == nil {
		return opError(ErrCodeNotFound, "no key %s", r.KeyID)
	}
	rec := decodeKeyRecord([]byte(r.KeyID), raw)
	actor, ok := a.view.Party(r.Actor)
	if !ok || actor.Role != eligibility.RoleOperator && actor.ID != rec.info.PartyID {
		return opError(ErrCodeNotAuthorized, "%s may revoke only its own keys", r.Actor)
	}
	if rec.info.Revoked {
		return Outcome{Status: StatusAccepted, Index: index}
	}
	revoked := now
	rec.info.Revoked, rec.info.RevokedAt = true, &revoked
	putKeyRecord(a.tx, &rec)
	return a.journalKeyEvent(index, now, r.Actor, keyEvent{Type: JournalRevokeKey, KeyID: r.KeyID, PartyID: rec.info.PartyID})
}

// keyRefuses says why the key keyID may not submit an instruction for actor
// at now (the batch time), or "" when it may: it must exist, belong to
// actor, be unrevoked and unexpired. A key registered earlier in the same
// batch is visible, as is a revocation.
func (a *applier) keyRefuses(keyID, actor string, now time.Time) string {
	raw := a.tx.Bucket(bucketKeyInfo).Get([]byte(keyID))
	if raw == nil {
		return "the key that submitted the instruction is not registered"
	}
	rec := a.keys.record(keyID, raw)
	switch {
	case rec.info.PartyID != actor:
		return "the key that submitted the instruction is not " + actor + "'s"
	case rec.info.Revoked:
		return "the key that submitted the instruction was revoked"
	case rec.info.ExpiredAt(now):
		return "the key that submitted the instruction has expired"
	}
	return ""
}

// journalKeyEvent appends the journal entry of a key event, accepted, and
// returns its outcome. The event is not an instruction: its entry holds the
// event's JSON as the served instruction, the form the journal record keeps
// for any instruction its binary encoding cannot render (DESIGN.md, "The
// journal"), and it names the actor and the key's party.
func (a *applier) journalKeyEvent(index uint64, now time.Time, actor string, ev keyEvent) Outcome {
	body, err := json.Marshal(ev)
	assert(err == nil, "encode key event: %v", err)
	ins, decoded := decodeServedInstruction(body)
	assert(decoded && ins.PartyID == ev.PartyID, "key event %s does not decode as a served instruction", body)
	a.seq++
	out := Outcome{Status: StatusAccepted, Index: index, Seq: a.seq}
	a.appendJournal(index, now, actor, ins, body, false, out, touchedNames{})
	return out
}

func putKeyRecord(tx *kv.Tx, rec *keyRecord) {
	mustPut(tx.Bucket(bucketKeyInfo), []byte(rec.info.KeyID), encodeKeyRecord(nil, rec), "key record")
}

func mustPut(b *kv.Bucket, k, v []byte, what string) {
	if err := b.Put(k, v); err != nil {
		panic(fmt.Sprintf("ledger: put %s: %v", what, err))
	}
}

// indexKeys gives every key of the keys bucket its keyinfo and partykeys
// entries, undated, if none has any: keys registered before keys had ids.
// Every node runs it on the same state, at Open and on Restore, so replicas
// stay equal.
func indexKeys(tx *kv.Tx) error {
	infos := tx.Bucket(bucketKeyInfo)
	if k, _ := infos.Cursor().First(); k != nil {
		return nil
	}
	partyKeys := tx.Bucket(bucketPartyKeys)
	return tx.Bucket(bucketKeys).ForEach(func(hash, party []byte) error {
		rec := keyRecord{hash: string(hash), info: KeyInfo{KeyID: KeyID(string(hash)), PartyID: string(party)}}
		if err := infos.Put([]byte(rec.info.KeyID), encodeKeyRecord(nil, &rec)); err != nil {
			return err
		}
		return partyKeys.Put(join(rec.info.PartyID, rec.info.KeyID), present)
	})
}

// checkKeys checks that the keys, keyinfo and partykeys buckets describe the
// same keys: each hash's record under its id, naming its party.
func checkKeys(tx *kv.Tx, bad func(format string, args ...any)) {
	infos := tx.Bucket(bucketKeyInfo)
	partyKeys := tx.Bucket(bucketPartyKeys)
	n := 0
	_ = tx.Bucket(bucketKeys).ForEach(func(hash, party []byte) error {
		n++
		id := KeyID(string(hash))
		raw := infos.Get([]byte(id))
		if raw == nil {
			bad("key %s has no record", id)
			return nil
		}
		if rec := decodeKeyRecord([]byte(id), raw); rec.hash != string(hash) || rec.info.PartyID != string(party) {
			bad("key %s's record names another key or party", id)
		}
		if partyKeys.Get(join(string(party), id)) == nil {
			bad("key %s is not listed under its party %s", id, party)
		}
		return nil
	})
	// Stats does not count what an open write transaction holds: count.
	if got := countKeys(infos); got != n {
		bad("%d key records for %d keys", got, n)
	}
	if got := countKeys(partyKeys); got != n {
		bad("%d party key entries for %d keys", got, n)
	}
}

func countKeys(b *kv.Bucket) int {
	n := 0
	_ = b.ForEach(func(_, _ []byte) error { n++; return nil })
	return n
}

// KeyParty resolves an API key hash to its party, revoked or expired keys
// included: registration asks it whether a key is already known.
func (s *Store) KeyParty(keyHash string) (party string, err error) {
	err = s.view(func(tx *kv.Tx) error {
		v := tx.Bucket(bucketKeys).Get([]byte(keyHash))
		if v == nil {
			return ErrNotFound
		}
		party = string(v)
		return nil
	})
	return party, err
}

// ErrKeyRevoked and ErrKeyExpired are wrapped, with ErrNotFound, by
// KeyOwner and KeyOwnerAt for a key that no longer authenticates anyone.
var (
	ErrKeyRevoked = errors.New("ledger: key revoked")
	ErrKeyExpired = errors.New("ledger: key expired")
)

// KeyOwner resolves a key hash to its party in one read; a revoked key
// resolves to nothing. It does not look at expiry: see KeyOwnerAt.
func (s *Store) KeyOwner(keyHash string) (transfer.Party, error) {
	return s.keyOwner(keyHash, nil)
}

// KeyOwnerAt is KeyOwner for a request at now, by the clock of the node
// that authenticates it: a key whose expires_at is at or before now
// resolves to nothing too. Expiry is a wall-clock matter, like a
// certificate's; revocation is replicated state.
func (s *Store) KeyOwnerAt(keyHash string, now time.Time) (transfer.Party, error) {
	return s.keyOwner(keyHash, &now)
}

func (s *Store) keyOwner(keyHash string, now *time.Time) (p transfer.Party, err error) {
	err = s.view(func(tx *kv.Tx) error {
		id := tx.Bucket(bucketKeys).Get([]byte(keyHash))
		if id == nil {
			return ErrNotFound
		}
		if raw := tx.Bucket(bucketKeyInfo).Get([]byte(KeyID(keyHash))); raw != nil {
			rec := decodeKeyRecord(nil, raw)
			switch {
			case rec.info.Revoked:
				return fmt.Errorf("%w: %w", ErrNotFound, ErrKeyRevoked)
			case now != nil && rec.info.ExpiredAt(*now):
				return fmt.Errorf("%w: %w", ErrNotFound, ErrKeyExpired)
			}
		}
		var ok bool
		if p, ok = newTxView(tx, s.Rulebook()).Party(string(id)); !ok {
			return ErrNotFound
		}
		return nil
	})
	return p, err
}

// Keys lists the keys of party, or of every party when party is empty, in
// party and then key id order.
func (s *Store) Keys(party string) (out []KeyInfo, err error) {
	err = s.view(func(tx *kv.Tx) error {
		infos := tx.Bucket(bucketKeyInfo)
		var prefix []byte
		if party != "" {
			prefix = append([]byte(party), 0)
		}
		c := tx.Bucket(bucketPartyKeys).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := k[bytes.IndexByte(k, 0)+1:]
			raw := infos.Get(id)
			assert(raw != nil, "party key %q without a record", k)
			out = append(out, decodeKeyRecord(id, raw).info)
		}
		return nil
	})
	return out, err
}

// Key returns the key whose id is keyID.
func (s *Store) Key(keyID string) (k KeyInfo, err error) {
	err = s.view(func(tx *kv.Tx) error {
		raw := tx.Bucket(bucketKeyInfo).Get([]byte(keyID))
		if raw == nil {
			return ErrNotFound
		}
		k = decodeKeyRecord([]byte(keyID), raw).info
		return nil
	})
	return k, err
}
