package main

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportBoundaries enforces the one-way imports of STYLE.md: cmd/node →
// api → consensus → ledger → transfer → eligibility, with each package's
// forbidden imports listed.
func TestImportBoundaries(t *testing.T) {
	const mod = "github.com/tokenledger/tokenledger/"
	forbidden := map[string][]string{
		"eligibility": {mod, "go.etcd.io/bbolt", "github.com/hashicorp/raft", "github.com/labstack/echo", "net/http"},
		"transfer":    {mod + "ledger", mod + "consensus", mod + "api", "go.etcd.io/bbolt", "github.com/hashicorp/raft", "github.com/labstack/echo", "net/http"},
		"ledger":      {mod + "consensus", mod + "api", "github.com/hashicorp/raft", "github.com/labstack/echo", "net/http"},
		"consensus":   {mod + "api", mod + "transfer", mod + "eligibility", "github.com/labstack/echo", "net/http"},
		"api":         {"go.etcd.io/bbolt", "github.com/hashicorp/raft"},
		"ui":          {mod, "go.etcd.io/bbolt", "github.com/hashicorp/raft", "github.com/labstack/echo"},

		// The client speaks only the wire contract, so integrators build it without the node.
		"client": {mod, "go.etcd.io/bbolt", "github.com/hashicorp/raft", "github.com/labstack/echo"},

		// The binary primitives under transfer's and ledger's formats know nothing of either,
		// nor does the fixed decimal they encode (wire's one import of ours).
		"internal/wire":  {mod, "go.etcd.io/bbolt", "github.com/hashicorp/raft", "github.com/labstack/echo", "net/http"},
		"internal/fixed": {mod, "go.etcd.io/bbolt", "github.com/hashicorp/raft", "github.com/labstack/echo", "net/http"},
		// The short-key tables the rulebook and the decoder look up are a leaf too.
		"internal/strtab": {mod, "go.etcd.io/bbolt", "github.com/hashicorp/raft", "github.com/labstack/echo", "net/http"},

		// consensus's private transport keeps consensus's boundaries, and knows nothing of the ledger.
		"consensus/internal/transport": {mod + "api", mod + "ledger", mod + "transfer", mod + "eligibility", "github.com/labstack/echo", "net/http"},
	}
	allowedOwn := map[string][]string{
		"eligibility":   {mod + "internal/strtab"},
		"transfer":      {mod + "eligibility"},
		"internal/wire": {mod + "internal/fixed"},
	}
	for pkg, bad := range forbidden {
		p, err := build.ImportDir(filepath.Join("..", "..", pkg), 0)
		if err != nil {
			t.Fatalf("read %s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			for _, b := range bad {
				if !strings.HasPrefix(imp, b) {
					continue
				}
				if ok, listed := allowedOwn[pkg]; listed && slices.Contains(ok, imp) {
					continue
				}
				t.Errorf("%s imports %s, which it must not", pkg, imp)
			}
		}
	}
}
