package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond under a deadline; it never sleeps blindly.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

// TestQuickstart runs the README's quickstart block, as written, against a
// real single-node ledger started the way `go run ./cmd/node` starts it, so
// the README never lies.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	script := quickstartScript(t)

	dir, apiAddr := startTestNode(t)
	got := runQuickstart(t, dir, apiAddr, script)
	for _, want := range []string{
		`"status":"accepted"`,
		`"id":"qs-9","status":"rejected"`,
		`INVESTOR_NOT_ELIGIBLE`,
		`LOCKUP_ACTIVE`,
		`"id":"qs-10","status":"accepted"`,
		`"locked":"1000"`,
		`"ok":true`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("quickstart output lacks %s:\n%s", want, got)
		}
	}
	t.Logf("quickstart output:\n%s", got)

	// /metrics carries raft's and its log store's own timings beside ours.
	resp, err := http.Get("http://" + apiAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	for _, name := range []string{"tokenledger_raft_commitTime", "tokenledger_raft_fsm_applyBatch", "tokenledger_raft_boltdb_storeLogs", "tokenledger_instructions_total"} {
		if !strings.Contains(string(metrics), "\n"+name+"{") {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if strings.Contains(got, `"error"`) {
		t.Errorf("quickstart output has an error:\n%s", got)
	}
}

// startTestNode starts a single node in-process, the way `go run ./cmd/node`
// starts one, in a new directory, and waits until it is ready and its
// operator key (in dir/data/operator.key) is replicated. The node stops when
// the test ends.
func startTestNode(t *testing.T) (dir, apiAddr string) {
	t.Helper()
	dir = t.TempDir()
	apiAddr = freeAddr(t)
	opts := nodeOptions{id: defaultNodeID, dataDir: filepath.Join(dir, "data"), apiAddr: apiAddr, raftAddr: freeAddr(t), snapshotThreshold: 8192, logLevel: slog.LevelWarn}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveNode(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node: %v", err)
		}
	})
	waitFor(t, 20*time.Second, "the node to be ready", func() bool {
		resp, err := http.Get("http://" + apiAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		// The operator key is registered by a proposal after start.
		_, kerr := os.Stat(filepath.Join(dir, "data", "operator.key"))
		return resp.StatusCode == http.StatusOK && kerr == nil
	})
	key := operatorKeyIn(t, dir)
	waitFor(t, 20*time.Second, "the operator key to be replicated", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+apiAddr+"/v1/rulebook", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return dir, apiAddr
}

func operatorKeyIn(t *testing.T, dir string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dir, "data", "operator.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(key))
}

// runQuickstart runs the quickstart script in dir against the node at
// apiAddr and returns its output; it fails the test if the script fails.
func runQuickstart(t *testing.T, dir, apiAddr, script string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "API=http://"+apiAddr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart failed: %v\n%s", err, out)
	}
	return string(out)
}

// quickstartScript returns the README's quickstart block; it skips the test
// where the tools the block uses are missing.
func quickstartScript(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the quickstart needs %s", tool)
		}
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	_, rest, ok := strings.Cut(readme, "<!-- quickstart:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- quickstart:end -->")
	if !ok || !ok2 {
		t.Fatal("README has no quickstart block")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```sh")
	block = strings.TrimSuffix(block, "```")
	return block
}
