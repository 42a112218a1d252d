package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokenledger/tokenledger/ledger"
)

// Metric label values.
const (
	// routeUnmatched labels requests that matched no route, so a scan of
	// random paths cannot grow the label set.
	routeUnmatched = "unmatched"
)

// raftStates are the states hashicorp/raft names; each gets a
// tokenledger_raft_state series, 1 for the node's current state.
var raftStates = []string{"Leader", "Follower", "Candidate", "Shutdown"}

// metrics are the API's Prometheus collectors.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	instructions *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, repl Replicator, reader Reader) (*metrics, error) {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenledger_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tokenledger_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route pattern, method and status.",
			// 0.5 ms to about 16 s: a local read to a batch waiting out a timeout.
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route", "method", "status"}),
		instructions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenledger_instructions_total",
			Help: "Instruction outcomes answered: status accepted, rejected (code: the first reason) or error (code: the error code).",
		}, []string{"status", "code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.instructions, &statusCollector{repl: repl, reader: reader}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) request(route, method string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(route, method, s).Inc()
	m.latency.WithLabelValues(route, method, s).Observe(d.Seconds())
}

// decided counts an accepted or rejected outcome.
func (m *metrics) decided(o ledger.Outcome) {
	code := ""
	if o.Reason != nil {
		code = string(o.Reason.Code)
	}
	m.outcome(o.Status, code)
}

func (m *metrics) outcome(status, code string) {
	m.instructions.WithLabelValues(status, code).Inc()
}

// statusCollector reads the cluster's state once per scrape.
type statusCollector struct {
	repl   Replicator
	reader Reader
}

var (
	descRaftState = prometheus.NewDesc("tokenledger_raft_state",
		"1 for this node's Raft state, 0 for the others.", []string{"state"}, nil)
	descRaftTerm = prometheus.NewDesc("tokenledger_raft_term",
		"The Raft term this node is in.", nil, nil)
	descRaftCommit = prometheus.NewDesc("tokenledger_raft_commit_index",
		"The highest Raft log index this node knows committed.", nil, nil)
	descRaftApplied = prometheus.NewDesc("tokenledger_raft_applied_index",
		"The highest Raft log index applied, as consensus reports it.", nil, nil)
	descHasLeader = prometheus.NewDesc("tokenledger_raft_has_leader",
		"1 while this node knows a leader.", nil, nil)
	descReady = prometheus.NewDesc("tokenledger_ready",
		"1 while the node has a leader and has caught up (GET /readyz).", nil, nil)
	descLedgerApplied = prometheus.NewDesc("tokenledger_ledger_applied_index",
		"The Raft index of the last batch the ledger state includes.", nil, nil)
)

func (sc *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descRaftTerm, descRaftCommit, descRaftApplied, descHasLeader, descReady, descLedgerApplied} {
		ch <- d
	}
}

func (sc *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := sc.repl.Status()
	known := false
	for _, state := range raftStates {
		v := 0.0
		if st.State == state {
			v, known = 1, true
		}
		ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, v, state)
	}
	if !known && st.State != "" {
		ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, 1, st.State)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descRaftTerm, float64(st.Term))
	gauge(descRaftCommit, float64(st.CommitIndex))
	gauge(descRaftApplied, float64(st.AppliedIndex))
	gauge(descHasLeader, boolGauge(st.Leader != ""))
	gauge(descReady, boolGauge(sc.repl.Ready()))
	gauge(descLedgerApplied, float64(sc.reader.AppliedIndex()))
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
