package api

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/ledger"
)

// JournalTree is the journal's Merkle tree (ledger/merkle.go); *ledger.Store
// implements it. A size of 0 asks of the whole journal; the size proved
// against is returned. Proofs of an entry the journal does not hold wrap
// ledger.ErrNotFound; of sizes out of range, ledger.ErrTreeSize.
type JournalTree interface {
	TreeHead() (ledger.TreeHead, error)
	InclusionProof(seq, size uint64) (tlog.RecordProof, uint64, error)
	ConsistencyProof(from, to uint64) (tlog.TreeProof, uint64, error)
}

// CheckpointBody is GET /v1/journal/checkpoint: the tree over the journal's
// first Size entries, its root in hex, and Note, a signed note
// (golang.org/x/mod/sumdb/note) whose text is CheckpointText of the node's
// origin, Size and Root, signed with the node's key.
type CheckpointBody struct {
	Size uint64 `json:"size"`
	Root string `json:"root"`
	Note string `json:"note"`
}

// ProofBody is GET /v1/journal/proof/{seq}: the inclusion proof of entry Seq
// in the tree of Size entries, each hash in hex, for tlog.CheckRecord with
// record index Seq-1 and the entry's hash as the record's data.
type ProofBody struct {
	Seq   uint64   `json:"seq"`
	Size  uint64   `json:"size"`
	Proof []string `json:"proof"`
}

// ConsistencyBody is GET /v1/journal/consistency: the proof that the tree of
// To entries extends the tree of From, for tlog.CheckTree.
type ConsistencyBody struct {
	From  uint64   `json:"from"`
	To    uint64   `json:"to"`
	Proof []string `json:"proof"`
}

// CheckpointText is the text of a checkpoint note, in the C2SP
// tlog-checkpoint form: the origin line, the tree size in decimal and the
// root hash in standard base64, each on its own line.
func CheckpointText(origin string, size uint64, root tlog.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// ParseCheckpoint reads the text of a checkpoint note (CheckpointText);
// extension lines after the root are allowed and ignored, as C2SP allows.
func ParseCheckpoint(text string) (origin string, size uint64, root tlog.Hash, err error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || !strings.HasSuffix(text, "\n") {
		return "", 0, root, errors.New("api: checkpoint: not an origin, a size and a root hash, each on a line")
	}
	origin = strings.TrimSuffix(lines[0], "\n")
	sizeText, rootText := strings.TrimSuffix(lines[1], "\n"), strings.TrimSuffix(lines[2], "\n")
	if origin == "" {
		return "", 0, root, errors.New("api: checkpoint: empty origin")
	}
	if size, err = strconv.ParseUint(sizeText, 10, 64); err != nil || strconv.FormatUint(size, 10) != sizeText {
		return "", 0, root, fmt.Errorf("api: checkpoint: size %q is not a decimal number", sizeText)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(rootText)
	if err != nil || len(raw) != tlog.HashSize {
		return "", 0, root, fmt.Errorf("api: checkpoint: root %q is not a base64 hash", rootText)
	}
	return origin, size, tlog.Hash(raw), nil
}

// hexHashes writes hashes in hex, never null.
func hexHashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h[:])
	}
	return out
}

// getCheckpoint is GET /v1/journal/checkpoint, for every authenticated
// party: a tree head reveals no entry.
func (s *Server) getCheckpoint(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	signer := s.cfg.CheckpointSigner
	if signer == nil {
		return notFound("this node signs no checkpoints")
	}
	head, err := s.reader.TreeHead()
	if err != nil {
		return readErr("journal tree", err)
	}
	signed, err := note.Sign(&note.Note{Text: CheckpointText(signer.Name(), head.Size, head.Root)}, signer)
	if err != nil {
		return fmt.Errorf("sign checkpoint: %w", err)
	}
	return writeJSON(c, http.StatusOK, CheckpointBody{Size: head.Size, Root: hex.EncodeToString(head.Root[:]), Note: string(signed)})
}

// getInclusionProof is GET /v1/journal/proof/{seq}?size=N, for whoever may
// read entry seq in GET /v1/journal.
func (s *Server) getInclusionProof(c echo.Context) error {
	q, err := s.readQuery(c, "size")
	if err != nil {
		return err
	}
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil {
		return invalid("seq must be a positive integer")
	}
	size, err := positiveQuery(q, "size")
	if err != nil {
		return err
	}
	errAbsent := notFound(fmt.Sprintf("no journal entry %d", seq))
	if seq == 0 {
		return errAbsent
	}
	if p := who(c); !p.seesEverything() {
		page, err := s.reader.Journal(ledger.JournalQuery{After: seq - 1, Limit: 1})
		if err != nil {
			return readErr("journal", err)
		}
		if len(page.Entries) != 1 || page.Entries[0].Seq != seq {
			return errAbsent
		}
		ok, err := s.mayReadJournalEntry(p, page.Entries[0])
		if err != nil {
			return err
		}
		if !ok {
			return notAuthorized("a journal entry's proof is visible to whoever may read the entry")
		}
	}
	proof, at, err := s.reader.InclusionProof(seq, size)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return errAbsent
	case errors.Is(err, ledger.ErrTreeSize):
		return invalid(fmt.Sprintf("size %d must be at least the seq %d and at most the journal's length", size, seq))
	case err != nil:
		return readErr("journal tree", err)
	}
	return writeJSON(c, http.StatusOK, ProofBody{Seq: seq, Size: at, Proof: hexHashes(proof)})
}

// getConsistencyProof is GET /v1/journal/consistency?from=M&to=N, for every
// authenticated party: it holds hashes of subtrees, no entry.
func (s *Server) getConsistencyProof(c echo.Context) error {
	q, err := s.readQuery(c, "from", "to")
	if err != nil {
		return err
	}
	if _, ok := q["from"]; !ok {
		return invalid("from is required")
	}
	from, err := positiveQuery(q, "from")
	if err != nil {
		return err
	}
	to, err := positiveQuery(q, "to")
	if err != nil {
		return err
	}
	proof, at, err := s.reader.ConsistencyProof(from, to)
	switch {
	case errors.Is(err, ledger.ErrTreeSize):
		return invalid(fmt.Sprintf("from %d must be at most to, and to at most the journal's length", from))
	case err != nil:
		return readErr("journal tree", err)
	}
	return writeJSON(c, http.StatusOK, ConsistencyBody{From: from, To: at, Proof: hexHashes(proof)})
}

// positiveQuery parses an optional tree size: absent is 0 (the whole
// journal), given it must be at least 1.
func positiveQuery(q map[string]string, name string) (uint64, error) {
	n, err := queryUint(q, name)
	if err != nil {
		return 0, err
	}
	if _, ok := q[name]; ok && n == 0 {
		return 0, invalid(name + " must be a positive integer")
	}
	return n, nil
}
