package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// noteKeyFile holds, in the data directory, the key the node signs its
// journal checkpoints with: the signer key and then its verifier key, each
// on a line, in golang.org/x/mod/sumdb/note's format. Mode 0600; the signer
// key never leaves the file (it is neither printed nor logged).
const noteKeyFile = "note.key"

// noteKeyName names a node's checkpoint key, and is so the origin line of
// every checkpoint it signs: "tokenledger/<node id>". Node ids are unique in
// a cluster, so a verifier key names the node whose checkpoints it checks.
func noteKeyName(nodeID string) string { return "tokenledger/" + nodeID }

// loadNoteKey returns the node's checkpoint signer and verifier key (to
// publish in GET /v1/cluster), from the data directory, creating them on the
// first start.
func loadNoteKey(dataDir, nodeID string) (note.Signer, string, error) {
	path := filepath.Join(dataDir, noteKeyFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return createNoteKey(path, noteKeyName(nodeID))
	}
	if err != nil {
		return nil, "", fmt.Errorf("read checkpoint key: %w", err)
	}
	skey, vkey, ok := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if !ok {
		return nil, "", fmt.Errorf("checkpoint key %s: want a signer key and a verifier key, each on a line", path)
	}
	signer, err := parseNoteKey(skey, vkey)
	if err != nil {
		// The error must not quote the file: it holds the private key.
		return nil, "", fmt.Errorf("checkpoint key %s: %w", path, err)
	}
	return signer, strings.TrimSpace(vkey), nil
}

// createNoteKey makes a new key named name and saves it at path, through a
// temporary file so that a crash never leaves half a key behind.
func createNoteKey(path, name string) (note.Signer, string, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, "", fmt.Errorf("generate checkpoint key: %w", err)
	}
	signer, err := parseNoteKey(skey, vkey)
	if err != nil {
		return nil, "", err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("write checkpoint key: %w", err)
	}
	_, err = f.WriteString(skey + "\n" + vkey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, "", fmt.Errorf("write checkpoint key: %w", err)
	}
	return signer, vkey, nil
}

// parseNoteKey parses a signer key and checks that vkey verifies what it
// signs.
func parseNoteKey(skey, vkey string) (note.Signer, error) {
	signer, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, errors.New("the signer key does not parse")
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, errors.New("the verifier key does not parse")
	}
	probe := []byte("tokenledger checkpoint key probe\n")
	sig, err := signer.Sign(probe)
	if err != nil || verifier.Name() != signer.Name() || verifier.KeyHash() != signer.KeyHash() || !verifier.Verify(probe, sig) {
		return nil, errors.New("the verifier key is not the signer key's")
	}
	return signer, nil
}
