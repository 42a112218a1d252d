package main

import (
	"fmt"
	"time"

	armon "github.com/armon/go-metrics"
	armonprom "github.com/armon/go-metrics/prometheus"
	hcmetrics "github.com/hashicorp/go-metrics"
	hcprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// raftMetricsExpiry is how long a raft measurement that stopped being
// reported (a removed peer's replication timings, say) stays on /metrics.
const raftMetricsExpiry = 5 * time.Minute

// exportRaftMetrics sends raft's own measurements to reg, so /metrics shows
// where a write's time goes: tokenledger_raft_leader_dispatchLog (the
// leader's log write), tokenledger_raft_rpc_appendEntries_storeLogs (a
// follower's), tokenledger_raft_commitTime, tokenledger_raft_fsm_applyBatch,
// replication round trips per peer, elections. hashicorp/raft reports
// through hashicorp/go-metrics and raft-boltdb, through go-metrics' compat
// package, through armon/go-metrics (see go.mod), so both get a sink. Both
// libraries keep one process-wide destination: the last call wins, which
// only matters to tests that start several nodes in one process.
func exportRaftMetrics(reg prometheus.Registerer) error {
	hcSink, err := hcprom.NewPrometheusSinkFrom(hcprom.PrometheusOpts{Registerer: reg, Expiration: raftMetricsExpiry, Name: "tokenledger_raft_sink"})
	if err != nil {
		return fmt.Errorf("raft metrics: %w", err)
	}
	hcConf := hcmetrics.DefaultConfig("tokenledger")
	// The Go collector already serves the runtime's figures; this one would
	// also start a goroutine that never stops.
	hcConf.EnableHostname, hcConf.EnableRuntimeMetrics = false, false
	if _, err := hcmetrics.NewGlobal(hcConf, hcSink); err != nil {
		return fmt.Errorf("raft metrics: %w", err)
	}
	armonSink, err := armonprom.NewPrometheusSinkFrom(armonprom.PrometheusOpts{Registerer: reg, Expiration: raftMetricsExpiry, Name: "tokenledger_raft_store_sink"})
	if err != nil {
		return fmt.Errorf("raft log store metrics: %w", err)
	}
	armonConf := armon.DefaultConfig("tokenledger")
	armonConf.EnableHostname, armonConf.EnableRuntimeMetrics = false, false
	if _, err := armon.NewGlobal(armonConf, armonSink); err != nil {
		return fmt.Errorf("raft log store metrics: %w", err)
	}
	return nil
}
