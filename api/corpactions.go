package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
	"github.com/tokenledger/tokenledger/transfer"
)

// CorporateActions is the read side of record-date corporate actions;
// *ledger.Store implements it.
type CorporateActions interface {
	CorporateAction(q ledger.CorporateActionQuery) (ledger.CorporateActionPage, error)
	CorporateActionProof(id, party string) (ledger.CorporateActionLineProof, error)
}

// errCorporateActionNotVisible answers a principal that may see neither the
// action's lines nor a line of its own, the same whether the action exists
// or not, so ids cannot be probed.
var errCorporateActionNotVisible = notAuthorized("a corporate action's lines are visible to the instrument's issuer, the operator and auditors; a holder sees its own line once it is paid")

// mayReadAllLines says whether p sees every line of an action on an
// instrument of issuer: the issuer, the operator and auditors.
func mayReadAllLines(p principal, issuer string) bool {
	return p.seesEverything() || (p.role() == eligibility.RoleIssuer && p.id() == issuer)
}

// getCorporateAction is GET /v1/corporate-actions/{id}: the action's summary
// and a page of its lines in party order, or, for a holder, its own line.
func (s *Server) getCorporateAction(c echo.Context) error {
	q, err := s.readQuery(c, "after", "limit")
	if err != nil {
		return err
	}
	id := c.Param("id")
	if !transfer.ValidID(id) {
		return invalid("the id must be an instruction id, matching [A-Za-z0-9._:-]{1,128}")
	}
	cq := ledger.CorporateActionQuery{ID: id, Limit: ledger.DefaultHoldersPage}
	if v, ok := q["after"]; ok {
		if !transfer.ValidID(v) {
			return invalid("after must be a party id, matching [A-Za-z0-9._:-]{1,128}")
		}
		cq.After = v
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ledger.MaxHoldersPage {
			return invalid(fmt.Sprintf("limit must be an integer from 1 to %d", ledger.MaxHoldersPage))
		}
		cq.Limit = n
	}
	p := who(c)
	// The principal's own line first: one lookup, and all a holder may see.
	own, err := s.reader.CorporateAction(ledger.CorporateActionQuery{ID: id, Party: p.id()})
	switch {
	case errors.Is(err, ledger.ErrNoCorporateAction):
		if p.seesEverything() {
			return notFound("no corporate action was started by instruction " + id)
		}
		return errCorporateActionNotVisible
	case err != nil:
		return readErr("corporate action", err)
	}
	if !mayReadAllLines(p, own.Issuer) {
		if len(own.Lines) == 0 {
			return errCorporateActionNotVisible
		}
		return writeJSON(c, http.StatusOK, own)
	}
	page, err := s.reader.CorporateAction(cq)
	if err != nil {
		return readErr("corporate action", err)
	}
	return writeJSON(c, http.StatusOK, page)
}

// getCorporateActionProof is GET /v1/corporate-actions/{id}/proof?party=:
// the inclusion proof of a party's line in the tree whose root the action's
// completion entry carries, for `node verify --line`. Visible as the line.
func (s *Server) getCorporateActionProof(c echo.Context) error {
	q, err := s.readQuery(c, "party")
	if err != nil {
		return err
	}
	id, party := c.Param("id"), q["party"]
	if !transfer.ValidID(id) {
		return invalid("the id must be an instruction id, matching [A-Za-z0-9._:-]{1,128}")
	}
	if !transfer.ValidID(party) {
		return invalid("party is required: a party id, matching [A-Za-z0-9._:-]{1,128}")
	}
	p := who(c)
	if party != p.id() && !p.seesEverything() {
		own, err := s.reader.CorporateAction(ledger.CorporateActionQuery{ID: id, Party: p.id()})
		if err != nil && !errors.Is(err, ledger.ErrNoCorporateAction) {
			return readErr("corporate action", err)
		}
		if err != nil || !mayReadAllLines(p, own.Issuer) {
			return errCorporateActionNotVisible
		}
	}
	proof, err := s.reader.CorporateActionProof(id, party)
	missing := errors.Is(err, ledger.ErrNoCorporateAction) || errors.Is(err, ledger.ErrNoCorporateActionLine)
	switch {
	case errors.Is(err, ledger.ErrCorporateActionRunning):
		return newError(http.StatusConflict, CodeCorporateActionRunning, "the corporate action is still running; its lines have a root once it is done")
	case missing && !p.seesEverything() && !s.issuesAction(p, id):
		return errCorporateActionNotVisible // a holder learns nothing of an action that did not pay it
	case missing:
		return notFound("no line of " + party + " in a corporate action started by instruction " + id)
	case err != nil:
		return readErr("corporate action", err)
	}
	return writeJSON(c, http.StatusOK, proof)
}

// issuesAction says whether p is the issuer of the action id's instrument.
func (s *Server) issuesAction(p principal, id string) bool {
	a, err := s.reader.CorporateAction(ledger.CorporateActionQuery{ID: id, Party: p.id()})
	return err == nil && mayReadAllLines(p, a.Issuer)
}
