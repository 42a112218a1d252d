// Package client is a Go client of a tokenledger cluster's HTTP API (API.md):
// typed requests and answers, the API's error codes as Go errors, retries
// of 503 answers against another node with the same instruction id and body,
// leader following, paged reads as iterators and the journal as a stream.
//
// # Basics
//
// New takes the API addresses of one or more nodes and a key. Writes are
// idempotent by instruction id, so the client may send the same instruction
// again whenever the outcome is unknown (a 503, a broken connection): the
// node answers the first outcome if it was applied. Reads page through
// iterators (Journal, Holders) and Follow streams the journal over
// Server-Sent Events, resuming after the last entry it delivered.
//
// A rejected instruction is an error of type *RejectedError; an error
// answer is an *APIError. Both match their stable codes with errors.Is:
//
//	errors.Is(err, client.Code("LOCKUP_ACTIVE"))
//	errors.Is(err, client.ErrNotFound)
//
// A write that failed without an answer, or whose every send was answered
// 503, may or may not have been applied: IsUnknownOutcome says so, and
// sending the same instruction again tells. An answer that breaks the wire
// contract (a 422 that is not a rejection) matches ErrBadAnswer. To talk to
// one node alone, as a test of that node does, give Config one node and
// Attempts 1; Config.Observe sees every exchange with its HTTP status.
//
// # Caveats
//
// The client imports nothing of the node (api, ledger, consensus), so its
// types mirror the wire contract rather than the node's Go types. Amounts
// are decimal.Decimal and travel as JSON strings; never float.
//
// A Client is safe for concurrent use.
package client
