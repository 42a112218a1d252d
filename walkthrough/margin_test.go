package walkthrough

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMargin runs the README's margin walk-through (a loan, a price drop, the
// margin call, the close-out), as written, against the node binary started
// the way `go run ./cmd/node` starts it, so that section stays true.
func TestMargin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	script := readmeScript(t, "margin")
	dir, apiAddr := startNode(t)
	got := runQuickstart(t, dir, apiAddr, script)
	for _, want := range []string{
		`"id":"mg-11","status":"accepted"`,
		`"id":"mg-12","status":"rejected"`,
		`NOT_IN_MARGIN_CALL`,
		`"equity":"200"`,
		`"maintenance_requirement":"300"`,
		`"margin_call":true`,
		`"deficit":"100"`,
		`"accounts":[{"party":"carol","custodian":"lender"`,
		`"id":"mg-14","status":"accepted"`,
		`"loan":"1080"`,
		`"margin_call":false`,
		`"accounts":[]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("margin walk-through output lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"error"`) {
		t.Errorf("margin walk-through output has an error:\n%s", got)
	}
	t.Logf("margin walk-through output:\n%s", got)
}

// readmeScript is the shell block of the README between <!-- name:begin -->
// and <!-- name:end -->.
func readmeScript(t *testing.T, name string) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the %s walk-through needs %s", name, tool)
		}
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "<!-- "+name+":begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- "+name+":end -->")
	if !ok || !ok2 {
		t.Fatalf("README has no %s block", name)
	}
	block = strings.TrimSpace(block)
	return strings.TrimSuffix(strings.TrimPrefix(block, "```sh"), "```")
}
