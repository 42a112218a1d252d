package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Submit sends one instruction (POST /v1/instructions). An accepted (or
// pending) instruction returns its outcome and nil; a rejected one returns
// its outcome and a *RejectedError. A 503 is retried on the next node with
// the same id and body, so an instruction applies at most once.
func (c *Client) Submit(ctx context.Context, ins Instruction) (Outcome, error) {
	var o Outcome
	status, err := c.do(ctx, http.MethodPost, "/v1/instructions", ins, &o)
	if err != nil {
		return Outcome{}, err
	}
	if err := checkDecided(status, ins.ID, o); err != nil {
		return o, err
	}
	return o, o.Err()
}

// checkDecided checks that an answer of POST /v1/instructions is the
// decision it claims to be: 422 if and only if rejected, for the id sent.
func checkDecided(status int, id string, o Outcome) error {
	if (status == http.StatusUnprocessableEntity) != (o.Status == StatusRejected) {
		return fmt.Errorf("%w: %d with outcome %q for %s", ErrBadAnswer, status, o.Status, id)
	}
	if o.ID != id {
		return fmt.Errorf("%w: outcome of %q answered for %s", ErrBadAnswer, o.ID, id)
	}
	return nil
}

// Batch sends up to MaxBatch instructions in one request (POST
// /v1/instructions/batch) and returns one outcome per instruction, in
// order; each is decided on its own, so a rejected or error result is not
// an error of Batch: read Outcome.Err.
func (c *Client) Batch(ctx context.Context, inss []Instruction) ([]Outcome, error) {
	if len(inss) > MaxBatch {
		return nil, fmt.Errorf("client: batch of %d instructions is over %d", len(inss), MaxBatch)
	}
	var out struct {
		Results []Outcome `json:"results"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/v1/instructions/batch", map[string]any{"instructions": inss}, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != len(inss) {
		return nil, fmt.Errorf("%w: batch of %d answered %d results", ErrBadAnswer, len(inss), len(out.Results))
	}
	return out.Results, nil
}

// Check asks what ins would do now without applying it (POST /v1/check):
// a rejection comes back as the outcome and a *RejectedError.
func (c *Client) Check(ctx context.Context, ins Instruction) (Outcome, error) {
	var o Outcome
	if _, err := c.do(ctx, http.MethodPost, "/v1/check", ins, &o); err != nil {
		return Outcome{}, err
	}
	return o, o.Err()
}

// InstructionOutcome is the recorded outcome of an instruction id
// (GET /v1/instructions/{id}).
func (c *Client) InstructionOutcome(ctx context.Context, id string) (Outcome, error) {
	var o Outcome
	_, err := c.do(ctx, http.MethodGet, "/v1/instructions/"+url.PathEscape(id), nil, &o)
	return o, err
}

// CreateKey makes a key for party (POST /v1/keys, operator); the answer
// holds the secret, shown only this once.
func (c *Client) CreateKey(ctx context.Context, party string) (Key, error) {
	var k Key
	_, err := c.do(ctx, http.MethodPost, "/v1/keys", map[string]string{"party_id": party}, &k)
	return k, err
}

// Keys lists the keys of party, or every key the caller may see for "".
func (c *Client) Keys(ctx context.Context, party string) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	path := "/v1/keys"
	if party != "" {
		path += "?party=" + url.QueryEscape(party)
	}
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Keys, err
}

// RevokeKey revokes a key by its public id (DELETE /v1/keys/{key_id}).
func (c *Client) RevokeKey(ctx context.Context, keyID string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(keyID), nil, nil)
	return err
}

// AddNode adds a node to the cluster (POST /v1/cluster/nodes, operator).
func (c *Client) AddNode(ctx context.Context, n Node) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/cluster/nodes", n, nil)
	return err
}

// RemoveNode removes a node from the cluster (DELETE /v1/cluster/nodes/{id}).
func (c *Client) RemoveNode(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/cluster/nodes/"+url.PathEscape(id), nil, nil)
	return err
}

// Classify classifies product attributes (POST /v1/classify).
func (c *Client) Classify(ctx context.Context, attrs Attributes) (Classification, error) {
	var out Classification
	_, err := c.do(ctx, http.MethodPost, "/v1/classify", map[string]any{"attributes": attrs}, &out)
	return out, err
}

// LintRulebook lints a rulebook's YAML against the node's state
// (POST /v1/rulebook/lint, operator or auditor).
func (c *Client) LintRulebook(ctx context.Context, yaml string) (Lint, error) {
	var out Lint
	_, err := c.do(ctx, http.MethodPost, "/v1/rulebook/lint", map[string]string{"rulebook": yaml}, &out)
	return out, err
}
