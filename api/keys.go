package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// keyRequest is POST /v1/keys.
type keyRequest struct {
	PartyID string `json:"party_id"`
	// ExpiresAt, RFC 3339, must be in the future; absent: the key never expires.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// keyResponse shows a new key, once, with its public id.
type keyResponse struct {
	PartyID   string     `json:"party_id"`
	KeyID     string     `json:"key_id"`
	Key       string     `json:"key"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// parseKeyRequest decodes and checks a POST /v1/keys body at now (this
// node's clock); the state machine checks expires_at again against the
// batch's time.
func parseKeyRequest(body []byte, now time.Time) (keyRequest, error) {
	var req keyRequest
	if err := decodeStrict(body, &req); err != nil {
		return keyRequest{}, err
	}
	if !transfer.ValidID(req.PartyID) {
		return keyRequest{}, invalid("party_id must match [A-Za-z0-9._:-]{1,128}")
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		if !t.After(now) {
			return keyRequest{}, invalid("expires_at must be in the future")
		}
		req.ExpiresAt = &t
	}
	return req, nil
}

// createKey is POST /v1/keys (operator): a new key for a registered party.
// The secret is made here; only its hash is proposed, so it exists nowhere
// but in this response.
func (s *Server) createKey(c echo.Context) error {
	p := who(c)
	if err := requireRole(p, eligibility.RoleOperator); err != nil {
		return err
	}
	if _, err := query(c); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	req, err := parseKeyRequest(body, s.cfg.Now())
	if err != nil {
		return err
	}
	if _, err := s.reader.Party(req.PartyID); err != nil {
		return readErr("party "+req.PartyID, err)
	}
	key, err := NewKey()
	if err != nil {
		return err
	}
	hash := HashKey(key)
	o, err := s.repl.CreateKey(c.Request().Context(), ledger.KeyRequest{Actor: p.id(), PartyID: req.PartyID, KeyHash: hash, ExpiresAt: req.ExpiresAt})
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	if err := keyOutcomeErr(o); err != nil {
		return err
	}
	return writeJSON(c, http.StatusCreated, keyResponse{PartyID: req.PartyID, KeyID: ledger.KeyID(hash), Key: key, ExpiresAt: req.ExpiresAt})
}

// keyOutcomeErr maps a refused key item to its answer.
func keyOutcomeErr(o ledger.Outcome) error {
	e := o.Error
	if e == nil {
		return nil
	}
	status, code, message := outcomeError(e)
	if status == http.StatusInternalServerError {
		return fmt.Errorf("key outcome: unexpected error code %s: %s", e.Code, e.Message)
	}
	return newError(status, code, message)
}

// keysBody is GET /v1/keys.
type keysBody struct {
	Keys []ledger.KeyInfo `json:"keys"`
}

// listKeys is GET /v1/keys?party= (operator: any party, or every key
// without it; any other role: its own keys, with or without party=).
func (s *Server) listKeys(c echo.Context) error {
	q, err := s.readQuery(c, "party")
	if err != nil {
		return err
	}
	p := who(c)
	party, named := q["party"]
	switch {
	case named && !transfer.ValidID(party):
		return invalid("party must match [A-Za-z0-9._:-]{1,128}")
	case p.role() != eligibility.RoleOperator && named && party != p.id():
		return notAuthorized("a party lists only its own keys")
	case p.role() != eligibility.RoleOperator:
		party = p.id()
	}
	keys, err := s.reader.Keys(party)
	if err != nil {
		return readErr("keys", err)
	}
	if keys == nil {
		keys = []ledger.KeyInfo{}
	}
	return writeJSON(c, http.StatusOK, keysBody{Keys: keys})
}

// revokeKey is DELETE /v1/keys/{key_id}: the operator revokes any key, any
// other party its own. Revocation is replicated, so every node refuses the
// key from the batch that applies it on.
func (s *Server) revokeKey(c echo.Context) error {
	if _, err := query(c); err != nil {
		return err
	}
	p := who(c)
	id := c.Param("key_id")
	if !ledger.ValidKeyID(id) {
		return notFound("no key " + fmt.Sprintf("%.40q", id))
	}
	k, err := s.reader.Key(id)
	if errors.Is(err, ledger.ErrNotFound) {
		return notFound("no key " + id)
	}
	if err != nil {
		return readErr("key", err)
	}
	if p.role() != eligibility.RoleOperator && k.PartyID != p.id() {
		return notAuthorized("a party revokes only its own keys")
	}
	o, err := s.repl.RevokeKey(c.Request().Context(), p.id(), id)
	if err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	if err := keyOutcomeErr(o); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
