package walkthrough

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestQuickstart runs the README's quickstart block, as written, against the
// node binary started the way `go run ./cmd/node` starts it, so the README
// never lies.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	script := quickstartScript(t)

	dir, apiAddr := startNode(t)
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

	// /metrics carries raft's timings and its log store's counters beside ours.
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
		if !strings.Contains(string(metrics), "\n"+name+"{") && !strings.Contains(string(metrics), "\n"+name+" ") {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if strings.Contains(got, `"error"`) {
		t.Errorf("quickstart output has an error:\n%s", got)
	}
}
