// Package api is tokenledger's HTTP interface (echo v4): routing, bearer-key
// authentication, who-sees-what, strict JSON in and out, the mapping of every
// error to one status and code, metrics and the served OpenAPI document. It
// also mounts the web console (package ui) at /ui/, which needs no key: the
// page holds no data, and calls the /v1 API with the key its user enters.
// The wire contract is API.md; openapi.yaml describes the same routes
// and a test checks the two against each other.
//
// # What it owns
//
// Handlers parse and authenticate, then call the two interfaces this package
// declares for what it consumes: Reader (the ledger's read side, implemented by
// *ledger.Store) and Replicator (typed: instructions in, ledger.Outcomes out,
// keys, membership and linearizable reads; adapted from the consensus node in
// cmd/node, which alone builds the ledger's log items and decodes their
// results). An outcome is encoded once, as the response. The decisions themselves (is
// this instruction well formed, may this actor submit it, what does it do) are
// transfer's and eligibility's; api only asks them early so a request that can
// never succeed is answered 400 or 403 before anything is proposed.
//
// Errors are returned by handlers and rendered by one echo HTTPErrorHandler
// from the code table in errors.go; internal error text never reaches a client.
//
// # What it must not import
//
// bbolt and raft (it reaches them only through Reader and Replicator); it sits
// above consensus, ledger, transfer and eligibility and nothing of ours imports
// it but cmd/node.
//
// # Concurrency
//
// A Server is safe for concurrent use once built; it keeps no mutable state of
// its own besides Prometheus collectors and the table of failed
// authentications per client address (throttle.go: one mutex, a fixed
// capacity). Each request runs under
// Config.RequestTimeout. A batch decodes its instructions on a bounded number of
// goroutines it waits for before answering.
//
// # Keys
//
// An API key is a random secret ("tl_" and 43 base64url characters) shown once;
// the ledger stores only HashKey(secret), the lowercase hex SHA-256. Neither a
// key nor its hash is ever logged.
//
// # Access log
//
// Every request gets an id (X-Request-ID, the client's if it is a short safe
// token) and one Info line "request" in the log: request_id, remote_addr,
// party once authenticated, method, route (the pattern, never the path),
// status, latency_ms and bytes_out. Error bodies repeat the id.
package api
