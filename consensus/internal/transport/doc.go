// Package transport carries a node's traffic with its peers: one TCP port,
// optionally mutual TLS 1.3, on which every connection opens with a header
// naming its kind (raft or internal RPC) and the node id the dialler claims.
//
// A Mux owns the listener and every connection, inbound and outbound. It
// hands raft connections to raft's NetworkTransport through NewRaftLayer and
// serves internal RPC connections with the caller's Handler; a Client calls
// a peer's Handler over pooled connections. What the requests mean (the kinds
// and statuses of the RPC) is the caller's business: transport moves frames.
//
// With TLS, a peer is admitted only if its certificate chains to the cluster
// CA and names the id it claims, and a dialler accepts a server only if its
// certificate names the id expected at that address.
package transport

// Log keys, the same as the consensus package's.
const (
	keyPeer    = "peer"
	keyAddr    = "addr"
	keyError   = "error"
	keyBackoff = "backoff"
)
