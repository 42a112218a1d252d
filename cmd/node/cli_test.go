package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/api"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// cliOperatorKey bootstraps the CLI tests' node.
const cliOperatorKey = "tl_cli-test-operator-key"

// cliClock is the test node's leader time.
var cliClock = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// oneNode is a single node that is always leader: each proposal applies at
// once to the real store, as consensus would after commit.
type oneNode struct {
	store *ledger.Store
	mu    sync.Mutex
}

var _ api.Replicator = (*oneNode)(nil)

func (n *oneNode) apply(items [][]byte) ([]ledger.Outcome, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	index := n.store.AppliedIndex() + 1
	res := n.store.Apply([]ledger.Batch{{Index: index, Term: 1, Time: cliClock, Items: items}})[0]
	out := make([]ledger.Outcome, len(res))
	for i, r := range res {
		var err error
		if out[i], err = ledger.DecodeOutcome(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (n *oneNode) Submit(_ context.Context, actor, keyID string, inss []transfer.Instruction) ([]ledger.Outcome, error) {
	items := make([][]byte, len(inss))
	for i, ins := range inss {
		items[i] = ledger.KeyedInstructionItem(actor, keyID, transfer.Encode(ins))
	}
	return n.apply(items)
}

func (n *oneNode) CreateKey(_ context.Context, req ledger.KeyRequest) (ledger.Outcome, error) {
	out, err := n.apply([][]byte{ledger.KeyRequestItem(req)})
	if err != nil {
		return ledger.Outcome{}, err
	}
	return out[0], nil
}

func (n *oneNode) RevokeKey(_ context.Context, actor, keyID string) (ledger.Outcome, error) {
	out, err := n.apply([][]byte{ledger.RevokeKeyItem(actor, keyID)})
	if err != nil {
		return ledger.Outcome{}, err
	}
	return out[0], nil
}

func (n *oneNode) AddNode(context.Context, ledger.NodeInfo) error { return api.ErrNotLeader }
func (n *oneNode) RemoveNode(context.Context, string) error       { return api.ErrNotLeader }
func (n *oneNode) ReadIndex(ctx context.Context) error            { return ctx.Err() }
func (n *oneNode) Status() api.ClusterStatus {
	return api.ClusterStatus{ID: "n1", State: "Leader", Leader: "n1", Term: 1,
		Nodes: []api.NodeStatus{{ID: "n1", RaftAddr: "127.0.0.1:7000", State: "Leader", Voter: true}}}
}
func (n *oneNode) Ready() bool    { return true }
func (n *oneNode) CaughtUp() bool { return true }
func (n *oneNode) Failing() bool  { return false }

// cliNode serves a single node's API for a test and returns its URL.
func cliNode(t *testing.T) string {
	t.Helper()
	store, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "state.db"), NoSync: true, StrictChecks: true})
	if err != nil {
		t.Fatalf("ledger.Open: %v", err)
	}
	n := &oneNode{store: store}
	srv, err := api.New(api.Config{Reader: store, Replicator: n, Now: func() time.Time { return cliClock }})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	if _, err := n.apply([][]byte{ledger.KeyItem(ledger.OperatorID, api.HashKey(cliOperatorKey))}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		if errs := store.Check(); len(errs) > 0 {
			t.Errorf("ledger Check after test: %v", errs)
		}
		store.Close()
	})
	return hs.URL
}

// cli runs the binary's command line in process.
type cli struct {
	t   *testing.T
	url string
}

// run runs args and returns stdout, stderr and the exit status main would give.
func (c cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err := runWith(c.t.Context(), append([]string{"--url", c.url}, args...), &out, &errOut)
	code := exitAccepted
	if err != nil {
		code = exitOther
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) {
			code = coded.ExitCode()
		}
		fmt.Fprintln(&errOut, "node:", err)
	}
	return out.String(), errOut.String(), code
}

// must runs args and fails the test unless the exit status is want.
func (c cli) must(want int, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != want {
		c.t.Fatalf("node %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

// TestCLIDay runs a day of an issuer, a custodian and an auditor through the
// command line, like README's "A day with the CLI": the operator sets up,
// the issuer mints, the custodian moves and is refused by a rule (exit 3),
// the auditor reads and verifies.
func TestCLIDay(t *testing.T) {
	c := cli{t: t, url: cliNode(t)}
	op := "--key=" + cliOperatorKey
	c.must(0, op, "party", "add", "iss-acme", "--role", "issuer")
	c.must(0, op, "party", "add", "cus-1", "--role", "custodian")
	c.must(0, op, "party", "add", "aud", "--role", "auditor")
	for _, inv := range []string{"inv-a", "inv-b"} {
		c.must(0, op, "party", "add", inv, "--role", "investor", "--status", "accredited", "--jurisdiction", "US", "--kyc-expires", "2030-01-01", "--custodian", "cus-1")
	}
	keys := map[string]string{}
	for _, p := range []string{"iss-acme", "cus-1", "aud"} {
		var k struct{ Key string }
		if err := json.Unmarshal([]byte(c.must(0, op, "--json", "key", "create", p)), &k); err != nil || k.Key == "" {
			t.Fatalf("key create %s --json: %v", p, err)
		}
		keys[p] = k.Key
	}
	iss := "--key=" + keys["iss-acme"]
	c.must(0, iss, "instrument", "create", "ACME", "--issuer", "iss-acme", "--regime", "registered", "--offering-date", "2020-01-01")
	c.must(0, iss, "mint", "ACME", "inv-a", "100", "--id", "mint-1")
	// The same id again answers the first outcome and mints nothing more.
	c.must(0, iss, "mint", "ACME", "inv-a", "100", "--id", "mint-1")

	// The custodian's key from the environment, as a script would set it.
	t.Setenv(envKey, keys["cus-1"])
	c.must(0, "transfer", "ACME", "inv-a", "inv-b", "40")
	out := c.must(exitRejected, "transfer", "ACME", "inv-a", "inv-b", "400")
	if !strings.Contains(out, "INSUFFICIENT_BALANCE") {
		t.Errorf("a refused transfer prints its reason; got\n%s", out)
	}
	var h struct {
		Holdings []struct{ Symbol, Balance string }
	}
	if err := json.Unmarshal([]byte(c.must(0, "--json", "holdings", "inv-a")), &h); err != nil || len(h.Holdings) != 1 || h.Holdings[0].Balance != "60" {
		t.Errorf("holdings inv-a --json = %+v, %v; want ACME 60", h, err)
	}
	t.Setenv(envKey, "")

	// The auditor reads from a key file.
	keyFile := filepath.Join(t.TempDir(), "aud.key")
	if err := os.WriteFile(keyFile, []byte(keys["aud"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	aud := "--key-file=" + keyFile
	table := c.must(0, aud, "captable", "ACME")
	for _, want := range []string{"inv-a", "60", "inv-b", "40"} {
		if !strings.Contains(table, want) {
			t.Errorf("captable ACME lacks %q:\n%s", want, table)
		}
	}
	// Entries: the operator's key 1, parties 2-6, keys 7-9, ACME 10, the mint 11.
	before := c.must(0, aud, "captable", "ACME", "--at", "11")
	if !strings.Contains(before, "100") || strings.Contains(before, "inv-b") {
		t.Errorf("captable ACME --at 11 (just after the mint) =\n%s", before)
	}
	c.must(0, aud, "verify", "chain")
	if out := c.must(0, aud, "journal", "--symbol", "ACME"); strings.Count(out, "\n") < 4 {
		t.Errorf("journal --symbol ACME:\n%s", out)
	}
	c.must(0, aud, "rulebook", "show")
	c.must(0, aud, "classify", "--underlying", "enterprise_equity")
	c.must(0, aud, "cluster", "status")
	c.must(exitOther, "--key=tl_not-a-key", "holdings", "inv-a")
	c.must(exitOther, aud, "mint", "ACME", "inv-a")
}

// TestCLIImportExport imports a CSV register (bad rows listed by line,
// --dry-run, a second run importing nothing twice), then exports the cap
// table and the journal.
func TestCLIImportExport(t *testing.T) {
	c := cli{t: t, url: cliNode(t)}
	op := "--key=" + cliOperatorKey
	c.must(0, op, "party", "add", "iss-acme", "--role", "issuer")
	c.must(0, op, "party", "add", "cus-1", "--role", "custodian")
	c.must(0, op, "instrument", "create", "ACME", "--issuer", "iss-acme", "--regime", "reg_d_506c", "--offering-date", "2020-01-01")
	dir := t.TempDir()
	head := strings.Join(csvHeader, ",") + "\n"
	bad := filepath.Join(dir, "bad.csv")
	write(t, bad, head+
		"inv-a,investor,accredited,US,2030-01-01,,ACME,100,2024-01-01\n"+
		"inv-b,investor,millionaire,US,2030-01-01,,ACME,-5,2024-01-01\n"+
		"inv-c,investor,retail,US,2030-01-01,,ACME,10,2099-01-01\n")
	_, errOut, code := c.run(op, "import", "--csv", bad)
	if code != exitOther {
		t.Fatalf("import of a bad file: exit %d, want 1", code)
	}
	for _, want := range []string{"line 3: status", "line 3: amount", "line 4: acquired_at is in the future"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("import of a bad file does not report %q:\n%s", want, errOut)
		}
	}
	good := filepath.Join(dir, "good.csv")
	// A retail holder of a Reg D 506(c) offering: an import records it.
	write(t, good, head+
		"inv-a,investor,accredited,US,2030-01-01,cus-1,ACME,100,2024-01-01\n"+
		"inv-b,investor,retail,US,2030-01-01,cus-1,ACME,25,2024-03-01\n"+
		"inv-a,investor,accredited,US,2030-01-01,cus-1,ACME,5,2025-01-01\n")
	if out := c.must(0, op, "import", "--csv", good, "--dry-run"); !strings.Contains(out, "3 rows valid") {
		t.Errorf("--dry-run: %s", out)
	}
	c.must(0, op, "import", "--csv", good)
	c.must(0, op, "import", "--csv", good) // resumes: the same ids, nothing twice
	var in struct{ Supply string }
	if err := json.Unmarshal([]byte(c.must(0, op, "--json", "instrument", "show", "ACME")), &in); err != nil || in.Supply != "130" {
		t.Errorf("supply after importing twice = %q, %v; want 130", in.Supply, err)
	}
	exported := filepath.Join(dir, "out.csv")
	c.must(0, op, "export", "captable", "ACME", "--out", exported)
	b, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	if want := head + "inv-a,investor,accredited,US,2030-01-01T00:00:00Z,cus-1,ACME,105,\ninv-b,investor,retail,US,2030-01-01T00:00:00Z,cus-1,ACME,25,\n"; string(b) != want {
		t.Errorf("export captable =\n%s\nwant\n%s", b, want)
	}
	lines := strings.Split(strings.TrimSpace(c.must(0, op, "export", "journal")), "\n")
	var last struct {
		Instruction struct {
			Import bool `json:"import"`
		} `json:"instruction"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || !last.Instruction.Import {
		t.Errorf("the last journal line is not marked as an import: %s (%v)", lines[len(lines)-1], err)
	}
	// An auditor recomputes every exported entry's hash, imports included.
	for _, line := range lines {
		var e ledger.JournalEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("exported line %s: %v", line, err)
		}
		if h, err := ledger.ComputeHash(e); err != nil || h != e.Hash {
			t.Errorf("entry %d: ComputeHash = %s, %v; the entry says %s", e.Seq, h, err, e.Hash)
		}
	}
	c.must(0, op, "verify", "chain")
	ocf := filepath.Join(dir, "ocf")
	c.must(0, op, "export", "captable", "ACME", "--format", "ocf", "--out", ocf)
	// The OCF export imports again as the same holdings: a new file, new
	// ids, so into a second instrument.
	c.must(0, op, "instrument", "create", "ACME2", "--issuer", "iss-acme", "--regime", "registered", "--offering-date", "2020-01-01")
	c.must(0, op, "import", "--ocf", ocf, "--class", "ACME=ACME2", "--ocf-kyc-expires", "2030-01-01", "--ocf-custodian", "cus-1")
	if err := json.Unmarshal([]byte(c.must(0, op, "--json", "instrument", "show", "ACME2")), &in); err != nil || in.Supply != "130" {
		t.Errorf("supply of ACME2 after the OCF round trip = %q, %v; want 130", in.Supply, err)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCLIHelp checks that node help and --help on commands answer.
func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"import", "--help"}, {"journal", "--help"}, {"rulebook", "lint", "--help"}} {
		var out, errOut bytes.Buffer
		err := runWith(t.Context(), args, &out, &errOut)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("node %s: %v", strings.Join(args, " "), err)
		}
		if out.Len()+errOut.Len() == 0 {
			t.Errorf("node %s printed nothing", strings.Join(args, " "))
		}
	}
}
