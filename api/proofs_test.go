package api_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
)

// newNoteKey makes a checkpoint signer named as a node's and its verifier key.
func newNoteKey(t testing.TB) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "tokenledger/n1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return signer, vkey
}

// seq is the journal seq of an instruction's outcome.
func (r response) seq(t testing.TB) uint64 {
	t.Helper()
	var o struct {
		Seq uint64 `json:"seq"`
	}
	r.decode(t, &o)
	if o.Seq == 0 {
		t.Fatalf("outcome without a seq: %s", r.body)
	}
	return o.Seq
}

// checkpoint reads GET /v1/journal/checkpoint as the auditor and opens its
// note with vkey, checking that the signed text and the JSON agree.
func (e *env) checkpoint(vkey string) (size uint64, root tlog.Hash) {
	e.t.Helper()
	var cp api.CheckpointBody
	e.must(http.StatusOK, "aud", "GET", "/v1/journal/checkpoint", "").decode(e.t, &cp)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := note.Open([]byte(cp.Note), note.VerifierList(v))
	if err != nil {
		e.t.Fatalf("open checkpoint note %q: %v", cp.Note, err)
	}
	origin, size, root, err := api.ParseCheckpoint(n.Text)
	if err != nil {
		e.t.Fatal(err)
	}
	if origin != "tokenledger/n1" || size != cp.Size || hex.EncodeToString(root[:]) != cp.Root {
		e.t.Fatalf("checkpoint %+v signs origin %q, size %d, root %x", cp, origin, size, root)
	}
	return size, root
}

func unhex(t testing.TB, hs []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			t.Fatalf("proof hash %q", h)
		}
		out[i] = tlog.Hash(b)
	}
	return out
}

// TestJournalProofs checks the verifiable journal end to end through the
// API: each entry of GET /v1/journal, with its proof, checks against the
// signed checkpoint (tlog.CheckRecord, the leaf being the entry's hash), for
// the current size and for an earlier one; a later checkpoint is proved to
// extend an earlier one (tlog.CheckTree).
func TestJournalProofs(t *testing.T) {
	signer, vkey := newNoteKey(t)
	e := newEnv(t, api.Config{CheckpointSigner: signer})
	e.world()
	oldSize, oldRoot := e.checkpoint(vkey)
	for i := 0; i < 5; i++ {
		e.must(http.StatusOK, "iss-1", "POST", "/v1/instructions", mint("REG", "inv-b", "1"))
	}
	size, root := e.checkpoint(vkey)
	if size != oldSize+5 {
		t.Fatalf("checkpoint size %d after 5 entries on %d", size, oldSize)
	}
	var page ledger.JournalPage
	e.must(http.StatusOK, "aud", "GET", "/v1/journal?limit=1000", "").decode(t, &page)
	if uint64(len(page.Entries)) != size {
		t.Fatalf("journal of %d entries, checkpoint of %d", len(page.Entries), size)
	}
	for _, en := range page.Entries {
		hash, err := hex.DecodeString(en.Hash)
		if err != nil {
			t.Fatal(err)
		}
		leaf := tlog.RecordHash(hash)
		var p api.ProofBody
		e.must(http.StatusOK, "aud", "GET", fmt.Sprintf("/v1/journal/proof/%d", en.Seq), "").decode(t, &p)
		if p.Seq != en.Seq || p.Size != size {
			t.Fatalf("proof of %d: %+v", en.Seq, p)
		}
		if err := tlog.CheckRecord(unhex(t, p.Proof), int64(size), root, int64(en.Seq-1), leaf); err != nil {
			t.Errorf("entry %d against the checkpoint of %d: %v", en.Seq, size, err)
		}
		if en.Seq > oldSize {
			continue
		}
		e.must(http.StatusOK, "aud", "GET", fmt.Sprintf("/v1/journal/proof/%d?size=%d", en.Seq, oldSize), "").decode(t, &p)
		if err := tlog.CheckRecord(unhex(t, p.Proof), int64(oldSize), oldRoot, int64(en.Seq-1), leaf); err != nil {
			t.Errorf("entry %d against the checkpoint of %d: %v", en.Seq, oldSize, err)
		}
	}
	var c api.ConsistencyBody
	e.must(http.StatusOK, "inv-a", "GET", fmt.Sprintf("/v1/journal/consistency?from=%d", oldSize), "").decode(t, &c)
	if c.From != oldSize || c.To != size {
		t.Fatalf("consistency %+v, want from %d to %d", c, oldSize, size)
	}
	if err := tlog.CheckTree(unhex(t, c.Proof), int64(size), root, int64(oldSize), oldRoot); err != nil {
		t.Errorf("checkpoint %d does not extend %d: %v", size, oldSize, err)
	}
}

// TestJournalProofErrors checks the answers to proofs asked out of range.
func TestJournalProofErrors(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.world()
	var cp api.CheckpointBody
	e.must(http.StatusOK, "aud", "GET", "/v1/journal/checkpoint", "").decode(t, &cp)
	n := cp.Size
	tests := []struct {
		path string
		want int
	}{
		{"/v1/journal/proof/0", http.StatusNotFound},
		{fmt.Sprintf("/v1/journal/proof/%d", n+1), http.StatusNotFound},
		{"/v1/journal/proof/x", http.StatusBadRequest},
		{"/v1/journal/proof/-1", http.StatusBadRequest},
		{"/v1/journal/proof/1?size=0", http.StatusBadRequest},
		{fmt.Sprintf("/v1/journal/proof/1?size=%d", n+1), http.StatusBadRequest},
		{"/v1/journal/proof/3?size=2", http.StatusBadRequest},
		{"/v1/journal/proof/1?after=2", http.StatusBadRequest},
		{"/v1/journal/proof/3?size=3", http.StatusOK},
		{"/v1/journal/consistency", http.StatusBadRequest},
		{"/v1/journal/consistency?from=0", http.StatusBadRequest},
		{"/v1/journal/consistency?from=3&to=2", http.StatusBadRequest},
		{fmt.Sprintf("/v1/journal/consistency?from=1&to=%d", n+1), http.StatusBadRequest},
		{"/v1/journal/consistency?from=1&to=0", http.StatusBadRequest},
		{"/v1/journal/consistency?from=2&to=2", http.StatusOK},
		{"/v1/journal/checkpoint?size=2", http.StatusBadRequest},
	}
	for _, tc := range tests {
		r := e.as("aud", "GET", tc.path, "")
		if r.status != tc.want {
			t.Errorf("GET %s: status %d (%s), want %d", tc.path, r.status, r.body, tc.want)
		}
		if r.status != http.StatusOK && r.errorCode() == "" {
			t.Errorf("GET %s: status %d without an error code: %s", tc.path, r.status, r.body)
		}
	}
}

// TestClusterListsNoteKeys checks that GET /v1/cluster shows the checkpoint
// verifier key each node published in the replicated node list, and none
// for a node that has not.
func TestClusterListsNoteKeys(t *testing.T) {
	e := newEnv(t, api.Config{})
	_, vkey := newNoteKey(t)
	e.repl.apply([][]byte{ledger.NodeItem(ledger.NodeInfo{ID: "n1", RaftAddr: "127.0.0.1:7000", APIAddr: "127.0.0.1:8080", Active: true, NoteKey: vkey})})
	var st api.ClusterStatus
	e.must(http.StatusOK, ledger.OperatorID, "GET", "/v1/cluster", "").decode(t, &st)
	got := map[string]string{}
	for _, n := range st.Nodes {
		got[n.ID] = n.NoteKey
	}
	if got["n1"] != vkey || got["n2"] != "" {
		t.Errorf("note keys %v, want n1's %q and none for n2", got, vkey)
	}
}
