package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
)

// journalFixture is a ledger with a journal, and a node's checkpoint key,
// from which the files an auditor saves from the API are made.
type journalFixture struct {
	t      *testing.T
	store  *ledger.Store
	signer note.Signer
	vkey   string
	index  uint64
}

func newJournalFixture(t *testing.T) *journalFixture {
	t.Helper()
	store, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if errs := store.Check(); len(errs) > 0 {
			t.Errorf("Check: %v", errs)
		}
		store.Close()
	})
	signer, vkey, err := loadNoteKey(t.TempDir(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	f := &journalFixture{t: t, store: store, signer: signer, vkey: vkey}
	sum := sha256.Sum256([]byte("operator-secret"))
	f.apply(ledger.KeyItem(ledger.OperatorID, hex.EncodeToString(sum[:])))
	f.grow(6)
	return f
}

func (f *journalFixture) apply(items ...[]byte) {
	f.index++
	f.store.Apply([]ledger.Batch{{Index: f.index, Term: 1, Time: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), Items: items}})
}

// grow journals n more instructions, one rejected in three.
func (f *journalFixture) grow(n int) {
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"id":"p-%d-%d","type":"register_party","party":{"id":"iss-%d-%d","role":"issuer"}}`, f.index, i, f.index, i)
		if i%3 == 2 {
			body = fmt.Sprintf(`{"id":"m-%d-%d","type":"mint","symbol":"NONE","to":"nobody","amount":"1"}`, f.index, i)
		}
		f.apply(ledger.InstructionItem(ledger.OperatorID, []byte(body)))
	}
}

func (f *journalFixture) marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// entry is entry seq as GET /v1/journal serves it.
func (f *journalFixture) entry(seq uint64) []byte {
	page, err := f.store.Journal(ledger.JournalQuery{After: seq - 1, Limit: 1})
	if err != nil || len(page.Entries) != 1 {
		f.t.Fatalf("journal entry %d: %v", seq, err)
	}
	return f.marshal(page.Entries[0])
}

// proof is GET /v1/journal/proof/{seq}?size=size.
func (f *journalFixture) proof(seq, size uint64) []byte {
	p, at, err := f.store.InclusionProof(seq, size)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.marshal(api.ProofBody{Seq: seq, Size: at, Proof: hexes(p)})
}

// consistency is GET /v1/journal/consistency?from=from&to=to.
func (f *journalFixture) consistency(from, to uint64) []byte {
	p, at, err := f.store.ConsistencyProof(from, to)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.marshal(api.ConsistencyBody{From: from, To: at, Proof: hexes(p)})
}

// checkpoint is GET /v1/journal/checkpoint now.
func (f *journalFixture) checkpoint() []byte {
	head := f.treeHead()
	return f.signed(f.signer, head.Size, head.Root)
}

func (f *journalFixture) treeHead() ledger.TreeHead {
	f.t.Helper()
	head, err := f.store.TreeHead()
	if err != nil {
		f.t.Fatal(err)
	}
	return head
}

// grownCheckpoints checkpoints the journal, grows it by n entries and
// checkpoints it again: the two checkpoints, and the tree heads they sign.
func (f *journalFixture) grownCheckpoints(n int) (oldCP, newCP []byte, oldHead, head ledger.TreeHead) {
	f.t.Helper()
	oldCP, oldHead = f.checkpoint(), f.treeHead()
	f.grow(n)
	return oldCP, f.checkpoint(), oldHead, f.treeHead()
}

// signed is a checkpoint body of size and root signed by signer.
func (f *journalFixture) signed(signer note.Signer, size uint64, root tlog.Hash) []byte {
	msg, err := note.Sign(&note.Note{Text: api.CheckpointText(signer.Name(), size, root)}, signer)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.marshal(api.CheckpointBody{Size: size, Root: hex.EncodeToString(root[:]), Note: string(msg)})
}

func hexes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h[:])
	}
	return out
}

// edit decodes a JSON object, changes it and encodes it again.
func edit(t *testing.T, raw []byte, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// otherSigner is a key of the same name as the node's, but not its key.
func otherSigner(t *testing.T) note.Signer {
	t.Helper()
	skey, _, err := note.GenerateKey(nil, noteKeyName("n1"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifyEntry checks the auditor's check of an entry against a signed
// checkpoint. Method: every entry passes with its proof at the checkpoint's
// size, also against an older checkpoint, and re-indented or in its page;
// then each way of lying fails: an entry changed (with or without its hash
// recomputed), a proof changed or of another entry or size, a page without
// the entry, a checkpoint signed by another key, a checkpoint of another
// root properly signed, checkpoint fields that differ from the signed note,
// a key that is not a key.
func TestVerifyEntry(t *testing.T) {
	f := newJournalFixture(t)
	oldCP, cp, oldHead, head := f.grownCheckpoints(5)
	keys := []string{f.vkey}
	for seq := uint64(1); seq <= head.Size; seq++ {
		if _, got, err := verifyEntry(f.entry(seq), f.proof(seq, 0), cp, keys); err != nil || got != seq {
			t.Errorf("entry %d: seq %d, %v", seq, got, err)
		}
		if seq <= oldHead.Size {
			if _, _, err := verifyEntry(f.entry(seq), f.proof(seq, oldHead.Size), oldCP, keys); err != nil {
				t.Errorf("entry %d against the older checkpoint: %v", seq, err)
			}
		}
	}

	const seq = 4
	entry, proof := f.entry(seq), f.proof(seq, 0)
	// The entry as a tool may have saved it: re-indented, or the whole page
	// GET /v1/journal served.
	var indented bytes.Buffer
	if err := json.Indent(&indented, entry, "", "  "); err != nil {
		t.Fatal(err)
	}
	page, err := f.store.Journal(ledger.JournalQuery{After: seq - 2, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	for name, saved := range map[string][]byte{"re-indented": indented.Bytes(), "in its page": f.marshal(page)} {
		if _, got, err := verifyEntry(saved, proof, cp, keys); err != nil || got != seq {
			t.Errorf("entry %d %s: seq %d, %v", seq, name, got, err)
		}
	}
	page.Entries = slices.DeleteFunc(page.Entries, func(e ledger.JournalEntry) bool { return e.Seq == seq })
	tamperedEntry := edit(t, entry, func(m map[string]any) { m["time"] = "2030-01-01T00:00:00Z" })
	// A forger who also recomputes the hash gets an entry that checks
	// alone, but is not the entry the tree holds.
	var forged ledger.JournalEntry
	if err := json.Unmarshal(tamperedEntry, &forged); err != nil {
		t.Fatal(err)
	}
	if forged.Hash, err = ledger.ComputeHash(forged); err != nil {
		t.Fatal(err)
	}
	rehashed := f.marshal(forged)
	tamperedProof := edit(t, proof, func(m map[string]any) {
		hs := m["proof"].([]any)
		h := []byte(hs[0].(string))
		h[0] ^= 1 // one hex digit changed
		if h[0] == 'g' || h[0] == '`' {
			h[0] = '0'
		}
		hs[0] = string(h)
	})
	otherRoot := head.Root
	otherRoot[0] ^= 0xff
	tests := []struct {
		name              string
		entry, proof, cp  []byte
		keys              []string
		wantErrContaining string
	}{
		{"a changed entry", tamperedEntry, proof, cp, keys, "does not match its hash"},
		{"an entry whose actor changed", edit(t, entry, func(m map[string]any) { m["actor"] = "someone-else" }), proof, cp, keys, "entry 4"},
		{"a changed entry with its hash recomputed", rehashed, proof, cp, keys, "not proved"},
		{"an entry with a field no entry has", edit(t, entry, func(m map[string]any) { m["note"] = "x" }), proof, cp, keys, "unknown field"},
		{"a page without the entry", f.marshal(page), proof, cp, keys, "no entry 4"},
		{"a changed proof", entry, tamperedProof, cp, keys, "not proved"},
		{"a shortened proof", entry, edit(t, proof, func(m map[string]any) { m["proof"] = m["proof"].([]any)[1:] }), cp, keys, "not proved"},
		{"the proof of another entry", entry, f.proof(seq+1, 0), cp, keys, "the proof is of entry"},
		{"another entry under this entry's proof", f.entry(seq + 1), edit(t, proof, func(m map[string]any) { m["seq"] = seq + 1 }), cp, keys, "not proved"},
		{"a proof at another size", entry, f.proof(seq, head.Size-1), cp, keys, "tree of"},
		{"a checkpoint signed by another key", entry, proof, f.signed(otherSigner(t), head.Size, head.Root), keys, "not signed by the given key"},
		{"a signed checkpoint of another root", entry, proof, f.signed(f.signer, head.Size, otherRoot), keys, "not proved"},
		{"checkpoint fields that differ from its note", entry, proof, edit(t, cp, func(m map[string]any) { m["root"] = hex.EncodeToString(otherRoot[:]) }), keys, "differ from what its note signs"},
		{"a key that is no key", entry, proof, cp, []string{"tokenledger/n1+0000+AAAA"}, "not a note verifier key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := verifyEntry(tc.entry, tc.proof, tc.cp, tc.keys)
			if err == nil || !strings.Contains(err.Error(), tc.wantErrContaining) {
				t.Errorf("verifyEntry = %v, want an error containing %q", err, tc.wantErrContaining)
			}
		})
	}
}

// TestVerifyConsistency checks the auditor's check that a later checkpoint
// extends an earlier one, and that it fails for swapped checkpoints, a
// changed proof, an old checkpoint of another root, or another key.
func TestVerifyConsistency(t *testing.T) {
	f := newJournalFixture(t)
	oldCP, newCP, oldHead, head := f.grownCheckpoints(9)
	keys := []string{f.vkey}
	proof := f.consistency(oldHead.Size, 0)
	if _, _, err := verifyConsistency(proof, oldCP, newCP, keys); err != nil {
		t.Fatalf("verifyConsistency: %v", err)
	}
	if _, _, err := verifyConsistency(f.consistency(head.Size, 0), newCP, newCP, keys); err != nil {
		t.Errorf("a checkpoint against itself: %v", err)
	}
	otherRoot := oldHead.Root
	otherRoot[31] ^= 1
	tests := []struct {
		name                string
		proof, older, newer []byte
	}{
		{"swapped checkpoints", proof, newCP, oldCP},
		{"a changed proof", edit(t, proof, func(m map[string]any) { m["proof"] = m["proof"].([]any)[1:] }), oldCP, newCP},
		{"an old checkpoint of another root", proof, f.signed(f.signer, oldHead.Size, otherRoot), newCP},
		{"a new checkpoint signed by another key", proof, oldCP, f.signed(otherSigner(t), head.Size, head.Root)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := verifyConsistency(tc.proof, tc.older, tc.newer, keys); err == nil {
				t.Errorf("verifyConsistency passed")
			}
		})
	}
}

// TestVerifyCommand runs `node verify` on files, as an auditor would, and
// checks its answer and that a failure is an error (exit status 1).
func TestVerifyCommand(t *testing.T) {
	f := newJournalFixture(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	old := write("old.json", f.checkpoint())
	oldHead, _ := f.store.TreeHead()
	f.grow(3)
	files := map[string]string{
		"entry": write("entry.json", f.entry(2)), "proof": write("proof.json", f.proof(2, 0)),
		"checkpoint": write("checkpoint.json", f.checkpoint()), "consistency": write("consistency.json", f.consistency(oldHead.Size, 0)),
		"old": old, "bad-entry": write("bad.json", edit(t, f.entry(2), func(m map[string]any) { m["status"] = "rejected" })),
	}
	tests := []struct {
		name    string
		args    []string
		wantOut string // "" when it must fail
	}{
		{"entry", []string{"--entry", files["entry"], "--proof", files["proof"], "--checkpoint", files["checkpoint"], "--key", f.vkey}, "ok: journal entry 2 is in the tree of"},
		{"consistency", []string{"--consistency", files["consistency"], "--old", files["old"], "--new", files["checkpoint"], "--key", f.vkey}, "ok: the tree of"},
		{"a changed entry", []string{"--entry", files["bad-entry"], "--proof", files["proof"], "--checkpoint", files["checkpoint"], "--key", f.vkey}, ""},
		{"no key", []string{"--entry", files["entry"], "--proof", files["proof"], "--checkpoint", files["checkpoint"]}, ""},
		{"no proof", []string{"--entry", files["entry"], "--checkpoint", files["checkpoint"], "--key", f.vkey}, ""},
		{"both checks at once", []string{"--entry", files["entry"], "--old", files["old"], "--key", f.vkey}, ""},
		{"a missing file", []string{"--entry", filepath.Join(dir, "none.json"), "--proof", files["proof"], "--checkpoint", files["checkpoint"], "--key", f.vkey}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runVerify(tc.args, &out)
			switch {
			case tc.wantOut == "" && err == nil:
				t.Errorf("node verify %v passed: %s", tc.args, out.String())
			case tc.wantOut != "" && (err != nil || !strings.HasPrefix(out.String(), tc.wantOut)):
				t.Errorf("node verify %v = %q, %v; want %q", tc.args, out.String(), err, tc.wantOut)
			}
		})
	}
}

// TestVerifyNoteKeyFile checks the node's checkpoint key file: created
// mode 0600 on the first start under the node's name, the same key on the
// next, and a damaged file refused without its contents in the error.
func TestVerifyNoteKeyFile(t *testing.T) {
	dir := t.TempDir()
	signer, vkey, err := loadNoteKey(dir, "n7")
	if err != nil {
		t.Fatal(err)
	}
	if signer.Name() != "tokenledger/n7" || !strings.HasPrefix(vkey, "tokenledger/n7+") {
		t.Errorf("key named %q, verifier %q; want tokenledger/n7", signer.Name(), vkey)
	}
	path := filepath.Join(dir, noteKeyFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode %o, want 600", mode)
	}
	again, vkey2, err := loadNoteKey(dir, "n7")
	if err != nil || vkey2 != vkey || again.KeyHash() != signer.KeyHash() {
		t.Errorf("second start: %q, %v; want the same key %q", vkey2, err, vkey)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	skey, _, _ := strings.Cut(string(raw), "\n")
	_, otherV, err := note.GenerateKey(nil, "tokenledger/n7")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"one line":             skey + "\n",
		"another verifier":     skey + "\n" + otherV + "\n",
		"a damaged signer key": strings.Replace(skey, "PRIVATE+KEY", "PRIVATE+KYE", 1) + "\n" + vkey + "\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := loadNoteKey(dir, "n7")
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		if secret := strings.TrimPrefix(skey, "PRIVATE+KEY+tokenledger/n7+"); strings.Contains(err.Error(), secret[len(secret)-20:]) {
			t.Errorf("%s: the error quotes the private key: %v", name, err)
		}
	}
}
