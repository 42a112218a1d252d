//go:build unix

package main_test

// The e2e tests reach the nodes' API through the Go client, as integrators
// do. Three shapes of client, all over the cluster's one transport:
//
//   - clientFrom: the whole cluster, first node chosen by the caller, the
//     client's own retries (same id and body, next node, leader following).
//     The workload's writes use it; client.IsUnknownOutcome tells the
//     history which failures leave an outcome unknown.
//   - nodeClient: one node alone, each request sent once, so a test sees
//     exactly what that node answers (a 503 from a cut-off node, a stale
//     read at a frozen leader, a 409).
//   - onNode: nodeClient with the HTTP status of the answer, for the tests
//     that hold a route to its exact status.

import (
	"context"
	"net/http"
	"time"

	"github.com/tokenledger/tokenledger/client"
)

// clientFrom returns a client of every node, start first, that sends a
// request at most attempts times, each exchange bounded by timeout;
// observe (may be nil) sees each exchange.
func (c *e2eCluster) clientFrom(start, attempts int, timeout time.Duration, observe func(client.Attempt)) *client.Client {
	c.t.Helper()
	nodes := make([]string, len(c.procs))
	for k := range c.procs {
		nodes[k] = c.baseURL((start + k) % len(c.procs))
	}
	cl, err := client.New(client.Config{
		Nodes:      nodes,
		Key:        e2eKey,
		HTTPClient: &http.Client{Transport: c.transport, Timeout: timeout},
		Attempts:   attempts,
		Backoff:    e2eRetryDelayMax,
		Observe:    observe,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// nodeClient returns a client of node i alone that sends each request once,
// bounded by timeout: no retry, no other node, no leader following.
func (c *e2eCluster) nodeClient(i int, timeout time.Duration, observe func(client.Attempt)) *client.Client {
	c.t.Helper()
	cl, err := client.New(client.Config{
		Nodes:      []string{c.baseURL(i)},
		Key:        e2eKey,
		HTTPClient: &http.Client{Transport: c.transport, Timeout: timeout},
		Attempts:   1,
		Observe:    observe,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// onNode runs call with a nodeClient of node i and returns the HTTP status
// of the answer (0: none came) with call's error.
func (c *e2eCluster) onNode(i int, timeout time.Duration, call func(context.Context, *client.Client) error) (int, error) {
	status := 0
	cl := c.nodeClient(i, timeout, func(a client.Attempt) { status = a.Status })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := call(ctx, cl)
	return status, err
}
