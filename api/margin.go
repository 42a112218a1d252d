package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tokenledger/tokenledger/eligibility"
	"github.com/tokenledger/tokenledger/ledger"
)

// marginCallsBody is GET /v1/margin-calls.
type marginCallsBody struct {
	Accounts []ledger.MarginAccount `json:"accounts"`
}

// getMarginCalls lists the accounts in a margin call now: operator and
// auditor see all, a custodian its investors, anyone else none of them
// (403), as for holdings.
func (s *Server) getMarginCalls(c echo.Context) error {
	if _, err := s.readQuery(c); err != nil {
		return err
	}
	p := who(c)
	if !p.seesEverything() && p.role() != eligibility.RoleCustodian {
		return notAuthorized("margin calls are visible to the operator, auditors and each account's custodian only")
	}
	all, err := s.reader.MarginCalls()
	if err != nil {
		return readErr("margin calls", err)
	}
	out := []ledger.MarginAccount{}
	for _, a := range all {
		if p.seesEverything() || a.Custodian == p.id() {
			out = append(out, a)
		}
	}
	return writeJSON(c, http.StatusOK, marginCallsBody{Accounts: out})
}
