package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// What the instructions of a run cost in CPU, node by node: each node's
// process_cpu_seconds_total (its /metrics, from the Prometheus process
// collector) and the generator's own, read before the first timed request
// and after the last, divided by the instructions decided meanwhile.
// Where the cluster is bound by CPU, as three nodes and the generator on
// one machine are, a build's throughput follows the CPU it spends an
// instruction, and two builds compare by where theirs differ.

// cpuSample is the CPU seconds of each node (NaN: not known) and of the
// generator at one moment.
type cpuSample struct {
	nodes     []float64
	generator float64
}

// sampleCPU reads the nodes' CPU counters and the generator's.
func (c *benchClient) sampleCPU(ctx context.Context, addrs []string) cpuSample {
	s := cpuSample{nodes: make([]float64, len(addrs)), generator: processCPUSeconds()}
	for i, a := range addrs {
		s.nodes[i] = c.nodeCPUSeconds(ctx, a)
	}
	return s
}

// nodeCPUSeconds is the node's process_cpu_seconds_total, or NaN where its
// /metrics cannot be read or has none.
func (c *benchClient) nodeCPUSeconds(ctx context.Context, addr string) float64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/metrics", nil)
	if err != nil {
		return math.NaN()
	}
	req.Header.Set("Authorization", c.auth)
	resp, err := c.http.Do(req)
	if err != nil {
		return math.NaN()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return math.NaN()
	}
	return parseCPUSeconds(bufio.NewScanner(resp.Body))
}

// parseCPUSeconds finds process_cpu_seconds_total in Prometheus' text
// format: NaN when absent.
func parseCPUSeconds(sc *bufio.Scanner) float64 {
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "process_cpu_seconds_total ")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // the value, then perhaps a timestamp
		if len(f) == 0 {
			return math.NaN()
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return math.NaN()
		}
		return v
	}
	return math.NaN()
}

// cpuPerInstruction is the CPU each node and the generator spent an
// instruction between before and after: microseconds, NaN where a node's
// counter was not read.
type cpuPerInstruction struct {
	addrs     []string
	leader    string // the leader's address, "" when not known
	nodes     []float64
	generator float64
}

func newCPUPerInstruction(addrs []string, leader string, before, after cpuSample, instructions int64) cpuPerInstruction {
	r := cpuPerInstruction{addrs: addrs, leader: leader, nodes: make([]float64, len(addrs)), generator: math.NaN()}
	per := func(b, a float64) float64 {
		if instructions <= 0 || math.IsNaN(a) || math.IsNaN(b) || a < b {
			return math.NaN()
		}
		return (a - b) * 1e6 / float64(instructions)
	}
	for i := range addrs {
		r.nodes[i] = per(before.nodes[i], after.nodes[i])
	}
	r.generator = per(before.generator, after.generator)
	return r
}

// String is one line: each node's figure under its address, the leader's
// marked, then the generator's and the sum of those known.
func (r cpuPerInstruction) String() string {
	var b strings.Builder
	b.WriteString("cpu_us_per_instr:")
	total, known := 0.0, 0
	for i, a := range r.addrs {
		_, host, _ := strings.Cut(a, "://")
		b.WriteString(" " + host + "=")
		if math.IsNaN(r.nodes[i]) {
			b.WriteString("unknown")
		} else {
			fmt.Fprintf(&b, "%.1f", r.nodes[i])
			total += r.nodes[i]
			known++
		}
		if a == r.leader {
			b.WriteString("(leader)")
		}
	}
	b.WriteString(" generator=")
	if math.IsNaN(r.generator) {
		b.WriteString("unknown")
	} else {
		fmt.Fprintf(&b, "%.1f", r.generator)
		total += r.generator
		known++
	}
	if known > 0 {
		fmt.Fprintf(&b, " total=%.1f", total)
	}
	return b.String()
}
