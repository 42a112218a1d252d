package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
)

// runVerify is `node verify`: an auditor's offline check, from files saved
// from the API and a node's verifier key, with no access to the cluster.
//
//	node verify --entry E.json --proof P.json --checkpoint C.json --key K
//	node verify --consistency P.json --old C1.json --new C2.json --key K
//	node verify --line L.json --entry E.json --proof P.json --checkpoint C.json --key K
//
// The first checks that the entry (one entry of GET /v1/journal, or the page
// holding it) recomputes its own hash, that the proof (GET
// /v1/journal/proof/{seq}) ties that hash to the checkpoint's root at the
// checkpoint's size, and that the checkpoint (GET /v1/journal/checkpoint) is
// signed by the key. The second checks that
// the new checkpoint's tree extends the old one's. --key may be repeated
// (checkpoints of several nodes); each checkpoint must be signed by a given
// key whose name is its origin. The third checks a holder's line of a
// corporate action (GET /v1/corporate-actions/{id}/proof?party=) against
// the lines_root of the action's completion entry, itself checked as the
// first does (verify_line.go).
func runVerify(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	entry := fs.String("entry", "", "a journal entry as GET /v1/journal serves it (one entry object, or the page holding it), in a JSON file")
	proof := fs.String("proof", "", "the answer of GET /v1/journal/proof/{seq}?size=N, in a JSON file")
	checkpoint := fs.String("checkpoint", "", "the answer of GET /v1/journal/checkpoint, in a JSON file")
	consistency := fs.String("consistency", "", "the answer of GET /v1/journal/consistency?from=M&to=N, in a JSON file")
	line := fs.String("line", "", "with --entry, --proof and --checkpoint: the answer of GET /v1/corporate-actions/{id}/proof?party=P, whose done_seq is the entry's")
	oldCheckpoint := fs.String("old", "", "with --consistency: the checkpoint of size M")
	newCheckpoint := fs.String("new", "", "with --consistency: the checkpoint of size N")
	var keys []string
	fs.Func("key", "a node's note_key from GET /v1/cluster (repeatable)", func(k string) error {
		keys = append(keys, k)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("verify: unexpected arguments %v", fs.Args())
	}
	if len(keys) == 0 {
		return errors.New("verify: --key is required: the note_key GET /v1/cluster lists for the node that signed the checkpoint")
	}
	entryMode := *entry != "" || *proof != "" || *checkpoint != "" || *line != ""
	consistencyMode := *consistency != "" || *oldCheckpoint != "" || *newCheckpoint != ""
	switch {
	case entryMode == consistencyMode:
		return errors.New("verify: give either --entry, --proof and --checkpoint, or --consistency, --old and --new")
	case entryMode:
		files, err := readFiles(map[string]string{"--entry": *entry, "--proof": *proof, "--checkpoint": *checkpoint})
		if err != nil {
			return err
		}
		cp, seq, err := verifyEntry(files["--entry"], files["--proof"], files["--checkpoint"], keys)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if *line != "" {
			lineJSON, err := readFiles(map[string]string{"--line": *line})
			if err != nil {
				return err
			}
			p, err := verifyLine(files["--entry"], seq, lineJSON["--line"])
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			fmt.Fprintf(stdout, "ok: %s's line of corporate action %s (units %s, amount %s) is line %d of %d under lines_root %s of journal entry %d\n", p.Line.Party, p.ID, p.Line.Units, p.Line.Amount, p.Index, p.Size, p.Root, seq)
		}
		fmt.Fprintf(stdout, "ok: journal entry %d is in the tree of %d entries with root %x, signed by %s\n", seq, cp.size, cp.root[:], cp.origin)
	default:
		files, err := readFiles(map[string]string{"--consistency": *consistency, "--old": *oldCheckpoint, "--new": *newCheckpoint})
		if err != nil {
			return err
		}
		older, newer, err := verifyConsistency(files["--consistency"], files["--old"], files["--new"], keys)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		fmt.Fprintf(stdout, "ok: the tree of %d entries (%s) extends the tree of %d entries (%s)\n", newer.size, newer.origin, older.size, older.origin)
	}
	return nil
}

// readFiles reads each named file, refusing a flag left empty.
func readFiles(paths map[string]string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	for flagName, path := range paths {
		if path == "" {
			return nil, fmt.Errorf("verify: %s is required", flagName)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("verify: %s: %w", flagName, err)
		}
		out[flagName] = b
	}
	return out, nil
}

// checkpoint is a checkpoint whose signature checked.
type checkpoint struct {
	origin string
	size   uint64
	root   tlog.Hash
}

// verifyEntry checks the entry in entryJSON against proofJSON and
// checkpointJSON, signed by one of keys, and returns the checkpoint and the
// entry's seq. entryJSON is one served journal entry, or a journal page as
// served that holds the proof's entry.
func verifyEntry(entryJSON, proofJSON, checkpointJSON []byte, keys []string) (checkpoint, uint64, error) {
	cp, err := openCheckpoint(checkpointJSON, keys)
	if err != nil {
		return checkpoint{}, 0, err
	}
	var p api.ProofBody
	if err := decodeFile(proofJSON, &p); err != nil {
		return checkpoint{}, 0, fmt.Errorf("proof: %w", err)
	}
	e, err := decodeEntry(entryJSON, p.Seq)
	if err != nil {
		return checkpoint{}, 0, fmt.Errorf("entry: %w", err)
	}
	sum, err := ledger.ComputeHash(e)
	if err != nil {
		return checkpoint{}, 0, fmt.Errorf("entry %d: %w", e.Seq, err)
	}
	if sum != e.Hash {
		return checkpoint{}, 0, fmt.Errorf("entry %d does not match its hash: its fields hash to %s, it says %s", e.Seq, sum, e.Hash)
	}
	hash, err := hex.DecodeString(e.Hash)
	if err != nil || len(hash) != tlog.HashSize {
		return checkpoint{}, 0, fmt.Errorf("entry %d: hash %q is not 32 bytes of hex", e.Seq, e.Hash)
	}
	switch {
	case p.Seq != e.Seq:
		return checkpoint{}, 0, fmt.Errorf("the proof is of entry %d, not of entry %d", p.Seq, e.Seq)
	case p.Size != cp.size:
		return checkpoint{}, 0, fmt.Errorf("the proof is for a tree of %d entries, the checkpoint is of %d: ask GET /v1/journal/proof/%d?size=%d", p.Size, cp.size, e.Seq, cp.size)
	case e.Seq == 0 || e.Seq > cp.size:
		return checkpoint{}, 0, fmt.Errorf("entry %d is not in the checkpoint's tree of %d entries", e.Seq, cp.size)
	}
	proof, err := decodeHashes(p.Proof)
	if err != nil {
		return checkpoint{}, 0, fmt.Errorf("proof: %w", err)
	}
	if err := tlog.CheckRecord(proof, int64(cp.size), cp.root, int64(e.Seq-1), tlog.RecordHash(hash)); err != nil {
		return checkpoint{}, 0, fmt.Errorf("entry %d is not proved in the checkpoint's tree of %d entries: %w", e.Seq, cp.size, err)
	}
	return cp, e.Seq, nil
}

// decodeEntry reads one served journal entry, or from a served journal page
// the entry of seq. The instruction is hashed as the API serves it
// (encoding/json's compact, HTML-escaped form), so an entry a tool such as
// jq re-indented still checks, and one whose content changed does not.
func decodeEntry(raw []byte, seq uint64) (ledger.JournalEntry, error) {
	var e ledger.JournalEntry
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return e, err
	}
	if _, isPage := probe["entries"]; isPage {
		var page ledger.JournalPage
		if err := decodeFile(raw, &page); err != nil {
			return e, err
		}
		i := slices.IndexFunc(page.Entries, func(e ledger.JournalEntry) bool { return e.Seq == seq })
		if i < 0 {
			return e, fmt.Errorf("the journal page holds no entry %d, the proof's", seq)
		}
		e = page.Entries[i]
	} else if err := decodeFile(raw, &e); err != nil {
		return e, err
	}
	var compact, served bytes.Buffer
	if err := json.Compact(&compact, e.Instruction); err != nil {
		return e, fmt.Errorf("instruction: %w", err)
	}
	json.HTMLEscape(&served, compact.Bytes())
	e.Instruction = served.Bytes()
	return e, nil
}

// verifyConsistency checks that the tree of newJSON's checkpoint extends
// that of oldJSON's, both signed by one of keys, by proofJSON.
func verifyConsistency(proofJSON, oldJSON, newJSON []byte, keys []string) (older, newer checkpoint, err error) {
	if older, err = openCheckpoint(oldJSON, keys); err != nil {
		return older, newer, fmt.Errorf("old %w", err)
	}
	if newer, err = openCheckpoint(newJSON, keys); err != nil {
		return older, newer, fmt.Errorf("new %w", err)
	}
	var p api.ConsistencyBody
	if err := decodeFile(proofJSON, &p); err != nil {
		return older, newer, fmt.Errorf("consistency proof: %w", err)
	}
	switch {
	case p.From != older.size || p.To != newer.size:
		return older, newer, fmt.Errorf("the proof runs from %d to %d entries, the checkpoints are of %d and %d: ask GET /v1/journal/consistency?from=%d&to=%d", p.From, p.To, older.size, newer.size, older.size, newer.size)
	case older.size == 0 || older.size > newer.size:
		return older, newer, fmt.Errorf("the old checkpoint (%d entries) must be of at least one entry and no more than the new one (%d)", older.size, newer.size)
	}
	proof, err := decodeHashes(p.Proof)
	if err != nil {
		return older, newer, fmt.Errorf("consistency proof: %w", err)
	}
	if err := tlog.CheckTree(proof, int64(newer.size), newer.root, int64(older.size), older.root); err != nil {
		return older, newer, fmt.Errorf("the tree of %d entries is not proved to extend the tree of %d: %w", newer.size, older.size, err)
	}
	return older, newer, nil
}

// openCheckpoint checks a checkpoint's note against keys and reads what it
// signs. The size and root fields beside the note must agree with it.
func openCheckpoint(raw []byte, keys []string) (checkpoint, error) {
	var body api.CheckpointBody
	if err := decodeFile(raw, &body); err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	verifiers := make([]note.Verifier, 0, len(keys))
	for _, k := range keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return checkpoint{}, fmt.Errorf("--key %q is not a note verifier key: %w", k, err)
		}
		verifiers = append(verifiers, v)
	}
	n, err := note.Open([]byte(body.Note), note.VerifierList(verifiers...))
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint is not signed by the given key: %w", err)
	}
	origin, size, root, err := api.ParseCheckpoint(n.Text)
	if err != nil {
		return checkpoint{}, err
	}
	signedByOrigin := false
	for _, sig := range n.Sigs {
		signedByOrigin = signedByOrigin || sig.Name == origin
	}
	if !signedByOrigin {
		return checkpoint{}, fmt.Errorf("checkpoint of origin %q is not signed by a key of that name", origin)
	}
	if body.Size != size || body.Root != hex.EncodeToString(root[:]) {
		return checkpoint{}, fmt.Errorf("checkpoint fields (size %d, root %s) differ from what its note signs (size %d, root %x)", body.Size, body.Root, size, root[:])
	}
	return checkpoint{origin: origin, size: size, root: root}, nil
}

// decodeFile decodes one JSON object, refusing fields the type does not
// have: a field of an entry this build does not know is one it cannot check.
func decodeFile(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// decodeHashes reads a proof's hex hashes.
func decodeHashes(hs []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("hash %d, %q, is not 32 bytes of hex", i, h)
		}
		out[i] = tlog.Hash(b)
	}
	return out, nil
}
