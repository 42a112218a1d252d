package walkthrough

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeID is the id the embedded single-node default gives itself.
const nodeID = "node1"

// repoRoot is the product module's directory, one level up.
const repoRoot = ".."

// startNode builds the product's node binary and starts it as the README's
// first command does (the embedded default, data in dir/data), on free
// loopback ports, and waits until it is ready and its operator key is
// replicated. The node is stopped when the test ends.
func startNode(t *testing.T) (dir, apiAddr string) {
	t.Helper()
	dir = t.TempDir()
	bin := filepath.Join(dir, "node")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/node")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the node: %v\n%s", err, out)
	}
	apiAddr = freeAddr(t)
	cmd := exec.Command(bin, "--data", filepath.Join(dir, "data"), "--api-addr", apiAddr, "--raft-addr", freeAddr(t), "--log-level", "warn")
	cmd.Dir = dir
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the node: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("the node did not stop on SIGINT within 30s; its log:\n%s", logs)
		}
	})
	ready := func() bool {
		select {
		case err := <-exited:
			t.Fatalf("the node exited: %v\n%s", err, logs)
		default:
		}
		keyBytes, err := os.ReadFile(filepath.Join(dir, "data", "operator.key"))
		if err != nil {
			return false
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+apiAddr+"/v1/rulebook", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(keyBytes)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	// Poll, bounded by the test's own deadline for the start.
	start, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for !ready() {
		select {
		case <-start.Done():
			t.Fatalf("the node was not ready with its operator key within 30s; its log:\n%s", logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return dir, apiAddr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func operatorKey(t *testing.T, dir string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dir, "data", "operator.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(key))
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
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "<!-- quickstart:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- quickstart:end -->")
	if !ok || !ok2 {
		t.Fatal("README has no quickstart block")
	}
	block = strings.TrimSpace(block)
	return strings.TrimSuffix(strings.TrimPrefix(block, "```sh"), "```")
}

// runQuickstart runs the script in dir against the node at apiAddr and
// returns its output; it fails the test if the script fails.
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
