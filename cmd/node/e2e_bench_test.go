//go:build unix

package main_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestE2E_Bench runs the load generator briefly against a real cluster and
// holds its counts to the journal: every instruction it counted as accepted
// is in the journal, and the journal holds no more than it counted plus the
// requests cut off when the run ended (sent, applied, never counted).
func TestE2E_Bench(t *testing.T) {
	c := newCluster(t)
	c.startAll()
	leader := c.waitLeader(c.all(), e2eConvergeTimeout)
	addrs := make([]string, len(c.procs))
	for i := range c.procs {
		addrs[i] = c.baseURL(i)
	}
	const accounts = 20
	setupItems := uint64(3 + 2*accounts) // custodian, issuer, instrument; investors; mints
	for _, tc := range []struct {
		name           string
		clients, batch int
		leader         bool
	}{
		{"round-robin single", 4, 1, false},
		{"leader single", 4, 1, true},
		{"round-robin batch", 2, 50, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := c.waitConverged(c.all()).Length
			served := c.instructionRequests()
			args := []string{"bench", "--addrs", strings.Join(addrs, ","), "--key", e2eKey,
				"--clients", strconv.Itoa(tc.clients), "--batch", strconv.Itoa(tc.batch), "--duration", "500ms",
				"--accounts", strconv.Itoa(accounts), "--prefix", fmt.Sprintf("bt%d-%d-%v", tc.clients, tc.batch, tc.leader)}
			if tc.leader {
				args = append(args, "--leader")
			}
			ctx, cancel := context.WithTimeout(context.Background(), e2eConvergeTimeout)
			defer cancel()
			out, err := exec.CommandContext(ctx, e2eBinary, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("node bench: %v\n%s", err, out)
			}
			t.Logf("%s", out)
			res := parseBench(t, string(out))
			if res["accepted"] == 0 || res["rejected"] != 0 || res["failed_requests"] != 0 {
				t.Fatalf("want accepted transfers only, got %s", out)
			}
			if runtime.GOOS == "linux" {
				// The process collector reads /proc: each node's CPU is known.
				checkBenchCPU(t, string(out), addrs, tc.leader)
			}
			decided := c.waitConverged(c.all()).Length - before - setupItems
			cutOff := uint64(tc.clients * tc.batch)
			if decided < res["accepted"] || decided > res["accepted"]+cutOff {
				t.Fatalf("journal grew by %d transfers; the generator counted %d accepted (up to %d more may have been cut off)",
					decided, res["accepted"], cutOff)
			}
			after := c.instructionRequests()
			for i := range c.procs {
				n := after[i] - served[i]
				if tc.leader && i != leader && n != 0 {
					t.Errorf("with --leader, follower %s served %v instruction requests", c.procs[i].id, n)
				}
				if !tc.leader && n == 0 {
					t.Errorf("round-robin, but %s served no instruction requests", c.procs[i].id)
				}
			}
		})
	}
}

// checkBenchCPU holds the CPU line of `node bench` to a figure for
// each node, the leader marked when the run sent to it alone, one for the
// generator and their sum.
func checkBenchCPU(t *testing.T, out string, addrs []string, leader bool) {
	t.Helper()
	var line string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "cpu_us_per_instr: "); ok {
			line = rest
		}
	}
	if line == "" {
		t.Fatalf("node bench printed no CPU line:\n%s", out)
	}
	figures := map[string]float64{}
	marked := 0
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		if strings.HasSuffix(v, "(leader)") {
			v = strings.TrimSuffix(v, "(leader)")
			marked++
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < 0 {
			t.Fatalf("CPU figure %q of %s: want a number of microseconds\n%s", v, k, out)
		}
		figures[k] = x
	}
	sum := 0.0
	for _, a := range addrs {
		host := strings.TrimPrefix(a, "http://")
		if _, ok := figures[host]; !ok {
			t.Fatalf("no CPU figure for node %s:\n%s", host, out)
		}
		sum += figures[host]
	}
	if _, ok := figures["generator"]; !ok {
		t.Fatalf("no CPU figure for the generator:\n%s", out)
	}
	sum += figures["generator"]
	if got := figures["total"]; math.Abs(got-sum) > 0.1*float64(len(addrs)+1) {
		t.Errorf("total %.1f, the figures sum to %.1f:\n%s", got, sum, out)
	}
	if want := map[bool]int{true: 1, false: 0}[leader]; marked != want {
		t.Errorf("%d figures marked as the leader's, want %d:\n%s", marked, want, out)
	}
}

// parseBench reads the counts of the result line of `node bench`.
func parseBench(t *testing.T, out string) map[string]uint64 {
	t.Helper()
	res := map[string]uint64{}
	for _, f := range strings.Fields(out) {
		k, v, ok := strings.Cut(f, "=")
		if n, err := strconv.ParseUint(v, 10, 64); ok && err == nil {
			res[k] = n
		}
	}
	for _, k := range []string{"accepted", "rejected", "failed_requests"} {
		if _, ok := res[k]; !ok {
			t.Fatalf("node bench printed no %s count:\n%s", k, out)
		}
	}
	return res
}

// instructionRequests sums, per node, the POST /v1/instructions and
// /v1/instructions/batch requests its /metrics counted.
func (c *e2eCluster) instructionRequests() []float64 {
	c.t.Helper()
	out := make([]float64, len(c.procs))
	for i := range c.procs {
		status, body, err := c.request(context.Background(), i, http.MethodGet, "/metrics", nil, e2ePollTimeout)
		if err != nil || status != http.StatusOK {
			c.t.Fatalf("%s /metrics: %d %v", c.procs[i].id, status, err)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(line, "tokenledger_http_requests_total{") || !strings.Contains(line, `method="POST"`) ||
				!(strings.Contains(line, `route="/v1/instructions"`) || strings.Contains(line, `route="/v1/instructions/batch"`)) {
				continue
			}
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				c.t.Fatalf("%s /metrics: %q: %v", c.procs[i].id, line, err)
			}
			out[i] += v
		}
	}
	return out
}
