package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/ledger/kv"
	bolt "go.etcd.io/bbolt"
)

func keyRequest(actor, party, secret string, expires *time.Time) []byte {
	return KeyRequestItem(KeyRequest{Actor: actor, PartyID: party, KeyHash: hashKey(secret), ExpiresAt: expires})
}

// TestKeyLifecycle registers, lists, expires and revokes keys, and checks
// who may revoke which, and what the journal says of it.
func TestKeyLifecycle(t *testing.T) {
	h := newHarness(t)
	h.world()
	expires := h.now.Add(time.Hour)
	created := h.apply(keyRequest(OperatorID, "cus-1", "cus-secret", &expires), keyRequest(OperatorID, "iss-1", "iss-secret", nil))
	for _, o := range created {
		if o.Status != StatusAccepted || o.Seq == 0 {
			t.Fatalf("key registration: %+v, want accepted and journaled", o)
		}
	}
	cusKey, issKey := KeyID(hashKey("cus-secret")), KeyID(hashKey("iss-secret"))

	keys, err := h.s.Keys("cus-1")
	if err != nil || len(keys) != 1 || keys[0].KeyID != cusKey || keys[0].ExpiresAt == nil || !keys[0].ExpiresAt.Equal(expires) ||
		keys[0].CreatedAt == nil || !keys[0].CreatedAt.Equal(h.now) || keys[0].Revoked {
		t.Fatalf("Keys(cus-1) = %+v, %v; want %s expiring at %s", keys, err, cusKey, expires)
	}
	if all, err := h.s.Keys(""); err != nil || len(all) != 3 {
		t.Errorf("Keys() = %+v, %v; want the operator's, cus-1's and iss-1's", all, err)
	}

	// Expiry is the authenticating node's clock against expires_at.
	if _, err := h.s.KeyOwnerAt(hashKey("cus-secret"), expires.Add(-time.Second)); err != nil {
		t.Errorf("KeyOwnerAt before expiry: %v", err)
	}
	if _, err := h.s.KeyOwnerAt(hashKey("cus-secret"), expires); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrKeyExpired) {
		t.Errorf("KeyOwnerAt at expiry: %v, want ErrNotFound and ErrKeyExpired", err)
	}

	for _, tc := range []struct {
		name, actor, keyID string
		wantCode           string // "" accepted
	}{
		{"a custodian revoking the issuer's key", "cus-1", issKey, ErrCodeNotAuthorized},
		{"an unregistered actor", "nobody", issKey, ErrCodeNotAuthorized},
		{"an unknown key", OperatorID, "k_0000000000000000", ErrCodeNotFound},
		{"the issuer revoking its own key", "iss-1", issKey, ""},
		{"revoking it again", OperatorID, issKey, ""},
		{"the operator revoking the custodian's key", OperatorID, cusKey, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := h.apply(RevokeKeyItem(tc.actor, tc.keyID))[0]
			switch {
			case tc.wantCode == "" && o.Status != StatusAccepted:
				t.Fatalf("got %+v, want accepted", o)
			case tc.wantCode != "" && (o.Error == nil || o.Error.Code != tc.wantCode):
				t.Fatalf("got %+v, want %s", o, tc.wantCode)
			}
		})
	}
	for _, secret := range []string{"iss-secret", "cus-secret"} {
		if _, err := h.s.KeyOwner(hashKey(secret)); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrKeyRevoked) {
			t.Errorf("KeyOwner(revoked %s) = %v, want ErrNotFound and ErrKeyRevoked", secret, err)
		}
	}
	// Registering a revoked key again changes nothing: it stays revoked,
	// and nothing is journaled.
	before := mustVerifyJournal(t, h.s).Length
	if o := h.apply(keyRequest(OperatorID, "iss-1", "iss-secret", nil))[0]; o.Status != StatusAccepted || o.Seq != 0 {
		t.Errorf("registering a known key again: %+v, want accepted without a journal entry", o)
	}
	if k, err := h.s.Key(issKey); err != nil || !k.Revoked || k.RevokedAt == nil {
		t.Errorf("Key(%s) = %+v, %v; want revoked", issKey, k, err)
	}
	if after := mustVerifyJournal(t, h.s).Length; after != before {
		t.Errorf("journal grew from %d to %d", before, after)
	}

	// The journal names each event's key and party, and never the secret or its hash.
	page, err := h.s.Journal(JournalQuery{Party: "iss-1", Limit: MaxJournalPage})
	if err != nil {
		t.Fatal(err)
	}
	var events []keyEvent
	for _, e := range page.Entries {
		var ev keyEvent
		if json.Unmarshal(e.Instruction, &ev) == nil && ev.KeyID != "" {
			events = append(events, ev)
		}
		for _, secret := range []string{"iss-secret", "cus-secret"} {
			if raw := encodeJSON(e); bytes.Contains(raw, []byte(hashKey(secret))) || bytes.Contains(raw, []byte(secret)) {
				t.Errorf("journal entry %d holds a key or its hash: %s", e.Seq, raw)
			}
		}
	}
	want := []keyEvent{{Type: JournalCreateKey, KeyID: issKey, PartyID: "iss-1"}, {Type: JournalRevokeKey, KeyID: issKey, PartyID: "iss-1"}}
	if len(events) != len(want) || events[0] != want[0] || events[1] != want[1] {
		t.Errorf("iss-1's key events %+v, want %+v", events, want)
	}
	checkComputeHashFromJSON(t, h.s)
}

// TestKeyRegistrationRefusals: what the state machine refuses of a key
// registration, whatever the API checked before.
func TestKeyRegistrationRefusals(t *testing.T) {
	h := newHarness(t)
	h.world()
	past := h.now.Add(-time.Second)
	for _, tc := range []struct {
		name     string
		item     []byte
		wantCode string
	}{
		{"expires_at not after the batch", keyRequest(OperatorID, "cus-1", "a", &h.now), ErrCodeMalformed},
		{"expires_at in the past", keyRequest(OperatorID, "cus-1", "b", &past), ErrCodeMalformed},
		{"by a custodian", keyRequest("cus-1", "cus-1", "c", nil), ErrCodeNotAuthorized},
		{"for an unregistered party", keyRequest(OperatorID, "ghost", "d", nil), ErrCodeNotFound},
		{"the operator's key for another party", KeyItem("cus-1", hashKey("operator-secret")), ErrCodeIDReused},
		{"a short hash", KeyRequestItem(KeyRequest{PartyID: "cus-1", KeyHash: "abc"}), ErrCodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if o := h.apply(tc.item)[0]; o.Error == nil || o.Error.Code != tc.wantCode {
				t.Errorf("got %+v, want %s", o, tc.wantCode)
			}
		})
	}
	if keys, err := h.s.Keys("cus-1"); err != nil || len(keys) != 0 {
		t.Errorf("Keys(cus-1) = %+v, %v; want none", keys, err)
	}
}

// TestKeysOfAnOlderFileGetRecords: a state file whose keys predate key ids
// gets their records, undated, when it opens, and they can be revoked.
func TestKeysOfAnOlderFileGetRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openStore(t, path, true)
	h := &harness{t: t, s: s, now: epoch}
	h.apply(KeyItem(OperatorID, hashKey("operator-secret")))
	h.apply(KeyItem(OperatorID, hashKey("second-secret")))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Make the file as the previous release left it: keys alone.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = updateKV(db, func(tx *kv.Tx) error {
		for _, b := range [][]byte{bucketKeyInfo, bucketPartyKeys} {
			if err := tx.Bolt().DeleteBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path, true)
	keys, err := s.Keys(OperatorID)
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys(operator) = %+v, %v; want two", keys, err)
	}
	for _, k := range keys {
		if k.CreatedAt != nil || k.Revoked {
			t.Errorf("key %+v of an older file: want undated and not revoked", k)
		}
	}
	h = &harness{t: t, s: s, index: s.AppliedIndex(), now: epoch}
	if o := h.apply(RevokeKeyItem(OperatorID, KeyID(hashKey("second-secret"))))[0]; o.Status != StatusAccepted {
		t.Fatalf("revoke: %+v", o)
	}
	if _, err := s.KeyOwner(hashKey("second-secret")); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("KeyOwner(revoked) = %v, want ErrKeyRevoked", err)
	}
	if _, err := s.KeyOwner(hashKey("operator-secret")); err != nil {
		t.Errorf("KeyOwner(operator) = %v", err)
	}
}

// TestKeyIDIsStable pins KeyID: ids are public and outlive releases.
func TestKeyIDIsStable(t *testing.T) {
	id := KeyID(hashKey("operator-secret"))
	if id != "k_14c89eb0c6efb223" || !ValidKeyID(id) || id == KeyID(hashKey("other")) {
		t.Fatalf("KeyID = %s: want a stable k_ and 16 hex characters, distinct per key", id)
	}
	for _, bad := range []string{"", "k_", "k_0123456789abcde", "k_0123456789abcdeF", "x_0123456789abcdef", "k_0123456789abcdef0"} {
		if ValidKeyID(bad) {
			t.Errorf("ValidKeyID(%q) = true", bad)
		}
	}
}

// TestKeyedInstructions checks that an instruction carries the key that
// authenticated it and is refused where it applies if that key is unknown,
// another party's, revoked or expired by the batch's time: a follower that
// authenticated it before it learnt of the revocation cannot get it
// applied. A refusal records nothing, so the id stays free.
func TestKeyedInstructions(t *testing.T) {
	h := newHarness(t)
	h.world()
	expires := h.now.Add(time.Hour)
	h.apply(keyRequest(OperatorID, "cus-1", "cus-secret", &expires), keyRequest(OperatorID, "iss-1", "iss-secret", nil))
	cusKey, issKey := KeyID(hashKey("cus-secret")), KeyID(hashKey("iss-secret"))
	register := func(id string) []byte {
		fields := investor("inv-"+id, "retail", "US")
		fields["id"] = id
		return []byte(ins("register_party", fields))
	}
	keyed := func(actor, keyID, id string) Outcome {
		t.Helper()
		return h.apply(KeyedInstructionItem(actor, keyID, register(id)))[0]
	}
	refused := func(what string, o Outcome) {
		t.Helper()
		if o.Error == nil || o.Error.Code != ErrCodeUnauthenticated || o.Seq != 0 {
			t.Errorf("%s: %+v, want an UNAUTHENTICATED error, nothing journaled", what, o)
		}
	}
	if o := keyed("cus-1", cusKey, "k1"); o.Status != StatusAccepted {
		t.Fatalf("a valid key: %+v", o)
	}
	refused("an unknown key", keyed("cus-1", KeyID(hashKey("nobody")), "k2"))
	refused("another party's key", keyed("cus-1", issKey, "k2"))
	if o := h.apply(KeyedInstructionItem("cus-1", "not-a-key-id", register("k2")))[0]; o.Error == nil || o.Error.Code != ErrCodeMalformed {
		t.Errorf("a malformed key id: %+v, want MALFORMED", o)
	}
	h.now = expires // the batch's time decides, not a clock
	refused("an expired key", keyed("cus-1", cusKey, "k2"))
	h.apply(keyRequest(OperatorID, "cus-1", "cus-secret-2", nil))
	cusKey2 := KeyID(hashKey("cus-secret-2"))
	// A revocation and an instruction through the revoked key in one batch:
	// the revocation, first, holds for the instruction.
	res := h.apply(RevokeKeyItem(OperatorID, cusKey2), KeyedInstructionItem("cus-1", cusKey2, register("k2")))
	refused("a key revoked earlier in the batch", res[1])
	if _, err := h.s.Party("inv-k2"); err == nil {
		t.Error("a refused instruction registered its party")
	}
	if _, err := h.s.Outcome("k2"); err == nil {
		t.Error("a refused instruction's id was recorded")
	}
	h.apply(keyRequest(OperatorID, "cus-1", "cus-secret-3", nil))
	cusKey3 := KeyID(hashKey("cus-secret-3"))
	if o := keyed("cus-1", cusKey3, "k2"); o.Status != StatusAccepted {
		t.Errorf("the same id through a valid key: %+v, want accepted", o)
	}
	// A key used, then revoked in the same batch and used again: Apply
	// remembers the records it decoded, never past a change of their bytes.
	res = h.apply(KeyedInstructionItem("cus-1", cusKey3, register("k3")), RevokeKeyItem(OperatorID, cusKey3),
		KeyedInstructionItem("cus-1", cusKey3, register("k4")))
	if res[0].Status != StatusAccepted {
		t.Errorf("a valid key before its revocation: %+v, want accepted", res[0])
	}
	refused("a key used, then revoked, in one batch", res[2])
	refused("a key used, then revoked, in a later batch", keyed("cus-1", cusKey3, "k5"))
}
